"""The tenant's settings group ``billing`` (``GET``/``PATCH /api/v1/settings/billing``):
the proration convention, rounding, numbering and the seller's legal identity on invoices.

Defaults are Kill Bill's (docs/billing.md has a worked example of each knob):

- ``prorationGranularity``: ``day`` — local dates in the account's time zone, periods
  include their start and exclude their end, ratio = days / days in the actual billing
  period (leading and trailing stubs as Kill Bill computes them) | ``second`` — Stripe:
  remaining seconds / period seconds;
- ``prorationDenominator``: ``actual`` | ``30`` (Kill Bill's fixed 30-day month);
- ``terminationDayCharged``: ``false`` (Kill Bill: the change or cancel day belongs to
  the new state) | ``true`` (Lago: the day of the termination is still charged);
- ``intervalChange`` (monthly ↔ yearly): ``keepBillCycleDay`` (Kill Bill) |
  ``resetAnchor`` (Stripe) | ``keepAnniversary`` (Lago);
- ``downgradeTiming``: ``endOfTerm`` | ``immediate`` (an offering may override it with
  its ``downgradeTiming`` extension);
- ``roundingMode``: ``halfUp`` | ``halfEven``, applied once per line to the currency's
  minor unit after exact arithmetic;
- ``taxRounding``: ``line`` | ``document`` (document rounding spreads the leftover minor
  units over the lines, largest remainder first);
- ``creditCap``: always on — a credit for the unused part of a billed item never exceeds
  what was billed for it (not a setting: listed here because it is part of the convention).
"""

from __future__ import annotations

import decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.alias_generators import to_camel

from openbss.core import tenant_settings
from openbss.core.context import Context

GROUP = "billing"

Granularity = Literal["day", "second"]
Denominator = Literal["actual", "30"]
IntervalChange = Literal["keepBillCycleDay", "resetAnchor", "keepAnniversary"]
DowngradeTiming = Literal["endOfTerm", "immediate"]
RoundingMode = Literal["halfUp", "halfEven"]
TaxRounding = Literal["line", "document"]

#: ``roundingMode`` -> the :mod:`decimal` rounding constant.
DECIMAL_ROUNDING: dict[str, str] = {"halfUp": decimal.ROUND_HALF_UP,
                                    "halfEven": decimal.ROUND_HALF_EVEN}


class _Settings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid", frozen=True)


class SellerSettings(_Settings):
    """The legal entity that issues the invoices (printed on every document)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] = "openbss demo operator"
    address: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=lambda: ["Example Street 1", "10115 Berlin", "Germany"], max_length=6)
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "DE"
    region: Annotated[str, Field(max_length=16)] | None = None
    vat_id: Annotated[str, Field(max_length=32)] | None = None
    payment_instructions: Annotated[str, Field(max_length=500)] | None = None


class BillingSettings(_Settings):
    """The tenant's billing conventions (module docstring)."""

    proration_granularity: Granularity = "day"
    proration_denominator: Denominator = "actual"
    termination_day_charged: StrictBool = False
    interval_change: IntervalChange = "keepBillCycleDay"
    downgrade_timing: DowngradeTiming = "endOfTerm"
    rounding_mode: RoundingMode = "halfUp"
    tax_rounding: TaxRounding = "line"
    #: the legal entity and series of invoice numbers: ``INV-2026-000123``
    invoice_series: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9\-]{0,15}$")] = "INV"
    credit_note_series: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9\-]{0,15}$")] = "CN"
    seller: SellerSettings = Field(default_factory=SellerSettings)

    @field_validator("proration_denominator", mode="before")
    @classmethod
    def _thirty(cls, value: object) -> object:
        # ``30`` as a JSON number means the same as the string "30"
        return "30" if value == 30 and not isinstance(value, bool) else value

    @property
    def decimal_rounding(self) -> str:
        return DECIMAL_ROUNDING[self.rounding_mode]


def read(ctx: Context) -> BillingSettings:
    return tenant_settings.read(ctx, GROUP, BillingSettings)
