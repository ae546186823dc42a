"""The append-only, hash-chained audit log.

Each tenant's rows form a chain: ``hash = sha256(prev_hash || canonical(row))`` and
``seq`` counts 1, 2, 3 … The tenant row keeps the head (last seq and hash), so a
deleted row, an altered row or a truncated tail are all detected by :func:`verify`.
Appending locks the tenant row, which serializes audit appends within one tenant.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openbss.core.context import Context
from openbss.core.models import AuditEntry, Tenant

GENESIS = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(row: AuditEntry) -> str:
    """``sha256(prev_hash || canonical JSON of the row's content)``."""
    body = _canonical(
        {
            "tenant": row.tenant_id,
            "seq": row.seq,
            "at": row.occurred_at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "type": row.resource_type,
            "id": row.resource_id,
            "before": row.before,
            "after": row.after,
            "request": row.request_id,
        }
    )
    return hashlib.sha256((row.prev_hash + body).encode()).hexdigest()


def jsonable(value: Any) -> Any:
    """Round-trip through JSON so stored values equal what was hashed."""
    return None if value is None else json.loads(_canonical(value))


def record(
    ctx: Context,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one audit row in the caller's transaction."""
    session = ctx.session
    # FOR NO KEY UPDATE: serializes appends per tenant without conflicting with the
    # KEY SHARE locks that foreign keys to the tenant row take (which would deadlock).
    tenant = session.get(
        Tenant, ctx.tenant_id, with_for_update={"key_share": True}, populate_existing=True
    )
    assert tenant is not None
    seq = tenant.audit_seq + 1
    prev = tenant.audit_head or GENESIS
    entry = AuditEntry(
        tenant_id=tenant.id,
        seq=seq,
        occurred_at=ctx.now,
        actor=ctx.actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        before=jsonable(before),
        after=jsonable(after),
        request_id=ctx.request_id,
        prev_hash=prev,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    tenant.audit_seq = seq
    tenant.audit_head = entry.hash
    session.flush()
    return entry


@dataclass(frozen=True)
class Break:
    tenant: str
    seq: int
    reason: str


def verify(session: Session, tenant_name: str | None = None) -> tuple[int, list[Break]]:
    """Check every tenant's chain (or one); return rows checked and each tenant's first
    break."""
    checked = 0
    breaks: list[Break] = []
    tenants = select(Tenant).order_by(Tenant.name)
    if tenant_name is not None:
        tenants = tenants.where(Tenant.name == tenant_name)
    for tenant in session.scalars(tenants):
        prev, expected_seq, broken = GENESIS, 1, None
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.tenant_id == tenant.id).order_by(AuditEntry.seq)
        )
        for row in rows:
            checked += 1
            if row.seq != expected_seq:
                broken = Break(tenant.name, expected_seq, f"row {expected_seq} is missing")
                break
            if row.prev_hash != prev:
                broken = Break(tenant.name, row.seq, "prev_hash does not match previous row")
                break
            if entry_hash(row) != row.hash:
                broken = Break(tenant.name, row.seq, "row content does not match its hash")
                break
            prev, expected_seq = row.hash, expected_seq + 1
        if broken is None and (expected_seq - 1 != tenant.audit_seq):
            broken = Break(
                tenant.name, expected_seq, f"chain ends at {expected_seq - 1}, "
                f"head says {tenant.audit_seq}: rows were deleted"
            )
        if broken is None and tenant.audit_seq and prev != tenant.audit_head:
            broken = Break(tenant.name, tenant.audit_seq, "head hash does not match last row")
        if broken is not None:
            breaks.append(broken)
    return checked, breaks
