"""The pure contract of billing: plain values, no I/O, no clock, no database.

The bill run reads, per billing account, one :class:`AccountInput`:

* ``terms`` — the account (:class:`AccountTerms`): currency, bill cycle (a
  :class:`~openbss.core.periods.BillingCycle` in the account's time zone), payment terms;
* ``events`` — one normalised, time-ordered stream of :data:`BillingEvent` values (Kill
  Bill's "billing events"): :class:`SubscriptionEvent` (product started, plan or quantity
  changed, suspended, resumed, terminated — from the ordering context's product history),
  :class:`ChargeEvent` (one-time charge of a completed order, early-termination fee, manual
  charge or credit) and :class:`UsageSummary` (rated usage of one service period per
  product, usage type and price — from the rating context, allowances already applied);
  the events of children "paid by parent" are in their parent's stream, each carrying its
  own ``account_id``;
* ``plans`` — the catalog prices in force, by price version (the offering id a product's
  history names): :class:`Plan`;
* ``invoiced`` — what was already issued for the account: :class:`InvoicedItem`.

:func:`openbss.billing.calculator.calculate` turns one input, a target date and the
tenant's :class:`~openbss.billing.settings.BillingSettings` into the missing or
correcting :class:`ProposedLine` values (empty when everything is billed: running it
twice adds nothing). Tax is a port (:class:`TaxEngine`): the built-in engine is
:mod:`openbss.billing.tax`; an external one (Avalara, Stripe Tax) implements the same call.

Amounts: a :class:`ProposedLine` amount is rounded once to the currency's minor unit with
the tenant's rounding mode; the exact, unrounded amount is kept in ``exact``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol

from openbss.core.money import Money
from openbss.core.periods import BillingCycle
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.pricing import PriceSpec

__all__ = [
    "AccountInput",
    "AccountTerms",
    "AppliedTax",
    "BillingEvent",
    "BillingMode",
    "BillingPrice",
    "ChargeEvent",
    "InvoicedItem",
    "LineKind",
    "Plan",
    "ProposedLine",
    "SubscriptionEvent",
    "TaxEngine",
    "TaxItem",
    "TaxParty",
    "TaxResult",
    "TaxableLine",
    "TaxedLine",
    "UsageSummary",
]

BillingMode = Literal["inAdvance", "inArrears"]


class LineKind(StrEnum):
    """TMF678 ``appliedCustomerBillingRate.type`` (same values as models.LineType)."""

    RECURRING = "recurring"
    ONE_TIME = "oneTime"
    USAGE = "usage"
    DISCOUNT = "discount"
    ADJUSTMENT = "adjustment"


# -- the account -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """A billing account as billing sees it. ``cycle`` comes from TMF666
    ``billStructure.cycleSpecification`` (monthly/quarterly/yearly, anchor day, calendar
    or anniversary, time zone); ``children`` are the accounts paid by this one (their
    events are in this account's stream)."""

    id: str
    currency: str
    cycle: BillingCycle
    due_days: int = 0
    name: str = ""
    children: tuple[str, ...] = ()

    @property
    def tz(self) -> str:
        return self.cycle.tz


# -- the event stream ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """A product's life event (``kind``: the ordering context's :class:`ChangeKind`),
    with the price version (offering id) and quantity in force *after* it.

    ``commitment_end``: the end of the product's minimum term, if any (an
    early-termination fee is a :class:`ChargeEvent` the ordering context already made)."""

    at: datetime  # UTC, business time
    kind: ChangeKind
    account_id: str
    product_id: str
    price_version: str
    quantity: int
    product_name: str = ""
    seq: int = 0  # the history's order at the same instant

    @property
    def sort_key(self) -> tuple[datetime, int, str, int]:
        return (self.at, 0, self.product_id, self.seq)


@dataclass(frozen=True, slots=True)
class ChargeEvent:
    """A one-off amount: a one-time price of a completed order (activation,
    installation), an early-termination fee, a manual charge, or a manual credit
    (``amount`` negative). ``key`` identifies the source row (it is marked billed with the
    invoice); ``line_kind`` is ``oneTime`` or ``adjustment``. ``service_start`` /
    ``service_end``: the period the charge is for, if any."""

    at: datetime
    key: str
    account_id: str
    amount: Money
    name: str
    line_kind: LineKind = LineKind.ONE_TIME
    product_id: str | None = None
    price_id: str | None = None
    description: str | None = None
    tax_category: str = "standard"
    tax_included: bool = False
    service_start: datetime | None = None
    service_end: datetime | None = None

    @property
    def sort_key(self) -> tuple[datetime, int, str, int]:
        return (self.at, 1, self.key, 0)


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Rated usage of one service period ``[start, end)`` for one product, usage type
    (and metric) and price: the sum of the current, not yet invoiced rated rows, at full
    precision, allowances already applied by rating. ``rated_ids`` are the rated rows
    summed (marked with the invoice). ``correction``: the rows re-rate an invoiced
    period; ``amount`` is then the difference to what was invoiced (may be negative)."""

    key: str
    account_id: str
    product_id: str
    usage_type: str
    price_id: str | None
    start: datetime
    end: datetime
    quantity: Decimal  # base units charged (after allowances)
    amount: Money  # exact, unrounded
    name: str = ""
    metric: str | None = None
    records: int = 0
    tax_category: str = "standard"
    tax_included: bool = False
    correction: bool = False
    rated_ids: tuple[int, ...] = ()

    @property
    def at(self) -> datetime:
        return self.end

    @property
    def sort_key(self) -> tuple[datetime, int, str, int]:
        return (self.end, 2, self.key, 0)


BillingEvent = SubscriptionEvent | ChargeEvent | UsageSummary


# -- the prices in force ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillingPrice:
    """A recurring (or one-time) price of a plan with how it is billed: ``inAdvance``
    (the default for recurring prices: the period is billed when it starts) or
    ``inArrears`` (billed when it ends) — the catalog's ``billingMode`` extension."""

    spec: PriceSpec
    billing_mode: BillingMode = "inAdvance"


@dataclass(frozen=True, slots=True)
class Plan:
    """The prices of one price version (offering id). ``minimum_commitment``: the least
    the product is charged per billing period (recurring + usage, before tax); a period
    below it gets a true-up line for the difference. ``downgrade_timing`` overrides the
    tenant setting for this offering. ``rank`` orders plans for upgrade / downgrade
    (higher is an upgrade; None: compare the recurring amounts per period)."""

    price_version: str
    name: str
    prices: tuple[BillingPrice, ...] = ()
    minimum_commitment: Money | None = None
    downgrade_timing: Literal["endOfTerm", "immediate"] | None = None
    rank: int | None = None


# -- what was already issued -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoicedItem:
    """A line already issued for the account (on an invoice or a credit note).
    ``corrects`` is the line id a correcting line (a repair credit) refers to."""

    line_id: str
    kind: LineKind
    account_id: str
    amount: Money  # tax-exclusive basis as issued (the catalog's basis if tax included)
    product_id: str | None = None
    price_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    quantity: Decimal = Decimal(1)
    corrects: str | None = None
    source_key: str | None = None
    price_version: str | None = None


@dataclass(frozen=True, slots=True)
class AccountInput:
    terms: AccountTerms
    events: tuple[BillingEvent, ...]
    plans: Mapping[str, Plan]
    invoiced: tuple[InvoicedItem, ...] = ()


# -- what the calculation proposes -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposedLine:
    """One missing or correcting invoice line.

    ``amount`` is rounded to the minor unit (``exact`` is the unrounded amount); it is in
    the price's basis (tax included when ``tax_included``). ``corrects``: the
    :attr:`InvoicedItem.line_id` this line credits (a plan change's credit for the unused
    part of the old plan; a termination's credit). ``source_key``: a charge's or usage
    summary's key (marked billed at issue) or, for recurring slices,
    ``"<product>|<price>|<start ISO>|<end ISO>"``. ``applies_to``: for a discount line,
    the ``source_key`` of the line it discounts. ``detail``: how it was computed (the
    proration ratio and its days, the period index …), shown on the document and in
    ``appliedCustomerBillingRate``."""

    kind: LineKind
    name: str
    account_id: str
    amount: Money
    exact: Decimal
    start: datetime | None = None
    end: datetime | None = None
    product_id: str | None = None
    price_id: str | None = None
    price_version: str | None = None
    quantity: Decimal = Decimal(1)
    description: str | None = None
    tax_category: str = "standard"
    tax_included: bool = False
    corrects: str | None = None
    source_key: str | None = None
    applies_to: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


# -- the tax port ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxParty:
    """Seller or buyer as tax sees them. ``vat_id`` with its country prefix (``DE…``);
    ``business``: the buyer acts as a taxable business (B2B); ``exempt``: a tax exemption
    applies (TMF666 ``taxExemption``)."""

    country: str
    region: str | None = None
    vat_id: str | None = None
    business: bool = False
    exempt: bool = False


@dataclass(frozen=True, slots=True)
class TaxableLine:
    """A line to tax: its rounded amount in the catalog's basis."""

    key: int  # the line's position
    amount: Money
    tax_category: str = "standard"
    tax_included: bool = False


@dataclass(frozen=True, slots=True)
class AppliedTax:
    """One tax on a line (or one entry of the document's breakdown): a rate in percent
    (``19`` for 19 %)."""

    name: str  # "VAT"
    jurisdiction: str  # "DE", "CA-QC"
    category: str  # standard | reduced | zero | exempt
    rate: Decimal
    taxable: Money
    amount: Money
    compound: bool = False


@dataclass(frozen=True, slots=True)
class TaxedLine:
    key: int
    tax_excluded: Money
    tax_included: Money
    taxes: tuple[AppliedTax, ...] = ()


@dataclass(frozen=True, slots=True)
class TaxItem:
    """TMF678 ``taxItem``: the document's tax per rate."""

    name: str
    jurisdiction: str
    category: str
    rate: Decimal
    taxable: Money
    amount: Money


@dataclass(frozen=True, slots=True)
class TaxResult:
    """Lines + tax = total, exactly: ``sum(tax_excluded) + sum(breakdown.amount) ==
    sum(tax_included)``. ``reverse_charge``: EU intra-community B2B — no VAT charged, the
    document carries ``notes`` (the legal wording's key and text)."""

    lines: tuple[TaxedLine, ...]
    breakdown: tuple[TaxItem, ...]
    reverse_charge: bool = False
    notes: tuple[str, ...] = ()


class TaxEngine(Protocol):
    """The tax port. ``rounding``: a :mod:`decimal` rounding constant; ``per``: ``line``
    (each line's tax rounded) or ``document`` (tax per rate over the document, the
    leftover minor units spread over the lines, largest remainder first)."""

    def __call__(self, *, seller: TaxParty, buyer: TaxParty, on: date,
                 lines: Sequence[TaxableLine], rounding: str,
                 per: Literal["line", "document"]) -> TaxResult: ...
