"""The tenant's settings group ``payments`` (``GET``/``PATCH /api/v1/settings/payments``).

- ``autoAllocate`` (``true``): a payment recorded without ``paymentItem`` is applied to the
  account's open bills oldest due first; the rest is kept as unapplied credit;
- ``applyCreditToNewBills`` (``true``): a new invoice uses the account's unapplied credit
  at once (Kill Bill's credit balance);
- ``creditor``: the SEPA creditor (name, IBAN, BIC, creditor identifier) the pain.008 files
  collect for; ``sepa``: local instrument ``CORE``/``B2B``, batch booking, and how many
  days before the due date a direct debit is collected at the earliest.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.alias_generators import to_camel

from openbss.core import tenant_settings
from openbss.core.context import Context

GROUP = "payments"


class _Settings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid", frozen=True)


class Creditor(_Settings):
    """The SEPA creditor (printed in every pain.008 file)."""

    name: Annotated[str, Field(min_length=1, max_length=70)] = "openbss demo operator"
    iban: Annotated[str, Field(max_length=34)] = "DE89370400440532013000"
    bic: Annotated[str, Field(max_length=11)] | None = "COBADEFFXXX"
    #: the SEPA creditor identifier (``DE98ZZZ09999999999``: ISO 7064 mod 97-10)
    creditor_id: Annotated[str, Field(max_length=35)] = "DE98ZZZ09999999999"


class Sepa(_Settings):
    local_instrument: Literal["CORE", "B2B"] = "CORE"
    batch_booking: StrictBool = True


class PaymentSettings(_Settings):
    auto_allocate: StrictBool = True
    apply_credit_to_new_bills: StrictBool = True
    creditor: Creditor = Field(default_factory=Creditor)
    sepa: Sepa = Field(default_factory=Sepa)


def read(ctx: Context) -> PaymentSettings:
    return tenant_settings.read(ctx, GROUP, PaymentSettings)
