"""The ledger's laws, under random sequences of invoices, credit notes, payments,
refunds, reversals, chargebacks and write-offs (hypothesis):

- every journal entry balances, and so does the trial balance (debits = credits);
- each billing account's balance (what the account API shows) equals its receivable
  sub-ledger (receivable − customer credit);
- no bill owes less than zero or more than its amount; a received payment is exactly
  what it applied + what is unapplied + what was refunded;
- posting is idempotent: running the same issue hook again posts nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.issue_helpers import billing_account, flat_vat, input_for, issue, line
from openbss.billing import invoices
from openbss.billing.models import Invoice
from openbss.billing.schemas import CreditNoteCreate
from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import OpenBSSError
from openbss.core.money import Money
from openbss.core.queries import scoped
from openbss.ledger import reports
from openbss.ledger.book import check_balanced, side
from openbss.ledger.models import JournalEntry, JournalLine
from openbss.party.hooks import account_balance
from openbss.party.models import Account
from openbss.payments import service
from openbss.payments.models import Payment

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2)
steps = st.lists(st.tuples(
    st.sampled_from(["invoice", "invoice", "credit", "pay", "pay", "refund", "reverse",
                     "chargeback", "writeOff", "allocate"]),
    st.integers(0, 1), st.integers(0, 50), amounts), min_size=1, max_size=12)


def _in_tenant(tenant: Any, fn: Callable[[Any], Any]) -> Any:
    with unit_of_work() as session:
        ctx = system_context(session, load_tenant(session, tenant.id))
        return fn(ctx)


def _step(ctx: Any, op: str, accounts: list[str], who: int, pick: int, amount: Decimal
          ) -> None:
    account = accounts[who]
    bills = list(ctx.session.scalars(scoped(ctx, Invoice).where(
        Invoice.kind == "invoice").order_by(Invoice.bill_no)))
    payments = list(ctx.session.scalars(scoped(ctx, Payment).where(
        Payment.status == "done").order_by(Payment.created_at, Payment.id)))
    bill = bills[pick % len(bills)] if bills else None
    payment = payments[pick % len(payments)] if payments else None
    if op == "pay":
        service.record_payment(ctx, account_id=account, amount=Money(amount, "EUR"))
    elif op == "credit" and bill is not None:
        invoices.create_credit_note(ctx, bill_id=bill.id, data=CreditNoteCreate.model_validate(
            {"amount": {"unit": "EUR", "value": min(amount, bill.tax_excluded)}}))
    elif op == "refund" and payment is not None:
        service.refund_payment(ctx, payment_id=payment.id, amount=Money(
            min(amount, payment.amount - payment.refunded), "EUR"))
    elif op in ("reverse", "chargeback") and payment is not None:
        service.reverse_payment(ctx, payment_id=payment.id, chargeback=op == "chargeback",
                                fee=Decimal("1.50") if op == "chargeback" else Decimal(0))
    elif op == "writeOff" and bill is not None and bill.remaining_amount > 0:
        service.write_off(ctx, bill_id=bill.id, amount=min(amount, bill.remaining_amount))
    elif op == "allocate" and payment is not None and payment.unapplied > 0:
        service.allocate(ctx, payment_id=payment.id)


def _check(ctx: Any) -> None:
    entries = list(ctx.session.scalars(scoped(ctx, JournalEntry)))
    lines: dict[str, list[Any]] = {}
    for x in ctx.session.scalars(scoped(ctx, JournalLine)):
        lines.setdefault(x.entry_id, []).append(side("x", x.debit - x.credit))
    for entry in entries:
        check_balanced(lines.get(entry.id, []))
    numbers = sorted(e.number for e in entries)
    assert numbers == list(range(1, len(numbers) + 1)), "journal numbers are gapless"
    tb = reports.trial_balance(ctx)
    assert tb["totalDebit"] == tb["totalCredit"]
    books = {r["billingAccount"]["id"]: r["balance"] for r in reports.receivables(ctx)}
    for account in ctx.session.scalars(scoped(ctx, Account).where(
            Account.kind == "billingAccount")):
        assert account_balance(ctx, account).amount == books.get(account.id, Decimal(0)), \
            account.name
    for bill in ctx.session.scalars(scoped(ctx, Invoice).where(Invoice.kind == "invoice")):
        assert 0 <= bill.remaining_amount <= bill.amount_due, bill.bill_no
    for p in ctx.session.scalars(scoped(ctx, Payment)):
        applied = sum((v for _, v in service.net_allocations(ctx, p.id)), Decimal(0))
        if p.status == "done":
            assert p.amount == applied + p.unapplied + p.refunded, p.id
        else:
            assert applied == 0 and p.unapplied == 0, (p.id, p.status)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(script=steps)
def test_the_books_always_balance(client, make_tenant, script) -> None:
    tenant = make_tenant()
    accounts = [billing_account(client, tenant, name=f"A{i}")["id"] for i in range(2)]
    with flat_vat():
        for op, who, pick, amount in [("invoice", 0, 0, Decimal("40.00")), *script]:
            if op == "invoice":
                issue(tenant, [(input_for(accounts[who]),
                                [line(accounts[who], str(amount))])])
                continue
            # refused (nothing left to credit, refund …): nothing changed
            with contextlib.suppress(OpenBSSError):
                _in_tenant(tenant, lambda ctx, op=op, who=who, pick=pick, amount=amount:
                           _step(ctx, op, accounts, who, pick, amount))
            _in_tenant(tenant, _check)


def test_posting_an_issued_bill_again_posts_nothing(client, tenant) -> None:
    from openbss.billing import hooks
    from openbss.ledger import postings

    account = billing_account(client, tenant)["id"]
    with flat_vat():
        [bill] = issue(tenant, [(input_for(account), [line(account, "10.00")])])

    def again(ctx: Any) -> int:
        row = ctx.session.get(Invoice, bill["invoice_id"])
        before = len(list(ctx.session.scalars(scoped(ctx, JournalEntry))))
        snapshot = {c.name: getattr(row, c.name) for c in Invoice.__table__.columns}
        postings.post_issued(ctx, [hooks.IssuedBill(snapshot, [])])
        return len(list(ctx.session.scalars(scoped(ctx, JournalEntry)))) - before

    assert _in_tenant(tenant, again) == 0
