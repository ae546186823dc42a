"""The revenue-assurance controls, as pure functions of plain rows (no database): each
takes what :mod:`openbss.assurance.queries` read and returns the differences it found,
item by item. An empty list means the control passed.

Every comparison is exact (``Decimal``), except where a documented rounding happens in
between: a usage line on an invoice is its rated rows' exact sum rounded once to the
currency's minor unit, so a bill's usage lines may differ from the sum of its rated rows
by at most half a minor unit per line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from openbss.core.money import currency_exponent

ZERO = Decimal(0)

#: Journal entry source keys per payment status: what a payment in that state has posted.
PAYMENT_ENTRIES: dict[str, tuple[str, ...]] = {
    "done": ("payment:{id}",),
    "reversed": ("payment:{id}", "payment:{id}:reversal"),
    "chargedBack": ("payment:{id}", "payment:{id}:chargeback"),
}
RECEIVED = frozenset(PAYMENT_ENTRIES)


def plain(value: Decimal | int | None, currency: str | None = None) -> str | None:
    """A decimal as plain digits (no exponent), for JSON: exact, without trailing zeros
    beyond the currency's minor unit (``84.000000`` → ``84.00``; ``0.716900`` →
    ``0.7169``)."""
    if value is None:
        return None
    value = Decimal(value)
    if currency is not None:
        exponent = value.normalize().as_tuple().exponent
        places = max(currency_exponent(currency),
                     -exponent if isinstance(exponent, int) and exponent < 0 else 0)
        value = value.quantize(Decimal(1).scaleb(-places))
    return format(value, "f")


def half_unit(currency: str) -> Decimal:
    return Decimal(5).scaleb(-currency_exponent(currency) - 1)


@dataclass
class Stage:
    name: str
    count: int = 0
    amount: Decimal | None = None

    def to_json(self, currency: str) -> dict[str, Any]:
        return {"name": self.name, "count": self.count,
                "amount": plain(self.amount, currency)}


@dataclass
class Check:
    name: str
    description: str
    differences: list[dict[str, Any]] = field(default_factory=list)
    #: differences beyond the listing limit (counted, not listed)
    more: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences and not self.more

    def add(self, limit: int, **item: Any) -> None:
        if len(self.differences) < limit:
            cur = item.get("currency")
            self.differences.append({k: plain(v, cur) if isinstance(v, Decimal) else v
                                     for k, v in item.items()})
        else:
            self.more += 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok,
                               "description": self.description,
                               "differences": self.differences}
        if self.more:
            out["moreDifferences"] = self.more
        return out


# -- usage ------------------------------------------------------------------------------------

def usage_stages(counts: Iterable[tuple[str, str | None, int, int]]) -> list[Stage]:
    """read / accepted / duplicate / rejected from (status, reason, records, duplicates):
    ``read = accepted + duplicate + rejected`` by definition; the controls below check
    that each accepted record is rated and each rejected one has its reason."""
    accepted, rejected, duplicates = Stage("accepted"), Stage("rejected"), Stage("duplicate")
    for status, _, records, copies in counts:
        (rejected if status == "rejected" else accepted).count += records
        duplicates.count += copies
    read = Stage("read", accepted.count + duplicates.count + rejected.count)
    return [read, accepted, duplicates, rejected]


def rejected_by_reason(counts: Iterable[tuple[str, str | None, int, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for status, reason, records, _ in counts:
        if status == "rejected":
            out[reason or "none"] = out.get(reason or "none", 0) + records
    return dict(sorted(out.items()))


def unaccounted_usage(check: Check, rows: Iterable[Any], limit: int) -> None:
    """Records neither rated nor rejected with a reason (see ``queries``)."""
    for usage_id, record_id, source, status, reason, rated in rows:
        if status == "rejected":
            problem = ("rejected, yet it has a current rating" if rated
                       else "rejected without a reason" if reason is None
                       else "rejected")
        elif status in ("rated", "rerated", "billed"):
            problem = f"{status}, but it has no current rating"
        else:
            problem = f"still {status}: neither rated nor rejected"
        check.add(limit, usage=usage_id, recordId=record_id, source=source, status=status,
                  problem=problem)


@dataclass
class RatedTotals:
    rated: Stage
    billed: Stage
    #: unbilled, non-correction rated amounts per (payer, product, price, usage type,
    #: service period, currency): (amount, records, latest rated at)
    unbilled: dict[tuple[Any, ...], list[Any]]


def rated_totals(rows: Iterable[Any], currency: str) -> RatedTotals:
    """The rated and billed stages (records and exact amounts in ``currency``) and the
    unbilled groups (every currency)."""
    rated, billed = Stage("rated", 0, ZERO), Stage("billed", 0, ZERO)
    rated_ids: set[str] = set()
    billed_ids: set[str] = set()
    unbilled: dict[tuple[Any, ...], list[Any]] = {}
    for (usage_id, amount, cur, invoice_id, account, product, price, usage_type, start, end,
         rated_at, _correction) in rows:
        if cur == currency:
            rated_ids.add(usage_id)
            rated.amount = (rated.amount or ZERO) + amount
            if invoice_id is not None:
                billed_ids.add(usage_id)
                billed.amount = (billed.amount or ZERO) + amount
        if invoice_id is None:
            key = (account, product, price, usage_type, start, end, cur)
            group = unbilled.setdefault(key, [ZERO, 0, rated_at])
            group[0] += amount
            group[1] += 1
            group[2] = max(group[2], rated_at)
    rated.count, billed.count = len(rated_ids), len(billed_ids)
    return RatedTotals(rated, billed, unbilled)


def unbilled_usage(check: Check, unbilled: Mapping[tuple[Any, ...], list[Any]],
                   covered: Mapping[str, datetime], payers: Mapping[str, str],
                   limit: int) -> None:
    """Rated usage a completed bill run should have invoiced but did not: its service
    period ended by the run's ``asOf``, it was rated by then, and its amount is at least
    half a minor unit (smaller sums round to a zero line, which billing leaves out)."""
    for (account, product, price, usage_type, start, end, cur), (amount, records, rated_at) \
            in sorted(unbilled.items(), key=lambda kv: [str(x) for x in kv[0]]):
        payer = payers.get(account, account)
        until = covered.get(payer)
        if until is None or end > until or rated_at > until:
            continue
        if abs(amount) < half_unit(cur):
            continue
        check.add(limit, billingAccount=account, product=product, price=price,
                  usageType=usage_type, periodStart=start.isoformat(),
                  periodEnd=end.isoformat(), records=records, amount=amount, currency=cur,
                  problem=f"rated usage of a period billed up to {until.isoformat()} is "
                          "on no invoice")


def usage_on_bills(check: Check, bills: Sequence[Any], lines: Iterable[Any],
                   rated: Iterable[Any], limit: int) -> None:
    """Each bill's usage lines against the rated rows marked with it: the same amount
    within half a minor unit per line; rated rows on a bill without usage lines, or
    usage lines without rated rows, are differences. Re-rating corrections (whose lines
    carry the difference to the invoiced generation) are left out."""
    line_sum: dict[str, Decimal] = defaultdict(lambda: ZERO)
    line_count: dict[str, int] = defaultdict(int)
    for invoice_id, _type, _excl, _incl, key, basis in lines:
        if not key or not str(key).startswith("usage:") or "|correction" in str(key):
            continue
        line_sum[invoice_id] += Decimal(basis or "0")
        line_count[invoice_id] += 1
    rated_sum: dict[str, Decimal] = defaultdict(lambda: ZERO)
    rated_count: dict[str, int] = defaultdict(int)
    for invoice_id, amount, correction in rated:
        if not correction:
            rated_sum[invoice_id] += amount
            rated_count[invoice_id] += 1
    for bill in bills:
        bill_id, cur = bill.id, bill.currency
        lines_n, rated_n = line_count.get(bill_id, 0), rated_count.get(bill_id, 0)
        if not lines_n and not rated_n:
            continue
        on_lines, rated_amount = line_sum.get(bill_id, ZERO), rated_sum.get(bill_id, ZERO)
        tolerance = half_unit(cur) * lines_n
        if rated_n and not lines_n:
            problem = f"{rated_n} rated records are marked with it, but it has no usage line"
        elif lines_n and not rated_n:
            problem = "usage lines, but no rated record is marked with it"
        elif abs(on_lines - rated_amount) > tolerance:
            problem = (f"usage lines {plain(on_lines)} differ from their rated records "
                       f"{plain(rated_amount)} by more than rounding ({plain(tolerance)})")
        else:
            continue
        check.add(limit, bill=bill_id, billNo=bill.bill_no, usageLines=on_lines,
                  ratedAmount=rated_amount, currency=cur, problem=problem)


# -- bills ------------------------------------------------------------------------------------

def bill_stages(bills: Sequence[Any], currency: str) -> list[Stage]:
    """invoiced / credited: the period's invoices and credit notes in ``currency``
    (count, total with tax; a credit note's total is negative)."""
    invoiced, credited = Stage("invoiced", 0, ZERO), Stage("credited", 0, ZERO)
    for bill in bills:
        if bill.currency != currency:
            continue
        stage = credited if bill.kind == "creditNote" else invoiced
        stage.count += 1
        stage.amount = (stage.amount or ZERO) + bill.tax_included
    return [invoiced, credited]


def invoice_totals(check: Check, bills: Sequence[Any], lines: Iterable[Any],
                   limit: int) -> None:
    """Each bill's totals equal its lines plus taxes: net = Σ line nets, total = Σ line
    totals, tax = Σ tax items, amount due = total."""
    excl: dict[str, Decimal] = defaultdict(lambda: ZERO)
    incl: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for invoice_id, _type, tax_excluded, tax_included, _key, _basis in lines:
        excl[invoice_id] += tax_excluded
        incl[invoice_id] += tax_included
    for bill in bills:
        taxes = sum((Decimal(str((t.get("taxAmount") or {}).get("value", 0)))
                     for t in bill.tax_items or []), ZERO)
        problems = []
        if excl.get(bill.id, ZERO) != bill.tax_excluded:
            problems.append(f"net {plain(bill.tax_excluded)} ≠ its lines' "
                            f"{plain(excl.get(bill.id, ZERO))}")
        if incl.get(bill.id, ZERO) != bill.tax_included:
            problems.append(f"total {plain(bill.tax_included)} ≠ its lines' "
                            f"{plain(incl.get(bill.id, ZERO))}")
        if bill.tax_excluded + taxes != bill.tax_included:
            problems.append(f"net {plain(bill.tax_excluded)} + tax items {plain(taxes)} ≠ "
                            f"total {plain(bill.tax_included)}")
        if bill.amount_due != bill.tax_included:
            problems.append(f"amount due {plain(bill.amount_due)} ≠ total "
                            f"{plain(bill.tax_included)}")
        if problems:
            check.add(limit, bill=bill.id, billNo=bill.bill_no, currency=bill.currency,
                      problem="; ".join(problems))


@dataclass
class Settled:
    paid: Stage
    written_off: Stage
    outstanding: Stage


def settlement(check: Check, bills: Sequence[Any], allocations: Iterable[Any],
               credit_notes: Iterable[Any], currency: str, limit: int) -> Settled:
    """Per invoice: remaining = amount due − payments applied (net of reversals and
    refunds) − written off − what credit notes took off it. The stages: paid and written
    off on the period's invoices, and what the period's bills still hold (credit notes:
    negative, credit not used yet)."""
    applied: dict[str, Decimal] = defaultdict(lambda: ZERO)
    per_payment: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for bill_id, payment_id, amount in allocations:
        applied[bill_id] += amount
        per_payment[(bill_id, payment_id)] += amount
    credited: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for corrected, amount_due, remaining in credit_notes:
        credited[corrected] += remaining - amount_due
    paid, written_off = Stage("paid", 0, ZERO), Stage("writtenOff", 0, ZERO)
    outstanding = Stage("outstanding", 0, ZERO)
    payments: set[str] = set()
    for bill in bills:
        written = sum((Decimal(str(w.get("amount", 0)))
                       for w in bill.write_offs or []), ZERO)
        mine = bill.currency == currency
        if mine and bill.remaining_amount != 0:
            outstanding.count += 1
            outstanding.amount = (outstanding.amount or ZERO) + bill.remaining_amount
        if bill.kind == "creditNote":
            continue
        if mine:
            payments.update(p for (b, p), v in per_payment.items() if b == bill.id and v > 0)
            paid.amount = (paid.amount or ZERO) + applied.get(bill.id, ZERO)
            if written:
                written_off.count += 1
                written_off.amount = (written_off.amount or ZERO) + written
        expected = (bill.amount_due - applied.get(bill.id, ZERO) - written
                    - credited.get(bill.id, ZERO))
        if expected != bill.remaining_amount:
            check.add(limit, bill=bill.id, billNo=bill.bill_no, currency=bill.currency,
                      amountDue=bill.amount_due, paid=applied.get(bill.id, ZERO),
                      writtenOff=written, credited=credited.get(bill.id, ZERO),
                      remaining=bill.remaining_amount, expected=expected,
                      problem="remaining amount ≠ amount due − paid − written off − "
                              "credited")
    paid.count = len(payments)
    return Settled(paid, written_off, outstanding)


# -- payments ---------------------------------------------------------------------------------

def payment_allocations(check: Check, payments: Sequence[Any], allocations: Iterable[Any],
                        limit: int) -> None:
    """A received payment is applied, kept as credit or refunded, to the cent: Σ
    allocations + unapplied + refunded = amount; a reversed or charged-back one has
    given everything back (Σ allocations + unapplied = 0); one never received (pending,
    failed, cancelled) has nothing applied."""
    applied: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for payment_id, amount in allocations:
        applied[payment_id] += amount
    for p in payments:
        total = applied.get(p.id, ZERO)
        if p.status == "done":
            expected, got = p.amount, total + p.unapplied + p.refunded
            rule = "applied + unapplied + refunded ≠ amount"
        elif p.status in RECEIVED:
            expected, got = ZERO, total + p.unapplied
            rule = "a reversed payment still has amounts applied or unapplied"
        else:
            expected, got = ZERO, total
            rule = f"a {p.status} payment has amounts applied"
        if got != expected:
            check.add(limit, payment=p.id, status=p.status, currency=p.currency,
                      amount=p.amount, applied=total, unapplied=p.unapplied,
                      refunded=p.refunded, problem=rule)


# -- ledger -----------------------------------------------------------------------------------

def expected_entries(bills: Sequence[Any], payments: Sequence[Any],
                     refunds: Sequence[Any]) -> dict[str, tuple[str, str, Decimal | None]]:
    """``{source key: (what, id, amount)}``: the journal entry each bill, write-off,
    received payment and refund must have, and what it must move on the customer's
    sub-ledger (receivable and customer credit, debit − credit): a bill its total, a
    write-off and a receipt minus their amount, a refund its amount. A reversal's or a
    chargeback's entry (amount None) is only required to exist: what it gives back
    depends on what was applied by then."""
    out: dict[str, tuple[str, str, Decimal | None]] = {}
    for b in bills:
        out[f"customerBill:{b.id}"] = ("bill", b.id, b.tax_included)
        for n, w in enumerate(b.write_offs or [], start=1):
            out[f"customerBill:{b.id}:writeOff:{n}"] = (
                "writeOff", b.id, -Decimal(str(w.get("amount", 0))))
    for p in payments:
        for key in PAYMENT_ENTRIES.get(p.status, ()):
            amount = -p.amount if key == "payment:{id}" else None
            out[key.format(id=p.id)] = ("payment", p.id, amount)
    for r in refunds:
        out[f"refund:{r.id}"] = ("refund", r.id, r.amount)
    return out


def ledger_entries(check: Check, expected: Mapping[str, tuple[str, str, Decimal | None]],
                   posted: Mapping[str, Decimal], limit: int) -> None:
    """Every bill, write-off, received payment, reversal and refund has its journal
    entry, and the entry moves the document's amount on the customer's sub-ledger."""
    for key, (what, item_id, amount) in expected.items():
        moved = posted.get(key)
        if moved is None:
            check.add(limit, source=key, item=item_id, type=what,
                      problem="no journal entry")
        elif amount is not None and moved != amount:
            check.add(limit, source=key, item=item_id, type=what, expected=amount,
                      posted=moved,
                      problem=f"the entry moves another amount than the {what} on the "
                              "customer's sub-ledger")


def trial_balance(check: Check, lines: Iterable[Any], limit: int) -> None:
    """Debits equal credits: per currency over the period, and per journal entry."""
    per_entry: dict[str, list[Any]] = {}
    totals: dict[str, list[Decimal]] = {}
    for entry_id, number, key, cur, debit, credit in lines:
        e = per_entry.setdefault(entry_id, [number, key, cur, ZERO])
        e[3] += debit - credit
        t = totals.setdefault(cur, [ZERO, ZERO])
        t[0] += debit
        t[1] += credit
    for cur, (debit, credit) in sorted(totals.items()):
        if debit != credit:
            check.add(limit, currency=cur, totalDebit=debit, totalCredit=credit,
                      problem="the trial balance does not balance")
    for entry_id, (number, key, cur, gap) in sorted(per_entry.items(),
                                                    key=lambda kv: kv[1][0]):
        if gap:
            check.add(limit, entry=entry_id, number=number, source=key, currency=cur,
                      difference=gap, problem="debits ≠ credits")


def receivables(check: Check, owed: Mapping[tuple[str, str], Decimal],
                books: Mapping[tuple[str, str], Decimal], limit: int) -> None:
    """Each billing account's balance (what its bills still hold, less its unapplied
    credit: what the API shows as its balance) equals its receivable sub-ledger."""
    for account, cur in sorted(set(owed) | set(books)):
        a, b = owed.get((account, cur), ZERO), books.get((account, cur), ZERO)
        if a != b:
            check.add(limit, billingAccount=account, currency=cur, balance=a, ledger=b,
                      difference=a - b,
                      problem="the account balance ≠ its receivable sub-ledger")
