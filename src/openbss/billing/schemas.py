"""Request shapes of the billing API (TMF678 and ``/api/v1`` billing routes).

- :class:`CustomerBillUpdate` — ``PATCH customerBill/{id}``: only ``state`` (an issued
  bill is immutable; any other attribute of a bill answers 409 ``INVOICE_ALREADY_ISSUED``,
  an unknown one 422);
- :class:`CreditNoteCreate` — ``POST /api/v1/customerBills/{id}/creditNotes``: exactly
  one of ``lines`` (by line, each optionally a partial ``amount``), ``amount`` (a part of
  the whole invoice, spread over its lines) or ``full: true``;
- :class:`ChargeCreate` — ``POST /api/v1/billingAccounts/{id}/charges``: a manual
  one-off charge or credit for the account's next invoice;
- :class:`BillRunCreate` — ``POST /api/v1/billRuns``;
- :class:`CustomerBillOnDemandCreate` — ``POST customerBillOnDemand`` (a pro-forma).

Amounts are TMF Money ``{unit, value}``; the value is an exact decimal (never a float).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from openbss.billing.models import InvoiceState
from openbss.core.tmf_common import (
    AwareDatetime,
    EntityRef,
    Id,
    Money,
    Name,
    Polymorphic,
    Text,
    TmfModel,
)

TaxCategory = Literal["standard", "reduced", "zero", "exempt"]


class PositiveMoney(Money):
    """A money amount above zero (the sign is given by ``kind``)."""

    @model_validator(mode="after")
    def _positive(self) -> Self:
        if self.value <= 0:
            raise PydanticCustomError("not_positive", "value must be greater than zero")
        return self


class CustomerBillUpdate(TmfModel):
    """The only attribute of an issued bill that changes: its ``state``."""

    state: InvoiceState


class CreditLine(TmfModel):
    """One invoice line to credit: all that is still creditable, or ``amount`` of it
    (tax-exclusive, in the invoice's currency)."""

    line: Id
    amount: PositiveMoney | None = None


class CreditNoteCreate(TmfModel):
    lines: Annotated[list[CreditLine], Field(min_length=1, max_length=1000)] | None = None
    amount: PositiveMoney | None = None
    full: StrictBool | None = None
    reason: Text | None = None


class ChargeCreate(TmfModel):
    kind: Literal["charge", "credit"]
    amount: PositiveMoney
    name: Annotated[str, Field(min_length=1, max_length=300)]
    description: Text | None = None
    tax_category: TaxCategory = "standard"
    tax_included: StrictBool = False
    product_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class BillRunCreate(TmfModel):
    as_of: AwareDatetime
    billing_accounts: Annotated[list[Id], Field(min_length=1, max_length=10000)] | None = None
    dry_run: StrictBool = False


class CustomerBillOnDemandCreate(Polymorphic):
    """TMF678 ``CustomerBillOnDemand_Create``: the billing account to bill now (a
    pro-forma: nothing is issued and no number is consumed)."""

    billing_account: EntityRef
    name: Name | None = None
    description: Text | None = None
    last_update: AwareDatetime | None = None
    state: str | None = None


__all__ = ["BillRunCreate", "ChargeCreate", "CreditLine", "CreditNoteCreate",
           "CustomerBillOnDemandCreate", "CustomerBillUpdate", "Money", "Name",
           "PositiveMoney"]
