"""``Idempotency-Key`` on POST: stored answers, their lookup and their expiry."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from openbss.core.db import utcnow_column_default
from openbss.core.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


_RECORDS = cast(Table, IdempotencyRecord.__table__)
_STORE = insert(_RECORDS)  # built once; the values are bound parameters
_LOOKUP = select(_RECORDS).where(_RECORDS.c.tenant_id == bindparam("tenant_id"),
                                 _RECORDS.c.key == bindparam("key"))


def lookup(session: Session, tenant_id: str, key: str) -> IdempotencyRecord | None:
    """The stored answer for (tenant, key), or None. A Core statement (this runs before
    every POST with a key); the answer is a detached record, not part of the session."""
    row = session.connection().execute(_LOOKUP, {"tenant_id": tenant_id, "key": key}).first()
    if row is None:
        return None
    return IdempotencyRecord(**row._asdict())


def store(session: Session, **values: Any) -> None:
    """Insert a stored answer (a unique violation means a concurrent request with the
    same key committed first: the caller rolls back and replays it)."""
    session.connection().execute(_STORE, {"created_at": utcnow_column_default(), **values})


def purge_idempotency_records(
    session: Session, *, older_than: datetime, tenant_id: str | None = None
) -> int:
    """Forget stored idempotent answers created before ``older_than`` (of one tenant, or
    all); returns the count."""
    stmt = delete(IdempotencyRecord).where(IdempotencyRecord.created_at < older_than)
    if tenant_id is not None:
        stmt = stmt.where(IdempotencyRecord.tenant_id == tenant_id)
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
