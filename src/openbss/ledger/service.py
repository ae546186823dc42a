"""Use cases of the ledger: the chart of accounts and posting journal entries.

Every financial event posts one balanced entry **in the caller's transaction**
(:func:`post_many` / :func:`post`): if the event rolls back, so does its entry. An entry is
identified by its ``source_key`` (``customerBill:<id>``, ``payment:<id>``,
``payment:<id>:reversal`` …): posting a key again is a no-op, so a retried operation never
posts twice. Entries are never updated or deleted; :func:`reverse` posts the mirror entry.

Posting is set-based: a bill run of 200 invoices posts its 200 entries with one counter
move and two INSERTs (executemany).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from openbss.core import audit
from openbss.core.context import Context
from openbss.core.db import new_id
from openbss.core.errors import ValidationError
from openbss.ledger import queries
from openbss.ledger.book import DEFAULT_CHART, Entry, Line, check_balanced, compact
from openbss.ledger.models import JournalEntry, LedgerAccount


class UnknownLedgerAccount(ValidationError):
    code = "unknown_ledger_account"
    reason = "Unknown ledger account"


def ensure_chart(ctx: Context) -> list[LedgerAccount]:
    """The tenant's chart; the default chart is seeded on first use."""
    rows = queries.chart(ctx)
    if rows:
        return rows
    queries.insert_accounts(ctx, [{
        "id": new_id(), "tenant_id": ctx.tenant_id, "code": a.code, "name": a.name,
        "type": str(a.type), "role": a.role, "subledger": a.subledger, "active": True,
        "created_at": ctx.now, "row_version": 1} for a in DEFAULT_CHART])
    return queries.chart(ctx)


_RESOLVERS = "openbss.ledger.resolvers"


def resolver(ctx: Context) -> dict[str, str]:
    """``{role or "code:<code>": code}`` for the tenant's chart (read once per unit of
    work: a statement import posts hundreds of entries; :func:`forget_chart` after a
    change of the chart)."""
    cache: dict[str, dict[str, str]] = ctx.session.info.setdefault(_RESOLVERS, {})
    if ctx.tenant_id in cache:
        return cache[ctx.tenant_id]
    out: dict[str, str] = {}
    for row in ensure_chart(ctx):
        out[f"code:{row.code}"] = row.code
        if row.role:
            out[row.role] = row.code
    cache[ctx.tenant_id] = out
    return out


def forget_chart(ctx: Context) -> None:
    ctx.session.info.get(_RESOLVERS, {}).pop(ctx.tenant_id, None)


def post_many(ctx: Context, entries: Sequence[Entry], *, on: date | None = None
              ) -> list[str]:
    """Post every entry not posted yet (by ``source_key``); returns the new entries' ids.
    ``on``: the business date of the entries (default: today in UTC by ``ctx.now``)."""
    if not entries:
        return []
    accounts = resolver(ctx)
    done = queries.posted_keys(ctx, [e.source_key for e in entries])
    todo: list[tuple[Entry, list[Line]]] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.source_key in done or entry.source_key in seen:
            continue
        seen.add(entry.source_key)
        lines = compact(entry.lines)
        check_balanced(lines)
        for line in lines:
            if line.account not in accounts:
                raise UnknownLedgerAccount(
                    f"{entry.kind} {entry.source_id}: no account of the chart plays "
                    f"{line.account!r} (GET /api/v1/ledger/accounts)", field="account")
        if lines:
            todo.append((entry, lines))
    if not todo:
        return []
    default_date = on or ctx.now.date()
    last = queries.reserve_numbers(ctx, len(todo))
    first = last - len(todo) + 1
    entry_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for n, (entry, lines) in enumerate(todo):
        entry_id = new_id()
        entry_date = entry.on or default_date
        entry_rows.append({
            "id": entry_id, "tenant_id": ctx.tenant_id, "number": first + n,
            "kind": entry.kind, "source_type": entry.source_type,
            "source_id": entry.source_id, "source_key": entry.source_key,
            "entry_date": entry_date, "posted_at": ctx.now, "currency": entry.currency,
            "memo": entry.memo, "billing_account_id": entry.billing_account_id,
            "reverses_id": entry.reverses_id, "created_by": ctx.actor})
        for pos, line in enumerate(lines, start=1):
            line_rows.append({
                "tenant_id": ctx.tenant_id, "entry_id": entry_id, "position": pos,
                "account_code": accounts[line.account], "debit": line.debit,
                "credit": line.credit, "currency": entry.currency,
                "billing_account_id": line.billing_account_id, "dimension": line.dimension,
                "entry_date": entry_date})
    queries.insert_entries(ctx, entry_rows, line_rows)
    audit.record_many(ctx, [{
        "action": "create", "resource_type": "journalEntry", "resource_id": r["id"],
        "after": {"number": r["number"], "kind": r["kind"], "source": r["source_key"],
                  "currency": r["currency"]}} for r in entry_rows])
    return [r["id"] for r in entry_rows]


def post(ctx: Context, entry: Entry, *, on: date | None = None) -> str | None:
    """Post one entry (see :func:`post_many`); its id, or None if already posted."""
    ids = post_many(ctx, [entry], on=on)
    return ids[0] if ids else None


def entry_by_key(ctx: Context, source_key: str) -> JournalEntry | None:
    return queries.entry_by_key(ctx, source_key)
