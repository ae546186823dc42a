"""Generic metered usage: the catalog's charge models applied per billing period, one
record at a time (pure: no I/O, no clock, no database).

The meaning is :mod:`openbss.rating.book` point 3: the records of one
``(product, price, period)`` are priced *incrementally*, so that their amounts always add
up to the charge model applied to the period's total.

Quantities stay in **base units** (seconds, bytes, events); a price's unit is ``scale``
base units (``book.unit_scale``: 60 for ``minute``, 10⁹ for ``GB``). Instead of dividing
every quantity by the scale (130 s = 2.1666… minutes is not a finite decimal), the charge
model is re-expressed per base unit by :func:`base_unit_model` — tier bounds, package
sizes, free units and free amounts times ``scale``, flat fees, package prices, fixed fees
and per-transaction minimum / maximum times ``scale``, unit prices and rates unchanged —
so that, for every quantity ``C`` in base units::

    price(model, C / scale) == price(base_unit_model(model, scale), C) / scale

exactly (every charge model is linear in that sense). The only inexact step left is the
final division by ``scale``: :func:`to_amount` rounds that exact rational once, half-even,
to :data:`AMOUNT_DECIMALS` (18) decimal places — an amount that is exact within 18
decimals (every price in whole seconds at a per-minute rate of up to 16 decimals, every
per-GB price, every per-event price of up to 9 decimals …) is not changed at all.

Quantity models (standard, graduated, volume, package, graduated percentage): the period's
cumulative charged quantity ``C`` (base units) is priced; an event's amount is
``P(C_after) - P(C_before)`` with ``P(C) = to_amount(price(model_b, C), scale)``, and the
period's *first* charged event pays ``P(C_after)`` in full (so the first tier's flat fee,
which the catalog charges at zero units too, is paid once, by the first charged event).
The amounts of a period therefore telescope to ``P(total)``: the catalog price of the
period total (rounded to 18 decimals when it is not exact there). A ``volume`` model can
make a later event's amount negative (the period moved to a cheaper tier).

Percentage model: each charged event is one transaction of its charged quantity, priced
in order by :func:`transaction_price` (free events / free amount "whichever comes first",
fixed fee per paid transaction, min/max per transaction — exactly
``catalog.pricing.price_percentage``'s rules, one transaction at a time), then rounded by
:func:`to_amount`. A period's amounts add up to ``price_percentage`` of its transactions
whenever each transaction's price is exact within 18 decimals.

Events whose charged part is 0 are not priced and not counted (amount 0, no transaction,
the period total unchanged). Amounts must stay below 10²⁰ in magnitude
(:data:`AMOUNT_LIMIT`, what the vectorized engine's Decimal(38, 18) column holds); a larger
amount, or a price that cannot be computed exactly within
:data:`openbss.core.money.PRECISION` digits, raises :class:`AmountOutOfRange` (the engines
answer ``invalid_quantity``).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction

from openbss.catalog.pricing import (
    ChargeModel,
    GraduatedChargeModel,
    GraduatedPercentageChargeModel,
    PackageChargeModel,
    PercentageChargeModel,
    PercentageTier,
    PriceTier,
    StandardChargeModel,
    VolumeChargeModel,
    price,
)
from openbss.core.errors import ValidationError
from openbss.core.money import PRECISION
from openbss.rating.book import Allowances, MeteredKey

__all__ = [
    "AMOUNT_DECIMALS",
    "AMOUNT_LIMIT",
    "AmountOutOfRange",
    "base_unit_model",
    "is_percentage",
    "period_price",
    "price_charged",
    "quantity_amount",
    "to_amount",
    "transaction_price",
]

#: Decimal places of a metered amount (and of the vectorized engine's amount column).
AMOUNT_DECIMALS = 18
#: Amounts (and cumulative period prices) must be smaller than this in magnitude.
AMOUNT_LIMIT = Decimal(10) ** 20

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_EXACT = decimal.Context(
    prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow,
           decimal.Underflow, decimal.Inexact],
)


class AmountOutOfRange(ValidationError):
    """A metered amount that cannot be represented (too large, or not exact)."""

    code = "amount_out_of_range"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="quantity")


@contextmanager
def _exact() -> Iterator[None]:
    try:
        with decimal.localcontext(_EXACT):
            yield
    except decimal.DecimalException as exc:
        raise AmountOutOfRange(
            f"the amount cannot be computed exactly within {PRECISION} digits "
            f"({type(exc).__name__})") from None


def is_percentage(model: ChargeModel) -> bool:
    """True for the per-transaction model (``percentage``)."""
    return isinstance(model, PercentageChargeModel)


def base_unit_model(model: ChargeModel, scale: Decimal) -> ChargeModel:
    """``model`` re-expressed so that its quantity is in base units and its amounts are
    ``scale`` times the real ones (see the module docstring). ``scale == 1``: ``model``."""
    if scale == 1:
        return model
    with _exact():
        if isinstance(model, StandardChargeModel):
            return model
        if isinstance(model, (GraduatedChargeModel, VolumeChargeModel)):
            tiers = [PriceTier(up_to=None if t.up_to is None else t.up_to * scale,
                               unit_price=t.unit_price, flat_fee=t.flat_fee * scale)
                     for t in model.tiers]
            return model.model_copy(update={"tiers": tiers})
        if isinstance(model, GraduatedPercentageChargeModel):
            pct = [PercentageTier(up_to=None if t.up_to is None else t.up_to * scale,
                                  rate=t.rate, flat_fee=t.flat_fee * scale)
                   for t in model.tiers]
            return model.model_copy(update={"tiers": pct})
        if isinstance(model, PackageChargeModel):
            return model.model_copy(update={
                "package_size": model.package_size * scale,
                "package_price": model.package_price * scale,
                "free_units": model.free_units * scale})

        def times(value: Decimal | None) -> Decimal | None:
            return None if value is None else value * scale

        return model.model_copy(update={
            "fixed_fee": times(model.fixed_fee), "free_amount": times(model.free_amount),
            "min_per_transaction": times(model.min_per_transaction),
            "max_per_transaction": times(model.max_per_transaction)})


def to_amount(value: Decimal, scale: Decimal) -> Decimal:
    """``value / scale`` rounded once, half-even, to 18 decimal places (exact rational
    arithmetic: no double rounding); raises :class:`AmountOutOfRange` at 10²⁰ or more."""
    units = round(Fraction(value) * 10**AMOUNT_DECIMALS / Fraction(scale))
    amount = Decimal(f"{units}E-{AMOUNT_DECIMALS}")
    if abs(amount) >= AMOUNT_LIMIT:
        raise AmountOutOfRange(f"the amount {amount} is out of range (|amount| < 1E+20)")
    return amount


def period_price(model_b: ChargeModel, cumulative: Decimal, scale: Decimal) -> Decimal:
    """``P(C)``: the (rounded) price of a period whose charged total is ``cumulative``
    base units, under the base-unit model ``model_b`` (quantity models only)."""
    try:
        exact = price(model_b, cumulative).amount
    except ValidationError as exc:
        raise AmountOutOfRange(exc.message) from None
    return to_amount(exact, scale)


def quantity_amount(model_b: ChargeModel, scale: Decimal, *, before: Decimal | None,
                    charged: Decimal) -> Decimal:
    """The amount of one event charging ``charged`` base units after ``before`` (None: the
    period's first charged event) — ``P(before + charged) - P(before)``."""
    with _exact():
        after = charged if before is None else before + charged
    amount = period_price(model_b, after, scale)
    if before is None:
        return amount
    earlier = period_price(model_b, before, scale)
    with _exact():
        return amount - earlier


def transaction_price(model_b: PercentageChargeModel, *, count_before: int,
                      amount_before: Decimal, value: Decimal) -> Decimal:
    """The exact price (base-unit model, not yet divided by the scale) of one transaction
    of ``value`` after ``count_before`` transactions of ``amount_before`` in total.

    The free allowance is active while fewer than ``freeEvents`` transactions were made
    *and* their total is below ``freeAmount`` (whichever set); an active allowance makes
    the transaction free unless it reaches the free amount, when it pays for its part
    above it. A paid transaction costs ``billable * rate / 100 + fixedFee``, raised to
    ``minPerTransaction`` or capped at ``maxPerTransaction``."""
    free_events = model_b.free_events or None
    free_amount = model_b.free_amount or None
    with _exact():
        billable = value
        active = ((free_events is not None or free_amount is not None)
                  and (free_events is None or count_before < free_events)
                  and (free_amount is None or amount_before < free_amount))
        if active:
            if free_amount is None or value < free_amount - amount_before:
                return _ZERO
            billable = amount_before + value - free_amount
        charged = billable * model_b.rate / _HUNDRED + (model_b.fixed_fee or _ZERO)
        low, high = model_b.min_per_transaction, model_b.max_per_transaction
        if low is not None and charged < low:
            return low
        if high is not None and charged > high:
            return high
        return charged


def price_charged(model_b: ChargeModel, scale: Decimal, *, key: MeteredKey,
                  charged: Decimal, allowances: Allowances) -> Decimal:
    """The amount of one event charging ``charged`` (> 0) base units in the period of
    ``key``, after what ``allowances`` says the period was charged so far; updates
    ``allowances.metered`` (quantity models: total charged base units) or
    ``allowances.metered_events`` (percentage: transactions, total base units)."""
    if isinstance(model_b, PercentageChargeModel):
        count, total = allowances.metered_events.get(key, (0, _ZERO))
        amount = to_amount(transaction_price(model_b, count_before=count,
                                             amount_before=total, value=charged), scale)
        with _exact():
            allowances.metered_events[key] = (count + 1, total + charged)
        return amount
    before = allowances.metered.get(key)
    amount = quantity_amount(model_b, scale, before=before, charged=charged)
    with _exact():
        allowances.metered[key] = charged if before is None else before + charged
    return amount
