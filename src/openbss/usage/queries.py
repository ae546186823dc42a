"""Every SQL statement of the usage context, tenant-scoped through core.queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_

from openbss.core.context import Context
from openbss.core.queries import get_owned, scoped, scoped_delete, scoped_update
from openbss.core.tmf import ListParams, apply_filters, paginate
from openbss.usage.models import UsageRecord, UsageSpecification, UsageStatus

#: Attribute filters of ``GET usage`` (plus ``relatedParty.id``: the billing account or
#: the party the record was guided to).
USAGE_FILTERS: dict[str, Any] = {
    "id": UsageRecord.id, "status": UsageRecord.status,
    "usageDate": UsageRecord.usage_date, "usageType": UsageRecord.usage_type,
    "metric": UsageRecord.metric, "source": UsageRecord.source,
    "recordId": UsageRecord.record_id, "rejectReason.code": UsageRecord.reject_reason,
    "usageSpecification.id": UsageRecord.usage_specification_id,
    "ratedProductUsage.productRef.id": UsageRecord.product_id,
    "lastUpdate": UsageRecord.last_update,
}
RELATED_PARTY = "relatedParty.id"
SPECIFICATION_FILTERS: dict[str, Any] = {
    "id": UsageSpecification.id, "name": UsageSpecification.name,
    "lastUpdate": UsageSpecification.last_update,
}
REJECT_FILTERS: dict[str, Any] = {
    "reason": UsageRecord.reject_reason, "source": UsageRecord.source,
    "usageDate": UsageRecord.usage_date, "usageType": UsageRecord.usage_type,
}


def usage(ctx: Context, usage_id: str, *, lock: bool = False) -> UsageRecord:
    return get_owned(ctx.session, UsageRecord, ctx.tenant_id, usage_id, "usage", lock=lock)


def by_dedup_key(ctx: Context, dedup_key: str) -> UsageRecord | None:
    row: UsageRecord | None = ctx.session.scalar(
        scoped(ctx, UsageRecord).where(UsageRecord.dedup_key == dedup_key))
    return row


def list_usage(ctx: Context, params: ListParams,
               related_party: Sequence[str] = ()) -> tuple[list[UsageRecord], int]:
    stmt = apply_filters(scoped(ctx, UsageRecord), params, USAGE_FILTERS)
    if related_party:
        ids = list(related_party)
        stmt = stmt.where(or_(UsageRecord.billing_account_id.in_(ids),
                              UsageRecord.party_id.in_(ids)))
    return paginate(ctx.session, stmt, params, [UsageRecord.usage_date, UsageRecord.id])


def list_rejects(ctx: Context, params: ListParams) -> tuple[list[UsageRecord], int]:
    stmt = apply_filters(scoped(ctx, UsageRecord).where(
        UsageRecord.status == UsageStatus.REJECTED.value), params, REJECT_FILTERS)
    return paginate(ctx.session, stmt, params, [UsageRecord.received_at,
                                                UsageRecord.usage_date, UsageRecord.id])


def delete_usage(ctx: Context, usage_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, UsageRecord).where(UsageRecord.id == usage_id))


def specification(ctx: Context, spec_id: str, *, lock: bool = False) -> UsageSpecification:
    return get_owned(ctx.session, UsageSpecification, ctx.tenant_id, spec_id,
                     "usageSpecification", lock=lock)


def existing_specifications(ctx: Context, ids: Iterable[str]) -> set[str]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set(ctx.session.scalars(scoped(ctx, UsageSpecification.id).where(
        UsageSpecification.id.in_(wanted))))


def list_specifications(ctx: Context,
                        params: ListParams) -> tuple[list[UsageSpecification], int]:
    stmt = apply_filters(scoped(ctx, UsageSpecification), params, SPECIFICATION_FILTERS)
    return paginate(ctx.session, stmt, params, [UsageSpecification.name,
                                                UsageSpecification.id])


def specification_in_use(ctx: Context, spec_id: str) -> int:
    return int(ctx.session.scalar(scoped(ctx, func.count(), of=[UsageRecord]).where(
        UsageRecord.usage_specification_id == spec_id)) or 0)


def delete_specification(ctx: Context, spec_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, UsageSpecification).where(
        UsageSpecification.id == spec_id))


def rejects_to_reprocess(ctx: Context, reason: str | None) -> list[UsageRecord]:
    """The rejected records (of ``reason``, or all), oldest first, locked."""
    stmt = scoped(ctx, UsageRecord).where(UsageRecord.status == UsageStatus.REJECTED.value)
    if reason is not None:
        stmt = stmt.where(UsageRecord.reject_reason == reason)
    return list(ctx.session.scalars(stmt.order_by(UsageRecord.received_at, UsageRecord.id)
                                    .with_for_update(key_share=True)))


# -- the batch pipeline (usage.batch): set-based statements -------------------------------

def existing_keys(ctx: Context, keys: Sequence[str]) -> dict[str, str]:
    """``{dedup_key: record id}`` of those ``keys`` already stored: one statement
    whatever their number (a JSON array parameter on SQLite, an array on PostgreSQL)."""
    if not keys:
        return {}
    from sqlalchemy import String, any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    from openbss.core import jsonx

    stmt = scoped(ctx, UsageRecord.dedup_key, UsageRecord.id)
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(UsageRecord.dedup_key == any_(
            bindparam("keys", list(keys), type_=ARRAY(String))))
    else:
        values = func.json_each(bindparam("keys", jsonx.dumps(list(keys)))) \
            .table_valued("value")
        stmt = stmt.where(UsageRecord.dedup_key.in_(values.select()))
    return {str(k): str(i) for k, i in ctx.session.execute(stmt)}


def insert_records(ctx: Context, frame: Any) -> int:
    """Insert a Polars frame of usage records (columns named as ``usage_record``'s,
    ``tenant_id`` set by the caller), skipping any whose ``(tenant, dedup_key)`` is stored
    already (``ON CONFLICT DO NOTHING``): the number inserted. ``core.db.insert_frame``:
    one driver executemany on SQLite, ``COPY`` through a temporary table on PostgreSQL."""
    from openbss.core.db import insert_frame

    return insert_frame(ctx.session, UsageRecord.__table__, frame,
                        skip_conflicts=("tenant_id", "dedup_key"))


def count_duplicates(ctx: Context, counts: Mapping[str, int]) -> None:
    """Add ``counts[id]`` copies to each record's ``duplicates`` (one executemany)."""
    if not counts:
        return
    from sqlalchemy import bindparam

    stmt = scoped_update(ctx, UsageRecord).where(UsageRecord.id == bindparam("b_id")) \
        .values(duplicates=UsageRecord.duplicates + bindparam("b_n"))
    ctx.session.connection().execute(stmt, [{"b_id": i, "b_n": n}
                                            for i, n in sorted(counts.items())])


def rejects_page(ctx: Context, *, reason: str | None, after: str | None,
                 limit: int) -> list[UsageRecord]:
    """Rejected records (of ``reason``) by id, after ``after``, locked for reprocessing."""
    stmt = scoped(ctx, UsageRecord).where(UsageRecord.status == UsageStatus.REJECTED.value)
    if reason is not None:
        stmt = stmt.where(UsageRecord.reject_reason == reason)
    if after is not None:
        stmt = stmt.where(UsageRecord.id > after)
    return list(ctx.session.scalars(stmt.order_by(UsageRecord.id).limit(limit)
                                    .with_for_update(key_share=True)))


def update_records(ctx: Context, changes: Sequence[dict[str, Any]]) -> None:
    """Update records by id in bulk (every change carries the same keys, ``id`` first)."""
    if not changes:
        return
    from sqlalchemy import bindparam

    names = [k for k in changes[0] if k != "id"]
    stmt = scoped_update(ctx, UsageRecord).where(UsageRecord.id == bindparam("b_id")) \
        .values({k: bindparam(f"b_{k}") for k in names})
    # Core executemany on the session's connection (one UPDATE statement, many rows)
    ctx.session.connection().execute(stmt, [{f"b_{k}": v for k, v in c.items()}
                                            for c in changes])


def records_between(ctx: Context, *, start: Any, end: Any,
                    account_id: str | None = None) -> list[Any]:
    """The rated (or re-rated, or billed) records dated in ``[start, end)`` — of one
    billing account, or of all — in time order: what a re-rate recomputes."""
    stmt = scoped(ctx, UsageRecord.id, UsageRecord.usage_date, UsageRecord.usage_type,
                  UsageRecord.metric, UsageRecord.quantity, UsageRecord.destination,
                  UsageRecord.product_id, UsageRecord.billing_account_id).where(
        UsageRecord.status.in_([UsageStatus.RATED.value, UsageStatus.RERATED.value,
                                UsageStatus.BILLED.value]),
        UsageRecord.usage_date >= start, UsageRecord.usage_date < end)
    if account_id is not None:
        stmt = stmt.where(UsageRecord.billing_account_id == account_id)
    return list(ctx.session.execute(stmt.order_by(UsageRecord.usage_date,
                                                  UsageRecord.id)))


def mark_rerated(ctx: Context, ids: Sequence[str], at: Any, status: str) -> None:
    """Records re-rated: their status (``rerated``) and last update."""
    for start in range(0, len(ids), 10_000):
        ctx.session.execute(
            scoped_update(ctx, UsageRecord).where(UsageRecord.id.in_(ids[start:start + 10_000]))
            .values(status=status, last_update=at, row_version=UsageRecord.row_version + 1),
            execution_options={"synchronize_session": False})


def set_reject_detail(ctx: Context, usage_id: str, detail: str) -> None:
    ctx.session.execute(scoped_update(ctx, UsageRecord).where(UsageRecord.id == usage_id)
                        .values(reject_detail=detail))
