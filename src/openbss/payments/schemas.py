"""Request shapes of the payments API (TMF676 ``payment``/``refund`` and the ``/api/v1``
payment routes). Amounts are TMF Money ``{unit, value}`` with exact decimals.

- :class:`PaymentCreate` — ``POST payment``: ``account`` (the billing account) and
  ``totalAmount`` are required; ``paymentItem`` allocates explicitly (else the settings'
  ``autoAllocate`` applies it oldest due first); ``paymentMethod`` names one of the
  account's methods by ``id`` or just its kind (``{"@referredType": "Cash"}``);
  ``correlatorId`` makes the request idempotent (the same id twice records once);
  ``feeAmount`` (an openbss extension) is the gateway's fee.
- :class:`RefundCreate` — ``POST refund``: ``payment`` and ``totalAmount``.
- :class:`AllocationCreate`, :class:`ReversalCreate`, :class:`WriteOffCreate`.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from openbss.core.tmf_common import (
    Amount,
    AwareDatetime,
    EntityRef,
    Id,
    Money,
    Name,
    Polymorphic,
    Str,
    Text,
    TmfModel,
)


class PositiveMoney(Money):
    value: Annotated[Amount, Field(gt=0)]


class NonNegativeMoney(Money):
    value: Annotated[Amount, Field(ge=0)]


Ref = EntityRef


class MethodRef(Polymorphic):
    id: Id | None = None
    href: Text | None = None
    name: Name | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class Channel(Polymorphic):
    id: Id | None = None
    href: Text | None = None
    name: Name | None = None


class PaymentItem(Polymorphic):
    id: Id | None = None
    item: Ref
    amount: PositiveMoney | None = None
    total_amount: PositiveMoney | None = None
    tax_amount: NonNegativeMoney | None = None

    @model_validator(mode="after")
    def _amount(self) -> Self:
        if self.amount is None and self.total_amount is None:
            raise PydanticCustomError("missing", "amount or totalAmount is required")
        return self

    @property
    def value(self) -> PositiveMoney:
        value = self.total_amount or self.amount
        assert value is not None
        return value


class PaymentCreate(Polymorphic):
    account: Ref
    total_amount: PositiveMoney
    amount: PositiveMoney | None = None
    tax_amount: NonNegativeMoney | None = None
    fee_amount: NonNegativeMoney | None = None
    payment_method: MethodRef | None = None
    payment_item: list[PaymentItem] | None = Field(default=None, max_length=1000)
    channel: Channel | None = None
    payer: EntityRef | None = None
    payment_date: AwareDatetime | None = None
    authorization_code: Str | None = None
    correlator_id: Str | None = None
    description: Text | None = None
    name: Name | None = None


class RefundCreate(Polymorphic):
    payment: Ref
    total_amount: PositiveMoney
    amount: PositiveMoney | None = None
    tax_amount: NonNegativeMoney | None = None
    account: Ref | None = None
    payment_method: MethodRef | None = None
    channel: Channel | None = None
    requestor: EntityRef | None = None
    refund_date: AwareDatetime | None = None
    authorization_code: Str | None = None
    correlator_id: Str | None = None
    description: Text | None = None
    name: Name | None = None


class AllocationCreate(TmfModel):
    """``POST /api/v1/payments/{id}/allocations``: ``paymentItem`` to apply the
    payment's unapplied amount to these bills; none: oldest due first."""

    payment_item: list[PaymentItem] | None = Field(default=None, max_length=1000)


class ReversalCreate(TmfModel):
    """``POST …/reversal`` (a returned or bounced payment) and ``…/chargeback``."""

    reason: Text | None = None
    fee_amount: NonNegativeMoney | None = None


class WriteOffCreate(TmfModel):
    """``POST /api/v1/customerBills/{id}/writeOff``: all that is still owed, or
    ``amount`` of it."""

    amount: PositiveMoney | None = None
    reason: Text | None = None
