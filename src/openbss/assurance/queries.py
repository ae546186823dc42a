"""What revenue assurance reads: column tuples from the tables of every context below it,
a fixed number of statements per report whatever the volume (no ORM object per row).

Amounts are summed as ``Decimal`` in Python (on SQLite the money columns are text, which
SQL would add as floats); rows are streamed with ``yield_per``. Instants of a period are
``[lo, hi)`` in UTC; ``None`` bounds mean "from the beginning" / "up to now".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_

from openbss.billing.models import BillRun, BillRunAccount, Invoice, InvoiceLine
from openbss.core.context import Context
from openbss.core.periods import local_date
from openbss.core.queries import scoped
from openbss.ledger.models import JournalEntry, JournalLine
from openbss.party.models import Account
from openbss.payments.models import Payment, PaymentAllocation, Refund
from openbss.rating.models import RatedUsage
from openbss.usage.models import UsageRecord, UsageStatus

Span = tuple[datetime | None, datetime | None]
_BATCH = 5000


def _within(column: Any, span: Span) -> list[Any]:
    lo, hi = span
    out = []
    if lo is not None:
        out.append(column >= lo)
    if hi is not None:
        out.append(column < hi)
    return out


def _stream(ctx: Context, stmt: Any) -> Iterator[Any]:
    """Rows of a column-only ``stmt``, in batches, through Core (no ORM loading)."""
    return iter(ctx.session.connection().execute(stmt.execution_options(yield_per=_BATCH)))


# -- usage ------------------------------------------------------------------------------------

def _usage_when() -> Any:
    return func.coalesce(UsageRecord.usage_date, UsageRecord.received_at)


def usage_counts(ctx: Context, span: Span) -> list[tuple[str, str | None, int, int]]:
    """(status, reject reason, records, copies received after them) of the period's
    records (by usage date; a record without one by its receipt)."""
    stmt = scoped(ctx, UsageRecord.status, UsageRecord.reject_reason, func.count(),
                  func.coalesce(func.sum(UsageRecord.duplicates), 0)).where(
        *_within(_usage_when(), span)).group_by(UsageRecord.status, UsageRecord.reject_reason)
    return [(s, r, int(n), int(d)) for s, r, n, d in ctx.session.execute(stmt)]


_RATED_STATES = (UsageStatus.RATED.value, UsageStatus.RERATED.value, UsageStatus.BILLED.value)
_OPEN_STATES = (UsageStatus.RECEIVED.value, UsageStatus.GUIDED.value,
                UsageStatus.RECYCLED.value)


def _has_current_rating(ctx: Context) -> Any:
    return scoped(ctx, RatedUsage.id).where(RatedUsage.usage_id == UsageRecord.id,
                                            RatedUsage.current).exists()


def unaccounted_usage(ctx: Context, span: Span, limit: int) -> list[Any]:
    """Records of the period that are neither rated, nor rejected with a reason: still in
    an intermediate state, rejected without a reason, rated without a current rating, or
    rejected but still carrying one."""
    stmt = scoped(ctx, UsageRecord.id, UsageRecord.record_id, UsageRecord.source,
                  UsageRecord.status, UsageRecord.reject_reason,
                  _has_current_rating(ctx).label("rated")).where(
        *_within(_usage_when(), span),
        or_(UsageRecord.status.in_(_OPEN_STATES),
            and_(UsageRecord.status == UsageStatus.REJECTED.value,
                 or_(UsageRecord.reject_reason.is_(None), _has_current_rating(ctx))),
            and_(UsageRecord.status.in_(_RATED_STATES), ~_has_current_rating(ctx)))
    ).order_by(UsageRecord.id).limit(limit)
    return list(ctx.session.execute(stmt))


def orphan_ratings(ctx: Context, span: Span, limit: int) -> list[Any]:
    """Current rated rows of the period whose usage record is missing."""
    record = scoped(ctx, UsageRecord.id).where(UsageRecord.id == RatedUsage.usage_id).exists()
    stmt = scoped(ctx, RatedUsage.id, RatedUsage.usage_id).where(
        RatedUsage.current, *_within(RatedUsage.usage_date, span), ~record
    ).order_by(RatedUsage.id).limit(limit)
    return list(ctx.session.execute(stmt))


def rated_rows(ctx: Context, span: Span) -> Iterator[Any]:
    """The period's current rated rows: usage id, amount, currency, invoice, account,
    product, price, usage type, service period, rated at, correction flag."""
    return _stream(ctx, scoped(
        ctx, RatedUsage.usage_id, RatedUsage.amount, RatedUsage.currency,
        RatedUsage.invoice_id, RatedUsage.billing_account_id, RatedUsage.product_id,
        RatedUsage.price_id, RatedUsage.usage_type, RatedUsage.period_start,
        RatedUsage.period_end, RatedUsage.rated_at, RatedUsage.correction).where(
        RatedUsage.current, *_within(RatedUsage.usage_date, span)))


def rated_on_bills(ctx: Context, bill_ids: list[str]) -> Iterator[Any]:
    """(invoice id, amount, correction) of every rated row (any generation) marked with
    one of ``bill_ids``."""
    for start in range(0, len(bill_ids), 900):
        yield from _stream(ctx, scoped(
            ctx, RatedUsage.invoice_id, RatedUsage.amount, RatedUsage.correction).where(
            RatedUsage.invoice_id.in_(bill_ids[start:start + 900])))


# -- bill runs and accounts -------------------------------------------------------------------

def covered_until(ctx: Context) -> dict[str, datetime]:
    """Per billing account: the latest ``asOf`` of a completed (not dry) bill run that
    billed it or found nothing to bill (a failed account is not covered)."""
    stmt = scoped(ctx, BillRunAccount.billing_account_id, func.max(BillRun.as_of),
                  of=[BillRun]).join(BillRun, BillRun.id == BillRunAccount.bill_run_id
                                     ).where(BillRun.state == "completed", ~BillRun.dry_run,
                                             BillRunAccount.state != "failed"
                                             ).group_by(BillRunAccount.billing_account_id)
    return {str(a): at for a, at in ctx.session.execute(stmt)}


def payers(ctx: Context) -> dict[str, str]:
    """``{child account id: parent id}`` of the accounts their parent pays for."""
    stmt = scoped(ctx, Account.id, Account.parent_id).where(
        Account.paid_by_parent, Account.parent_id.is_not(None))
    return {str(c): str(p) for c, p in ctx.session.execute(stmt)}


# -- bills ------------------------------------------------------------------------------------

def bills(ctx: Context, start: date | None, end: date | None) -> list[Any]:
    """The invoices and credit notes dated ``start``..``end`` (both included) by the date
    they show: their bill date in their own time zone, as the ledger books them."""
    lo = datetime.combine(start - timedelta(days=1), time(0), tzinfo=UTC) if start else None
    hi = datetime.combine(end + timedelta(days=2), time(0), tzinfo=UTC) if end else None
    stmt = scoped(ctx, Invoice.id, Invoice.bill_no, Invoice.kind, Invoice.billing_account_id,
                  Invoice.currency, Invoice.tax_excluded, Invoice.tax_included,
                  Invoice.amount_due, Invoice.remaining_amount, Invoice.corrects_id,
                  Invoice.bill_date, Invoice.body["timeZone"].as_string().label("time_zone"),
                  Invoice.body["taxItem"].label("tax_items"),
                  Invoice.body["writeOff"].label("write_offs")).where(
        *_within(Invoice.bill_date, (lo, hi))).order_by(Invoice.bill_date, Invoice.bill_no)
    rows = []
    for row in _stream(ctx, stmt):
        day = local_date(row.bill_date, row.time_zone or "UTC")
        if (start is None or day >= start) and (end is None or day <= end):
            rows.append(row)
    return rows


def lines_of(ctx: Context, bill_ids: list[str]) -> Iterator[Any]:
    """(invoice id, type, tax excluded, tax included, source key, basis amount) of the
    bills' lines (the basis amount read in SQL: no line body is decoded)."""
    basis = InvoiceLine.body["basisAmount"].as_string()
    for start in range(0, len(bill_ids), 900):
        yield from _stream(ctx, scoped(
            ctx, InvoiceLine.invoice_id, InvoiceLine.type, InvoiceLine.tax_excluded,
            InvoiceLine.tax_included, InvoiceLine.source_key, basis).where(
            InvoiceLine.invoice_id.in_(bill_ids[start:start + 900])))


def credit_notes_correcting(ctx: Context, bill_ids: list[str]) -> Iterator[Any]:
    """(corrected invoice id, credit note amount due, remaining) of every credit note
    that corrects one of ``bill_ids`` (in any period)."""
    for start in range(0, len(bill_ids), 900):
        yield from _stream(ctx, scoped(
            ctx, Invoice.corrects_id, Invoice.amount_due, Invoice.remaining_amount).where(
            Invoice.kind == "creditNote", Invoice.corrects_id.in_(bill_ids[start:start + 900])))


def allocations_to(ctx: Context, bill_ids: list[str]) -> Iterator[Any]:
    """(bill id, payment id, amount) of every allocation to one of ``bill_ids``."""
    for start in range(0, len(bill_ids), 900):
        yield from _stream(ctx, scoped(
            ctx, PaymentAllocation.bill_id, PaymentAllocation.payment_id,
            PaymentAllocation.amount).where(
            PaymentAllocation.bill_id.in_(bill_ids[start:start + 900])))


def open_amounts(ctx: Context) -> Iterator[Any]:
    """(billing account, currency, remaining) of every bill with something remaining."""
    return _stream(ctx, scoped(ctx, Invoice.billing_account_id, Invoice.currency,
                               Invoice.remaining_amount).where(Invoice.remaining_amount != 0))


# -- payments ---------------------------------------------------------------------------------

def payments(ctx: Context, span: Span) -> list[Any]:
    """The period's payments (by payment date)."""
    stmt = scoped(ctx, Payment.id, Payment.billing_account_id, Payment.status,
                  Payment.currency, Payment.amount, Payment.unapplied, Payment.refunded
                  ).where(*_within(Payment.payment_date, span)).order_by(Payment.payment_date,
                                                                         Payment.id)
    return list(ctx.session.execute(stmt))


def allocations_of(ctx: Context, payment_ids: list[str]) -> Iterator[Any]:
    """(payment id, amount) of every allocation of one of ``payment_ids``."""
    for start in range(0, len(payment_ids), 900):
        yield from _stream(ctx, scoped(
            ctx, PaymentAllocation.payment_id, PaymentAllocation.amount).where(
            PaymentAllocation.payment_id.in_(payment_ids[start:start + 900])))


def unapplied_credit(ctx: Context) -> Iterator[Any]:
    """(billing account, currency, unapplied) of received payments with credit left."""
    return _stream(ctx, scoped(ctx, Payment.billing_account_id, Payment.currency,
                               Payment.unapplied).where(Payment.status == "done",
                                                        Payment.unapplied != 0))


def refunds(ctx: Context, span: Span) -> list[Any]:
    """The period's refunds that were paid out (by refund date)."""
    stmt = scoped(ctx, Refund.id, Refund.currency, Refund.amount).where(
        Refund.status == "done", *_within(Refund.refund_date, span)).order_by(Refund.id)
    return list(ctx.session.execute(stmt))


# -- ledger -----------------------------------------------------------------------------------

def subledger_moves(ctx: Context, keys: list[str], codes: set[str]) -> dict[str, Any]:
    """Per journal entry source key among ``keys`` that was posted: debit − credit of its
    lines on the accounts ``codes`` (the customer sub-ledger), summed exactly."""
    out: dict[str, Any] = {}
    for start in range(0, len(keys), 900):
        stmt = scoped(ctx, JournalEntry.source_key, JournalLine.account_code,
                      JournalLine.debit, JournalLine.credit, of=[JournalLine]).join(
            JournalLine, JournalLine.entry_id == JournalEntry.id).where(
            JournalEntry.source_key.in_(keys[start:start + 900]))
        for key, code, debit, credit in _stream(ctx, stmt):
            out[key] = out.get(key, 0) + (debit - credit if code in codes else 0)
    return out


def entry_lines(ctx: Context, start: date | None, end: date | None) -> Iterator[Any]:
    """(entry id, number, source key, currency, debit, credit) of the journal lines dated
    ``start``..``end`` (both included)."""
    stmt = scoped(ctx, JournalEntry.id, JournalEntry.number, JournalEntry.source_key,
                  JournalLine.currency, JournalLine.debit, JournalLine.credit,
                  of=[JournalLine]).join(
        JournalLine, JournalLine.entry_id == JournalEntry.id)
    if start is not None:
        stmt = stmt.where(JournalEntry.entry_date >= start)
    if end is not None:
        stmt = stmt.where(JournalEntry.entry_date <= end)
    return _stream(ctx, stmt)
