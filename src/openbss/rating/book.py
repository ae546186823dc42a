"""The pure inputs and outputs of the rating engines (no I/O, no clock).

Both engines — :mod:`openbss.rating.engine` (one record at a time: API and stream path)
and :mod:`openbss.rating.vector` (Polars, for files) — take the same inputs and must give
identical results (a randomized test proves it):

- :class:`UsageEvent` — a guided, normalised record: what was used (``usage_type``,
  ``metric``, ``quantity`` in base units, ``destination``), when (UTC), by which product
  and billing account, which offering was in force (``price_version``), and the billing
  period it belongs to (computed by the service from the account's bill cycle);
- :class:`RatingBook` — everything needed to price: each offering's usage prices
  (:class:`UsagePrice`) and the tenant's tariffs (``rating.tariff.TariffSet``);
- :class:`Allowances` — what each allowance bucket grants and has used so far (the
  engines consume it in time order and report what they used);
- :class:`RatedUsage` or :class:`Unrated` — one result per event, in input order.

Units. Quantities are in **base units**: seconds (voice), bytes (data), messages (sms),
events (generic metrics). A usage price states its unit of measure (``minute``, ``GB``,
``call`` …); :func:`unit_scale` gives the base units in one price unit. Allowances
(``includedQuantity``) are converted to base units once, by the service, into
``Allowances.granted``.

Meaning (docs/usage-and-rating.md has the worked examples):

1. Price selection: the first usage price of the event's offering whose ``usage_type``
   equals the event's (and, for ``event``, whose ``metric`` equals the event's metric).
   None → :class:`Unrated` ``unrated_destination`` ("no usage price for <type>").
2. Allowance: when the price has ``included`` > 0, the bucket is
   ``(scope, holder, price_id, period_start)`` with holder the product (``product``
   scope), the event's ``bundle_id`` (``bundle``; the product itself when it is in no
   bundle) or the billing account (``account``). If ``allowance_destinations`` is set,
   only events whose destination id (the tariff's longest-prefix match) is in it consume
   the allowance. Events consume in the order given (the service sorts by usage date,
   then key): ``included = min(remaining, quantity)``, ``charged = quantity - included``.
3. Amount of the charged part:
   - price with ``rating_plan`` (telecom): the tariff rates the call's elapsed interval
     ``[included, quantity)`` (``rating.telecom.rate_plan(..., skip=included)``); a fully
     included event costs 0 and pays no connect fee; a destination no binding of the plan
     covers → :class:`Unrated` ``unrated_destination``;
   - price with a ``charge_model`` (generic metered, catalog charge models): priced per
     *billing period*: the event's amount is ``price(before + charged) - price(before)``
     in price units, where ``before`` is what earlier events of the same
     ``(product, price_id, period_start)`` were charged (``Allowances.metered``), so the
     amounts of a period always add up to the charge model applied to the period's
     total (for a ``volume`` model a later event can lower the period's price: its
     amount is then negative); percentage models price each event's quantity as one
     transaction amount, in order. The period's *first* charged event pays
     ``price(charged)`` in full (so the first tier's flat fee, charged by the catalog at
     zero units too, is paid once; a period without charged usage has no rated usage).
     An event whose charged part is 0 is not priced (amount 0, no transaction);
4. Amounts keep full precision (billing rounds per invoice line). The one exception is
   a metered price whose exact value is not a finite decimal (130 s at a per-minute
   price): ``rating.metered`` keeps the period's cumulative price rounded half-even to
   18 decimal places, so the amounts still add up to the period's price exactly.
   Quantities must be below 10^28 base units (``invalid_quantity`` otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from openbss.catalog.pricing import ChargeModel

USAGE_TYPES = ("voice", "sms", "data", "event")

#: Base units in one unit of measure, by lower-case unit name. Unknown units (``call``,
#: ``seat``, ``request`` …) count 1 base unit each.
UNIT_SCALES: Mapping[str, Decimal] = {
    "s": Decimal(1), "sec": Decimal(1), "second": Decimal(1), "seconds": Decimal(1),
    "min": Decimal(60), "minute": Decimal(60), "minutes": Decimal(60),
    "h": Decimal(3600), "hour": Decimal(3600), "hours": Decimal(3600),
    "b": Decimal(1), "byte": Decimal(1), "bytes": Decimal(1), "octet": Decimal(1),
    "kb": Decimal(1000), "mb": Decimal(1000) ** 2, "gb": Decimal(1000) ** 3,
    "tb": Decimal(1000) ** 4,
    "kib": Decimal(1024), "mib": Decimal(1024) ** 2, "gib": Decimal(1024) ** 3,
    "tib": Decimal(1024) ** 4,
    "message": Decimal(1), "messages": Decimal(1), "sms": Decimal(1), "event": Decimal(1),
    "events": Decimal(1),
}


def unit_scale(unit: str | None) -> Decimal:
    """Base units in one ``unit`` (1 for unknown units and for None)."""
    return UNIT_SCALES.get((unit or "").strip().lower(), Decimal(1))


@dataclass(frozen=True, slots=True)
class UsagePrice:
    """One usage price (a catalog productOfferingPrice of priceType ``usage``)."""

    price_id: str
    offering_id: str
    usage_type: str  # voice | sms | data | event
    metric: str | None  # for usage_type event: the metric name it prices
    unit: str  # the price's unit of measure ("minute", "GB", "call" …)
    scale: Decimal  # base units per price unit (unit_scale(unit))
    currency: str
    charge_model: ChargeModel | None = None  # generic metered
    rating_plan: str | None = None  # telecom: a rating plan of the tenant's tariffs
    included: Decimal = Decimal(0)  # allowance per period, in base units (0: none)
    allowance_scope: str = "product"  # product | bundle | account
    allowance_destinations: tuple[str, ...] | None = None
    tax_category: str = "standard"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """A guided, normalised usage record (see the module docstring)."""

    key: str  # the usage record's id
    usage_date: datetime  # UTC
    usage_type: str
    metric: str | None
    quantity: Decimal  # base units, >= 0
    destination: str | None  # called number (E.164 or as dialled)
    product_id: str
    billing_account_id: str | None
    price_version: str  # the offering id in force at usage_date
    period_start: datetime  # the billing period the record belongs to
    period_end: datetime
    bundle_id: str | None = None


@dataclass(frozen=True, slots=True)
class AllowanceKey:
    scope: str
    holder: str
    price_id: str
    period_start: datetime


@dataclass(frozen=True, slots=True)
class MeteredKey:
    product_id: str
    price_id: str
    period_start: datetime


@dataclass
class Allowances:
    """Allowance buckets (granted and used, base units) and metered totals so far. The
    engines update ``used`` and ``metered`` as they consume; the service loads them
    before and stores them after."""

    granted: dict[AllowanceKey, Decimal] = field(default_factory=dict)
    used: dict[AllowanceKey, Decimal] = field(default_factory=dict)
    #: charged quantity (base units) already priced per (product, price, period), and
    #: for percentage models the transactions already priced (count, base units); a
    #: period not in the dict has had no charged event yet
    metered: dict[MeteredKey, Decimal] = field(default_factory=dict)
    metered_events: dict[MeteredKey, tuple[int, Decimal]] = field(default_factory=dict)

    def remaining(self, key: AllowanceKey) -> Decimal:
        return max(self.granted.get(key, Decimal(0)) - self.used.get(key, Decimal(0)),
                   Decimal(0))


@dataclass(frozen=True)
class RatingBook:
    """Usage prices by offering id, and the tenant's tariffs (``TariffSet`` or None)."""

    prices: Mapping[str, tuple[UsagePrice, ...]]
    tariffs: Any = None  # rating.tariff.TariffSet (Any here to keep this module leaf)


@dataclass(frozen=True, slots=True)
class RatedUsage:
    key: str
    product_id: str
    billing_account_id: str | None
    price_id: str
    usage_type: str
    metric: str | None
    quantity: Decimal  # base units
    included: Decimal  # allowance consumed, base units
    charged: Decimal  # quantity - included
    amount: Decimal  # full precision
    currency: str
    tariff: str | None  # the rating plan (telecom) or the charge model type
    rate: str | None  # the destination rate / rates id (telecom) or None
    destination: str | None  # the destination id matched (telecom) or None
    tax_category: str
    period_start: datetime
    period_end: datetime
    usage_date: datetime
    allowance: AllowanceKey | None = None


@dataclass(frozen=True, slots=True)
class Unrated:
    key: str
    reason: str  # a usage.models.RejectReason value, e.g. "unrated_destination"
    detail: str
