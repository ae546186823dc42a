"""Every SQL statement of the usage context, tenant-scoped through core.queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_

from openbss.core.context import Context
from openbss.core.queries import get_owned, scoped, scoped_delete
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
    return paginate(ctx.session, stmt, params, [UsageRecord.received_at, UsageRecord.id])


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
