"""The vectorized telecom kernel: :func:`cost_frame` rates a Polars frame of calls exactly
as :func:`openbss.rating.telecom.rate_plan` rates each row (pure: no I/O, no clock).

How it stays exact and fast:

- **Destination**: one join per prefix length present in the tariffs (longest first) on
  ``(rating_plan, destination[:L])`` against the plan's (prefix → destination id) table,
  then the plan's ``*any``;
- **Timing band**: each row's local weekday/date/time of day (in the tariff's time zone)
  is tested against each distinct timing; the plan's candidate rate intervals for the
  destination are pre-sorted (weight, start time, file order) and the first active one
  wins;
- **Slots and increments**: integer arithmetic on Int128 columns — durations scaled by
  10^TS (TS = the decimals of usages and slot durations), rates by 10^RS, money in units
  of 10^-M (M ≥ 5, CGRateS's global rounding decimals) — with the same rounding rules
  (half up away from zero, ceiling, floor) as the scalar code;
- rows it does not vectorize — a voice call that crosses midnight or a start time of one
  of its candidate bindings (CGRateS splits the timespan there) — are rated one by one by
  ``rate_plan``; :data:`LAST_STATS` counts them.

Input columns: ``rating_plan`` (Utf8), ``destination`` (Utf8), ``answer_time`` (Datetime
UTC), ``usage`` and ``skip`` (Decimal or integer), optionally ``usage_type`` (Utf8; not
``voice`` = never split by time). Output: the same rows in the same order with ``cost``,
``connect_fee`` (Decimal), ``destination_id``, ``destination_rate_id``, ``rates_id``
(Utf8), ``rated_usage`` (Decimal) and ``error`` (null, ``unrated_destination`` or
``rating_plan_not_found``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

import polars as pl

from openbss.core.errors import OpenBSSError, ValidationError
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
I128 = pl.Int128
_STRATEGY = {"": 0, "*disconnect": 1, "*free": 2}
_METHOD = {"": 0, "*up": 1, "*down": 2, "*middle": 3}
#: products of scaled integers stay below this (Int128 holds 1.7e38)
_LIMIT = 10 ** 36


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


def _lit(v: int) -> pl.Expr:
    return pl.lit(v, dtype=I128)


def _half_up_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """round(num / den) half away from zero, den > 0 (Int128)."""
    two = _lit(2)
    pos = (two * num + den) // (two * den)
    neg = _lit(0) - ((two * (_lit(0) - num) + den) // (two * den))
    return pl.when(num >= 0).then(pos).otherwise(neg)


def _ceil_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """ceil(num / den), den > 0 (Int128)."""
    return _lit(0) - ((_lit(0) - num) // den)


def _to_scaled_int(col: str, dtype: pl.DataType, scale: int) -> pl.Expr:
    if isinstance(dtype, pl.Decimal):
        widened = pl.col(col).cast(pl.Decimal(38, dtype.scale or 0))
        result: pl.Expr = (widened * (10 ** scale)).cast(I128)
        return result
    return pl.col(col).cast(I128) * _lit(10 ** scale)


def _from_scaled_int(expr: pl.Expr, scale: int) -> pl.Expr:
    if scale == 0:
        return expr.cast(pl.Decimal(38, 0))
    return expr.cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, scale)) * pl.lit(
        Decimal(1).scaleb(-scale), dtype=pl.Decimal(38, scale))


def _column_scale(frame: pl.DataFrame, name: str) -> int:
    dtype = frame.schema[name]
    if isinstance(dtype, pl.Decimal):
        return dtype.scale or 0
    if dtype.is_integer():
        return 0
    raise ValidationError(f"column {name} must be Decimal or integer (got {dtype})", field=name)


def _empty_output(frame: pl.DataFrame, money_scale: int, time_scale: int) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(None, dtype=pl.Decimal(38, money_scale)).alias("cost"),
        pl.lit(None, dtype=pl.Decimal(38, money_scale)).alias("connect_fee"),
        pl.lit(None, dtype=pl.Utf8).alias("destination_id"),
        pl.lit(None, dtype=pl.Utf8).alias("destination_rate_id"),
        pl.lit(None, dtype=pl.Utf8).alias("rates_id"),
        pl.lit(None, dtype=pl.Decimal(38, time_scale)).alias("rated_usage"),
        pl.lit(None, dtype=pl.Utf8).alias("error"))


def cost_frame(tariffs: TariffSet, frame: pl.DataFrame) -> pl.DataFrame:
    """Rate every row (see the module docstring); identical to ``rate_plan`` per row."""
    required = ("rating_plan", "destination", "answer_time", "usage", "skip")
    for name in required:
        if name not in frame.columns:
            raise ValidationError(f"missing column {name}", field=name)
    time_in = max(_column_scale(frame, "usage"), _column_scale(frame, "skip"))
    slot_values = [v for slots in tariffs.rates.values() for s in slots
                   for v in (s.rate_unit, s.rate_increment, s.group_interval_start)]
    ts = max([time_in, *(_decimals(v) for v in slot_values)])
    money_values = [s.connect_fee for slots in tariffs.rates.values() for s in slots] + [
        d.max_cost for items in tariffs.destination_rates.values() for d in items]
    m = max([GLOBAL_ROUNDING_DECIMALS, *(_decimals(v) for v in money_values)])
    rs = max([0, *(_decimals(s.rate) for slots in tariffs.rates.values() for s in slots)])
    out_money = max([m, *(d.rounding_decimals for items in tariffs.destination_rates.values()
                          for d in items)])
    stats = Stats(rows=frame.height)
    LAST_STATS.__dict__.update(stats.__dict__)
    df = frame.with_row_index("_i")
    if frame.height == 0:
        return _empty_output(frame, out_money, ts)
    has_type = "usage_type" in frame.columns
    df = df.with_columns(
        _to_scaled_int("usage", frame.schema["usage"], ts).alias("_u"),
        _to_scaled_int("skip", frame.schema["skip"], ts).alias("_s"),
        (pl.col("usage_type").fill_null("voice") == "voice").alias("_voice") if has_type
        else pl.lit(True).alias("_voice"),
        pl.col("destination").fill_null(""),
        pl.col("answer_time").cast(pl.Datetime("us", "UTC")),
    ).with_columns(pl.max_horizontal(pl.col("_s"), _lit(0)).alias("_s"))

    # -- the plans' destination tables and candidate intervals --------------------------------
    plan_ids = list(tariffs.rating_plans)
    gid_rows: list[dict[str, Any]] = []
    cand: dict[tuple[str, str], list[int]] = {}
    prefix_rows: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for plan in plan_ids:
        by_dest = plan_intervals(tariffs, plan)
        for dest_id, intervals in by_dest.items():
            ordered = sorted(intervals, key=lambda ri: (-ri.weight, -ri.timing.start_seconds,
                                                        ri.order))
            cand[(plan, dest_id)] = [len(gid_rows) + i for i in range(len(ordered))]
            gid_rows.extend(_interval_row(ri) for ri in ordered)
            if dest_id == ANY:
                continue
            weight = max(ri.weight for ri in intervals)
            for prefix in tariffs.destinations.get(dest_id, ()):
                best = prefix_rows.get((plan, prefix))
                if best is None or weight > best[0]:
                    prefix_rows[(plan, prefix)] = (weight, dest_id)
    lengths = sorted({len(p) for _, p in prefix_rows}, reverse=True)
    prefix_table = pl.DataFrame(
        {"rating_plan": [k[0] for k in prefix_rows], "_prefix": [k[1] for k in prefix_rows],
         "_dest": [v[1] for v in prefix_rows.values()]},
        schema={"rating_plan": pl.Utf8, "_prefix": pl.Utf8, "_dest": pl.Utf8})
    dest_exprs = []
    for n, length in enumerate(lengths):
        sub = prefix_table.filter(pl.col("_prefix").str.len_chars() == length).rename(
            {"_prefix": f"_p{n}", "_dest": f"_d{n}"})
        df = df.with_columns(pl.col("destination").str.slice(0, length).alias(f"_p{n}"))
        df = df.join(sub, on=["rating_plan", f"_p{n}"], how="left").with_columns(
            pl.when(pl.col("destination").str.len_chars() >= length).then(pl.col(f"_d{n}"))
            .alias(f"_d{n}"))
        dest_exprs.append(pl.col(f"_d{n}"))
    any_plans = [p for p in plan_ids if (p, ANY) in cand]
    df = df.with_columns(
        pl.when(pl.col("destination").is_in(["", ANY])).then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(pl.coalesce(dest_exprs) if dest_exprs else pl.lit(None, dtype=pl.Utf8))
        .alias("_dest"))
    df = df.with_columns(
        pl.when(pl.col("_dest").is_null() & pl.col("rating_plan").is_in(any_plans))
        .then(pl.lit(ANY)).otherwise(pl.col("_dest")).alias("_dest"))
    df = df.drop([c for c in df.columns if c[:2] in ("_p", "_d") and c[2:].isdigit()])

    # -- winner among the candidates -----------------------------------------------------------
    c_max = max((len(v) for v in cand.values()), default=0)
    cand_table = pl.DataFrame(
        {"rating_plan": [k[0] for k in cand], "_dest": [k[1] for k in cand],
         **{f"_c{j}": [v[j] if j < len(v) else None for v in cand.values()]
            for j in range(c_max)}},
        schema={"rating_plan": pl.Utf8, "_dest": pl.Utf8,
                **{f"_c{j}": pl.Int64 for j in range(c_max)}})
    df = df.join(cand_table, on=["rating_plan", "_dest"], how="left")
    gids = _gid_table(gid_rows, ts=ts, m=m, rs=rs) if gid_rows else None
    timings = sorted({(r["t_years"], r["t_months"], r["t_mdays"], r["t_wdays"], r["t_start"])
                      for r in gid_rows})
    timing_index = {t: i for i, t in enumerate(timings)}
    trivial = all(t[:4] == ((), (), (), ()) and t[4] == 0 for t in timings)
    zone = tariffs.time_zone
    start_t = pl.col("answer_time") + pl.duration(microseconds=_scaled_us(pl.col("_s"), ts))
    end_t = pl.col("answer_time") + pl.duration(microseconds=_scaled_us(pl.col("_u"), ts))
    if zone != "UTC":
        start_t = start_t.dt.convert_time_zone(zone)
        end_t = end_t.dt.convert_time_zone(zone)
    df = df.with_columns(start_t.alias("_t0"), end_t.alias("_t1"))
    df = df.with_columns(
        _tod_us("_t0").alias("_tod0"), _tod_us("_t1").alias("_tod1"),
        pl.col("_t0").dt.date().alias("_day0"), pl.col("_t1").dt.date().alias("_day1"))
    active: list[pl.Expr] = []
    for years, months, mdays, wdays, start in timings:
        cond = pl.col("_tod0") >= start * 1_000_000
        if years:
            cond = cond & pl.col("_t0").dt.year().is_in(list(years))
        if months:
            cond = cond & pl.col("_t0").dt.month().is_in(list(months))
        if mdays:
            cond = cond & pl.col("_t0").dt.day().is_in(list(mdays))
        if wdays:
            go = [d for d in wdays if d != 0 and d != 7] + ([7] if 0 in wdays or 7 in wdays
                                                             else [])
            cond = cond & pl.col("_t0").dt.weekday().is_in(go)  # polars: Monday 1 .. Sunday 7
        active.append(cond)
    gid_timing = [timing_index[(r["t_years"], r["t_months"], r["t_mdays"], r["t_wdays"],
                                r["t_start"])] for r in gid_rows]
    gid_start = [r["t_start"] * 1_000_000 for r in gid_rows]
    win: pl.Expr = pl.lit(None, dtype=pl.Int64)
    crossing: pl.Expr = pl.lit(False)
    for j in reversed(range(c_max)):
        cj = pl.col(f"_c{j}")
        if trivial:
            act = cj.is_not_null()
        else:
            act = pl.lit(False)
            for t_i, expr in enumerate(active):
                members = [g for g, t in enumerate(gid_timing) if t == t_i]
                act = act | (cj.is_in(members) & expr)
        win = pl.when(act).then(cj).otherwise(win)
        if not trivial:
            start_of = cj.replace_strict(list(range(len(gid_start))), gid_start,
                                         default=None, return_dtype=pl.Int64)
            crossing = crossing | ((start_of > pl.col("_tod0")) & (start_of < pl.col("_tod1"))
                                   & (pl.col("_day0") == pl.col("_day1")))
    midnight = (pl.col("_day1") > pl.col("_day0")) & ~(
        (pl.col("_tod1") == 0) & (pl.col("_day1") == pl.col("_day0") + pl.duration(days=1)))
    charged = pl.col("_u") > pl.col("_s")
    df = df.with_columns(win.alias("_gid"))
    df = df.with_columns(
        (charged & pl.col("_voice") & pl.col("_gid").is_not_null()
         & (midnight | crossing)).alias("_slow"))
    if gids is not None:
        df = df.join(gids, on="_gid", how="left")
    else:
        return _fallback_all(tariffs, frame, out_money, ts, stats)
    # -- bounds: products must fit Int128 -------------------------------------------------------
    u_max = int(df.select(pl.col("_u").max()).item() or 0)
    r_max = max([1, *(abs(_scaled(s.rate, rs)) for slots in tariffs.rates.values()
                      for s in slots)])
    i_max = max([1, *(_scaled(s.rate_increment, ts) for slots in tariffs.rates.values()
                      for s in slots)])
    if ts > 6 or (u_max + i_max) * r_max * 10 ** (GLOBAL_ROUNDING_DECIMALS + 1) > _LIMIT:
        return _fallback_all(tariffs, frame, out_money, ts, stats)

    # -- slots, increments, max cost ----------------------------------------------------------
    k_max = max((r["k"] for r in gid_rows), default=0)
    u, s = pl.col("_u"), pl.col("_s")
    scale5 = _lit(10 ** (m - GLOBAL_ROUNDING_DECIMALS))
    cf = pl.when(s == 0).then(pl.col("cf")).otherwise(_lit(0))
    exprs: dict[str, pl.Expr] = {"_cursor": pl.lit(None, dtype=I128), "_total": cf,
                                 "_sofar": cf, "_stop": pl.lit(False),
                                 "_rated": pl.lit(None, dtype=I128)}
    df = df.with_columns(**exprs)
    for k in range(k_max):
        gis, nxt = pl.col(f"g{k}"), pl.col(f"g{k + 1}") if k + 1 < k_max else None
        a = pl.max_horizontal(gis, s)
        b = u if nxt is None else pl.min_horizontal(pl.coalesce(nxt, u), u)
        start = pl.when(pl.col("_cursor").is_null()).then(a).otherwise(
            pl.max_horizontal(a, pl.col("_cursor")))
        df = df.with_columns(start.alias("_a"), b.alias("_b"))
        valid = gis.is_not_null() & (pl.col("_a") < pl.col("_b")) & ~pl.col("_stop")
        inc = pl.col(f"i{k}")
        count = _ceil_div(pl.col("_b") - pl.col("_a"), inc)
        df = df.with_columns(pl.when(valid).then(count).otherwise(_lit(0)).alias("_n"),
                             valid.alias("_v"))
        dur = pl.col("_n") * inc
        num = dur * pl.col(f"r{k}") * _lit(10 ** GLOBAL_ROUNDING_DECIMALS)
        den = pl.col(f"un{k}") * _lit(10 ** rs)
        raw5 = _half_up_div(num, den)
        df = df.with_columns(
            pl.when(pl.col("_v")).then(_half_up_div(raw5, pl.max_horizontal(pl.col("_n"),
                                                                            _lit(1))) * scale5)
            .otherwise(_lit(0)).alias("_unit"),
            pl.when(pl.col("_v")).then(pl.col("_a") + dur).otherwise(pl.col("_cursor"))
            .alias("_cursor_next"))
        disc = (pl.col("strategy") == 1) & (pl.col("max_cost") > 0)
        need = _ceil_div(pl.col("max_cost") - pl.col("_sofar"),
                         pl.max_horizontal(pl.col("_unit"), _lit(1)))
        kept = (pl.when(~disc).then(pl.col("_n"))
                .when(pl.col("_sofar") >= pl.col("max_cost")).then(_lit(0))
                .when(pl.col("_unit") > 0).then(pl.min_horizontal(pl.col("_n"), need))
                .otherwise(pl.col("_n")))
        df = df.with_columns(pl.when(pl.col("_v")).then(kept).otherwise(_lit(0)).alias("_kept"))
        cut = pl.col("_v") & (pl.col("_kept") < pl.col("_n"))
        span = pl.col("_unit") * pl.col("_kept")
        total = pl.col("_total") + span
        free = (pl.col("strategy") == 2) & (pl.col("max_cost") > 0) & (total >= pl.col(
            "max_cost"))
        df = df.with_columns(
            pl.when(free).then(pl.col("max_cost")).otherwise(total).alias("_total"),
            pl.when(free).then(pl.col("max_cost")).otherwise(pl.col("_sofar") + span)
            .alias("_sofar"),
            pl.when(cut).then(pl.min_horizontal(pl.col("_a") + pl.col("_kept") * inc, u))
            .otherwise(pl.col("_rated")).alias("_rated"),
            (pl.col("_stop") | cut).alias("_stop"),
            pl.col("_cursor_next").alias("_cursor"))
    total = pl.col("_total")
    rounded = total
    for d_method, mode in ((1, "up"), (2, "down"), (3, "middle")):
        for d in sorted({r["dec"] for r in gid_rows}):
            if d <= 0 or d >= m:
                continue
            q = _lit(10 ** (m - d))
            if mode == "up":
                value = _ceil_div(total, q) * q
            elif mode == "down":
                value = (total // q) * q
            else:
                value = _half_up_div(total, q) * q
            rounded = pl.when((pl.col("method") == d_method) & (pl.col("dec") == d)).then(
                value).otherwise(rounded)
    error = (pl.when(~pl.col("rating_plan").is_in(plan_ids)).then(pl.lit(NOT_FOUND))
             .when(pl.col("_dest").is_null()).then(pl.lit(UNRATED))
             .when(charged & pl.col("_gid").is_null()).then(pl.lit(UNRATED))
             .otherwise(pl.lit(None, dtype=pl.Utf8)))
    df = df.with_columns(error.alias("error"))
    ok = pl.col("error").is_null()
    df = df.with_columns(
        pl.when(ok & charged).then(_from_scaled_int(rounded, m))
        .when(ok).then(_from_scaled_int(_lit(0), m)).alias("cost"),
        pl.when(ok & charged).then(_from_scaled_int(cf, m))
        .when(ok).then(_from_scaled_int(_lit(0), m)).alias("connect_fee"),
        pl.when(ok).then(pl.col("_dest")).alias("destination_id"),
        pl.when(ok & charged).then(pl.col("dr_id")).alias("destination_rate_id"),
        pl.when(ok & charged).then(pl.col("rates_id")).alias("rates_id"),
        pl.when(ok).then(_from_scaled_int(pl.coalesce(pl.col("_rated"), u), ts))
        .alias("rated_usage"))
    df = df.with_columns(pl.col("cost").cast(pl.Decimal(38, out_money)),
                         pl.col("connect_fee").cast(pl.Decimal(38, out_money)),
                         pl.col("rated_usage").cast(pl.Decimal(38, ts)))
    slow = df.filter(pl.col("_slow") & pl.col("error").is_null())
    if slow.height:
        fixed = _one_by_one(tariffs, slow.select(["_i", *required,
                                                   *(["usage_type"] if has_type else [])]),
                            out_money, ts)
        df = df.update(fixed, on="_i", include_nulls=True)
    stats.one_by_one = slow.height
    stats.vectorized = frame.height - slow.height
    LAST_STATS.__dict__.update(stats.__dict__)
    return df.sort("_i").select([*frame.columns, *OUTPUT_COLUMNS])


def _scaled_us(expr: pl.Expr, ts: int) -> pl.Expr:
    """Scaled-int seconds → whole microseconds (Int64), truncated like the scalar code."""
    if ts <= 6:
        return (expr * _lit(10 ** (6 - ts))).cast(pl.Int64)
    return (expr // _lit(10 ** (ts - 6))).cast(pl.Int64)


def _tod_us(col: str) -> pl.Expr:
    c = pl.col(col)
    return ((c.dt.hour().cast(pl.Int64) * 3600 + c.dt.minute().cast(pl.Int64) * 60
             + c.dt.second().cast(pl.Int64)) * 1_000_000 + c.dt.microsecond().cast(pl.Int64))


def _interval_row(ri: RateInterval) -> dict[str, Any]:
    """One candidate's columns; scaled later (see :func:`_scale_gids`)."""
    dr = ri.destination_rate
    return {"dr_id": ri.destination_rate_id, "rates_id": dr.rates_id,
            "dec": dr.rounding_decimals, "method": _METHOD[dr.rounding_method],
            "strategy": _STRATEGY[dr.max_cost_strategy], "_max_cost": dr.max_cost,
            "_cf": ri.connect_fee, "_slots": ri.slots, "k": len(ri.slots),
            "t_years": ri.timing.years, "t_months": ri.timing.months,
            "t_mdays": ri.timing.month_days, "t_wdays": ri.timing.week_days,
            "t_start": ri.timing.start_seconds}


def _gid_table(rows: list[dict[str, Any]], *, ts: int, m: int, rs: int) -> pl.DataFrame:
    k_max = max(r["k"] for r in rows)
    data: dict[str, list[Any]] = {
        "_gid": list(range(len(rows))),
        "dr_id": [r["dr_id"] for r in rows], "rates_id": [r["rates_id"] for r in rows],
        "dec": [r["dec"] for r in rows], "method": [r["method"] for r in rows],
        "strategy": [r["strategy"] for r in rows],
        "max_cost": [_scaled(r["_max_cost"], m) for r in rows],
        "cf": [_scaled(r["_cf"], m) for r in rows]}
    schema: dict[str, Any] = {"_gid": pl.Int64, "dr_id": pl.Utf8, "rates_id": pl.Utf8,
                              "dec": pl.Int64, "method": pl.Int64, "strategy": pl.Int64,
                              "max_cost": I128, "cf": I128}
    for k in range(k_max):
        for name, attr, scale in (("g", "group_interval_start", ts), ("r", "rate", rs),
                                  ("un", "rate_unit", ts), ("i", "rate_increment", ts)):
            data[f"{name}{k}"] = [_scaled(getattr(r["_slots"][k], attr), scale)
                                  if k < r["k"] else None for r in rows]
            schema[f"{name}{k}"] = I128
    return pl.DataFrame(data, schema=schema)


def _fallback_all(tariffs: TariffSet, frame: pl.DataFrame, out_money: int, ts: int,
                  stats: Stats) -> pl.DataFrame:
    df = frame.with_row_index("_i")
    cols = ["_i", "rating_plan", "destination", "answer_time", "usage", "skip"]
    if "usage_type" in frame.columns:
        cols.append("usage_type")
    fixed = _one_by_one(tariffs, df.select(cols), out_money, ts)
    stats.one_by_one = frame.height
    LAST_STATS.__dict__.update(stats.__dict__)
    return df.join(fixed, on="_i", how="left").sort("_i").select(
        [*frame.columns, *OUTPUT_COLUMNS])


def _one_by_one(tariffs: TariffSet, rows: pl.DataFrame, out_money: int,
                ts: int) -> pl.DataFrame:
    result: dict[str, list[Any]] = {k: [] for k in ("_i", *OUTPUT_COLUMNS)}
    has_type = "usage_type" in rows.columns
    for row in rows.iter_rows(named=True):
        result["_i"].append(row["_i"])
        usage = Decimal(row["usage"])
        skip = Decimal(row["skip"])
        at = row["answer_time"]
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        try:
            c = rate_plan(tariffs, rating_plan_id=row["rating_plan"],
                          destination=row["destination"] or "", answer_time=at, usage=usage,
                          skip=skip, usage_type=row["usage_type"] if has_type else None)
        except RatingPlanNotFound:
            values: tuple[Any, ...] = (None, None, None, None, None, None, NOT_FOUND)
        except UnauthorizedDestination:
            values = (None, None, None, None, None, None, UNRATED)
        except OpenBSSError:
            raise
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
