"""The append-only, hash-chained audit log.

Each tenant's rows form a chain: ``hash = sha256(prev_hash || canonical(row))`` and
``seq`` counts 1, 2, 3 … The tenant row keeps the head (last seq and hash), so a
deleted row, an altered row or a truncated tail are all detected by :func:`verify`.
Rows are chained when their transaction commits, under the tenant row's lock, which
serializes the appends of one tenant for the commit's last statements only.

Personal data (crypto-shredding): for resource types registered with
:func:`register_personal_resource_type`, ``before``/``after`` are stored encrypted
with a data key of that resource (``{"@encrypted": token, "@key": key id}``). Erasing the
person (:func:`shred`) destroys the keys: the rows keep their hashes, so the chain still
verifies, but what they said about the person can no longer be read (:func:`reveal`
shows ``{"@erased": true}``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from openbss.core import crypto
from openbss.core.context import Context
from openbss.core.models import AuditDataKey, AuditEntry, Tenant

GENESIS = "0" * 64
PERSONAL_RESOURCE_TYPES: set[str] = set()


def register_personal_resource_type(resource_type: str) -> None:
    """Audit payloads of this resource type hold personal data: encrypt them per resource
    so that erasing the person can shred them."""
    PERSONAL_RESOURCE_TYPES.add(resource_type)


def _data_key(session: Session, tenant_id: str, resource_type: str,
              resource_id: str) -> AuditDataKey:
    key = session.scalar(select(AuditDataKey).where(
        AuditDataKey.tenant_id == tenant_id, AuditDataKey.resource_type == resource_type,
        AuditDataKey.resource_id == resource_id, AuditDataKey.destroyed_at.is_(None)))
    if key is None:
        key = AuditDataKey(tenant_id=tenant_id, resource_type=resource_type,
                           resource_id=resource_id,
                           key=crypto.encrypt(Fernet.generate_key().decode()))
        session.add(key)
        session.flush()
    return key


def _seal(key: AuditDataKey, value: Any) -> Any:
    if value is None:
        return None
    assert key.key is not None
    token = Fernet(crypto.decrypt(key.key).encode()).encrypt(_canonical(value).encode())
    return {"@encrypted": token.decode(), "@key": key.id}


def reveal(session: Session, value: Any) -> Any:
    """The readable form of a stored audit payload (``{"@erased": true}`` once shredded)."""
    if not (isinstance(value, dict) and "@encrypted" in value):
        return value
    key = session.get(AuditDataKey, value.get("@key"))
    if key is None or key.key is None:
        return {"@erased": True}
    try:
        plain = Fernet(crypto.decrypt(key.key).encode()).decrypt(value["@encrypted"].encode())
    except (InvalidToken, ValueError):
        return {"@erased": True}
    return json.loads(plain)


def shred(ctx: Context, *, resources: list[tuple[str, str]]) -> int:
    """Destroy the data keys of these ``(resource_type, resource_id)`` pairs; returns how
    many keys were destroyed. Later audit rows of the resources get a new key."""
    destroyed = 0
    for resource_type, resource_id in resources:
        result = ctx.session.execute(
            update(AuditDataKey)
            .where(AuditDataKey.tenant_id == ctx.tenant_id,
                   AuditDataKey.resource_type == resource_type,
                   AuditDataKey.resource_id == resource_id,
                   AuditDataKey.destroyed_at.is_(None))
            .values(key=None, destroyed_at=ctx.now)
        )
        destroyed += int(getattr(result, "rowcount", 0) or 0)
    return destroyed


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
) -> None:
    """Append one audit row in the caller's transaction.

    The row is chained when the transaction commits (:func:`_append_pending`): the chain
    head's lock is then held for the last statements only, not for the whole
    transaction — on PostgreSQL, concurrent writers of one tenant wait for each other's
    commit, never for each other's work. A savepoint that rolls back takes its rows with
    it, as the transaction's rollback does.
    """
    session = ctx.session
    before_j, after_j = jsonable(before), jsonable(after)
    if resource_type in PERSONAL_RESOURCE_TYPES and (before_j or after_j):
        key = _data_key(session, ctx.tenant_id, resource_type, resource_id)
        before_j, after_j = _seal(key, before_j), _seal(key, after_j)
    _defer(session, [{
        "tenant_id": ctx.tenant_id, "occurred_at": ctx.now, "actor": ctx.actor,
        "action": action, "resource_type": resource_type, "resource_id": resource_id,
        "before": before_j, "after": after_j, "request_id": ctx.request_id}])


_PENDING = "openbss.audit.pending"


def _defer(session: Session, rows: list[dict[str, Any]]) -> None:
    """Keep ``rows`` (without seq and hashes) for the commit, with the (innermost)
    transaction they were written in."""
    session.connection()  # the transaction the rows belong to has begun
    transaction = session.get_nested_transaction() or session.get_transaction()
    pending = session.info.setdefault(_PENDING, [])
    pending.extend((transaction, row) for row in rows)


def _append_pending(session: Session) -> None:
    """``before_commit``: chain and write the transaction's audit rows, per tenant one
    head read under the tenant row lock (tenants in id order: no deadlock between two
    committers), one INSERT and one head move. What the rows describe is flushed first,
    so no other row lock is awaited while the head is held."""
    if session.in_nested_transaction():
        return  # a savepoint released: its rows wait for the outer commit
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for _transaction, row in pending:
        by_tenant.setdefault(row["tenant_id"], []).append(row)
    conn = session.connection()
    for tenant_id in sorted(by_tenant):
        rows = by_tenant[tenant_id]
        # FOR NO KEY UPDATE (_HEAD): serializes appends per tenant without conflicting
        # with the KEY SHARE locks that foreign keys to the tenant row take
        head = conn.execute(_HEAD, {"head_tenant": tenant_id}).one()
        seq, prev = head.audit_seq, head.audit_head or GENESIS
        for row in rows:
            seq += 1
            row["seq"], row["prev_hash"] = seq, prev
            # the hash over the columns entry_hash reads
            row["hash"] = prev = entry_hash(cast(AuditEntry, _Row(row)))
        conn.execute(_INSERT, rows)
        conn.execute(_MOVE_HEAD, {"head_tenant": tenant_id, "new_seq": seq, "new_head": prev})


def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    """``after_soft_rollback``: the rows written in the transaction (or savepoint) that
    rolled back, and in the savepoints inside it, are forgotten."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        return

    def inside(transaction: Any) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    session.info[_PENDING] = [(t, row) for t, row in pending if not inside(t)]


def _forget(session: Session, transaction: Any) -> None:
    """``after_transaction_end`` of the root transaction: nothing outlives it (a closed
    session that never committed)."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


sa_event.listen(Session, "before_commit", _append_pending)
sa_event.listen(Session, "after_soft_rollback", _drop_rolled_back)
sa_event.listen(Session, "after_transaction_end", _forget)


# The append's three statements, built once: the chain head under the tenant row lock,
# the rows, the new head.
_TENANTS = cast(Table, Tenant.__table__)
_HEAD = (select(_TENANTS.c.audit_seq, _TENANTS.c.audit_head)
         .where(_TENANTS.c.id == bindparam("head_tenant")).with_for_update(key_share=True))
_INSERT = insert(cast(Table, AuditEntry.__table__))
_MOVE_HEAD = (update(_TENANTS).where(_TENANTS.c.id == bindparam("head_tenant"))
              .values(audit_seq=bindparam("new_seq"), audit_head=bindparam("new_head")))


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


def record_many(ctx: Context, entries: list[dict[str, Any]]) -> int:
    """Append several audit rows at once (a bill run's batch of invoices): the same rows
    :func:`record` writes, chained at the commit with the others. ``entries``: dicts of
    ``action``, ``resource_type``, ``resource_id`` and optional ``before``/``after``
    (not for personal resource types, whose rows :func:`record` seals)."""
    if not entries:
        return 0
    if any(e["resource_type"] in PERSONAL_RESOURCE_TYPES for e in entries):
        raise ValueError("record_many does not seal personal data: use record()")
    _defer(ctx.session, [{
        "tenant_id": ctx.tenant_id, "occurred_at": ctx.now, "actor": ctx.actor,
        "action": e["action"], "resource_type": e["resource_type"],
        "resource_id": e["resource_id"], "before": jsonable(e.get("before")),
        "after": jsonable(e.get("after")), "request_id": ctx.request_id} for e in entries])
    return len(entries)


class _Row:
    """Attribute access to a row's values (what :func:`entry_hash` reads)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
