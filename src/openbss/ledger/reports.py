"""What finance reads from the ledger: the trial balance, the journal, the receivable
sub-ledger and the CSV export for an ERP.

Sums are exact: amounts are added as ``Decimal`` here (on SQLite the columns are text,
which SQL would sum as floats). Lines are streamed in batches, never loaded one ORM
object per line.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.queries import scoped
from openbss.core.tmf import ListParams, apply_filters, href, iso, paginate
from openbss.ledger.models import JournalEntry, JournalLine, LedgerAccount
from openbss.ledger.paths import ENTRIES_PATH
from openbss.ledger.service import ensure_chart

ZERO = Decimal(0)
NORMAL_DEBIT = frozenset({"asset", "expense"})
EXPORT_COLUMNS = ("entryNumber", "entryDate", "kind", "sourceType", "sourceId",
                  "accountCode", "accountName", "debit", "credit", "currency",
                  "billingAccountId", "dimension", "memo")
ENTRY_FILTERS: dict[str, Any] = {
    "kind": JournalEntry.kind, "entryDate": JournalEntry.entry_date,
    "billingAccount.id": JournalEntry.billing_account_id,
    "sourceType": JournalEntry.source_type, "sourceId": JournalEntry.source_id,
    "currency": JournalEntry.currency, "number": JournalEntry.number}


#: the years a period may be in (the usage dates openbss accepts)
FIRST_YEAR, LAST_YEAR = 1900, 8999


def period_bounds(period: str, *, field: str = "period") -> tuple[date, date]:
    """``2026-11`` → (2026-11-01, 2026-11-30); ``2026`` → the year."""
    try:
        if len(period) == 7 and period[4] == "-":
            year, month = int(period[:4]), int(period[5:])
            last = calendar.monthrange(year, month)[1]
            bounds = date(year, month, 1), date(year, month, last)
        elif len(period) == 4:
            year = int(period)
            bounds = date(year, 1, 1), date(year, 12, 31)
        else:
            raise ValueError(period)
    except ValueError:
        raise ValidationError(f"{field}: {period!r} is not a month (2026-11) or a year (2026)",
                              field=field) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError(f"{field}: {period!r} is outside the years {FIRST_YEAR}–"
                              f"{LAST_YEAR}", field=field)
    return bounds


def _line_rows(ctx: Context, *, start: date | None, end: date | None,
               currency: str | None) -> Iterator[Any]:
    stmt = scoped(ctx, JournalLine.account_code, JournalLine.currency, JournalLine.debit,
                  JournalLine.credit, JournalLine.billing_account_id)
    if start is not None:
        stmt = stmt.where(JournalLine.entry_date >= start)
    if end is not None:
        stmt = stmt.where(JournalLine.entry_date <= end)
    if currency is not None:
        stmt = stmt.where(JournalLine.currency == currency)
    yield from ctx.session.execute(stmt.execution_options(yield_per=5000))


def currencies(ctx: Context) -> list[str]:
    return sorted(set(ctx.session.scalars(scoped(ctx, JournalEntry.currency).distinct())))


def _currency(ctx: Context, currency: str | None) -> str | None:
    if currency is not None:
        return currency.upper()
    found = currencies(ctx)
    if len(found) > 1:
        raise ValidationError(f"currency: the journal has entries in {', '.join(found)}; "
                              "a trial balance is in one currency (?currency=EUR)",
                              field="currency")
    return found[0] if found else None


@dataclass(frozen=True)
class TrialRow:
    code: str
    name: str
    type: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Debit minus credit for asset and expense accounts, the other way round for
        liability, equity and revenue accounts (the side they normally carry)."""
        return self.debit - self.credit if self.type in NORMAL_DEBIT else \
            self.credit - self.debit


def trial_balance(ctx: Context, *, start: date | None = None, end: date | None = None,
                  currency: str | None = None) -> dict[str, Any]:
    """Debits and credits per account of the lines dated ``start``..``end`` (both
    included; open ends: from the beginning, up to now)."""
    if start and end and end < start:
        raise ValidationError("to: before from", field="to")
    cur = _currency(ctx, currency)
    chart = {a.code: a for a in ensure_chart(ctx)}
    debit: dict[str, Decimal] = {}
    credit: dict[str, Decimal] = {}
    if cur is not None:
        for code, _, dr, cr, _ in _line_rows(ctx, start=start, end=end, currency=cur):
            debit[code] = debit.get(code, ZERO) + dr
            credit[code] = credit.get(code, ZERO) + cr
    rows = [TrialRow(code, chart[code].name if code in chart else code,
                     chart[code].type if code in chart else "asset",
                     debit.get(code, ZERO), credit.get(code, ZERO))
            for code in sorted(set(chart) | set(debit))]
    total_dr = sum((r.debit for r in rows), ZERO)
    total_cr = sum((r.credit for r in rows), ZERO)
    return {"from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None, "currency": cur,
            "accounts": [{"code": r.code, "name": r.name, "type": r.type, "debit": r.debit,
                          "credit": r.credit, "balance": r.balance} for r in rows],
            "totalDebit": total_dr, "totalCredit": total_cr,
            "balanced": total_dr == total_cr}


def receivables(ctx: Context, *, account_ids: Sequence[str] | None = None,
                currency: str | None = None) -> list[dict[str, Any]]:
    """Per billing account: its receivable (Dr − Cr), its customer credit (Cr − Dr) and
    its balance (receivable − credit) — what the account owes by the books."""
    roles = {a.code: a.role for a in ensure_chart(ctx) if a.subledger}
    stmt = scoped(ctx, JournalLine.billing_account_id, JournalLine.account_code,
                  JournalLine.currency, JournalLine.debit, JournalLine.credit).where(
        JournalLine.billing_account_id.is_not(None),
        JournalLine.account_code.in_(list(roles)))
    if account_ids:
        stmt = stmt.where(JournalLine.billing_account_id.in_(list(account_ids)))
    if currency:
        stmt = stmt.where(JournalLine.currency == currency.upper())
    per: dict[tuple[str, str], dict[str, Decimal]] = {}
    for account_id, code, cur, dr, cr in ctx.session.execute(
            stmt.execution_options(yield_per=5000)):
        acc = per.setdefault((account_id, cur), {"receivable": ZERO, "credit": ZERO})
        if roles.get(code) == "customerCredit":
            acc["credit"] += cr - dr
        else:
            acc["receivable"] += dr - cr
    return [{"billingAccount": {"id": account_id}, "currency": cur,
             "receivable": v["receivable"], "customerCredit": v["credit"],
             "balance": v["receivable"] - v["credit"]}
            for (account_id, cur), v in sorted(per.items())]


# -- the journal -------------------------------------------------------------------------------

def list_entries(ctx: Context, params: ListParams, *, start: date | None = None,
                 end: date | None = None) -> tuple[list[JournalEntry], int]:
    stmt = apply_filters(scoped(ctx, JournalEntry), params, ENTRY_FILTERS)
    if start is not None:
        stmt = stmt.where(JournalEntry.entry_date >= start)
    if end is not None:
        stmt = stmt.where(JournalEntry.entry_date <= end)
    return paginate(ctx.session, stmt, params, [JournalEntry.number])


def lines_of(ctx: Context, entry_ids: Sequence[str]) -> dict[str, list[JournalLine]]:
    out: dict[str, list[JournalLine]] = {}
    ids = list(entry_ids)
    for start in range(0, len(ids), 900):
        for line in ctx.session.scalars(scoped(ctx, JournalLine).where(
                JournalLine.entry_id.in_(ids[start:start + 900])).order_by(
                JournalLine.entry_id, JournalLine.position)):
            out.setdefault(line.entry_id, []).append(line)
    return out


def render_entry(ctx: Context, row: JournalEntry, lines: Sequence[JournalLine],
                 names: dict[str, str]) -> dict[str, Any]:
    return {"id": row.id, "href": href(ctx.base_url, ENTRIES_PATH, row.id),
            "number": row.number, "entryDate": row.entry_date.isoformat(),
            "postedAt": iso(row.posted_at), "kind": row.kind,
            "source": {"type": row.source_type, "id": row.source_id, "key": row.source_key},
            "currency": row.currency, "memo": row.memo,
            "billingAccount": {"id": row.billing_account_id} if row.billing_account_id
            else None, "reverses": {"id": row.reverses_id} if row.reverses_id else None,
            "lines": [{"account": {"code": x.account_code, "name": names.get(x.account_code)},
                       "debit": x.debit, "credit": x.credit,
                       "billingAccount": {"id": x.billing_account_id}
                       if x.billing_account_id else None, "dimension": x.dimension}
                      for x in lines]}


def render_entries(ctx: Context, rows: Sequence[JournalEntry]) -> list[dict[str, Any]]:
    lines = lines_of(ctx, [r.id for r in rows])
    names = {a.code: a.name for a in ensure_chart(ctx)}
    return [render_entry(ctx, r, lines.get(r.id, []), names) for r in rows]


def export_csv(ctx: Context, *, start: date, end: date) -> Iterator[str]:
    """The journal lines dated ``start``..``end`` as CSV (a header, then one row per line,
    in entry number order): what an ERP's general-ledger import takes."""
    names = {a.code: a.name for a in ensure_chart(ctx)}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buf.getvalue()
    e, x = JournalEntry, JournalLine
    stmt = scoped(ctx, e.number, e.entry_date, e.kind, e.source_type, e.source_id,
                  x.account_code, x.debit, x.credit, x.currency, x.billing_account_id,
                  x.dimension, e.memo).join_from(e, x, x.entry_id == e.id).where(
        e.entry_date >= start, e.entry_date <= end).order_by(
        e.number, x.position).execution_options(yield_per=5000)
    for row in ctx.session.execute(stmt):
        buf.seek(0)
        buf.truncate()
        (number, day, kind, stype, sid, code, dr, cr, cur, ba, dim, memo) = row
        writer.writerow((number, day.isoformat(), kind, stype, sid, code, names.get(code, ""),
                         format(dr, "f"), format(cr, "f"), cur, ba or "", dim or "",
                         memo or ""))
        yield buf.getvalue()


def chart_doc(row: LedgerAccount) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "type": row.type, "role": row.role,
            "subledger": row.subledger, "active": row.active}
