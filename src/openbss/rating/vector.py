"""The vectorized rating engine (Polars, for files and bulk): pure, no I/O, no clock.

``rate_frame(events, book, allowances)`` is :func:`openbss.rating.engine.rate_events`
over a frame of :data:`EVENT_SCHEMA` rows: the same results (tests/rating/
test_engines_agree.py proves it field by field, allowances included), the same rows in
the same order, as a frame of :data:`RESULT_SCHEMA`. There is no Python loop over rows:
prices are selected by a join, telecom rows are rated by
``rating.telecom_vector.cost_frame`` (twice for rows split by an allowance: the whole
call first, to know its destination and whether it is covered, then the charged part),
allowances by cumulative sums per bucket (:func:`~openbss.rating.allowances.consume_frame`)
and metered prices by cumulative sums per ``(product, price, period)`` and the charge
model evaluated on the cumulative totals. Python loops run over distinct prices, buckets
and periods only.

Exact numbers. Quantities are Int128 columns of 10⁻⁹ base units (``Decimal(38, 9)`` in the
schemas: nanosecond / nano-event precision; :func:`events_to_frame` refuses more decimals).
Metered prices are evaluated in exact integer arithmetic: per price, every parameter of
its base-unit model (``metered.base_unit_model``) is an integer at a common power of ten,
and ``to_amount``'s half-even rounding of ``X / (10^E · scale)`` to 18 places is done
with integer floor division and remainder. Amounts are ``Decimal(38, 18)``: every amount
the per-record engine gives fits — metered amounts are differences of values rounded to
18 places below 10²⁰ (``metered.AMOUNT_LIMIT``; larger ones are ``invalid_quantity`` in
both engines), telecom costs are rounded by the tariff to at most 12 decimals
(``tariff.DestinationRate.rounding_decimals`` ≤ 12) or are a max cost; see
``test_amount_column_holds_every_exact_amount``. A price whose integers could exceed
Int128 for the quantities at hand is priced by the per-record functions
(``metered.price_charged``) row by row instead — counted in :class:`FrameStats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from openbss.catalog.pricing import (
    ChargeModel,
    GraduatedChargeModel,
    GraduatedPercentageChargeModel,
    PackageChargeModel,
    PercentageChargeModel,
    StandardChargeModel,
    VolumeChargeModel,
)
from openbss.core.errors import ValidationError
from openbss.rating import allowances as allowance_rules
from openbss.rating import engine, metered, telecom_vector
from openbss.rating.allowances import QUANTITY_DECIMALS, from_units, to_units
from openbss.rating.book import (
    AllowanceKey,
    Allowances,
    MeteredKey,
    RatedUsage,
    RatingBook,
    Unrated,
    UsageEvent,
    UsagePrice,
)

__all__ = [
    "AMOUNT_TYPE",
    "EVENT_SCHEMA",
    "QUANTITY_TYPE",
    "RESULT_SCHEMA",
    "FrameStats",
    "events_to_frame",
    "frame_to_results",
    "rate_frame",
]

_UTC = pl.Datetime("us", "UTC")
_S = pl.String()


def _types(columns: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    return columns


QUANTITY_TYPE = pl.Decimal(38, QUANTITY_DECIMALS)
AMOUNT_TYPE = pl.Decimal(38, metered.AMOUNT_DECIMALS)

#: Guided, normalised usage events (one row per ``book.UsageEvent``).
EVENT_SCHEMA = pl.Schema(_types({
    "key": _S, "usage_date": _UTC, "usage_type": _S, "metric": _S,
    "quantity": QUANTITY_TYPE, "destination": _S, "product_id": _S,
    "billing_account_id": _S, "price_version": _S, "period_start": _UTC,
    "period_end": _UTC, "bundle_id": _S,
}))

#: One row per event: ``status`` "rated" (the ``book.RatedUsage`` fields) or "rejected"
#: (``reason`` and ``detail``; the other columns null).
RESULT_SCHEMA = pl.Schema(_types({
    "key": _S, "status": _S, "reason": _S, "detail": _S,
    "product_id": _S, "billing_account_id": _S, "price_id": _S,
    "usage_type": _S, "metric": _S, "quantity": QUANTITY_TYPE,
    "included": QUANTITY_TYPE, "charged": QUANTITY_TYPE, "amount": AMOUNT_TYPE,
    "currency": _S, "tariff": _S, "rate": _S, "destination_id": _S,
    "tax_category": _S, "period_start": _UTC, "period_end": _UTC, "usage_date": _UTC,
    "allowance_scope": _S, "allowance_holder": _S,
}))

_I128 = pl.Int128
_Q = 10**QUANTITY_DECIMALS
_A = 10**metered.AMOUNT_DECIMALS
_LIMIT = 2**124  # headroom below Int128's 2**127 for sums and doubled remainders
_NO_METRIC = "\x00"


@dataclass
class FrameStats:
    """What :func:`rate_frame` did (for benchmarks and tests)."""

    rows: int = 0
    telecom_rows: int = 0
    split_rows: int = 0
    metered_rows: int = 0
    fallback_rows: int = 0  # metered rows priced row by row (integers beyond Int128)


def _lit(value: int) -> pl.Expr:
    return pl.lit(value, dtype=_I128)


def _units(expr: pl.Expr) -> pl.Expr:
    """A Decimal(38, 9) quantity as Int128 10⁻⁹ units (exact, the whole range)."""
    whole = expr.cast(_I128)  # truncates toward zero
    fraction = ((expr - whole.cast(QUANTITY_TYPE)) * pl.lit(_Q)).cast(_I128)
    return whole * _lit(_Q) + fraction


def _decimal(expr: pl.Expr, places: int, dtype: pl.Decimal) -> pl.Expr:
    """Int128 units of 10^-places back to a Decimal column (exact)."""
    return (expr.cast(pl.Decimal(38, 0))
            * pl.lit(Decimal(f"1E-{places}"), dtype=pl.Decimal(38, places))).cast(dtype)


# -- conversions ---------------------------------------------------------------------------


def events_to_frame(events: Sequence[UsageEvent]) -> pl.DataFrame:
    """``UsageEvent``s as a frame of :data:`EVENT_SCHEMA` (ValueError for a quantity with
    more than 9 decimals, or a non-finite one: the frame cannot hold it exactly)."""
    for event in events:
        if not event.quantity.is_finite():
            raise ValueError(f"event {event.key}: quantity {event.quantity} is not finite")
        to_units(event.quantity, f"event {event.key}: quantity")
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA}
    for event in events:
        for name in EVENT_SCHEMA:
            columns[name].append(getattr(event, name))
    return pl.DataFrame(columns, schema=EVENT_SCHEMA)


def frame_to_results(frame: pl.DataFrame) -> list[RatedUsage | Unrated]:
    """A :data:`RESULT_SCHEMA` frame as ``RatedUsage`` / ``Unrated`` objects (in order)."""
    out: list[RatedUsage | Unrated] = []
    for row in frame.select(RESULT_SCHEMA.names()).iter_rows(named=True):
        if row["status"] != "rated":
            out.append(Unrated(row["key"], row["reason"], row["detail"]))
            continue
        allowance = None
        if row["allowance_scope"] is not None:
            allowance = AllowanceKey(row["allowance_scope"], row["allowance_holder"],
                                     row["price_id"], row["period_start"])
        out.append(RatedUsage(
            key=row["key"], product_id=row["product_id"],
            billing_account_id=row["billing_account_id"], price_id=row["price_id"],
            usage_type=row["usage_type"], metric=row["metric"], quantity=row["quantity"],
            included=row["included"], charged=row["charged"], amount=row["amount"],
            currency=row["currency"], tariff=row["tariff"], rate=row["rate"],
            destination=row["destination_id"], tax_category=row["tax_category"],
            period_start=row["period_start"], period_end=row["period_end"],
            usage_date=row["usage_date"], allowance=allowance))
    return out


# -- price selection -----------------------------------------------------------------------


def _price_tables(book: RatingBook) -> tuple[list[UsagePrice], pl.DataFrame, pl.DataFrame]:
    """The distinct usage prices, the selection table (offering, usage type, metric key →
    price index: the first match wins, as ``engine.select_price``) and the price
    attributes by index."""
    prices: list[UsagePrice] = []
    choice: dict[tuple[str, str, str], int] = {}
    for offering, offered in book.prices.items():
        for price in offered:
            mk = (price.metric or _NO_METRIC) if price.usage_type == "event" else ""
            if (offering, price.usage_type, mk) not in choice:
                choice[(offering, price.usage_type, mk)] = len(prices)
                prices.append(price)
    select = pl.DataFrame(
        {"price_version": [k[0] for k in choice], "usage_type": [k[1] for k in choice],
         "_mk": [k[2] for k in choice], "_p": list(choice.values())},
        schema={"price_version": pl.Utf8, "usage_type": pl.Utf8, "_mk": pl.Utf8,
                "_p": pl.Int64})

    def kind(price: UsagePrice) -> str:
        if price.rating_plan is not None:
            return "telecom"
        return "metered" if price.charge_model is not None else "none"

    attrs = pl.DataFrame({
        "_p": list(range(len(prices))),
        "price_id": [p.price_id for p in prices],
        "currency": [p.currency for p in prices],
        "tax_category": [p.tax_category for p in prices],
        "_plan": [p.rating_plan for p in prices],
        "_kind": [kind(p) for p in prices],
        "_tariff": [p.rating_plan if p.rating_plan is not None
                    else (p.charge_model.type if p.charge_model is not None else None)
                    for p in prices],
        "_scope": [p.allowance_scope for p in prices],
        "_default_granted": [to_units(p.included, "included quantity")
                             if p.included > 0 else 0 for p in prices],
        "_restricted": [p.allowance_destinations is not None for p in prices],
        "_no_model": [engine.no_model_detail(p.price_id) for p in prices],
    }, schema={"_p": pl.Int64, "price_id": pl.Utf8, "currency": pl.Utf8,
               "tax_category": pl.Utf8, "_plan": pl.Utf8, "_kind": pl.Utf8,
               "_tariff": pl.Utf8, "_scope": pl.Utf8, "_default_granted": _I128,
               "_restricted": pl.Boolean, "_no_model": pl.Utf8})
    return prices, select, attrs


def _no_price_details(frame: pl.DataFrame) -> pl.DataFrame:
    combos = frame.select("usage_type", "metric", "price_version").unique(maintain_order=True)
    return combos.with_columns(_np=pl.Series(
        [engine.no_price_detail(t, m, o) for t, m, o in combos.iter_rows()], dtype=pl.Utf8))


# -- telecom -------------------------------------------------------------------------------


def _telecom(tariffs: Any, rows: pl.DataFrame, skip: pl.Expr) -> pl.DataFrame:
    """``cost_frame`` over ``rows`` (the same order); no tariffs: every row ``no_tariffs``."""
    if tariffs is None:
        return pl.DataFrame({"cost": [Decimal(0)] * rows.height,
                             "destination_id": [None] * rows.height,
                             "rates_id": [None] * rows.height,
                             "error": ["no_tariffs"] * rows.height},
                            schema={"cost": AMOUNT_TYPE, "destination_id": pl.Utf8,
                                    "rates_id": pl.Utf8, "error": pl.Utf8})
    frame = rows.select(
        rating_plan=pl.col("_plan"), destination=pl.col("destination").fill_null(""),
        answer_time=pl.col("usage_date"), usage=pl.col("quantity"), skip=skip,
        usage_type=pl.col("usage_type"))
    result = telecom_vector.cost_frame(tariffs, frame)
    return result.select(pl.col("cost").cast(AMOUNT_TYPE), "destination_id", "rates_id",
                         "error")


def _telecom_detail_for(column: str) -> pl.Expr:
    plan = pl.col("_plan")
    dest = pl.when(pl.col("destination").is_null() | (pl.col("destination") == "")).then(
        pl.lit("(none)")).otherwise(pl.col("destination"))
    error = pl.col(column)
    return (pl.when(error == "rating_plan_not_found")
            .then(pl.format("rating plan {} not found in the tariffs", plan))
            .when(error == "no_tariffs").then(pl.format("no tariffs loaded (rating plan {})", plan))
            .otherwise(pl.format("destination {} is not covered by rating plan {}", dest, plan)))


# -- metered: charge models in exact integer arithmetic -----------------------------------


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _at(value: Decimal, places: int) -> int:
    exact = _at_or_none(value, places)
    assert exact is not None, (value, places)
    return exact


def _from_scaled(units: int, places: int) -> Decimal:
    return Decimal(f"{units}E-{places}")


def _at_or_none(value: Decimal, places: int) -> int | None:
    """``value * 10**places`` as an int, None when it is not an integer."""
    scaled = value.scaleb(places)
    return int(scaled) if scaled == scaled.to_integral_value() else None


@dataclass(frozen=True)
class _Plan:
    """A base-unit charge model as integers: quantities at 10^-kb, amounts at 10^-e;
    ``to_amount`` is ``X * num // den`` half-even."""

    kb: int
    e: int
    num: int
    den: int


def _plan(model_b: ChargeModel, scale: Decimal) -> _Plan:
    bounds: list[Decimal] = []
    coefficients: list[Decimal] = []
    additive: list[Decimal] = []
    if isinstance(model_b, StandardChargeModel):
        coefficients.append(model_b.unit_price)
    elif isinstance(model_b, (GraduatedChargeModel, VolumeChargeModel)):
        for tier in model_b.tiers:
            bounds += [] if tier.up_to is None else [tier.up_to]
            coefficients.append(tier.unit_price)
            additive.append(tier.flat_fee)
    elif isinstance(model_b, GraduatedPercentageChargeModel):
        for ptier in model_b.tiers:
            bounds += [] if ptier.up_to is None else [ptier.up_to]
            coefficients.append(ptier.rate / 100)
            additive.append(ptier.flat_fee)
    elif isinstance(model_b, PackageChargeModel):
        bounds += [model_b.package_size, model_b.free_units]
        additive.append(model_b.package_price)
    else:
        bounds += [model_b.free_amount or Decimal(0)]
        coefficients.append(model_b.rate / 100)
        additive += [v for v in (model_b.fixed_fee, model_b.min_per_transaction,
                                 model_b.max_per_transaction) if v is not None]
    kb = max([QUANTITY_DECIMALS, *(_places(b) for b in bounds)])
    e = max([kb + max([0, *(_places(c) for c in coefficients)]),
             *(_places(a) for a in additive)])
    ratio = Fraction(_A) / (Fraction(10**e) * Fraction(scale))
    return _Plan(kb, e, ratio.numerator, ratio.denominator)


def _round(x: pl.Expr, plan: _Plan) -> pl.Expr:
    """``round_half_even(x * num / den)`` for x >= 0 (Int128)."""
    y = x * _lit(plan.num)
    q = y // _lit(plan.den)
    twice = (y - q * _lit(plan.den)) * _lit(2)
    up = (twice > _lit(plan.den)) | ((twice == _lit(plan.den)) & (q % _lit(2) != _lit(0)))
    return q + up.cast(_I128)


def _quantity_price(model_b: ChargeModel, plan: _Plan, c: pl.Expr) -> tuple[pl.Expr, int]:
    """``X(C)`` (Int128, amount at 10^-e, not yet divided by the scale) of the base-unit
    model at cumulative ``c`` (Int128 at 10^-kb), and its coefficient sum for bounds."""
    kb, e = plan.kb, plan.e

    def q(value: Decimal) -> int:
        return _at(value, kb)

    def a(value: Decimal) -> int:
        return _at(value, e)

    def coef(value: Decimal) -> int:
        return _at(value, e - kb)

    if isinstance(model_b, StandardChargeModel):
        k = coef(model_b.unit_price)
        return c * _lit(k), k
    if isinstance(model_b, PackageChargeModel):
        size, free = q(model_b.package_size), q(model_b.free_units)
        paid = pl.max_horizontal(c - _lit(free), _lit(0))
        packages = (paid + _lit(size - 1)) // _lit(size)
        return packages * _lit(a(model_b.package_price)), a(model_b.package_price) // size + 1
    tiers: list[tuple[int | None, int, int]] = []
    if isinstance(model_b, GraduatedPercentageChargeModel):
        tiers = [(None if t.up_to is None else q(t.up_to), coef(t.rate / 100), a(t.flat_fee))
                 for t in model_b.tiers]
    else:
        assert isinstance(model_b, (GraduatedChargeModel, VolumeChargeModel))
        tiers = [(None if t.up_to is None else q(t.up_to), coef(t.unit_price), a(t.flat_fee))
                 for t in model_b.tiers]
    if isinstance(model_b, VolumeChargeModel):
        chain: Any = pl
        for upper, k, flat in tiers[:-1]:
            assert upper is not None
            chain = chain.when(c <= _lit(upper)).then(c * _lit(k) + _lit(flat))
        _, k_last, flat_last = tiers[-1]
        expr = chain.otherwise(c * _lit(k_last) + _lit(flat_last)) if len(tiers) > 1 else (
            c * _lit(k_last) + _lit(flat_last))
        return expr, max(k for _, k, _ in tiers) + max(f for _, _, f in tiers)
    total: pl.Expr = _lit(0)
    lower = 0
    for index, (upper, k, flat) in enumerate(tiers):
        top = c if upper is None else pl.min_horizontal(c, _lit(upper))
        units = pl.max_horizontal(top - _lit(lower), _lit(0))
        fee = _lit(flat) if index == 0 else pl.when(c > _lit(lower)).then(
            _lit(flat)).otherwise(_lit(0))
        total = total + units * _lit(k) + fee
        lower = upper if upper is not None else lower
    return total, sum(k for _, k, _ in tiers) + sum(f for _, _, f in tiers)


def _fits(plan: _Plan, c_max: int, per_unit: int) -> bool:
    """Whether every intermediate of a price with quantities up to ``c_max`` (at 10^-kb)
    and ``X <= c_max * per_unit + per_unit`` stays far inside Int128."""
    x_max = (c_max + 1) * per_unit + per_unit
    return (x_max * plan.num < _LIMIT and plan.den < _LIMIT
            and x_max * plan.num // plan.den + 1 < 10**38 // 2)


def _percentage(model_b: PercentageChargeModel, plan: _Plan, v: pl.Expr, n_before: pl.Expr,
                a_before: pl.Expr) -> tuple[pl.Expr, int]:
    """``metered.transaction_price`` (Int128 at 10^-e) of transaction ``v`` after
    ``n_before`` transactions of ``a_before`` (all at 10^-kb)."""
    kb, e = plan.kb, plan.e
    fe = model_b.free_events or None
    fa = _at(model_b.free_amount, kb) if model_b.free_amount else None
    k = _at(model_b.rate / 100, e - kb)
    fixed = _at(model_b.fixed_fee, e) if model_b.fixed_fee is not None else 0
    active: pl.Expr = pl.lit(fe is not None or fa is not None)
    if fe is not None:
        active = active & (n_before < fe)
    if fa is not None:
        active = active & (a_before < _lit(fa))
    free = active if fa is None else active & (v < _lit(fa) - a_before)
    billable = v if fa is None else pl.when(active).then(a_before + v - _lit(fa)).otherwise(v)
    charged: Any = billable * _lit(k) + _lit(fixed)
    clamp: Any = pl
    used = False
    if model_b.min_per_transaction is not None:
        low = _at(model_b.min_per_transaction, e)
        clamp, used = clamp.when(charged < _lit(low)).then(_lit(low)), True
    if model_b.max_per_transaction is not None:
        high = _at(model_b.max_per_transaction, e)
        clamp, used = clamp.when(charged > _lit(high)).then(_lit(high)), True
    if used:
        charged = clamp.otherwise(charged)
    return pl.when(free).then(_lit(0)).otherwise(charged), k + fixed + 1


def _metered(rows: pl.DataFrame, prices: list[UsagePrice], allowances: Allowances,
             stats: FrameStats) -> pl.DataFrame:
    """Amounts (Int128 at 10^-18) or errors of the charged metered ``rows`` (in
    consumption order; columns _pos, _p, product_id, price_id, period_start, _charged),
    updating ``allowances.metered`` / ``metered_events``."""
    out: list[pl.DataFrame] = []
    group = ["product_id", "price_id", "period_start"]
    for (p,), sub in rows.group_by(["_p"], maintain_order=True):
        assert isinstance(p, int)
        price = prices[p]
        model = price.charge_model
        assert model is not None
        model_b = metered.base_unit_model(model, price.scale)
        plan = _plan(model_b, price.scale)
        keys = sub.select(group).unique(maintain_order=True)
        mkeys = [MeteredKey(*k) for k in allowance_rules.column_tuples(keys, group)]
        percentage = isinstance(model_b, PercentageChargeModel)
        before_q = [allowances.metered.get(k) for k in mkeys]
        before_n = [allowances.metered_events.get(k, (0, Decimal(0))) for k in mkeys]
        scaled = [_at_or_none(b, plan.kb) if b is not None else 0 for b in before_q]
        scaled_a = [_at_or_none(b[1], plan.kb) for b in before_n]
        exact = None not in scaled and None not in scaled_a
        shift = _lit(10 ** (plan.kb - QUANTITY_DECIMALS))
        state = keys.with_columns(
            _g=pl.int_range(pl.len(), dtype=pl.Int64),
            _had=pl.Series([b is not None for b in before_q], dtype=pl.Boolean),
            _b0=pl.Series(scaled if exact else [0] * len(mkeys), dtype=_I128),
            _n0=pl.Series([b[0] for b in before_n], dtype=pl.Int64),
            _a0=pl.Series(scaled_a if exact else [0] * len(mkeys), dtype=_I128))
        sub = sub.join(state, on=group, how="left", maintain_order="left", nulls_equal=True)
        sub = sub.with_columns(_v=pl.col("_charged") * shift).with_columns(
            _rank=pl.int_range(pl.len(), dtype=pl.Int64).over("_g"),
            _cum=pl.col("_v").cum_sum().over("_g"))
        c_max = int(sub.select((pl.col("_cum") + pl.col("_b0") + pl.col("_a0")).max()).item())
        if percentage:
            assert isinstance(model_b, PercentageChargeModel)
            x, per_unit = _percentage(model_b, plan, pl.col("_v"),
                                      pl.col("_n0") + pl.col("_rank"),
                                      pl.col("_a0") + pl.col("_cum") - pl.col("_v"))
            amount = _round(x, plan)
        else:
            after = pl.col("_b0") + pl.col("_cum")
            x_after, per_unit = _quantity_price(model_b, plan, after)
            x_before, _ = _quantity_price(model_b, plan, after - pl.col("_v"))
            previous = pl.col("_had") | (pl.col("_rank") > 0)
            amount = _round(x_after, plan) - pl.when(previous).then(
                _round(x_before, plan)).otherwise(_lit(0))
        if not exact or not _fits(plan, c_max, per_unit):
            out.append(_metered_row_by_row(sub, model_b, price.scale, allowances))
            stats.fallback_rows += sub.height
            continue
        priced = sub.with_columns(_amount=amount, _merror=pl.lit(None, dtype=pl.Utf8))
        out.append(priced.select("_pos", "_amount", "_merror"))
        totals = priced.group_by("_g").agg(pl.col("_v").sum(), pl.len()).sort("_g")
        for g, v, count in zip(totals["_g"].to_list(), totals["_v"].to_list(),
                               totals["len"].to_list(), strict=True):
            key = mkeys[g]
            if percentage:
                n0 = before_n[g][0]
                allowances.metered_events[key] = (n0 + count, _from_scaled(
                    scaled_a[g] + v, plan.kb))
            else:
                b0 = scaled[g] if before_q[g] is not None else 0
                allowances.metered[key] = _from_scaled(b0 + v, plan.kb)
    if not out:
        return pl.DataFrame(schema={"_pos": pl.UInt32, "_amount": _I128, "_merror": pl.Utf8})
    return pl.concat(out)


def _metered_row_by_row(sub: pl.DataFrame, model_b: ChargeModel, scale: Decimal,
                        allowances: Allowances) -> pl.DataFrame:
    """The rare fallback: ``metered.price_charged`` one row at a time (same results)."""
    amounts: list[int | None] = []
    errors: list[str | None] = []
    for product, price_id, start, charged in sub.select(
            "product_id", "price_id", "period_start", "_charged").iter_rows():
        key = MeteredKey(product, price_id, start)
        try:
            amount = metered.price_charged(model_b, scale, key=key,
                                           charged=from_units(charged),
                                           allowances=allowances)
        except ValidationError as exc:
            amounts.append(None)
            errors.append(exc.message)
            continue
        amounts.append(_at(amount, metered.AMOUNT_DECIMALS))
        errors.append(None)
    return pl.DataFrame({"_pos": sub["_pos"], "_amount": pl.Series(amounts, dtype=_I128),
                         "_merror": pl.Series(errors, dtype=pl.Utf8)})


# -- the engine ----------------------------------------------------------------------------


def _reject(frame: pl.DataFrame, mask: pl.Expr, reason: str, detail: pl.Expr) -> pl.DataFrame:
    """Set ``_reason``/``_detail`` where ``mask`` holds and no reason is set yet."""
    hit = mask & pl.col("_reason").is_null()
    return frame.with_columns(
        _detail=pl.when(hit).then(detail).otherwise(pl.col("_detail")),
        _reason=pl.when(hit).then(pl.lit(reason)).otherwise(pl.col("_reason")))


def rate_frame(events: pl.DataFrame, book: RatingBook, allowances: Allowances, *,
               stats: FrameStats | None = None) -> pl.DataFrame:
    """Rate a frame of :data:`EVENT_SCHEMA` rows: a :data:`RESULT_SCHEMA` frame with the
    same rows in the same order, identical to ``engine.rate_events``; updates
    ``allowances`` as it does."""
    stats = stats if stats is not None else FrameStats()
    frame = events.select(pl.col(name).cast(dtype) for name, dtype in EVENT_SCHEMA.items())
    stats.rows = frame.height
    prices, select, attrs = _price_tables(book)
    frame = frame.with_row_index("_i").sort(["usage_date", "key"], maintain_order=True)
    frame = frame.with_row_index("_pos").with_columns(
        _mk=pl.when(pl.col("usage_type") == "event").then(
            pl.col("metric").fill_null(_NO_METRIC)).otherwise(pl.lit("")),
        _q=_units(pl.col("quantity")),
        _reason=pl.lit(None, dtype=pl.Utf8), _detail=pl.lit(None, dtype=pl.Utf8))
    frame = frame.join(select, on=["price_version", "usage_type", "_mk"], how="left",
                       maintain_order="left").join(attrs, on="_p", how="left",
                                                   maintain_order="left")
    frame = frame.join(_no_price_details(frame), on=["usage_type", "metric", "price_version"],
                       how="left", maintain_order="left", nulls_equal=True)
    shown = pl.col("quantity").cast(pl.Utf8).str.replace(r"\.?0+$", "")
    too_large = _lit(to_units(engine.QUANTITY_LIMIT, "limit"))
    frame = _reject(frame, pl.col("quantity").is_null() | (pl.col("_q") < _lit(0))
                    | (pl.col("_q") >= too_large), engine.INVALID_QUANTITY,
                    pl.format("quantity must be a finite number >= 0 and < 1E+28, got {}",
                              shown))
    frame = _reject(frame, pl.col("_p").is_null(), engine.UNRATED_DESTINATION, pl.col("_np"))
    frame = _reject(frame, pl.col("_kind") == "none", engine.UNRATED_DESTINATION,
                    pl.col("_no_model"))

    # telecom, pass 1: the whole call (destination id, coverage, cost without allowance)
    is_telecom = (pl.col("_kind") == "telecom") & pl.col("_reason").is_null()
    telecom_rows = frame.filter(is_telecom)
    stats.telecom_rows = telecom_rows.height
    full = _telecom(book.tariffs, telecom_rows, pl.lit(Decimal(0), dtype=QUANTITY_TYPE))
    full = full.rename({"cost": "_cost1", "destination_id": "_dest", "rates_id": "_rates",
                        "error": "_terror"}).with_columns(_pos=telecom_rows["_pos"])
    frame = frame.join(full, on="_pos", how="left", maintain_order="left")
    frame = _reject(frame, pl.col("_terror").is_not_null(), engine.UNRATED_DESTINATION,
                    _telecom_detail_for("_terror"))

    # allowances: eligible rows consume in order, per bucket
    allowed = pl.DataFrame(
        [(p, d) for p, price in enumerate(prices) for d in price.allowance_destinations or ()],
        schema={"_p": pl.Int64, "_dest": pl.Utf8}, orient="row").with_columns(
        _listed=pl.lit(True)).unique()
    frame = frame.join(allowed, on=["_p", "_dest"], how="left", maintain_order="left")
    holder = (pl.when(pl.col("_scope") == "bundle")
              .then(pl.when(pl.col("bundle_id").is_null() | (pl.col("bundle_id") == ""))
                    .then(pl.col("product_id")).otherwise(pl.col("bundle_id")))
              .when(pl.col("_scope") == "account")
              .then(pl.when(pl.col("billing_account_id").is_null()
                            | (pl.col("billing_account_id") == ""))
                    .then(pl.col("product_id")).otherwise(pl.col("billing_account_id")))
              .otherwise(pl.col("product_id")))
    frame = frame.with_columns(
        _holder=holder,
        _eligible=(pl.col("_reason").is_null() & (pl.col("_q") > _lit(0))
                   & (pl.col("_default_granted") > _lit(0))
                   & (~pl.col("_restricted") | pl.col("_listed").fill_null(False))
                   ).fill_null(False))
    frame = frame.with_columns(
        _included=allowance_rules.consume_frame(frame, allowances)).with_columns(
        _charged=pl.col("_q") - pl.col("_included"))

    # telecom, pass 2: the charged part of calls split by an allowance
    split = is_telecom & pl.col("_reason").is_null() & (pl.col("_included") > _lit(0)) & (
        pl.col("_charged") > _lit(0))
    split_rows = frame.filter(split)
    stats.split_rows = split_rows.height
    part = _telecom(book.tariffs, split_rows, _decimal(pl.col("_included"),
                                                       QUANTITY_DECIMALS, QUANTITY_TYPE))
    part = part.select(_cost2=pl.col("cost"), _terror2=pl.col("error")).with_columns(
        _pos=split_rows["_pos"])
    frame = frame.join(part, on="_pos", how="left", maintain_order="left")
    frame = _reject(frame, pl.col("_terror2").is_not_null(), engine.UNRATED_DESTINATION,
                    _telecom_detail_for("_terror2"))

    # metered: the charged part, period-incremental
    metered_rows = frame.filter((pl.col("_kind") == "metered") & pl.col("_reason").is_null()
                                & (pl.col("_charged") > _lit(0)))
    stats.metered_rows = metered_rows.height
    priced = _metered(metered_rows.select("_pos", "_p", "product_id", "price_id",
                                          "period_start", "_charged"),
                      prices, allowances, stats)
    frame = frame.join(priced, on="_pos", how="left", maintain_order="left")
    frame = _reject(frame, pl.col("_merror").is_not_null(), engine.INVALID_QUANTITY,
                    pl.col("_merror"))

    zero = pl.lit(Decimal(0), dtype=AMOUNT_TYPE)
    amount = (pl.when(pl.col("_kind") == "telecom")
              .then(pl.when(pl.col("_included") == _lit(0)).then(pl.col("_cost1"))
                    .when(pl.col("_charged") == _lit(0)).then(zero)
                    .otherwise(pl.col("_cost2")))
              .otherwise(pl.when(pl.col("_amount").is_null()).then(zero).otherwise(
                  _decimal(pl.col("_amount"), metered.AMOUNT_DECIMALS, AMOUNT_TYPE))))
    rated = pl.col("_reason").is_null()
    telecom = pl.col("_kind") == "telecom"
    consumed = rated & (pl.col("_included") > _lit(0))

    def keep(expr: pl.Expr, when: pl.Expr = rated) -> pl.Expr:
        return pl.when(when).then(expr)

    result = frame.sort("_i").select(
        "key",
        status=pl.when(rated).then(pl.lit("rated")).otherwise(pl.lit("rejected")),
        reason=pl.col("_reason"), detail=pl.col("_detail"),
        product_id=keep(pl.col("product_id")),
        billing_account_id=keep(pl.col("billing_account_id")),
        price_id=keep(pl.col("price_id")), usage_type=keep(pl.col("usage_type")),
        metric=keep(pl.col("metric")), quantity=keep(pl.col("quantity")),
        included=keep(_decimal(pl.col("_included"), QUANTITY_DECIMALS, QUANTITY_TYPE)),
        charged=keep(_decimal(pl.col("_charged"), QUANTITY_DECIMALS, QUANTITY_TYPE)),
        amount=keep(amount), currency=keep(pl.col("currency")),
        tariff=keep(pl.col("_tariff")), rate=keep(pl.col("_rates"), rated & telecom),
        destination_id=keep(pl.col("_dest"), rated & telecom),
        tax_category=keep(pl.col("tax_category")), period_start=keep(pl.col("period_start")),
        period_end=keep(pl.col("period_end")), usage_date=keep(pl.col("usage_date")),
        allowance_scope=keep(pl.col("_scope"), consumed),
        allowance_holder=keep(pl.col("_holder"), consumed))
    return result.select(pl.col(name).cast(dtype) for name, dtype in RESULT_SCHEMA.items())
