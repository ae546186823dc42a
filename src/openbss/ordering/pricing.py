"""Quote and order prices (TMF648 ``quoteItemPrice`` / ``quoteTotalPrice``, TMF622
``itemPrice`` / ``orderTotalPrice``): pure, exact, no I/O, no clock, no database.

Inputs are plain values derived from the catalog rows (:func:`prices_from_catalog` turns
the TMF620 ``productOfferingPrice`` documents an offering has in force into them):

* :class:`PriceSpec` -- one price of the offering: ``id``, ``name``, ``price_type``
  (``oneTime``, ``recurring``, ``usage``, ``penalty``), the unit price as
  :class:`~openbss.core.money.Money` (or a catalog ``charge_model`` plus its currency), the
  :class:`ChargePeriod` of a recurring price, the ``unit_of_measure`` of a usage price, the
  ``tax_included`` flag, the ``tax_category``, and the :class:`AlterationSpec` discounts that
  alter it;
* :class:`AlterationSpec` -- a discount: a ``percentage`` (0-100) *or* an absolute
  ``amount`` taken off each unit, an ``application_duration`` in periods (None: as long as the
  price holds), a ``priority``;
* :class:`PricedItem` -- a quote / order item: ``id``, ``action`` (``add``, ``modify``,
  ``delete``, ``noChange``), ``quantity`` (an integer >= 1) and its prices.

:func:`price_items` answers a :class:`PriceCalculation`: per item the price lines
(:meth:`ItemPrices.to_tmf` is the TMF ``quoteItemPrice`` / ``itemPrice`` list) and the totals
(:meth:`PriceCalculation.totals_to_tmf` is ``quoteTotalPrice`` / ``orderTotalPrice``).

Rules
-----

Which prices an item is charged (:data:`CHARGED_PRICE_TYPES`):

============  ===============================================================
``add``       ``oneTime``, ``recurring``, ``usage``
``modify``    ``recurring``, ``usage`` (the new plan's; no activation fee again)
``delete``    ``penalty`` only, and only if the item says ``early_termination``
``noChange``  nothing
============  ===============================================================

Amount of a line (before tax):

* standard price: ``unit price * quantity``; with a catalog ``charge_model`` (a recurring
  seat price, say): :func:`openbss.catalog.pricing.price` of the quantity;
* **rounding point 1**: that amount (times the first-period proration fraction, see below)
  is rounded to the currency's minor unit with ``rounding``
  (:data:`openbss.core.money.DEFAULT_ROUNDING`, half-up, unless told otherwise);
* alterations apply in ``priority`` order (lower first; no priority after those with one;
  ties keep the catalog's order), each to the amount left by the ones before it (as Stripe
  applies stacked coupons): a percentage takes ``percentage %`` of that running amount, an
  absolute discount takes ``amount * quantity`` (per unit of the altered price, so quantities
  scale linearly; Stripe's ``amount_off`` is per invoice instead) -- both clamped to the
  running amount, so a
  line never goes below zero (a 100 % discount gives exactly zero). **Rounding point 2**:
  each alteration's amount is rounded to the minor unit when computed, so the net amount
  stays a whole number of minor units;
* the line's ``price`` is the **net** amount the customer pays for the first period (TMF:
  "the actual price paid"), each ``priceAlteration`` carries its own ``price``: the (negative)
  change it makes, with its ``percentage`` and ``applicationDuration``. ``list_amount``
  (before alterations) is kept on :class:`PriceLine` for callers; base = net - alterations;
* usage prices are rated later: they appear as **zero-amount informational lines**
  (``price`` 0, the rate in ``description``, ``unitOfMeasure`` set) and are **excluded from
  the totals**; penalty lines (early termination) are one-off charges and total under
  ``penalty``.

Totals: one entry per ``(priceType, recurringChargePeriod, currency)`` over every item's
lines (usage excluded), in the order the keys first appear; each amount is the exact sum of
the lines' rounded amounts (dutyFree and taxIncluded summed separately), so no rounding
happens there. Money of two currencies never adds: a sum across currencies raises
:class:`~openbss.core.errors.CurrencyMismatchError` (422).

Tax -- the seam for billing. Tax is **not** computed here. Every ``price`` object is made
by one :class:`TaxCalculator` call on the line's pre-tax amount (the catalog's amount: duty
free, or tax included if the price says ``tax_included``). The default, :data:`NO_TAX`,
answers ``dutyFreeAmount == taxIncludedAmount == amount`` and no ``taxRate``. Billing will
pass its own calculator (rates by tax category and the customer's jurisdiction); it must
answer both amounts in the line's currency. The calculator is called once for the line's
net amount and once per alteration, so with a rounding calculator the alterations'
``taxIncludedAmount`` may differ by a minor unit from "list minus net": the line's net
``price`` is the authoritative one (totals sum the nets).

First-invoice proration -- the seam for billing. A :class:`Proration` gives the fraction
(``0 <= f <= 1``) of the first period a recurring line is charged for (from the start date
to the bill-cycle boundary, e.g. :func:`openbss.core.periods.prorate_by_day`); the default
(None) charges the full period, which is what a quote shows. The fraction multiplies the
line's amount before rounding point 1; alterations then apply to the prorated amount
(absolute ones clamped to it). One-time, usage and penalty lines are never prorated.

Later periods: ``price_items(..., period_index=k)`` prices the ``k``-th recurring period
(0-based): a discount with ``application_duration`` ``n`` applies to periods ``0 .. n-1``
only ("-50 % for 3 months": periods 0, 1 and 2); proration applies to period 0 only, and a
later period has recurring lines only (one-time, usage and penalty lines belong to period 0).

Recurring periods render as TMF ``recurringChargePeriod`` strings: ``month`` for one month,
``3 months`` for a period of length 3 (:meth:`ChargePeriod.label`).
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, cast, get_args

from openbss.catalog.pricing import ChargeModel, parse_charge_model
from openbss.catalog.pricing import price as price_charge_model
from openbss.core.errors import CurrencyMismatchError, ValidationError
from openbss.core.money import DEFAULT_ROUNDING, ROUNDING_MODES, Money

__all__ = [
    "CHARGED_PRICE_TYPES",
    "NO_TAX",
    "Action",
    "AlterationLine",
    "AlterationSpec",
    "ChargePeriod",
    "ItemPrices",
    "NoTax",
    "PeriodType",
    "PriceAmounts",
    "PriceCalculation",
    "PriceLine",
    "PriceSpec",
    "PriceType",
    "PricedItem",
    "Proration",
    "TaxCalculator",
    "TotalKey",
    "TotalLine",
    "price_items",
    "prices_from_catalog",
]

PriceType = Literal["oneTime", "recurring", "usage", "penalty"]
PeriodType = Literal["day", "week", "month", "year"]
Action = Literal["add", "modify", "delete", "noChange"]

_PRICE_TYPES: frozenset[str] = frozenset(get_args(PriceType))
_PERIOD_TYPES: frozenset[str] = frozenset(get_args(PeriodType))
_ACTIONS: tuple[str, ...] = get_args(Action)

#: The price types each item action is charged (``delete`` charges ``penalty`` only for an
#: early termination; see :class:`PricedItem`).
CHARGED_PRICE_TYPES: Mapping[str, frozenset[str]] = {
    "add": frozenset({"oneTime", "recurring", "usage"}),
    "modify": frozenset({"recurring", "usage"}),
    "delete": frozenset({"penalty"}),
    "noChange": frozenset(),
}

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_EXACT = decimal.Context(
    prec=60, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargePeriod:
    """A recurring charge period: ``length`` x ``type`` (TMF620 ``recurringChargePeriodType``
    / ``recurringChargePeriodLength``)."""

    type: PeriodType = "month"
    length: int = 1

    def __post_init__(self) -> None:
        if self.type not in _PERIOD_TYPES:
            raise ValidationError(
                f"recurringChargePeriodType must be one of {', '.join(sorted(_PERIOD_TYPES))}, "
                f"got {self.type!r}", field="recurringChargePeriodType")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise ValidationError(
                f"recurringChargePeriodLength must be an integer >= 1, got {self.length!r}",
                field="recurringChargePeriodLength")

    def label(self) -> str:
        """The TMF ``recurringChargePeriod`` string: ``month``, ``3 months``."""
        return self.type if self.length == 1 else f"{self.length} {self.type}s"


@dataclass(frozen=True, slots=True)
class AlterationSpec:
    """A discount (catalog ``priceType: discount``) altering a price.

    Exactly one of ``percentage`` (0-100, of the running amount) and ``amount`` (>= 0, taken
    off each unit; in the altered price's currency). ``application_duration``: the number of
    periods it applies (None: as long as the price). ``priority``: lower applies first.
    """

    id: str
    name: str
    percentage: Decimal | None = None
    amount: Money | None = None
    application_duration: int | None = None
    priority: int | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        where = f"productOfferingPrice[{self.id}]"
        if (self.percentage is None) == (self.amount is None):
            raise ValidationError(
                f"{where}: a discount has exactly one of percentage and an absolute price",
                field=f"{where}.percentage")
        if self.percentage is not None and (
                not isinstance(self.percentage, Decimal) or not self.percentage.is_finite()
                or not _ZERO <= self.percentage <= _HUNDRED):
                raise ValidationError(
                    f"{where}: percentage must be a Decimal between 0 and 100, "
                    f"got {self.percentage!r}", field=f"{where}.percentage")
        if self.amount is not None:
            if not isinstance(self.amount, Money):
                raise TypeError("amount must be Money")
            if self.amount.is_negative():
                raise ValidationError(
                    f"{where}: an absolute discount is the (non-negative) reduction, "
                    f"got {self.amount}", field=f"{where}.price.value")
        duration = self.application_duration
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)
                                     or duration < 1):
            raise ValidationError(
                f"{where}: applicationDuration must be an integer >= 1, got {duration!r}",
                field=f"{where}.applicationDuration")


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """One price of an offering, in force for the item (see the module docstring).

    ``unit_price`` is the price per unit (quantity 1) -- required unless ``charge_model``
    (a recurring/usage catalog charge model) is given with ``currency``. ``period`` applies
    to recurring prices only (default: 1 month). ``unit_of_measure`` (usage): ``"minute"``,
    ``"GB"``.
    """

    id: str
    name: str
    price_type: PriceType
    unit_price: Money | None = None
    charge_model: ChargeModel | None = None
    currency: str | None = None
    period: ChargePeriod | None = None
    unit_of_measure: str | None = None
    tax_included: bool = False
    tax_category: str = "standard"
    alterations: tuple[AlterationSpec, ...] = ()
    description: str | None = None

    def __post_init__(self) -> None:
        where = f"productOfferingPrice[{self.id}]"
        if self.price_type not in _PRICE_TYPES:
            raise ValidationError(
                f"{where}: priceType must be one of {', '.join(sorted(_PRICE_TYPES))} "
                f"(discounts are alterations), got {self.price_type!r}",
                field=f"{where}.priceType")
        if self.unit_price is None and self.charge_model is None:
            raise ValidationError(f"{where} has no price: give a unit price or a charge model",
                                  field=f"{where}.price")
        if self.unit_price is not None:
            if not isinstance(self.unit_price, Money):
                raise TypeError("unit_price must be Money")
            if self.unit_price.is_negative():
                raise ValidationError(f"{where}: price must not be negative",
                                      field=f"{where}.price.value")
            if self.currency is not None and self.currency != self.unit_price.currency:
                raise CurrencyMismatchError(
                    f"{where}: currency {self.currency} differs from the price's "
                    f"{self.unit_price.currency}", field=f"{where}.price.unit")
            object.__setattr__(self, "currency", self.unit_price.currency)
        elif self.currency is None:
            raise ValidationError(f"{where}: a charge model needs a currency",
                                  field=f"{where}.price.unit")
        else:
            Money.zero(self.currency)  # validates the code
        if self.price_type == "recurring":
            if self.period is None:
                object.__setattr__(self, "period", ChargePeriod())
        elif self.period is not None:
            raise ValidationError(f"{where}: only recurring prices have a charge period",
                                  field=f"{where}.recurringChargePeriodType")
        for alteration in self.alterations:
            if alteration.amount is not None and alteration.amount.currency != self.currency:
                raise CurrencyMismatchError(
                    f"productOfferingPrice[{alteration.id}]: a discount in "
                    f"{alteration.amount.currency} cannot alter {where} in {self.currency}",
                    field=f"productOfferingPrice[{alteration.id}].price.unit")

    @property
    def money_currency(self) -> str:
        assert self.currency is not None  # set in __post_init__
        return self.currency

    @property
    def recurring_charge_period(self) -> str | None:
        return self.period.label() if self.period is not None else None


@dataclass(frozen=True, slots=True)
class PricedItem:
    """A quote / order item to price. ``early_termination`` (``delete`` only): the product
    is terminated before its commitment ends, so its ``penalty`` prices are charged."""

    id: str
    action: Action
    prices: tuple[PriceSpec, ...]
    quantity: int = 1
    early_termination: bool = False


# -- seams -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceAmounts:
    """A TMF ``Price``: both amounts in one currency, the tax rate if known, and the
    ``percentage`` of a percentage alteration."""

    duty_free: Money
    tax_included: Money
    tax_rate: Decimal | None = None
    percentage: Decimal | None = None

    def __post_init__(self) -> None:
        if self.duty_free.currency != self.tax_included.currency:
            raise CurrencyMismatchError(
                f"dutyFreeAmount is in {self.duty_free.currency}, taxIncludedAmount in "
                f"{self.tax_included.currency}", field="price.taxIncludedAmount.unit")

    @property
    def currency(self) -> str:
        return self.duty_free.currency

    def __add__(self, other: PriceAmounts) -> PriceAmounts:
        """Sum of both amounts; a tax rate survives only if both carry the same one."""
        rate = self.tax_rate if self.tax_rate == other.tax_rate else None
        return PriceAmounts(self.duty_free + other.duty_free,
                            self.tax_included + other.tax_included, rate)

    def to_tmf(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.percentage is not None:
            body["percentage"] = self.percentage
        if self.tax_rate is not None:
            body["taxRate"] = self.tax_rate
        body["dutyFreeAmount"] = _money(self.duty_free)
        body["taxIncludedAmount"] = _money(self.tax_included)
        return body


class TaxCalculator(Protocol):
    """Billing's tax seam: both amounts of a pre-tax line amount.

    ``amount`` is in the catalog's basis: duty free, or tax included when
    ``spec.tax_included``; it may be negative (an alteration). The answer must be in
    ``amount``'s currency.
    """

    def __call__(self, amount: Money, spec: PriceSpec) -> PriceAmounts: ...


class NoTax:
    """The default: no tax computed, ``taxIncludedAmount == dutyFreeAmount``, no rate."""

    def __call__(self, amount: Money, spec: PriceSpec) -> PriceAmounts:
        return PriceAmounts(amount, amount)


NO_TAX: TaxCalculator = NoTax()


class Proration(Protocol):
    """Billing's first-invoice seam: the fraction (0..1) of the first period a recurring
    price of ``item`` is charged for."""

    def __call__(self, item: PricedItem, spec: PriceSpec) -> Decimal: ...


# -- outputs -----------------------------------------------------------------------------------


def _money(money: Money) -> dict[str, Any]:
    return {"unit": money.currency, "value": money.amount}


@dataclass(frozen=True, slots=True)
class AlterationLine:
    """One applied alteration: ``price`` is the (negative or zero) change it makes."""

    id: str
    name: str
    price_type: str
    recurring_charge_period: str | None
    unit_of_measure: str | None
    application_duration: int | None
    priority: int | None
    price: PriceAmounts
    description: str | None = None

    def to_tmf(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "priceType": self.price_type}
        if self.description:
            body["description"] = self.description
        if self.recurring_charge_period is not None:
            body["recurringChargePeriod"] = self.recurring_charge_period
        if self.unit_of_measure is not None:
            body["unitOfMeasure"] = self.unit_of_measure
        if self.application_duration is not None:
            body["applicationDuration"] = self.application_duration
        if self.priority is not None:
            body["priority"] = self.priority
        body["price"] = self.price.to_tmf()
        body["productOfferingPrice"] = {"id": self.id, "name": self.name}
        return body


#: ``(priceType, recurringChargePeriod or None, currency)``.
TotalKey = tuple[str, str | None, str]


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One price of an item: ``price`` is the net first-period amount (after alterations);
    ``list_amount`` the pre-tax amount before them (after proration)."""

    price_id: str
    name: str
    price_type: str
    recurring_charge_period: str | None
    unit_of_measure: str | None
    list_amount: Money
    price: PriceAmounts
    alterations: tuple[AlterationLine, ...] = ()
    description: str | None = None
    informational: bool = False  # usage: rated later, not in the totals

    @property
    def key(self) -> TotalKey:
        return (self.price_type, self.recurring_charge_period, self.price.currency)

    def to_tmf(self) -> dict[str, Any]:
        """A TMF648 ``QuotePrice`` / TMF622 ``OrderPrice``."""
        body: dict[str, Any] = {"name": self.name, "priceType": self.price_type}
        if self.description:
            body["description"] = self.description
        if self.recurring_charge_period is not None:
            body["recurringChargePeriod"] = self.recurring_charge_period
        if self.unit_of_measure is not None:
            body["unitOfMeasure"] = self.unit_of_measure
        body["price"] = self.price.to_tmf()
        if self.alterations:
            body["priceAlteration"] = [a.to_tmf() for a in self.alterations]
        body["productOfferingPrice"] = {"id": self.price_id, "name": self.name}
        return body


@dataclass(frozen=True, slots=True)
class ItemPrices:
    item_id: str
    lines: tuple[PriceLine, ...]

    def to_tmf(self) -> list[dict[str, Any]]:
        """The item's ``quoteItemPrice`` / ``itemPrice``."""
        return [line.to_tmf() for line in self.lines]


@dataclass(frozen=True, slots=True)
class TotalLine:
    price_type: str
    recurring_charge_period: str | None
    price: PriceAmounts

    @property
    def key(self) -> TotalKey:
        return (self.price_type, self.recurring_charge_period, self.price.currency)

    def to_tmf(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": _total_name(self), "priceType": self.price_type}
        if self.recurring_charge_period is not None:
            body["recurringChargePeriod"] = self.recurring_charge_period
        body["price"] = self.price.to_tmf()
        return body


def _total_name(total: TotalLine) -> str:
    kind = {"oneTime": "one-time", "penalty": "penalty"}.get(total.price_type)
    if kind is None:
        kind = f"recurring per {total.recurring_charge_period}"
    return f"Total {kind} ({total.price.currency})"


@dataclass(frozen=True, slots=True)
class PriceCalculation:
    items: tuple[ItemPrices, ...]
    totals: tuple[TotalLine, ...] = field(default=())

    def item(self, item_id: str) -> ItemPrices:
        return next(i for i in self.items if i.item_id == item_id)

    def total(self, price_type: str, period: str | None, currency: str) -> TotalLine | None:
        return next((t for t in self.totals if t.key == (price_type, period, currency)), None)

    def totals_to_tmf(self) -> list[dict[str, Any]]:
        """``quoteTotalPrice`` / ``orderTotalPrice``."""
        return [t.to_tmf() for t in self.totals]


# -- the calculation ---------------------------------------------------------------------------


def _check_rounding(rounding: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise ValidationError(f"unknown rounding mode {rounding!r}", field="rounding")


def _sorted_alterations(alterations: Sequence[AlterationSpec]) -> list[AlterationSpec]:
    indexed = list(enumerate(alterations))
    indexed.sort(key=lambda pair: (pair[1].priority is None, pair[1].priority or 0, pair[0]))
    return [alteration for _, alteration in indexed]


def _list_amount(item: PricedItem, spec: PriceSpec, field_: str) -> Decimal:
    """Pre-tax, unrounded amount of ``spec`` for the item's quantity."""
    if spec.charge_model is not None:
        try:
            return price_charge_model(spec.charge_model, item.quantity).amount
        except ValidationError as exc:
            raise ValidationError(
                f"{field_}: the charge model of productOfferingPrice {spec.id!r} cannot price "
                f"this quantity: {exc.message}", field=f"{field_}.quantity") from None
    assert spec.unit_price is not None
    try:
        return _EXACT.multiply(spec.unit_price.amount, Decimal(item.quantity))
    except decimal.DecimalException:
        raise ValidationError(f"{field_}.quantity {item.quantity} is too large to price exactly",
                              field=f"{field_}.quantity") from None


def _price_attribute(field_: str) -> str:
    """``quoteItem[0]`` -> ``quoteItemPrice``; ``productOrderItem[0]`` -> ``itemPrice``."""
    return "quoteItemPrice" if field_.startswith("quoteItem[") else "itemPrice"


def _fraction(item: PricedItem, spec: PriceSpec, proration: Proration | None,
              field_: str) -> Decimal:
    if proration is None or spec.price_type != "recurring":
        return _ONE
    fraction = proration(item, spec)
    if not isinstance(fraction, Decimal) or not fraction.is_finite() \
            or not _ZERO <= fraction <= _ONE:
        raise ValidationError(
            f"{field_}: the first-period proration fraction must be a Decimal in [0, 1], "
            f"got {fraction!r}", field=f"{field_}.{_price_attribute(field_)}")
    return fraction


def _price_line(item: PricedItem, spec: PriceSpec, *, tax: TaxCalculator,
                proration: Proration | None, rounding: str, field_: str,
                period_index: int = 0) -> PriceLine:
    currency = spec.money_currency
    if spec.price_type == "usage":
        per = f" per {spec.unit_of_measure}" if spec.unit_of_measure else " per unit"
        if spec.charge_model is not None:
            what = f"{spec.charge_model.type} charge model in {currency}"
        else:
            what = f"{spec.unit_price}{per}"
        zero = Money.zero(currency)
        return PriceLine(
            price_id=spec.id, name=spec.name, price_type="usage", recurring_charge_period=None,
            unit_of_measure=spec.unit_of_measure, list_amount=zero, price=tax(zero, spec),
            description=spec.description or f"usage, rated on use: {what}",
            informational=True,
        )
    raw = _list_amount(item, spec, field_)
    fraction = _fraction(item, spec, proration, field_) if period_index == 0 else _ONE
    if fraction != _ONE:
        raw = decimal.Context(prec=60).multiply(raw, fraction)
    listed = Money(raw, currency).rounded(rounding)
    running = listed
    lines: list[AlterationLine] = []
    for alteration in _sorted_alterations(spec.alterations):
        duration = alteration.application_duration
        if spec.price_type == "recurring" and duration is not None and period_index >= duration:
            continue  # expired: applied to the first ``duration`` periods only
        if alteration.percentage is not None:
            off = running * alteration.percentage / _HUNDRED
        else:
            assert alteration.amount is not None
            off = alteration.amount * item.quantity
        off = min(off.rounded(rounding), running)
        running = running - off
        lines.append(AlterationLine(
            id=alteration.id, name=alteration.name, price_type=spec.price_type,
            recurring_charge_period=spec.recurring_charge_period,
            unit_of_measure=spec.unit_of_measure,
            application_duration=alteration.application_duration,
            priority=alteration.priority,
            price=_with_percentage(tax(-off, spec), alteration.percentage),
            description=alteration.description,
        ))
    return PriceLine(
        price_id=spec.id, name=spec.name, price_type=spec.price_type,
        recurring_charge_period=spec.recurring_charge_period,
        unit_of_measure=spec.unit_of_measure, list_amount=listed, price=tax(running, spec),
        alterations=tuple(lines), description=spec.description,
    )


def _with_percentage(amounts: PriceAmounts, percentage: Decimal | None) -> PriceAmounts:
    return PriceAmounts(amounts.duty_free, amounts.tax_included, amounts.tax_rate, percentage)


def _check_item(item: PricedItem, field_: str) -> None:
    if item.action not in _ACTIONS:
        raise ValidationError(
            f"{field_}.action must be one of {', '.join(_ACTIONS)}, got {item.action!r}",
            field=f"{field_}.action")
    quantity = item.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValidationError(f"{field_}.quantity must be an integer >= 1, got {quantity!r}",
                              field=f"{field_}.quantity")
    if item.early_termination and item.action != "delete":
        raise ValidationError(f"{field_}: only a delete can be an early termination",
                              field=f"{field_}.action")


def price_items(
    items: Sequence[PricedItem],
    *,
    tax: TaxCalculator = NO_TAX,
    proration: Proration | None = None,
    rounding: str = DEFAULT_ROUNDING,
    item_field: str = "quoteItem",
    period_index: int = 0,
) -> PriceCalculation:
    """Price every item and total them (rules in the module docstring).

    Errors are :class:`ValidationError` (422) naming ``{item_field}[i].quantity`` /
    ``.action``. ``period_index`` (default 0, the first period) prices a later period: only
    the recurring lines, without the alterations whose ``application_duration`` is over and
    without first-period proration. A tax calculator answering in another currency, or
    alterations in another currency than their price, raise :class:`CurrencyMismatchError`.
    """
    _check_rounding(rounding)
    if isinstance(period_index, bool) or not isinstance(period_index, int) or period_index < 0:
        raise ValidationError(f"period_index must be an integer >= 0, got {period_index!r}",
                              field="periodIndex")
    priced: list[ItemPrices] = []
    totals: dict[TotalKey, PriceAmounts] = {}
    for index, item in enumerate(items):
        field_ = f"{item_field}[{index}]"
        _check_item(item, field_)
        charged = CHARGED_PRICE_TYPES[item.action]
        lines: list[PriceLine] = []
        for spec in item.prices:
            if spec.price_type not in charged:
                continue
            if spec.price_type == "penalty" and not item.early_termination:
                continue
            if period_index > 0 and spec.price_type != "recurring":
                continue
            line = _price_line(item, spec, tax=tax, proration=proration, rounding=rounding,
                               field_=field_, period_index=period_index)
            if line.price.currency != spec.money_currency:
                raise CurrencyMismatchError(
                    f"{field_}: the tax calculator answered {line.price.currency} for a price "
                    f"in {spec.money_currency}",
                    field=f"{field_}.{_price_attribute(field_)}")
            lines.append(line)
            if not line.informational:
                previous = totals.get(line.key)
                totals[line.key] = line.price if previous is None else previous + line.price
        priced.append(ItemPrices(item.id, tuple(lines)))
    return PriceCalculation(
        items=tuple(priced),
        totals=tuple(TotalLine(key[0], key[1], amounts) for key, amounts in totals.items()),
    )


# -- from catalog documents --------------------------------------------------------------------


def _decimal(value: object, where: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValidationError(f"{where} must be an exact decimal, not {value!r}", field=where)
    if isinstance(value, Decimal | int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ValidationError(f"{where} is not a decimal: {value!r}", field=where) from None
    else:
        raise ValidationError(f"{where} must be a decimal, got {value!r}", field=where)
    if not result.is_finite():
        raise ValidationError(f"{where} must be finite", field=where)
    return result


def _unit_of_measure(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return None
    units = value.get("units")
    if not units:
        return None
    amount = value.get("amount")
    if amount is None or _decimal(amount, "unitOfMeasure.amount") == _ONE:
        return str(units)
    return f"{amount} {units}"


def _ref_ids(value: object) -> set[str]:
    if not isinstance(value, list):
        return set()
    return {str(ref["id"]) for ref in value if isinstance(ref, Mapping) and ref.get("id")}


def prices_from_catalog(pops: Sequence[Mapping[str, Any]]) -> tuple[PriceSpec, ...]:
    """:class:`PriceSpec` values from an offering's TMF620 ``productOfferingPrice``
    documents (``catalog.service.view`` of the rows ``select_prices`` chose), in order.

    Discount documents become :class:`AlterationSpec` on the prices their
    ``popRelationship`` names; a discount without ``popRelationship`` alters every
    one-time and recurring price of the list (of its currency, if it has one). An
    absolute discount's ``price.value`` is the reduction: its sign is ignored (``-5`` and
    ``5`` both take 5 off). A recurring price's missing ``recurringChargePeriodType`` is a
    month. Decimals may be ``Decimal``, ``int`` or decimal strings, never floats.
    """
    discounts: list[tuple[AlterationSpec, set[str], str | None]] = []
    bases: list[Mapping[str, Any]] = []
    for pop in pops:
        pid = str(pop.get("id"))
        where = f"productOfferingPrice[{pid}]"
        price = pop.get("price") or {}
        if pop.get("priceType") == "discount":
            percentage = pop.get("percentage")
            value = price.get("value")
            amount = None
            if percentage is None and value is not None:
                unit = price.get("unit")
                if not unit:
                    raise ValidationError(f"{where}: an absolute discount needs price.unit",
                                          field=f"{where}.price.unit")
                amount = Money(abs(_decimal(value, f"{where}.price.value")), str(unit))
            discounts.append((AlterationSpec(
                id=pid, name=str(pop.get("name") or pid),
                percentage=None if percentage is None else _decimal(percentage,
                                                                     f"{where}.percentage"),
                amount=amount,
                application_duration=pop.get("applicationDuration"),
                priority=pop.get("priority"),
                description=pop.get("description"),
            ), _ref_ids(pop.get("popRelationship")), price.get("unit") or None))
        else:
            bases.append(pop)
    specs: list[PriceSpec] = []
    for pop in bases:
        pid = str(pop.get("id"))
        where = f"productOfferingPrice[{pid}]"
        price = pop.get("price") or {}
        price_type = str(pop.get("priceType"))
        model = pop.get("chargeModel")
        currency = price.get("unit") or None
        unit_price = None
        if price.get("value") is not None:
            unit_price = Money(_decimal(price["value"], f"{where}.price.value"), str(currency))
        alterations = tuple(
            spec for spec, targets, unit in discounts
            if pid in targets or (not targets and price_type in ("oneTime", "recurring")
                                  and unit in (None, currency)))
        period = None
        if price_type == "recurring":
            period = ChargePeriod(pop.get("recurringChargePeriodType") or "month",
                                  pop.get("recurringChargePeriodLength") or 1)
        specs.append(PriceSpec(
            id=pid, name=str(pop.get("name") or pid), price_type=cast(PriceType, price_type),
            unit_price=unit_price if model is None else None,
            charge_model=None if model is None else parse_charge_model(model),
            currency=currency, period=period,
            unit_of_measure=_unit_of_measure(pop.get("unitOfMeasure")),
            tax_included=bool(pop.get("taxIncluded", False)),
            tax_category=str(pop.get("taxCategory") or "standard"),
            alterations=alterations, description=pop.get("description"),
        ))
    return tuple(specs)
