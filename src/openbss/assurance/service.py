"""The reconciliation report (``openbss reconcile``, ``GET /api/v1/reconciliation``): the
counts and amounts of a period at each stage from usage to cash, and the controls that
prove them, with every difference listed item by item (docs/revenue-assurance.md).

Periods are calendar months or years, read as the ledger reads them: bills by the date
they show (their bill date in their own time zone), journal lines by their entry date;
usage by its usage date, rated usage by the usage date of its record, payments by their
payment date and refunds by their refund date, in UTC. Without a
period, everything up to now. Stage amounts are in one currency (``currency``, the
tenant's default unless given); the controls look at every currency. The balances check
is not bound to the period: it compares every account's balance now with its
sub-ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from openbss.assurance import checks, queries
from openbss.core.context import Context
from openbss.core.money import validate_currency
from openbss.core.tmf import iso
from openbss.ledger import reports as ledger_reports
from openbss.ledger.service import ensure_chart

#: At most this many differences are listed per control (the rest are counted in
#: ``moreDifferences``).
DEFAULT_LIMIT = 1000


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def reconcile(ctx: Context, *, period: str | None = None, currency: str | None = None,
              limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The report as a JSON-ready dict: ``period``, ``from``, ``to``, ``currency``,
    ``asOf``, ``stages`` [{name, count, amount}], ``checks`` [{name, ok, description,
    differences}], ``rejectedByReason`` and ``ok``."""
    start = end = None
    if period:
        start, end = ledger_reports.period_bounds(period, field="period")
    span: queries.Span = (_instant(start) if start else None,
                          _instant(end + timedelta(days=1)) if end else None)
    cur = validate_currency((currency or ctx.tenant.default_currency or "EUR").upper(),
                            field="currency")

    accounted = checks.Check("usageAccounted", "each usage record is rated, rejected with "
                             "a reason, or counted as a duplicate of the first copy")
    counts = queries.usage_counts(ctx, span)
    checks.unaccounted_usage(accounted, queries.unaccounted_usage(ctx, span, limit + 1),
                             limit)
    for rated_id, usage_id in queries.orphan_ratings(ctx, span, limit):
        accounted.add(limit, rated=rated_id, usage=usage_id,
                      problem="a current rating of a usage record that does not exist")

    totals = checks.rated_totals(queries.rated_rows(ctx, span), cur)
    billed_once = checks.Check("ratedBilledOnce", "each rated amount is on exactly one "
                               "invoice line: no usage a completed bill run should have "
                               "invoiced is left out, and each bill's usage lines equal "
                               "its rated records")
    checks.unbilled_usage(billed_once, totals.unbilled, queries.covered_until(ctx),
                          queries.payers(ctx), limit)

    bills = queries.bills(ctx, start, end)
    bill_ids = [b.id for b in bills]
    lines = list(queries.lines_of(ctx, bill_ids))
    checks.usage_on_bills(billed_once, bills, lines, queries.rated_on_bills(ctx, bill_ids),
                          limit)
    totals_check = checks.Check("invoiceTotals", "each invoice and credit note totals its "
                                "lines plus their taxes")
    checks.invoice_totals(totals_check, bills, lines, limit)
    settled = checks.Check("billsSettled", "each invoice still owes its amount due less "
                           "what payments, write-offs and credit notes took off it")
    stages = checks.settlement(settled, bills, queries.allocations_to(ctx, bill_ids),
                               queries.credit_notes_correcting(ctx, bill_ids), cur, limit)

    payments = queries.payments(ctx, span)
    allocated = checks.Check("paymentsAllocated", "each payment received is applied to "
                             "bills, kept as credit or refunded, to the cent")
    checks.payment_allocations(allocated, payments,
                               queries.allocations_of(ctx, [p.id for p in payments]), limit)

    refunds = queries.refunds(ctx, span)
    chart = ensure_chart(ctx)
    customer_codes = {a.code for a in chart if a.subledger}
    expected = checks.expected_entries(bills, payments, refunds)
    entries = checks.Check("ledgerEntries", "every invoice, credit note, write-off, "
                           "payment, reversal and refund has its journal entry, for its "
                           "amount")
    checks.ledger_entries(entries, expected,
                          queries.subledger_moves(ctx, list(expected), customer_codes), limit)
    balance = checks.Check("trialBalance", "debits equal credits, per currency and per "
                           "journal entry")
    checks.trial_balance(balance, queries.entry_lines(ctx, start, end), limit)

    owed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for account, bill_cur, remaining in queries.open_amounts(ctx):
        owed[(account, bill_cur)] += remaining
    for account, pay_cur, unapplied in queries.unapplied_credit(ctx):
        owed[(account, pay_cur)] -= unapplied
    books = {(str(r["billingAccount"]["id"]), r["currency"]): r["balance"]
             for r in ledger_reports.receivables(ctx)}
    balances = checks.Check("receivables", "each billing account's balance equals its "
                            "receivable sub-ledger in the ledger")
    checks.receivables(balances, owed, books, limit)

    all_checks = [accounted, billed_once, totals_check, settled, allocated, entries,
                  balance, balances]
    stage_list = [*checks.usage_stages(counts), totals.rated, totals.billed,
                  *checks.bill_stages(bills, cur), stages.paid, stages.written_off,
                  stages.outstanding]
    return {
        "period": period or None,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "currency": cur,
        "asOf": iso(ctx.now),
        "stages": [s.to_json(cur) for s in stage_list],
        "rejectedByReason": checks.rejected_by_reason(counts),
        "checks": [c.to_json() for c in all_checks],
        "ok": all(c.ok for c in all_checks),
    }
