"""The vectorized telecom kernel: :func:`cost_frame` rates a Polars frame of calls exactly
as :func:`openbss.rating.telecom.rate_plan` rates each row (pure: no I/O, no clock).

How it stays exact and fast (one lazy Polars query):

- **Destination**: one hash look-up per prefix length present in the tariffs (longest
  first) of ``rating_plan + destination[:L]`` in the plans' (prefix → destination id)
  table, then the plan's ``*any``;
- **Timing band**: each row's local date and time of day (in the tariff's time zone) is
  tested against each distinct timing; the plan's candidate rate intervals for the
  destination are pre-sorted (weight, start time, file order) and the first active one
  wins. A voice call that crosses one boundary — midnight, or a start time where another
  candidate wins — is cut there into two segments (CGRateS splits the timespan there);
- **Slots and increments**: integer arithmetic (Int64, or Int128 when the magnitudes need
  it) — durations scaled by 10^TS (TS = the decimals of usages and slot durations), rates
  by 10^RS, money in units of 10^-M (M ≥ 5, CGRateS's global rounding decimals) — with the
  same rounding rules (half up away from zero, ceiling, floor) as the scalar code;
- rows with more than one boundary (multi-day calls, a band change and midnight in the
  same call), sub-second boundaries the scale cannot hold, or DST gaps are rated one by one
  by ``rate_plan``; :data:`LAST_STATS` counts them.

Input columns: ``rating_plan`` (Utf8), ``destination`` (Utf8), ``answer_time`` (Datetime
UTC), ``usage`` and ``skip`` (Decimal or integer), optionally ``usage_type`` (Utf8; not
``voice`` = never split by time). Output: the same rows in the same order with ``cost``,
``connect_fee`` (Decimal), ``destination_id``, ``destination_rate_id``, ``rates_id``
(Utf8), ``rated_usage`` (Decimal) and ``error`` (null, ``unrated_destination`` or
``rating_plan_not_found``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from functools import reduce
from typing import Any

import polars as pl

from openbss.core.errors import ValidationError
from openbss.rating.errors import RatingPlanNotFound, UnauthorizedDestination
from openbss.rating.tariff import ANY, TariffSet
from openbss.rating.telecom import (
    GLOBAL_ROUNDING_DECIMALS,
    RateInterval,
    plan_intervals,
    rate_plan,
)

UNRATED = "unrated_destination"
NOT_FOUND = "rating_plan_not_found"
OUTPUT_COLUMNS = ("cost", "connect_fee", "destination_id", "destination_rate_id", "rates_id",
                  "rated_usage", "error")
REQUIRED = ("rating_plan", "destination", "answer_time", "usage", "skip")
_STRATEGY = {"": 0, "*disconnect": 1, "*free": 2}
_METHOD = {"": 0, "*up": 1, "*down": 2, "*middle": 3}
_DAY_US = 86_400_000_000
_SEP = "\x1f"


@dataclass
class Stats:
    rows: int = 0
    vectorized: int = 0
    one_by_one: int = 0


#: what the last :func:`cost_frame` call did (rows rated one by one are counted)
LAST_STATS = Stats()


def _decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def _scaled(d: Decimal, scale: int) -> int:
    return int(d.scaleb(scale))


class _Int:
    """Integer expressions of one dtype (Int64 when it is enough, else Int128)."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def lit(self, v: int) -> pl.Expr:
        return pl.lit(v, dtype=self.dtype)

    def neg(self, e: pl.Expr) -> pl.Expr:
        return self.lit(0) - e

    def half_up(self, num: pl.Expr, den: pl.Expr) -> pl.Expr:
        """round(num / den) half away from zero, den > 0."""
        two = self.lit(2)
        pos = (two * num + den) // (two * den)
        neg = self.neg((two * self.neg(num) + den) // (two * den))
        return pl.when(num >= 0).then(pos).otherwise(neg)

    def ceil_div(self, num: pl.Expr, den: pl.Expr) -> pl.Expr:
        """ceil(num / den), den > 0."""
        return self.neg(self.neg(num) // den)


def _column_scale(frame: pl.DataFrame, name: str) -> int:
    dtype = frame.schema[name]
    if isinstance(dtype, pl.Decimal):
        return dtype.scale or 0
    if dtype.is_integer():
        return 0
    raise ValidationError(f"column {name} must be Decimal or integer (got {dtype})", field=name)


def _to_scaled(col: str, dtype: pl.DataType, scale: int, it: _Int) -> pl.Expr:
    if isinstance(dtype, pl.Decimal):
        widened = pl.col(col).cast(pl.Decimal(38, dtype.scale or 0))
        result: pl.Expr = (widened * (10 ** scale)).cast(it.dtype)
        return result
    return pl.col(col).cast(it.dtype) * it.lit(10 ** scale)


def _from_scaled(expr: pl.Expr, scale: int) -> pl.Expr:
    as_dec = expr.cast(pl.Int128).cast(pl.Decimal(38, 0))
    if scale == 0:
        return as_dec
    return as_dec.cast(pl.Decimal(38, scale)) * pl.lit(Decimal(1).scaleb(-scale),
                                                       dtype=pl.Decimal(38, scale))


@dataclass(frozen=True)
class _Tables:
    """What the query joins with, built once per tariff set and scales."""

    plan_ids: list[str]
    any_plans: list[str]
    lengths: list[int]
    prefix_keys: dict[int, tuple[list[str], list[str]]]  # length -> (plan+prefix, dest)
    cand: pl.DataFrame  # rating_plan, _dest, _c0.. (gids by priority)
    c_max: int
    gids: list[dict[str, Any]]
    timings: list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]]
    gid_timing: list[int]
    gid_start_us: list[int]
    starts_us: list[int]  # distinct candidate start times > 0


def _tables(tariffs: TariffSet) -> _Tables:
    key = ("vector-tables",)
    cached: _Tables | None = tariffs.memo.get(key)
    if cached is not None:
        return cached
    plan_ids = list(tariffs.rating_plans)
    gid_rows: list[dict[str, Any]] = []
    cand: dict[tuple[str, str], list[int]] = {}
    best: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for plan in plan_ids:
        for dest_id, intervals in plan_intervals(tariffs, plan).items():
            ordered = sorted(intervals, key=lambda ri: (-ri.weight, -ri.timing.start_seconds,
                                                        ri.order))
            cand[(plan, dest_id)] = [len(gid_rows) + i for i in range(len(ordered))]
            gid_rows.extend(_interval_row(ri) for ri in ordered)
            if dest_id == ANY:
                continue
            weight = max(ri.weight for ri in intervals)
            for prefix in tariffs.destinations.get(dest_id, ()):
                old = best.get((plan, prefix))
                if old is None or weight > old[0]:
                    best[(plan, prefix)] = (weight, dest_id)
    lengths = sorted({len(p) for _, p in best}, reverse=True)
    prefix_keys: dict[int, tuple[list[str], list[str]]] = {n: ([], []) for n in lengths}
    for (plan, prefix), (_, dest_id) in best.items():
        keys, values = prefix_keys[len(prefix)]
        keys.append(plan + _SEP + prefix)
        values.append(dest_id)
    c_max = max((len(v) for v in cand.values()), default=0)
    cand_df = pl.DataFrame(
        {"rating_plan": [k[0] for k in cand], "_dest": [k[1] for k in cand],
         **{f"_c{j}": [v[j] if j < len(v) else None for v in cand.values()]
            for j in range(c_max)}},
        schema={"rating_plan": pl.Utf8, "_dest": pl.Utf8,
                **{f"_c{j}": pl.Int64 for j in range(c_max)}})
    timings = sorted({r["t_date"] for r in gid_rows})
    index = {t: i for i, t in enumerate(timings)}
    tables = _Tables(
        plan_ids=plan_ids, any_plans=[p for p in plan_ids if (p, ANY) in cand],
        lengths=lengths, prefix_keys=prefix_keys, cand=cand_df, c_max=c_max, gids=gid_rows,
        timings=timings, gid_timing=[index[r["t_date"]] for r in gid_rows],
        gid_start_us=[r["t_start"] * 1_000_000 for r in gid_rows],
        starts_us=sorted({r["t_start"] * 1_000_000 for r in gid_rows} - {0}))
    tariffs.memo[key] = tables
    return tables


def _interval_row(ri: RateInterval) -> dict[str, Any]:
    dr = ri.destination_rate
    t = ri.timing
    return {"dr_id": ri.destination_rate_id, "rates_id": dr.rates_id,
            "dec": dr.rounding_decimals, "method": _METHOD[dr.rounding_method],
            "strategy": _STRATEGY[dr.max_cost_strategy], "max_cost": dr.max_cost,
            "cf": ri.connect_fee, "slots": ri.slots,
            "t_date": (t.years, t.months, t.month_days, t.week_days),
            "t_start": t.start_seconds}


def _gid_frame(rows: list[dict[str, Any]], *, ts: int, m: int, rs: int, it: _Int,
               k_max: int, suffix: str) -> pl.DataFrame:
    data: dict[str, list[Any]] = {
        f"_gid{suffix}": list(range(len(rows))),
        f"dr_id{suffix}": [r["dr_id"] for r in rows],
        f"rates_id{suffix}": [r["rates_id"] for r in rows],
        f"dec{suffix}": [r["dec"] for r in rows], f"method{suffix}": [r["method"] for r in rows],
        f"strategy{suffix}": [r["strategy"] for r in rows],
        f"max_cost{suffix}": [_scaled(r["max_cost"], m) for r in rows],
        f"cf{suffix}": [_scaled(r["cf"], m) for r in rows]}
    schema: dict[str, Any] = {
        f"_gid{suffix}": pl.Int64, f"dr_id{suffix}": pl.Utf8, f"rates_id{suffix}": pl.Utf8,
        f"dec{suffix}": pl.Int64, f"method{suffix}": pl.Int64, f"strategy{suffix}": pl.Int64,
        f"max_cost{suffix}": it.dtype, f"cf{suffix}": it.dtype}
    for k in range(k_max):
        for name, attr, scale in (("g", "group_interval_start", ts), ("r", "rate", rs),
                                  ("un", "rate_unit", ts), ("i", "rate_increment", ts)):
            col = f"{name}{k}{suffix}"
            data[col] = [_scaled(getattr(r["slots"][k], attr), scale)
                         if k < len(r["slots"]) else None for r in rows]
            schema[col] = it.dtype
    return pl.DataFrame(data, schema=schema)


def _first_active(cands: Sequence[pl.Expr], active: Sequence[pl.Expr]) -> pl.Expr:
    """The first candidate (priority order) whose flag is true, else null."""
    result: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for c, a in zip(reversed(cands), reversed(active), strict=True):
        result = pl.when(a).then(c).otherwise(result)
    return result


def _date_ok(prefix: str, timing: tuple[tuple[int, ...], ...]) -> pl.Expr:
    years, months, mdays, wdays = timing
    cond: pl.Expr = pl.lit(True)
    if years:
        cond = cond & pl.col(f"{prefix}y").is_in(list(years))
    if months:
        cond = cond & pl.col(f"{prefix}m").is_in(list(months))
    if mdays:
        cond = cond & pl.col(f"{prefix}d").is_in(list(mdays))
    if wdays:  # 0 and 7 are Sunday; polars counts Monday 1 .. Sunday 7
        days = sorted({7 if d in (0, 7) else d for d in wdays})
        cond = cond & pl.col(f"{prefix}w").is_in(days)
    return cond


def _local_boundary(day: pl.Expr, offset_us: pl.Expr | int, zone: str) -> pl.Expr:
    """The UTC instant of local ``day`` + ``offset_us`` (null in a DST gap)."""
    naive = day.cast(pl.Datetime("us")) + pl.duration(microseconds=offset_us)
    if zone == "UTC":
        return naive.dt.replace_time_zone("UTC")
    return naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null") \
        .dt.convert_time_zone("UTC")


def cost_frame(tariffs: TariffSet, frame: pl.DataFrame) -> pl.DataFrame:
    """Rate every row (see the module docstring); identical to ``rate_plan`` per row."""
    for name in REQUIRED:
        if name not in frame.columns:
            raise ValidationError(f"missing column {name}", field=name)
    if not isinstance(frame.schema["answer_time"], pl.Datetime):
        raise ValidationError("answer_time must be a Datetime column", field="answer_time")
    all_slots = [s for slots in tariffs.rates.values() for s in slots]
    time_in = max(_column_scale(frame, "usage"), _column_scale(frame, "skip"))
    ts = max([time_in, _answer_time_digits(frame),
              *(_decimals(v) for s in all_slots
                for v in (s.rate_unit, s.rate_increment, s.group_interval_start))])
    m = max([GLOBAL_ROUNDING_DECIMALS,
             *(_decimals(s.connect_fee) for s in all_slots),
             *(_decimals(d.max_cost) for items in tariffs.destination_rates.values()
               for d in items)])
    rs = max([0, *(_decimals(s.rate) for s in all_slots)])
    out_money = max([m, *(d.rounding_decimals for items in tariffs.destination_rates.values()
                          for d in items)])
    stats = Stats(rows=frame.height)
    tables = _tables(tariffs)
    if frame.height == 0 or not tables.gids or ts > 9:
        return _all_one_by_one(tariffs, frame, out_money, ts, stats)
    # magnitudes: the largest product must fit the integer type
    u_max = max(_scaled_max(frame, "usage", ts), _scaled_max(frame, "skip", ts))
    r_max = max([1, *(abs(_scaled(s.rate, rs)) for s in all_slots)])
    i_max = max([1, *(_scaled(s.rate_increment, ts) for s in all_slots)])
    money_max = max([1, *(abs(_scaled(s.connect_fee, m)) for s in all_slots),
                     *(_scaled(d.max_cost, m) for items in tariffs.destination_rates.values()
                       for d in items)])
    span_max = (u_max + i_max) * r_max  # scaled duration x scaled rate
    bound = max(4 * span_max * 10 ** GLOBAL_ROUNDING_DECIMALS,
                2 * (span_max * 10 ** max(m - rs, 0) + money_max) * 10 ** (m - 5 + 1))
    if bound >= 2 ** 126:
        return _all_one_by_one(tariffs, frame, out_money, ts, stats)
    it = _Int(pl.Int64 if bound < 2 ** 62 else pl.Int128)
    k_max = max(len(r["slots"]) for r in tables.gids)

    has_type = "usage_type" in frame.columns
    lf = frame.lazy().with_row_index("_i").with_columns(
        _to_scaled("usage", frame.schema["usage"], ts, it).alias("_u"),
        _to_scaled("skip", frame.schema["skip"], ts, it).alias("_s0"),
        (pl.col("usage_type").fill_null("voice") == "voice").alias("_voice") if has_type
        else pl.lit(True).alias("_voice"),
        pl.col("destination").fill_null("").alias("_number"),
        pl.col("answer_time").cast(pl.Datetime("us", "UTC")).alias("_at"),
    ).with_columns(pl.max_horizontal(pl.col("_s0"), it.lit(0)).alias("_s"))

    # -- destination ---------------------------------------------------------------------------
    found: list[pl.Expr] = []
    for length in tables.lengths:
        keys, values = tables.prefix_keys[length]
        probe = pl.col("rating_plan") + _SEP + pl.col("_number").str.slice(0, length)
        found.append(pl.when(pl.col("_number").str.len_chars() >= length).then(
            probe.replace_strict(keys, values, default=None, return_dtype=pl.Utf8)))
    matched = pl.coalesce(found) if found else pl.lit(None, dtype=pl.Utf8)
    lf = lf.with_columns(
        pl.when(pl.col("_number").is_in(["", ANY])).then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(matched).alias("_dest"))
    lf = lf.with_columns(
        pl.when(pl.col("_dest").is_null() & pl.col("rating_plan").is_in(tables.any_plans))
        .then(pl.lit(ANY)).otherwise(pl.col("_dest")).alias("_dest"))
    lf = lf.join(tables.cand.lazy(), on=["rating_plan", "_dest"], how="left",
                 maintain_order="left")

    # -- time features -------------------------------------------------------------------------
    zone = tariffs.time_zone
    us_per = it.lit(10 ** (6 - ts)) if ts <= 6 else None

    def to_us(e: pl.Expr) -> pl.Expr:
        return (e * us_per if us_per is not None else e // it.lit(10 ** (ts - 6))).cast(
            pl.Int64)

    t0 = pl.col("_at") + pl.duration(microseconds=to_us(pl.col("_s")))
    t1 = pl.col("_at") + pl.duration(microseconds=to_us(pl.col("_u")))
    lf = lf.with_columns(t0.alias("_t0u"), t1.alias("_t1u"))
    local0, local1 = pl.col("_t0u"), pl.col("_t1u")
    if zone != "UTC":
        local0, local1 = local0.dt.convert_time_zone(zone), local1.dt.convert_time_zone(zone)
    lf = lf.with_columns(local0.alias("_t0"), local1.alias("_t1"))
    feats = []
    for p, col in (("a", "_t0"), ("b", "_t1")):
        c = pl.col(col)
        feats += [c.dt.year().alias(f"{p}y"), c.dt.month().alias(f"{p}m"),
                  c.dt.day().alias(f"{p}d"), c.dt.weekday().alias(f"{p}w"),
                  c.dt.date().alias(f"{p}day"),
                  ((c.dt.hour().cast(pl.Int64) * 3600 + c.dt.minute().cast(pl.Int64) * 60
                    + c.dt.second().cast(pl.Int64)) * 1_000_000
                   + c.dt.microsecond().cast(pl.Int64)).alias(f"{p}tod")]
    lf = lf.with_columns(feats)
    cands = [pl.col(f"_c{j}") for j in range(tables.c_max)]
    gid_range = list(range(len(tables.gids)))
    lf = lf.with_columns(
        *(c.replace_strict(gid_range, tables.gid_timing, default=None, return_dtype=pl.Int64)
          .alias(f"_tm{j}") for j, c in enumerate(cands)),
        *(c.replace_strict(gid_range, tables.gid_start_us, default=None,
                           return_dtype=pl.Int64).alias(f"_st{j}")
          for j, c in enumerate(cands)),
        *(_date_ok("a", t).alias(f"_oka{n}") for n, t in enumerate(tables.timings)),
        *(_date_ok("b", t).alias(f"_okb{n}") for n, t in enumerate(tables.timings)))

    def ok(j: int, day: str) -> pl.Expr:
        expr: pl.Expr = pl.lit(False)
        for n in range(len(tables.timings)):
            expr = pl.when(pl.col(f"_tm{j}") == n).then(pl.col(f"_ok{day}{n}")).otherwise(expr)
        return expr

    def winner_at(tod: pl.Expr | int, day: str) -> pl.Expr:
        return _first_active(cands, [cands[j].is_not_null() & ok(j, day)
                                     & (pl.col(f"_st{j}") <= tod)
                                     for j in range(tables.c_max)])

    lf = lf.with_columns(
        winner_at(pl.col("atod"), "a").alias("_w0"),
        *(winner_at(v, "a").alias(f"_wa{v}") for v in tables.starts_us),
        winner_at(0, "b").alias("_wb0"),
        *(winner_at(v, "b").alias(f"_wb{v}") for v in tables.starts_us))
    same_day = pl.col("bday") == pl.col("aday")
    next_day = pl.col("bday") == pl.col("aday") + pl.duration(days=1)
    end_tod_a = pl.when(same_day).then(pl.col("btod")).otherwise(pl.lit(_DAY_US))
    band = [pl.when((pl.col("atod") < v) & (end_tod_a > v)
                    & pl.col(f"_wa{v}").ne_missing(pl.col("_w0"))).then(pl.lit(v))
            for v in tables.starts_us]
    lf = lf.with_columns(
        (pl.min_horizontal(band) if band else pl.lit(None, dtype=pl.Int64)).alias("_band"),
        (~same_day & ~(next_day & (pl.col("btod") == 0))).alias("_midnight"),
        (pl.col("_u") > pl.col("_s")).alias("_charged"))
    # the second segment: after the band change, or after midnight
    after_band = pl.col("_band")
    w_band = reduce(lambda acc, v: pl.when(after_band == v).then(pl.col(f"_wa{v}"))
                    .otherwise(acc), tables.starts_us, pl.lit(None, dtype=pl.Int64))
    more_after_band = reduce(
        lambda acc, v: acc | ((after_band < v) & (end_tod_a > v)
                              & pl.col(f"_wa{v}").ne_missing(w_band)),
        tables.starts_us, pl.col("_midnight"))
    more_after_midnight = reduce(
        lambda acc, v: acc | ((pl.col("btod") > v) & pl.col(f"_wb{v}").ne_missing(
            pl.col("_wb0"))), tables.starts_us, ~next_day)
    split = pl.col("_voice") & pl.col("_charged") & pl.col("_w0").is_not_null() & (
        after_band.is_not_null() | pl.col("_midnight"))
    boundary_local = pl.when(after_band.is_not_null()).then(
        _local_boundary(pl.col("aday"), after_band.fill_null(0), zone)).otherwise(
        _local_boundary(pl.col("bday"), 0, zone))
    lf = lf.with_columns(
        split.alias("_split"),
        pl.when(after_band.is_not_null()).then(w_band).otherwise(pl.col("_wb0")).alias("_w1"),
        pl.when(after_band.is_not_null()).then(more_after_band).otherwise(more_after_midnight)
        .alias("_more"),
        (boundary_local - pl.col("_t0u")).dt.total_microseconds().alias("_cut_us"))
    exact_cut = (pl.col("_cut_us") % (10 ** (6 - ts)) == 0) if ts < 6 else pl.lit(True)
    slow = pl.col("_split") & (pl.col("_more") | pl.col("_w1").is_null()
                               | pl.col("_cut_us").is_null() | ~exact_cut)
    cut_scaled = (pl.col("_cut_us").cast(it.dtype) // it.lit(10 ** (6 - ts)) if ts <= 6
                  else pl.col("_cut_us").cast(it.dtype) * it.lit(10 ** (ts - 6)))
    lf = lf.with_columns(
        slow.alias("_slow"),
        pl.when(pl.col("_split") & ~slow).then(pl.col("_s") + cut_scaled)
        .otherwise(pl.col("_u")).alias("_p"),
        pl.when(pl.col("_split") & ~slow).then(pl.col("_w1")).alias("_gid_1"),
        pl.col("_w0").alias("_gid_0"))

    # -- slots, increments, max cost ---------------------------------------------------------
    lf = lf.select(["_i", *frame.columns, "_u", "_s", "_dest", "_charged", "_slow", "_p",
                    "_gid_0", "_gid_1"]).collect().lazy()  # checkpoint: computed once
    lf = lf.join(_gid_frame(tables.gids, ts=ts, m=m, rs=rs, it=it, k_max=k_max,
                            suffix="_0").lazy(), on="_gid_0", how="left",
                 maintain_order="left")
    u, s = pl.col("_u"), pl.col("_s")
    scale5 = it.lit(10 ** (m - GLOBAL_ROUNDING_DECIMALS))
    cf = pl.when(s == 0).then(pl.col("cf_0")).otherwise(it.lit(0))
    lf = lf.with_columns(pl.lit(None, dtype=it.dtype).alias("_cursor"), cf.alias("_total"),
                         cf.alias("_sofar"), pl.lit(False).alias("_stop"),
                         pl.lit(None, dtype=it.dtype).alias("_rated"),
                         pl.col("dec_0").alias("_dec"), pl.col("method_0").alias("_method"))

    def run_segment(lf: pl.LazyFrame, suffix: str, seg_a: pl.Expr,
                    seg_b: pl.Expr) -> pl.LazyFrame:
        seg_on = pl.col(f"_gid{suffix}").is_not_null()
        for k in range(k_max):
            gis = pl.col(f"g{k}{suffix}")
            nxt = pl.col(f"g{k + 1}{suffix}") if k + 1 < k_max else None
            a = pl.max_horizontal(gis, seg_a)
            b = seg_b if nxt is None else pl.min_horizontal(pl.coalesce(nxt, seg_b), seg_b)
            start = pl.when(pl.col("_cursor").is_null()).then(a).otherwise(
                pl.max_horizontal(a, pl.col("_cursor")))
            lf = lf.with_columns(start.alias("_a"), b.alias("_b"))
            valid = (seg_on & gis.is_not_null() & (pl.col("_a") < pl.col("_b"))
                     & ~pl.col("_stop")).fill_null(False)
            inc = pl.col(f"i{k}{suffix}")
            count = it.ceil_div(pl.col("_b") - pl.col("_a"), inc)
            lf = lf.with_columns(pl.when(valid).then(count).otherwise(it.lit(0)).alias("_n"),
                                 valid.alias("_v"))
            dur = pl.col("_n") * inc
            num = dur * pl.col(f"r{k}{suffix}") * it.lit(10 ** GLOBAL_ROUNDING_DECIMALS)
            den = pl.col(f"un{k}{suffix}") * it.lit(10 ** rs)
            raw5 = it.half_up(num, den)
            lf = lf.with_columns(
                pl.when(pl.col("_v")).then(
                    it.half_up(raw5, pl.max_horizontal(pl.col("_n"), it.lit(1))) * scale5)
                .otherwise(it.lit(0)).alias("_unit"),
                pl.when(pl.col("_v")).then(pl.col("_a") + dur).otherwise(pl.col("_cursor"))
                .alias("_cursor_next"),
                pl.when(pl.col("_v") & (pl.col(f"dec{suffix}") > pl.col("_dec")))
                .then(pl.col(f"dec{suffix}")).otherwise(pl.col("_dec")).alias("_dec_next"),
                pl.when(pl.col("_v") & (pl.col(f"dec{suffix}") > pl.col("_dec")))
                .then(pl.col(f"method{suffix}")).otherwise(pl.col("_method"))
                .alias("_method"))
            max_cost = pl.col(f"max_cost{suffix}")
            disc = (pl.col(f"strategy{suffix}") == 1) & (max_cost > 0)
            need = it.ceil_div(max_cost - pl.col("_sofar"),
                               pl.max_horizontal(pl.col("_unit"), it.lit(1)))
            kept = (pl.when(~disc).then(pl.col("_n"))
                    .when(pl.col("_sofar") >= max_cost).then(it.lit(0))
                    .when(pl.col("_unit") > 0).then(pl.min_horizontal(pl.col("_n"), need))
                    .otherwise(pl.col("_n")))
            lf = lf.with_columns(pl.when(pl.col("_v")).then(kept).otherwise(it.lit(0))
                                 .alias("_kept"), pl.col("_dec_next").alias("_dec"))
            cut = pl.col("_v") & (pl.col("_kept") < pl.col("_n"))
            span = pl.col("_unit") * pl.col("_kept")
            total = pl.col("_total") + span
            free = pl.col("_v") & (pl.col(f"strategy{suffix}") == 2) & (max_cost > 0) & (
                total >= max_cost)
            lf = lf.with_columns(
                pl.when(free).then(max_cost).otherwise(total).alias("_total"),
                pl.when(free).then(max_cost).otherwise(pl.col("_sofar") + span)
                .alias("_sofar"),
                pl.when(cut).then(pl.min_horizontal(pl.col("_a") + pl.col("_kept") * inc, u))
                .otherwise(pl.col("_rated")).alias("_rated"),
                (pl.col("_stop") | cut).alias("_stop"),
                pl.col("_cursor_next").alias("_cursor"))
        return lf

    state = ["_i", "_total", "_sofar", "_stop", "_rated", "_cursor", "_dec", "_method"]
    df0 = run_segment(lf, "_0", s, pl.col("_p")).collect()
    # the second segment (a call cut at midnight or a band change) on those rows only
    split_rows = df0.filter(pl.col("_gid_1").is_not_null())
    if split_rows.height:
        second = split_rows.lazy().join(
            _gid_frame(tables.gids, ts=ts, m=m, rs=rs, it=it, k_max=k_max,
                       suffix="_1").lazy(), on="_gid_1", how="left", maintain_order="left")
        second_df = run_segment(second, "_1", pl.col("_p"), u).select(state).collect()
        df0 = df0.update(second_df, on="_i", include_nulls=True)
    lf = df0.lazy()
    total = pl.col("_total")
    rounded = total
    for d in sorted({r["dec"] for r in tables.gids}):
        if d <= 0 or d >= m:
            continue
        q = it.lit(10 ** (m - d))
        for method, value in ((1, it.ceil_div(total, q) * q), (2, (total // q) * q),
                              (3, it.half_up(total, q) * q)):
            rounded = pl.when((pl.col("_method") == method) & (pl.col("_dec") == d)).then(
                value).otherwise(rounded)
    error = (pl.when(~pl.col("rating_plan").is_in(tables.plan_ids)).then(pl.lit(NOT_FOUND))
             .when(pl.col("_dest").is_null()).then(pl.lit(UNRATED))
             .when(pl.col("_charged") & pl.col("_gid_0").is_null()).then(pl.lit(UNRATED))
             .otherwise(pl.lit(None, dtype=pl.Utf8)))
    lf = lf.with_columns(error.alias("error"))
    good = pl.col("error").is_null()
    charged = pl.col("_charged")
    zero = _from_scaled(it.lit(0), m)
    lf = lf.with_columns(
        pl.when(good & charged).then(_from_scaled(rounded, m)).when(good).then(zero)
        .cast(pl.Decimal(38, out_money)).alias("cost"),
        pl.when(good & charged).then(_from_scaled(cf, m)).when(good).then(zero)
        .cast(pl.Decimal(38, out_money)).alias("connect_fee"),
        pl.when(good).then(pl.col("_dest")).alias("destination_id"),
        pl.when(good & charged).then(pl.col("dr_id_0")).alias("destination_rate_id"),
        pl.when(good & charged).then(pl.col("rates_id_0")).alias("rates_id"),
        pl.when(good).then(_from_scaled(pl.coalesce(pl.col("_rated"), u), ts))
        .cast(pl.Decimal(38, ts)).alias("rated_usage"),
        (pl.col("_slow").fill_null(False) & good).alias("_slow"))
    df = lf.select(["_i", *frame.columns, *OUTPUT_COLUMNS, "_slow"]).collect()
    if not df["_i"].is_sorted():
        df = df.sort("_i")
    slow_rows = df.filter(pl.col("_slow"))
    if slow_rows.height:
        fixed = _one_by_one(tariffs, slow_rows.select(
            ["_i", *REQUIRED, *(["usage_type"] if has_type else [])]), out_money, ts)
        df = df.update(fixed, on="_i", include_nulls=True)
    stats.one_by_one = slow_rows.height
    stats.vectorized = frame.height - slow_rows.height
    LAST_STATS.__dict__.update(stats.__dict__)
    return df.select([*frame.columns, *OUTPUT_COLUMNS])


def _answer_time_digits(frame: pl.DataFrame) -> int:
    """Decimals of a second the answer times carry (0, 3 or 6): band and midnight cuts fall
    on them, so the elapsed-time scale must hold them."""
    micros = frame.select(pl.col("answer_time").dt.microsecond())
    if not frame.height or micros.select((pl.col("answer_time") != 0).any()).item() is False:
        return 0
    return 3 if micros.select((pl.col("answer_time") % 1000 == 0).all()).item() else 6


def _scaled_max(frame: pl.DataFrame, name: str, ts: int) -> int:
    value = frame.select(pl.col(name).abs().max()).item()
    if value is None:
        return 0
    return abs(_scaled(Decimal(value), ts)) + 1


def _all_one_by_one(tariffs: TariffSet, frame: pl.DataFrame, out_money: int, ts: int,
                    stats: Stats) -> pl.DataFrame:
    df = frame.with_row_index("_i")
    cols = ["_i", *REQUIRED, *(["usage_type"] if "usage_type" in frame.columns else [])]
    fixed = _one_by_one(tariffs, df.select(cols), out_money, ts)
    stats.one_by_one = frame.height
    LAST_STATS.__dict__.update(stats.__dict__)
    return df.join(fixed, on="_i", how="left",
                 maintain_order="left").sort("_i").select(
        [*frame.columns, *OUTPUT_COLUMNS])


def _one_by_one(tariffs: TariffSet, rows: pl.DataFrame, out_money: int,
                ts: int) -> pl.DataFrame:
    result: dict[str, list[Any]] = {k: [] for k in ("_i", *OUTPUT_COLUMNS)}
    has_type = "usage_type" in rows.columns
    for row in rows.iter_rows(named=True):
        result["_i"].append(row["_i"])
        at = row["answer_time"]
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        values: tuple[Any, ...]
        try:
            c = rate_plan(tariffs, rating_plan_id=row["rating_plan"],
                          destination=row["destination"] or "", answer_time=at,
                          usage=Decimal(row["usage"]), skip=Decimal(row["skip"]),
                          usage_type=row["usage_type"] if has_type else None)
        except RatingPlanNotFound:
            values = (None, None, None, None, None, None, NOT_FOUND)
        except UnauthorizedDestination:
            values = (None, None, None, None, None, None, UNRATED)
        else:
            values = (c.cost, c.connect_fee, c.destination_id, c.destination_rate_id,
                      c.rates_id, c.usage, None)
        for key, value in zip(OUTPUT_COLUMNS, values, strict=True):
            result[key].append(value)
    return pl.DataFrame(result, schema={
        "_i": pl.UInt32, "cost": pl.Decimal(38, out_money),
        "connect_fee": pl.Decimal(38, out_money), "destination_id": pl.Utf8,
        "destination_rate_id": pl.Utf8, "rates_id": pl.Utf8,
        "rated_usage": pl.Decimal(38, ts), "error": pl.Utf8})
