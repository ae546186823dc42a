"""Every SQL statement of the rating context (tenant-scoped through :mod:`core.queries`).

Tariffs are one row per named TariffSet; rated usage and allowance counters are written
set-based: one multi-row statement per call (SQLAlchemy Core ``executemany``; on
PostgreSQL rated rows go in with ``COPY … FROM STDIN`` through the session's own
connection, so they are part of the caller's transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from openbss.core.context import Context
from openbss.core.db import bulk_insert, insert_frame
from openbss.core.queries import (
    find_owned,
    get_owned,
    scoped,
    scoped_delete,
    scoped_update,
    scoped_update_many,
)
from openbss.rating.models import AllowanceCounter, RatedUsage, Tariff

if TYPE_CHECKING:
    import polars as pl

#: Keys per ``IN (…)`` list (4 bind parameters each: well under SQLite's limit).
CHUNK = 2000


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _is_postgresql(ctx: Context) -> bool:
    return ctx.session.get_bind().dialect.name == "postgresql"


# -- tariffs --------------------------------------------------------------------------------

def tariffs(ctx: Context) -> list[Tariff]:
    return list(ctx.session.scalars(scoped(ctx, Tariff).order_by(Tariff.name)))


def tariff(ctx: Context, tariff_id: str, *, lock: bool = False) -> Tariff:
    return get_owned(ctx.session, Tariff, ctx.tenant_id, tariff_id, "tariff", lock=lock)


def find_tariff(ctx: Context, tariff_id: str) -> Tariff | None:
    return find_owned(ctx.session, Tariff, ctx.tenant_id, tariff_id)


def tariff_named(ctx: Context, name: str, *, lock: bool = False) -> Tariff | None:
    stmt = scoped(ctx, Tariff).where(Tariff.name == name)
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    found: Tariff | None = ctx.session.scalars(stmt).first()
    return found


def tariff_stamp(ctx: Context) -> tuple[tuple[str, int], ...]:
    """``(id, row_version)`` of each of the tenant's tariffs: what the merged TariffSet
    of the tenant depends on (one small statement; the cache key of ``tariffs_of``)."""
    rows = ctx.session.execute(
        scoped(ctx, Tariff.id, Tariff.row_version).order_by(Tariff.id)).all()
    return tuple((str(r[0]), int(r[1])) for r in rows)


def delete_tariff(ctx: Context, tariff_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, Tariff).where(Tariff.id == tariff_id))


# -- allowance counters ---------------------------------------------------------------------

CounterKey = tuple[str, str, str, datetime]  # scope, holder, price_id, period_start


def counters(ctx: Context, keys: Sequence[CounterKey], *, lock: bool) -> list[Row[Any]]:
    """The counters of ``keys`` (id, scope, holder, price_id, period_start, granted,
    used); ``lock``: ``FOR UPDATE`` on PostgreSQL (SQLite serializes writers), so two
    concurrent raters never consume the same allowance. One statement per (scope, price,
    period) and up to :data:`CHUNK` holders — the unique index answers each."""
    groups: dict[tuple[str, str, datetime], list[str]] = {}
    for scope, holder, price_id, start in keys:
        groups.setdefault((scope, price_id, start), []).append(holder)
    found: list[Row[Any]] = []
    c = AllowanceCounter
    for (scope, price_id, start), holders in sorted(groups.items()):
        for chunk in _chunks(sorted(holders), 5 * CHUNK):
            stmt = scoped(ctx, c.id, c.scope, c.holder, c.price_id, c.period_start,
                          c.granted, c.used).where(
                c.scope == scope, c.price_id == price_id, c.period_start == start,
                c.holder.in_(list(chunk)))
            if lock:
                stmt = stmt.order_by(c.holder).with_for_update()
            found.extend(ctx.session.execute(stmt).all())
    return found


def insert_counters(ctx: Context, rows: Sequence[dict[str, Any]]) -> None:
    """Create the counters that do not exist yet (``ON CONFLICT DO NOTHING``: a
    concurrent creator of the same counter wins, and this one then locks its row)."""
    if not rows:
        return
    values = [{**r, "tenant_id": ctx.tenant_id, "row_version": 1} for r in rows]
    dialect = postgresql if _is_postgresql(ctx) else sqlite
    stmt = dialect.insert(AllowanceCounter).on_conflict_do_nothing(
        index_elements=["tenant_id", "scope", "holder", "price_id", "period_start"])
    ctx.session.connection().execute(stmt, values)


def update_counters(ctx: Context, values: Sequence[tuple[int, Any]]) -> None:
    """Set ``used`` of counters by id (one executemany)."""
    if not values:
        return
    c = AllowanceCounter
    stmt = scoped_update(ctx, c).where(c.id == bindparam("b_id")).values(
        used=bindparam("b_used"), row_version=c.row_version + 1)
    ctx.session.connection().execute(stmt, [{"b_id": i, "b_used": u} for i, u in values])


def update_event_counters(ctx: Context, values: Sequence[tuple[int, Any, Any]]) -> None:
    """Set ``granted`` (transactions priced) and ``used`` (their amount) of
    ``metered_events`` counters by id (one executemany)."""
    if not values:
        return
    c = AllowanceCounter
    stmt = scoped_update(ctx, c).where(c.id == bindparam("b_id")).values(
        granted=bindparam("b_granted"), used=bindparam("b_used"),
        row_version=c.row_version + 1)
    ctx.session.connection().execute(
        stmt, [{"b_id": i, "b_granted": g, "b_used": u} for i, g, u in values])


def update_grants(ctx: Context, values: Sequence[tuple[int, Any]]) -> None:
    """Set ``granted`` of counters by id (a re-rate recomputes the grants)."""
    if not values:
        return
    c = AllowanceCounter
    stmt = scoped_update(ctx, c).where(c.id == bindparam("b_id")).values(
        granted=bindparam("b_granted"))
    ctx.session.connection().execute(stmt, [{"b_id": i, "b_granted": g} for i, g in values])


# -- rated usage ----------------------------------------------------------------------------

RATED_COLUMNS = ("usage_id", "generation", "current", "product_id", "billing_account_id",
                 "usage_date", "period_start", "period_end", "usage_type", "metric",
                 "quantity", "included", "charged", "amount", "currency", "price_id",
                 "tariff", "rate", "destination", "tax_category", "rated_at", "invoice_id",
                 "correction", "detail")


def insert_rated(ctx: Context, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rated usage rows (dicts with :data:`RATED_COLUMNS`) with
    ``core.db.bulk_insert`` (``COPY`` on PostgreSQL, one executemany elsewhere)."""
    bulk_insert(ctx.session, RatedUsage.__table__,
                [{**r, "tenant_id": ctx.tenant_id} for r in rows])


def insert_rated_frame(ctx: Context, frame: pl.DataFrame) -> None:
    """Insert a frame of rated rows (columns :data:`RATED_COLUMNS`, ``detail`` a struct)
    with ``core.db.insert_frame``: no Python loop over rows or values (CSV into ``COPY``
    on PostgreSQL, one driver executemany on SQLite; tests/rating/test_service.py reads
    them back through the ORM and compares them with the per-record path's rows)."""
    import polars as pl

    insert_frame(ctx.session, RatedUsage.__table__, frame.select(
        pl.lit(ctx.tenant_id).alias("tenant_id"), *RATED_COLUMNS))


def rated_current(ctx: Context, usage_ids: Sequence[str]) -> list[RatedUsage]:
    found: list[RatedUsage] = []
    for chunk in _chunks(list(usage_ids), 5000):
        found.extend(ctx.session.scalars(
            scoped(ctx, RatedUsage).where(RatedUsage.usage_id.in_(list(chunk)),
                                          RatedUsage.current.is_(True))
            .order_by(RatedUsage.usage_id, RatedUsage.id)))
    return found


def rated_of_account(ctx: Context, billing_account_id: str, start: datetime,
                     end: datetime) -> list[RatedUsage]:
    """Current rated usage of the account dated in ``[start, end)``, in time order."""
    return list(ctx.session.scalars(
        scoped(ctx, RatedUsage).where(
            RatedUsage.billing_account_id == billing_account_id,
            RatedUsage.current.is_(True), RatedUsage.usage_date >= start,
            RatedUsage.usage_date < end)
        .order_by(RatedUsage.usage_date, RatedUsage.usage_id, RatedUsage.id)))


def rated_history(ctx: Context, usage_ids: Sequence[str]) -> list[Any]:
    """Per usage id: its latest generation, whether it is current, whether any generation
    was invoiced — ``(usage_id, max generation, invoiced count)``."""
    r = RatedUsage
    found: list[Any] = []
    for chunk in _chunks(list(usage_ids), 5000):
        found.extend(ctx.session.execute(
            scoped(ctx, r.usage_id, func.max(r.generation),
                   func.count(r.invoice_id)).where(r.usage_id.in_(list(chunk)))
            .group_by(r.usage_id)).all())
    return found


def retire_current(ctx: Context, usage_ids: Sequence[str]) -> None:
    """The current rows of these usage records become history (``current`` false)."""
    for chunk in _chunks(list(usage_ids), 5000):
        ctx.session.execute(scoped_update(ctx, RatedUsage).where(
            RatedUsage.usage_id.in_(list(chunk)), RatedUsage.current.is_(True))
            .values(current=False), execution_options={"synchronize_session": False})


def reset_counters(ctx: Context, keys: Sequence[CounterKey]) -> None:
    """Counters of these buckets back to zero (a re-rate recomputes them)."""
    c = AllowanceCounter
    for chunk in _chunks(list(keys)):
        ctx.session.execute(scoped_update(ctx, c).where(
            tuple_(c.scope, c.holder, c.price_id, c.period_start).in_(list(chunk)))
            .values(used=0, row_version=c.row_version + 1),
            execution_options={"synchronize_session": False})


def counters_of_periods(ctx: Context, holders: Sequence[str],
                        period_starts: Sequence[datetime]) -> list[Row[Any]]:
    """Every counter of these holders in these periods (what a re-rate resets)."""
    c = AllowanceCounter
    found: list[Row[Any]] = []
    starts = sorted(set(period_starts))
    for chunk in _chunks(sorted(set(holders)), 5000):
        found.extend(ctx.session.execute(
            scoped(ctx, c.scope, c.holder, c.price_id, c.period_start).where(
                c.holder.in_(list(chunk)), c.period_start.in_(starts))).all())
    return found


def mark_invoiced_many(ctx: Context, invoice_of: Mapping[int, str]) -> int:
    """Set ``invoice_id`` of many rated rows, each to its own invoice, in one executemany
    (a bill run's batch of invoices) — only rows still current and not invoiced; answers
    how many were set."""
    r = RatedUsage
    return scoped_update_many(ctx.session, ctx, r, key="id", column="invoice_id",
                              values=sorted(invoice_of.items()),
                              only=(r.current.is_(True), r.invoice_id.is_(None)))
