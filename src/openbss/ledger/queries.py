"""Every SQL statement of the ledger context, tenant-scoped (core.queries)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert

from openbss.core.context import Context
from openbss.core.queries import scoped, scoped_update
from openbss.ledger.models import JournalEntry, JournalLine, LedgerAccount, LedgerCounter


def chart(ctx: Context) -> list[LedgerAccount]:
    return list(ctx.session.scalars(scoped(ctx, LedgerAccount).order_by(LedgerAccount.code)))


def insert_accounts(ctx: Context, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        ctx.session.connection().execute(insert(LedgerAccount), list(rows))


def reserve_numbers(ctx: Context, count: int) -> int:
    """Move the tenant's journal counter on by ``count``; the new last value."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if ctx.session.get_bind().dialect.name == "postgresql" else sqlite
    conn = ctx.session.connection()
    conn.execute(dialect.insert(LedgerCounter).on_conflict_do_nothing(
        index_elements=["tenant_id"]), {"tenant_id": ctx.tenant_id, "last_value": 0})
    c = LedgerCounter
    return int(conn.execute(scoped_update(ctx, c).values(last_value=c.last_value + count)
                            .returning(c.last_value)).scalar_one())


def posted_keys(ctx: Context, keys: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 5000):
        found.update(ctx.session.scalars(scoped(ctx, JournalEntry.source_key).where(
            JournalEntry.source_key.in_(wanted[start:start + 5000]))))
    return found


def insert_entries(ctx: Context, entries: Sequence[dict[str, Any]],
                   lines: Sequence[dict[str, Any]]) -> None:
    conn = ctx.session.connection()
    if entries:
        conn.execute(insert(JournalEntry), list(entries))
    if lines:
        conn.execute(insert(JournalLine), list(lines))


def entry_by_key(ctx: Context, source_key: str) -> JournalEntry | None:
    return ctx.session.scalars(scoped(ctx, JournalEntry).where(
        JournalEntry.source_key == source_key)).first()
