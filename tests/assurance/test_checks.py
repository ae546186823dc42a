"""The revenue-assurance controls as pure functions (openbss.assurance.checks): each finds
the differences it is meant to find, item by item, and nothing on consistent data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from openbss.assurance import checks

D = Decimal
T = datetime(2026, 10, 1, tzinfo=UTC)


def bill(id: str = "b1", *, kind: str = "invoice", net: str = "100.00",
         total: str = "119.00", due: str | None = None, remaining: str | None = None,
         taxes: tuple[str, ...] = ("19.00",), currency: str = "EUR", **body: Any) -> Any:
    return SimpleNamespace(
        id=id, bill_no=f"INV-{id}", kind=kind, billing_account_id="acc", currency=currency,
        tax_excluded=D(net), tax_included=D(total), amount_due=D(due or total),
        remaining_amount=D(remaining if remaining is not None else total), corrects_id=None,
        tax_items=[{"taxAmount": {"value": t}} for t in taxes],
        write_offs=body.get("writeOff"))


def check() -> checks.Check:
    return checks.Check("c", "test")


# -- formatting -------------------------------------------------------------------------------

def test_amounts_are_exact_digits_trimmed_to_the_minor_unit():
    assert checks.plain(D("84.000000000000000000"), "EUR") == "84.00"
    assert checks.plain(D("0.716900"), "EUR") == "0.7169"
    assert checks.plain(D("0E-18"), "EUR") == "0.00"
    assert checks.plain(D("1E+2"), "JPY") == "100"
    assert checks.plain(D("-5.9"), "BHD") == "-5.900"
    assert checks.plain(None) is None


def test_a_check_lists_up_to_its_limit_and_counts_the_rest():
    c = check()
    for n in range(5):
        c.add(3, item=n, amount=D("1.5"), currency="EUR")
    assert [d["item"] for d in c.differences] == [0, 1, 2] and c.more == 2
    assert c.differences[0]["amount"] == "1.50" and not c.ok
    assert c.to_json()["moreDifferences"] == 2


# -- usage ------------------------------------------------------------------------------------

@given(st.lists(st.tuples(st.sampled_from(["rated", "rejected", "billed", "received"]),
                          st.sampled_from([None, "malformed", "unknown_identifier"]),
                          st.integers(0, 1000), st.integers(0, 1000))))
def test_every_record_read_is_accepted_a_duplicate_or_rejected(counts):
    read, accepted, duplicate, rejected = checks.usage_stages(counts)
    assert read.count == accepted.count + duplicate.count + rejected.count
    assert rejected.count == sum(n for s, _, n, _ in counts if s == "rejected")
    assert duplicate.count == sum(d for *_, d in counts)
    assert sum(checks.rejected_by_reason(counts).values()) == rejected.count


def test_records_neither_rated_nor_rejected_with_a_reason_are_named():
    c = check()
    checks.unaccounted_usage(c, [("u1", "r1", "pbx", "guided", None, False),
                                 ("u2", "r2", "pbx", "rejected", None, False),
                                 ("u3", "r3", "pbx", "rated", None, False),
                                 ("u4", "r4", "pbx", "rejected", "malformed", True)], 10)
    assert [(d["usage"], d["problem"]) for d in c.differences] == [
        ("u1", "still guided: neither rated nor rejected"),
        ("u2", "rejected without a reason"),
        ("u3", "rated, but it has no current rating"),
        ("u4", "rejected, yet it has a current rating")]


def _rated(usage: str, amount: str, invoice: str | None, *, end: datetime = T,
           rated_at: datetime = T, currency: str = "EUR") -> tuple[Any, ...]:
    return (usage, D(amount), currency, invoice, "acc", "p1", "price", "data",
            datetime(2026, 9, 1, tzinfo=UTC), end, rated_at, False)


def test_rated_and_billed_stages_count_records_and_sum_exactly():
    rows = [_rated("u1", "1.2345", "b1"), _rated("u1", "0.0005", "b1"),
            _rated("u2", "3", None), _rated("u3", "7", None, currency="CHF")]
    totals = checks.rated_totals(rows, "EUR")
    assert (totals.rated.count, totals.rated.amount) == (2, D("4.2350"))
    assert (totals.billed.count, totals.billed.amount) == (1, D("1.2350"))
    assert len(totals.unbilled) == 2  # EUR and CHF groups


def test_unbilled_usage_of_a_period_a_run_covered_is_a_difference():
    totals = checks.rated_totals([_rated("u1", "2.00", None)], "EUR")
    c = check()
    # a run as of the period's end covered the account: the usage should be on a bill
    checks.unbilled_usage(c, totals.unbilled, {"acc": T}, {}, 10)
    assert len(c.differences) == 1 and c.differences[0]["amount"] == "2.00"
    # not a difference: no run yet, a run before the period ended, usage rated after the
    # run (late usage: the next run bills it), or an amount that rounds to nothing
    for covered in ({}, {"acc": datetime(2026, 9, 30, tzinfo=UTC)}):
        c = check()
        checks.unbilled_usage(c, totals.unbilled, covered, {}, 10)
        assert c.ok
    late = checks.rated_totals([_rated("u1", "2.00", None,
                                       rated_at=datetime(2026, 10, 2, tzinfo=UTC))], "EUR")
    tiny = checks.rated_totals([_rated("u1", "0.004", None)], "EUR")
    for t in (late, tiny):
        c = check()
        checks.unbilled_usage(c, t.unbilled, {"acc": T}, {}, 10)
        assert c.ok
    # a child paid by its parent is covered by the parent's run
    c = check()
    checks.unbilled_usage(c, totals.unbilled, {"parent": T}, {"acc": "parent"}, 10)
    assert not c.ok


def _line(invoice: str, amount: str, key: str = "usage:p|x|data||a|b|r1") -> tuple[Any, ...]:
    return (invoice, "usage", D(amount), D(amount), key, amount)


def test_usage_lines_equal_their_rated_records_within_rounding():
    bills = [bill("b1")]
    # one line: round(1.2345 + 0.0004) = 1.23
    ok = check()
    checks.usage_on_bills(ok, bills, [_line("b1", "1.23")],
                          [("b1", D("1.2345"), False), ("b1", D("0.0004"), False)], 10)
    assert ok.ok
    off = check()
    checks.usage_on_bills(off, bills, [_line("b1", "1.24")], [("b1", D("1.2345"), False)], 10)
    assert "differ" in off.differences[0]["problem"]
    orphan = check()
    checks.usage_on_bills(orphan, bills, [], [("b1", D("1"), False)], 10)
    assert "no usage line" in orphan.differences[0]["problem"]
    lonely = check()
    checks.usage_on_bills(lonely, bills, [_line("b1", "1.00")], [], 10)
    assert "no rated record" in lonely.differences[0]["problem"]
    # corrections carry differences to an invoiced generation: left out
    corr = check()
    checks.usage_on_bills(corr, bills, [_line("b1", "-0.50", "usage:p|x|correction|r9")],
                          [("b1", D("2"), True)], 10)
    assert corr.ok


# -- bills ------------------------------------------------------------------------------------

def test_invoice_totals_are_their_lines_plus_taxes():
    lines = [("b1", "recurring", D("60.00"), D("71.40"), None, "60.00"),
             ("b1", "usage", D("40.00"), D("47.60"), None, "40.00")]
    c = check()
    checks.invoice_totals(c, [bill("b1")], lines, 10)
    assert c.ok
    c = check()
    checks.invoice_totals(c, [bill("b1", total="119.01", taxes=("19.00",))], lines, 10)
    [d] = c.differences
    assert d["billNo"] == "INV-b1" and "total 119.01" in d["problem"]
    assert "tax items 19.00" in d["problem"] and "amount due" not in d["problem"]


def test_remaining_is_due_less_paid_written_off_and_credited():
    invoice = bill("b1", remaining="9.00", writeOff=[{"amount": "10.00"}])
    note = ("b1", D("-20.00"), D("0.00"))       # a credit note took 20.00 off b1
    allocations = [("b1", "p1", D("100.00")), ("b1", "p2", D("30.00")),
                   ("b1", "p2", D("-50.00"))]  # p2 reversed more than... net -20
    c = check()
    stages = checks.settlement(c, [invoice], allocations, [note], "EUR", 10)
    assert c.ok, c.differences  # 119 - 80 - 10 - 20 = 9
    assert stages.paid.amount == D("80.00") and stages.paid.count == 1  # p2 nets negative
    assert (stages.written_off.count, stages.written_off.amount) == (1, D("10.00"))
    assert (stages.outstanding.count, stages.outstanding.amount) == (1, D("9.00"))
    c = check()
    checks.settlement(c, [bill("b1", remaining="10.00", writeOff=[{"amount": "10.00"}])],
                      allocations, [note], "EUR", 10)
    assert c.differences[0]["expected"] == "9.00"


def test_a_payment_is_applied_kept_or_refunded_to_the_cent():
    def pay(status: str, amount: str, unapplied: str = "0", refunded: str = "0") -> Any:
        return SimpleNamespace(id=f"p-{status}", status=status, currency="EUR",
                               amount=D(amount), unapplied=D(unapplied), refunded=D(refunded))
    payments = [pay("done", "50", "10", "5"), pay("reversed", "20"), pay("failed", "9")]
    allocations = [("p-done", D("35")), ("p-reversed", D("20")), ("p-reversed", D("-20"))]
    c = check()
    checks.payment_allocations(c, payments, allocations, 10)
    assert c.ok
    c = check()
    checks.payment_allocations(c, payments, [*allocations, ("p-failed", D("1"))], 10)
    assert [d["payment"] for d in c.differences] == ["p-failed"]


# -- ledger -----------------------------------------------------------------------------------

def test_each_document_has_its_entry_for_its_amount():
    payment = SimpleNamespace(id="p1", status="reversed", amount=D("50"))
    refund = SimpleNamespace(id="r1", amount=D("5"))
    expected = checks.expected_entries([bill("b1")], [payment], [refund])
    assert set(expected) == {"customerBill:b1", "payment:p1", "payment:p1:reversal",
                             "refund:r1"}
    posted = {"customerBill:b1": D("119.00"), "payment:p1": D("-50"), "refund:r1": D("4")}
    c = check()
    checks.ledger_entries(c, expected, posted, 10)
    assert [(d["source"], d["problem"][:8]) for d in c.differences] == [
        ("payment:p1:reversal", "no journ"), ("refund:r1", "the entr")]


def test_the_trial_balance_and_each_entry_balance():
    lines = [("e1", 1, "k1", "EUR", D("10"), D("0")), ("e1", 1, "k1", "EUR", D("0"), D("10")),
             ("e2", 2, "k2", "EUR", D("5"), D("0")), ("e2", 2, "k2", "EUR", D("0"), D("4"))]
    c = check()
    checks.trial_balance(c, lines, 10)
    assert [d["problem"] for d in c.differences] == ["the trial balance does not balance",
                                                     "debits ≠ credits"]
    assert c.differences[1]["number"] == 2 and c.differences[1]["difference"] == "1.00"
    c = check()
    checks.trial_balance(c, lines[:2], 10)
    assert c.ok


def test_balances_equal_the_sub_ledger_per_account_and_currency():
    c = check()
    checks.receivables(c, {("a", "EUR"): D("10"), ("b", "EUR"): D("0")},
                       {("a", "EUR"): D("10"), ("c", "CHF"): D("3")}, 10)
    assert [(d["billingAccount"], d["difference"]) for d in c.differences] == [("c", "-3.00")]
