"""``Idempotency-Key`` on POST: stored answers, their lookup and their expiry."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openbss.core.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def lookup(session: Session, tenant_id: str, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
        )
    )


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
