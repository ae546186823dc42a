"""Re-rating: recompute the rated usage of a period after a tariff (or price) correction.

:func:`rerate` loads the records set-based — every rated record of the billing periods
that ``[start, end)`` touches, so allowance buckets are recomputed over whole periods —
finds the offering (price version) and bundle each record's product had in force at its
time (``ordering.in_force.identifier_intervals``, joined on the product), and hands them,
in time order, to ``rating.service.rerate``: a new generation of rated rows (the
previous ones stay as history), rows of an invoiced period marked for correction by
billing, and a report of the amounts before and after.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.periods import period_containing
from openbss.usage import queries
from openbss.usage.batch import QUANTITY, UTC_US, Guide
from openbss.usage.models import UsageStatus

_INSTANT = timedelta(microseconds=1)


def _frame(rows: list[Any]) -> pl.DataFrame:
    return pl.DataFrame(
        [tuple(r) for r in rows], orient="row",
        schema={"id": pl.String, "usage_date": UTC_US, "usage_type": pl.String,
                "metric": pl.String, "quantity": QUANTITY, "destination": pl.String,
                "product_id": pl.String, "billing_account_id": pl.String})


def records_to_rerate(ctx: Context, *, account_id: str | None, start: datetime,
                      end: datetime) -> pl.DataFrame:
    """The rated records of the whole billing periods that ``[start, end)`` touches (of
    one account, or of all), in time order, with their price version and bundle."""
    from openbss.rating.service import cycles_of

    first = _frame(queries.records_between(ctx, start=start, end=end,
                                           account_id=account_id))
    if first.height == 0:
        return first
    accounts = first.get_column("billing_account_id").unique().to_list()
    cycles = cycles_of(ctx, accounts)
    windows = {}
    for cycle in set(cycles.values()):
        windows[cycle] = (period_containing(cycle, start).start,
                          period_containing(cycle, end - _INSTANT).end)
    lo = min(w[0] for w in windows.values())
    hi = max(w[1] for w in windows.values())
    rows = _frame(queries.records_between(ctx, start=lo, end=hi, account_id=account_id))
    bounds = pl.DataFrame({
        "billing_account_id": list(cycles),
        "_lo": [windows[c][0] for c in cycles.values()],
        "_hi": [windows[c][1] for c in cycles.values()]},
        schema={"billing_account_id": pl.String, "_lo": UTC_US, "_hi": UTC_US})
    rows = rows.join(bounds, on="billing_account_id", how="inner", nulls_equal=True) \
        .filter((pl.col("usage_date") >= pl.col("_lo")) & (pl.col("usage_date") < pl.col("_hi"))) \
        .drop("_lo", "_hi")
    table = Guide().intervals(ctx, lo, hi - _INSTANT).select(
        "product_id", "start", "end", "price_version", "bundle_id").unique().sort("start")
    joined = rows.sort("usage_date").join_asof(
        table, left_on="usage_date", right_on="start", by="product_id",
        strategy="backward", check_sortedness=False)
    return joined.sort("usage_date", "id").drop("start", "end")


def rerate(ctx: Context, *, account_id: str | None = None, start: datetime,
           end: datetime) -> Any:
    """Re-rate the usage of ``[start, end)`` (whole billing periods; one account or all)
    and answer ``rating.service.RerateReport`` (``to_json()``: records, rated, unrated,
    before, after, difference, corrections). In the caller's transaction."""
    from openbss.rating.service import GuidedUsage
    from openbss.rating.service import rerate as rating_rerate

    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("from/to: give aware instants", field="from")
    if end <= start:
        raise ValidationError("to: must be after from", field="to")
    frame = records_to_rerate(ctx, account_id=account_id, start=start, end=end)
    guided = [GuidedUsage(key=r["id"], usage_date=r["usage_date"],
                          usage_type=r["usage_type"], metric=r["metric"],
                          quantity=Decimal(r["quantity"]), destination=r["destination"],
                          product_id=r["product_id"],
                          billing_account_id=r["billing_account_id"],
                          price_version=r["price_version"], bundle_id=r["bundle_id"])
              for r in frame.iter_rows(named=True) if r["price_version"] is not None]
    report = rating_rerate(ctx, guided)
    if guided:
        queries.mark_rerated(ctx, [g.key for g in guided], ctx.now,
                             UsageStatus.RERATED.value)
    return report
