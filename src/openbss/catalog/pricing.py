"""Pure pricing calculator of the product catalog (``POST /api/v1/pricing/preview``).

Prices one period's usage under a *charge model*. Nothing here does I/O, touches a database
or reads a clock: a charge model plus a quantity (or a list of transaction amounts) in, an
exact :class:`PricingResult` out.

Money is :class:`decimal.Decimal`, never ``float``. Every computation runs in a local decimal
context of :data:`openbss.core.money.PRECISION` significant digits that *traps*
:class:`decimal.Inexact`: a result is either exact or refused (``ValidationError``); results
are never rounded here (rounding to the currency's minor unit happens at the invoice line).
Unit prices keep all their decimals (``"0.00000001"`` stays exact).

Charge models (JSON parameters are camelCase; snake_case names are accepted too):

``standard``
    ``{"type": "standard", "unitPrice": "5.12345"}``: ``quantity * unitPrice``.
``graduated``
    ``{"type": "graduated", "tiers": [{"upTo": "10", "unitPrice": "10", "flatFee": "2"},
    {"upTo": null, "unitPrice": "5", "flatFee": "3"}]}``: the units falling into each tier
    are priced at that tier's unit price and the amounts summed; a tier's flat fee is added
    once the quantity *enters* the tier (its unit count is > 0).
``volume``
    Same tiers; the tier containing the whole quantity prices *all* units, plus that tier's
    flat fee.
``package``
    ``{"type": "package", "packageSize": "10", "packagePrice": "100", "freeUnits": "0"}``:
    ``ceil(max(quantity - freeUnits, 0) / packageSize) * packagePrice``.
``percentage``
    ``{"type": "percentage", "rate": "1.3", "fixedFee": "2", "freeEvents": 3,
    "freeAmount": "250", "minPerTransaction": "1.75", "maxPerTransaction": "12"}``: priced
    over the list of transaction amounts (``events``, in order) instead of a quantity.
    ``rate`` is in percent; every other parameter is optional.
``graduated_percentage``
    ``{"type": "graduated_percentage", "tiers": [{"upTo": "10", "rate": "1",
    "flatFee": "200"}, {"upTo": null, "rate": "2", "flatFee": "300"}]}``: graduated, with a
    percentage ``rate`` of the amount falling in each tier instead of a unit price. The
    quantity is the period's summed transaction amount.

Semantics follow Lago's charge models of the same names (getlago/lago-api,
``app/services/charges/charge_models/*_service.rb`` and their specs):

Tier bounds. Lago stores ``from_value``/``to_value`` pairs with
``from_value[0] == 0``, ``from_value[i] == to_value[i-1] + 1`` and ``to_value[last] ==
null`` (``Validators::RangeBoundsValidator``); it then counts the units of a tier as
``to - from + 1`` (tier filled) or ``q - from + 1`` (tier partly filled; ``q`` for the first
tier) -- i.e. ``min(q, to) - to[i-1]``, which is continuous for decimal quantities (10.5
units over ``0-10, 11-20`` are 10 + 0.5). Here a tier only carries its inclusive upper bound
``upTo``: tier ``i`` covers the quantities in ``(upTo[i-1], upTo[i]]`` (tier 0 covers
``[0, upTo[0]]``; the last tier is unbounded), so Lago's ``from_value[i]`` is ``upTo[i-1] +
1`` and ``to_value[i]`` is ``upTo[i]``. For integer bounds (Lago's usual case) both give the
same amounts; with decimal bounds this module stays continuous (a volume quantity of 10.7
over ``upTo`` 10.5 / 20 falls into tier 1, where Lago's ``from <= ceil(q)`` test finds no
tier). Tier ``upTo`` values must be > 0 and strictly increasing; only the last tier is, and
must be, unbounded.

Edge cases (each taken from Lago's service or spec):

* zero units in graduated, volume and graduated percentage charge the first tier's flat
  fee and nothing else (Lago's current specs, "when aggregation is 0": "applies the flat
  amount from the first tier" — 2 for ``0-10 @10 +2``; 0 when that flat fee is 0); package
  and standard charge nothing for zero units;
* graduated / graduated percentage: tiers are walked up to the one containing the quantity
  (a quantity exactly on ``upTo`` stays in that tier); a later tier's flat fee is charged
  only when the tier holds units (11 units over ``0-10 @10 +2``, ``11-20 @5 +3`` = 110);
* volume: the tier is chosen on the whole quantity, bounds inclusive (100 -> tier 0,
  100.5 and 101 -> tier 1);
* package: free units are deducted first, a started package is a whole package, free units
  above the quantity give 0;
* percentage: ``freeEvents`` (first N transactions) and ``freeAmount`` (first X of volume)
  are one free allowance that ends as soon as *either* is used up ("first 3 events or $500
  are free"); a fully free transaction pays neither rate nor fixed fee; the transaction that
  reaches the free amount pays the rate on its part above it and the fixed fee (also when
  that part is 0: Lago's ``running_total < free_amount`` / ``remaining > value`` tests);
  ``fixedFee`` is charged per paid transaction; ``minPerTransaction`` / ``maxPerTransaction``
  clamp each paid transaction's ``rate + fixed fee`` (free transactions are not raised to
  the minimum); a period whose transactions sum to 0 costs nothing (no fixed fee, no
  minimum: spec "when aggregation value is 0");
* graduated percentage: each tier's flat fee is charged once per period when the tier is
  reached ("the flat fee is applied to the entire tier, rather than per transaction").

Deliberate differences from Lago:

* ``minPerTransaction`` / ``maxPerTransaction`` are always applied (Lago: premium licence
  only);
* with both free allowances set, Lago's per-transaction (min/max) path keeps using the free
  amount after the free events are used up, and its aggregate path still exempts the first
  ``freeEvents`` transactions from the fixed fee when the first transaction alone exceeds the
  free amount (a count of 0 is dropped before taking the minimum); here one "whichever comes
  first" allowance is used, which matches Lago's documented example and all its specs;
* transaction amounts must be >= 0 (refunds are not a percentage-pricing concern);
* ``packageSize`` may be any positive decimal and ``freeUnits`` any non-negative decimal
  (Lago: integers).

JSON numbers are accepted for decimal parameters but go through the JSON parser as IEEE
doubles (about 15 significant digits); send decimal strings for exact values.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from openbss.core.errors import ValidationError
from openbss.core.money import PRECISION

__all__ = [
    "ChargeModel",
    "ChargeModelType",
    "GraduatedChargeModel",
    "GraduatedPercentageChargeModel",
    "PackageChargeModel",
    "PercentageChargeModel",
    "PercentageTier",
    "PriceTier",
    "PricingLine",
    "PricingResult",
    "StandardChargeModel",
    "VolumeChargeModel",
    "charge_model_adapter",
    "parse_charge_model",
    "price",
    "price_graduated",
    "price_graduated_percentage",
    "price_package",
    "price_percentage",
    "price_standard",
    "price_volume",
]

ChargeModelType = Literal[
    "standard", "graduated", "volume", "package", "percentage", "graduated_percentage"
]

#: Exact arithmetic: any result that would need rounding raises instead.
_EXACT = decimal.Context(
    prec=PRECISION,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
        decimal.Underflow,
        decimal.Inexact,
    ],
)
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

# -- charge model parameters -------------------------------------------------------------

#: A non-negative, finite decimal (price, fee, rate, unit count).
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
#: A strictly positive, finite decimal (tier bound, package size).
PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class _Params(BaseModel):
    """Base of every parameter model: camelCase aliases, unknown parameters refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class PriceTier(_Params):
    """A tier of a graduated or volume charge: ``upTo`` inclusive, ``null`` = unbounded."""

    up_to: PositiveDecimal | None
    unit_price: NonNegativeDecimal
    flat_fee: NonNegativeDecimal = _ZERO


class PercentageTier(_Params):
    """A tier of a graduated percentage charge: ``rate`` in percent of the tier's amount."""

    up_to: PositiveDecimal | None
    rate: NonNegativeDecimal
    flat_fee: NonNegativeDecimal = _ZERO


def _check_tiers(tiers: Sequence[PriceTier | PercentageTier]) -> None:
    """Tiers: at least one, ``upTo`` strictly increasing, only (and always) the last unbounded."""
    if not tiers:
        raise PydanticCustomError(
            "invalid_tiers", "tiers must contain at least one tier", {"parameter": "tiers"}
        )
    last = len(tiers) - 1
    previous: Decimal | None = None
    for index, tier in enumerate(tiers):
        name = f"tiers[{index}].upTo"
        if tier.up_to is None:
            if index != last:
                raise PydanticCustomError(
                    "invalid_tiers",
                    "{parameter} must not be null: only the last tier may be unbounded",
                    {"parameter": name},
                )
            continue
        if index == last:
            raise PydanticCustomError(
                "invalid_tiers",
                "{parameter} must be null: the last tier must be unbounded (got {value})",
                {"parameter": name, "value": str(tier.up_to)},
            )
        if previous is not None and tier.up_to <= previous:
            raise PydanticCustomError(
                "invalid_tiers",
                "{parameter} ({value}) must be greater than tiers[{prev_index}].upTo "
                "({previous}): tiers must be in increasing order and must not overlap",
                {
                    "parameter": name,
                    "value": str(tier.up_to),
                    "prev_index": index - 1,
                    "previous": str(previous),
                },
            )
        previous = tier.up_to


class StandardChargeModel(_Params):
    """``quantity * unitPrice``."""

    type: Literal["standard"] = "standard"
    unit_price: NonNegativeDecimal


class _TieredUnits(_Params):
    type: str  # narrowed by each subclass; declared first to keep "type" first in JSON
    tiers: list[PriceTier]

    @field_validator("tiers")
    @classmethod
    def _valid_tiers(cls, tiers: list[PriceTier]) -> list[PriceTier]:
        _check_tiers(tiers)
        return tiers


class GraduatedChargeModel(_TieredUnits):
    """Each tier prices the units falling into it; flat fee once the tier is entered."""

    type: Literal["graduated"] = "graduated"


class VolumeChargeModel(_TieredUnits):
    """The tier containing the whole quantity prices all units, plus its flat fee."""

    type: Literal["volume"] = "volume"


class PackageChargeModel(_Params):
    """``ceil(max(quantity - freeUnits, 0) / packageSize) * packagePrice``."""

    type: Literal["package"] = "package"
    package_size: PositiveDecimal
    package_price: NonNegativeDecimal
    free_units: NonNegativeDecimal = _ZERO


class PercentageChargeModel(_Params):
    """A percentage of each transaction plus a fixed fee per transaction (see module doc)."""

    type: Literal["percentage"] = "percentage"
    rate: NonNegativeDecimal
    fixed_fee: NonNegativeDecimal | None = None
    free_events: Annotated[int, Field(ge=0)] | None = None
    free_amount: NonNegativeDecimal | None = None
    min_per_transaction: NonNegativeDecimal | None = None
    max_per_transaction: NonNegativeDecimal | None = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> PercentageChargeModel:
        low, high = self.min_per_transaction, self.max_per_transaction
        if low is not None and high is not None and low > high:
            raise PydanticCustomError(
                "invalid_min_max",
                "{parameter} ({value}) must not be lower than minPerTransaction ({minimum})",
                {"parameter": "maxPerTransaction", "value": str(high), "minimum": str(low)},
            )
        return self


class GraduatedPercentageChargeModel(_Params):
    """Graduated tiers with a percentage rate per tier and a flat fee per tier reached."""

    type: Literal["graduated_percentage"] = "graduated_percentage"
    tiers: list[PercentageTier]

    @field_validator("tiers")
    @classmethod
    def _valid_tiers(cls, tiers: list[PercentageTier]) -> list[PercentageTier]:
        _check_tiers(tiers)
        return tiers


ChargeModel = Annotated[
    StandardChargeModel
    | GraduatedChargeModel
    | VolumeChargeModel
    | PackageChargeModel
    | PercentageChargeModel
    | GraduatedPercentageChargeModel,
    Field(discriminator="type"),
]

#: Parses / validates a charge model from a dict (``validate_python``) or JSON text.
charge_model_adapter: TypeAdapter[ChargeModel] = TypeAdapter(ChargeModel)

_MODEL_CLASSES: tuple[type[_Params], ...] = (
    StandardChargeModel,
    GraduatedChargeModel,
    VolumeChargeModel,
    PackageChargeModel,
    PercentageChargeModel,
    GraduatedPercentageChargeModel,
)
_TAGS: frozenset[str] = frozenset(str(cls.model_fields["type"].default) for cls in _MODEL_CLASSES)
_PARAM_CLASSES: tuple[type[_Params], ...] = (*_MODEL_CLASSES, PriceTier, PercentageTier)
#: snake_case field name -> camelCase parameter name, for error paths.
_ALIASES: dict[str, str] = {
    name: info.alias or name for cls in _PARAM_CLASSES for name, info in cls.model_fields.items()
}


def _parameter_path(loc: Sequence[int | str]) -> str:
    """``("graduated", "tiers", 1, "unit_price")`` -> ``"tiers[1].unitPrice"``."""
    parts = list(loc)
    if parts and isinstance(parts[0], str) and parts[0] in _TAGS:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = _ALIASES.get(part, part)
            path += f".{name}" if path else name
    return path


def _error_parameter(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    if "parameter" in ctx:
        return str(ctx["parameter"])
    if error.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
        return "type"
    return _parameter_path(error.get("loc", ()))


def parse_charge_model(data: Any) -> ChargeModel:
    """Validate charge-model parameters (a mapping), raising :class:`ValidationError`.

    The error's ``field`` names the offending parameter (``"tiers[1].upTo"``,
    ``"unitPrice"``, ``"type"``, an unknown parameter's name); ``details`` lists every
    problem as ``{"field", "message", "type"}``.
    """
    try:
        return charge_model_adapter.validate_python(data)
    except pydantic.ValidationError as exc:
        details = []
        for error in exc.errors(include_url=False):
            parameter = _error_parameter(error)
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown parameter"
            details.append({"field": parameter, "message": message, "type": error["type"]})
        first = details[0]
        text = first["message"]
        if first["field"] not in text:
            text = f"{first['field'] or 'charge model'}: {text}"
        raise ValidationError(text, field=first["field"] or None, details=details) from None


# -- results ----------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class PricingLine(_Result):
    """One step of a price computation. Fields not relevant to the step are ``None``.

    ``kind``: ``"units"`` (standard), ``"tier"`` (graduated, volume, graduated percentage),
    ``"packages"``, ``"percentage"``, ``"fixed_fee"``, ``"min_max_adjustment"``.
    """

    kind: str
    description: str
    amount: Decimal
    tier: int | None = None
    from_: Decimal | None = Field(default=None, alias="from")
    to: Decimal | None = None
    units: Decimal | None = None
    unit_price: Decimal | None = None
    rate: Decimal | None = None
    flat_fee: Decimal | None = None
    free_units: Decimal | None = None
    paid_units: Decimal | None = None
    package_size: Decimal | None = None
    package_price: Decimal | None = None
    packages: int | None = None
    events: int | None = None
    free_events: int | None = None
    paid_events: int | None = None
    fixed_fee: Decimal | None = None
    min_per_transaction: Decimal | None = None
    max_per_transaction: Decimal | None = None
    raised_to_min: int | None = None
    capped_at_max: int | None = None


class PricingResult(_Result):
    """The exact (unrounded) amount and the lines explaining it (``amount == sum(lines)``)."""

    amount: Decimal
    lines: list[PricingLine]


# -- calculation inputs -------------------------------------------------------------------


def _non_negative(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{field} must be a Decimal or int, not {type(value).__name__}")
    result = Decimal(value) if isinstance(value, int) else value
    if not result.is_finite():
        raise ValidationError(f"{field} must be a finite number, got {result}", field=field)
    if result < 0:
        raise ValidationError(f"{field} must not be negative, got {result}", field=field)
    return result.copy_abs()  # -0 -> 0


def _quantity(quantity: Decimal | int) -> Decimal:
    return _non_negative(quantity, "quantity")


def _events(events: Sequence[Decimal | int]) -> list[Decimal]:
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise TypeError(f"events must be a sequence of Decimal, not {type(events).__name__}")
    return [_non_negative(value, f"events[{index}]") for index, value in enumerate(events)]


@contextmanager
def _exact(field: str) -> Iterator[None]:
    """Run in the exact context; a result that cannot be exact names the input ``field``."""
    try:
        with decimal.localcontext(_EXACT):
            yield
    except decimal.DecimalException as exc:
        raise ValidationError(
            f"the price for this {field} cannot be computed exactly within {PRECISION} "
            f"significant digits ({type(exc).__name__})",
            field=field,
        ) from None


def _result(lines: list[PricingLine]) -> PricingResult:
    return PricingResult(amount=sum((line.amount for line in lines), _ZERO), lines=lines)


# -- one pure function per charge model -----------------------------------------------------


def price_standard(model: StandardChargeModel, quantity: Decimal | int) -> PricingResult:
    """``quantity * unitPrice`` (Lago ``StandardService``)."""
    q = _quantity(quantity)
    with _exact("quantity"):
        line = PricingLine(
            kind="units",
            description=f"{q} units at {model.unit_price}",
            amount=q * model.unit_price,
            units=q,
            unit_price=model.unit_price,
        )
        return _result([line])


def _tier_lower(tiers: Sequence[PriceTier | PercentageTier], index: int) -> Decimal:
    if index == 0:
        return _ZERO
    bound = tiers[index - 1].up_to
    assert bound is not None  # validated: only the last tier is unbounded
    return bound


def _graduated_units(q: Decimal, lower: Decimal, upper: Decimal | None) -> Decimal:
    top = q if upper is None else min(q, upper)
    return max(top - lower, _ZERO)


TierT = TypeVar("TierT", "PriceTier", "PercentageTier")


def _walk_tiers(
    tiers: Sequence[TierT], quantity: Decimal | int,
    line: Callable[[int, TierT, Decimal, Decimal, Decimal], PricingLine],
) -> PricingResult:
    """The graduated tier walk shared by ``graduated`` and ``graduated_percentage``: each
    tier reached up to the one containing the quantity (a quantity exactly on ``upTo``
    stays in that tier) gets one line from ``line(index, tier, lower, units, flat)``; the
    first tier's flat fee is due at zero units too, a later tier's once it holds units."""
    q = _quantity(quantity)
    lines: list[PricingLine] = []
    with _exact("quantity"):
        for index, tier in enumerate(tiers):
            lower = _tier_lower(tiers, index)
            units = _graduated_units(q, lower, tier.up_to)
            flat = tier.flat_fee if units > 0 or index == 0 else _ZERO
            lines.append(line(index, tier, lower, units, flat))
            if tier.up_to is None or tier.up_to >= q:
                break
        return _result(lines)


def price_graduated(model: GraduatedChargeModel, quantity: Decimal | int) -> PricingResult:
    """Sum over the tiers reached of ``units * unitPrice`` plus their flat fees (the first
    tier's flat fee is charged at zero units too; later tiers' once they hold units).

    Lago ``GraduatedService`` / ``AmountDetails::RangeGraduatedService``.
    """
    def line(index: int, tier: PriceTier, lower: Decimal, units: Decimal,
             flat: Decimal) -> PricingLine:
        return PricingLine(
            kind="tier",
            description=f"tier {index}: {units} units at {tier.unit_price}"
            + (f" + flat fee {flat}" if flat else ""),
            amount=units * tier.unit_price + flat,
            tier=index, from_=lower, to=tier.up_to, units=units,
            unit_price=tier.unit_price, flat_fee=flat,
        )

    return _walk_tiers(model.tiers, quantity, line)


def price_volume(model: VolumeChargeModel, quantity: Decimal | int) -> PricingResult:
    """All units at the unit price of the tier containing the quantity, plus its flat fee.

    Zero units fall into the first tier and pay its flat fee. Lago ``VolumeService``.
    """
    q = _quantity(quantity)
    index = next(i for i, tier in enumerate(model.tiers) if tier.up_to is None or q <= tier.up_to)
    tier = model.tiers[index]
    flat = tier.flat_fee
    with _exact("quantity"):
        line = PricingLine(
            kind="tier",
            description=f"tier {index}: all {q} units at {tier.unit_price}"
            + (f" + flat fee {flat}" if flat else ""),
            amount=q * tier.unit_price + flat,
            tier=index,
            from_=_tier_lower(model.tiers, index),
            to=tier.up_to,
            units=q,
            unit_price=tier.unit_price,
            flat_fee=flat,
        )
        return _result([line])


def price_package(model: PackageChargeModel, quantity: Decimal | int) -> PricingResult:
    """Whole packages of ``packageSize`` after ``freeUnits``, a started package counting.

    Lago ``PackageService``.
    """
    q = _quantity(quantity)
    with _exact("quantity"):
        paid = max(q - model.free_units, _ZERO)
        whole, remainder = divmod(paid, model.package_size)
        packages = int(whole) + (1 if remainder else 0)
        line = PricingLine(
            kind="packages",
            description=f"{packages} packages of {model.package_size} units at "
            f"{model.package_price} ({min(q, model.free_units)} free units)",
            amount=packages * model.package_price,
            units=q,
            free_units=model.free_units,
            paid_units=paid,
            package_size=model.package_size,
            package_price=model.package_price,
            packages=packages,
        )
        return _result([line])


def price_graduated_percentage(
    model: GraduatedPercentageChargeModel, quantity: Decimal | int
) -> PricingResult:
    """Sum over the tiers reached of ``units * rate / 100`` plus their flat fees (the first
    tier's flat fee is charged at zero volume too; later tiers' once they hold units).

    The quantity is the period's transaction volume. Lago ``GraduatedPercentageService`` /
    ``AmountDetails::RangeGraduatedPercentageService``.
    """
    def line(index: int, tier: PercentageTier, lower: Decimal, units: Decimal,
             flat: Decimal) -> PricingLine:
        return PricingLine(
            kind="tier",
            description=f"tier {index}: {tier.rate}% of {units}"
            + (f" + flat fee {flat}" if flat else ""),
            amount=units * tier.rate / _HUNDRED + flat,
            tier=index, from_=lower, to=tier.up_to, units=units,
            rate=tier.rate, flat_fee=flat,
        )

    return _walk_tiers(model.tiers, quantity, line)


def price_percentage(
    model: PercentageChargeModel, events: Sequence[Decimal | int]
) -> PricingResult:
    """Percentage of each transaction + fixed fee, after free events / free amount.

    See the module docstring for the free-allowance, fixed-fee and min/max rules
    (Lago ``PercentageService``).
    """
    values = _events(events)
    rate = model.rate
    fixed = model.fixed_fee or _ZERO
    low, high = model.min_per_transaction, model.max_per_transaction
    free_events_left = model.free_events or None  # 0 = no free events
    free_amount_left = model.free_amount or None  # 0 = no free amount
    with _exact("events"):
        total = sum(values, _ZERO)
        free_active = free_events_left is not None or free_amount_left is not None
        free_units = _ZERO
        free_count = paid_count = raised = capped = 0
        percentage_amount = fixed_amount = clamped_amount = _ZERO
        for value in values:
            billable = value
            if free_active:
                if free_amount_left is not None and value >= free_amount_left:
                    # This transaction uses up the free amount: it pays for the rest.
                    billable = value - free_amount_left
                    free_units += free_amount_left
                    free_active = False
                else:
                    free_units += value
                    free_count += 1
                    if free_amount_left is not None:
                        free_amount_left -= value
                    if free_events_left is not None:
                        free_events_left -= 1
                        free_active = free_events_left > 0
                    continue
            paid_count += 1
            percentage_part = billable * rate / _HUNDRED
            percentage_amount += percentage_part
            fixed_amount += fixed
            charged = percentage_part + fixed
            if low is not None and charged < low:
                charged, raised = low, raised + 1
            elif high is not None and charged > high:
                charged, capped = high, capped + 1
            clamped_amount += charged
        if total == 0:
            # Lago: no transaction volume, nothing to charge (no fixed fee, no minimum).
            fixed_amount = clamped_amount = _ZERO
            raised = capped = 0
        lines = [
            PricingLine(
                kind="percentage",
                description=f"{rate}% of {total - free_units} ({free_units} free)",
                amount=percentage_amount,
                units=total,
                free_units=free_units,
                paid_units=total - free_units,
                rate=rate,
            ),
            PricingLine(
                kind="fixed_fee",
                description=f"fixed fee {fixed} x {paid_count} paid transactions "
                f"({free_count} free)" + (" (no transaction volume)" if total == 0 else ""),
                amount=fixed_amount,
                events=len(values),
                free_events=free_count,
                paid_events=paid_count,
                fixed_fee=fixed,
            ),
        ]
        if low is not None or high is not None:
            lines.append(
                PricingLine(
                    kind="min_max_adjustment",
                    description=f"{raised} transactions raised to the minimum, "
                    f"{capped} capped at the maximum",
                    amount=clamped_amount - percentage_amount - fixed_amount,
                    min_per_transaction=low,
                    max_per_transaction=high,
                    raised_to_min=raised,
                    capped_at_max=capped,
                )
            )
        return _result(lines)


# -- dispatch ---------------------------------------------------------------------------------

_QUANTITY_PRICERS: dict[type[_Params], Callable[[Any, Decimal | int], PricingResult]] = {
    StandardChargeModel: price_standard,
    GraduatedChargeModel: price_graduated,
    VolumeChargeModel: price_volume,
    PackageChargeModel: price_package,
    GraduatedPercentageChargeModel: price_graduated_percentage,
}
_EVENT_PRICERS: dict[type[_Params], Callable[[Any, Sequence[Decimal | int]], PricingResult]] = {
    PercentageChargeModel: price_percentage,
}


def price(
    model: ChargeModel,
    quantity: Decimal | int | None = None,
    events: Sequence[Decimal | int] | None = None,
) -> PricingResult:
    """Price one period under ``model``.

    Quantity models (standard, graduated, volume, package, graduated_percentage) need a
    ``quantity >= 0`` and refuse ``events``; the percentage model needs ``events`` (each
    transaction's amount, in order, each >= 0) and refuses a ``quantity``. Input errors raise
    :class:`ValidationError` naming ``quantity``, ``events`` or ``events[i]``.
    """
    kind = type(model)
    if kind in _EVENT_PRICERS:
        if quantity is not None:
            raise ValidationError(
                f"the {model.type} charge model is priced over events, not a quantity",
                field="quantity",
            )
        if events is None:
            raise ValidationError(
                f"the {model.type} charge model needs events (transaction amounts)",
                field="events",
            )
        return _EVENT_PRICERS[kind](model, events)
    if kind in _QUANTITY_PRICERS:
        if events is not None:
            raise ValidationError(
                f"the {model.type} charge model is priced over a quantity, not events",
                field="events",
            )
        if quantity is None:
            raise ValidationError(
                f"the {model.type} charge model needs a quantity", field="quantity"
            )
        return _QUANTITY_PRICERS[kind](model, quantity)
    raise TypeError(f"not a charge model: {kind.__name__}")
