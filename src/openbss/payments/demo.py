"""The payments demo (``openbss demo``, after the billing demo's two bill runs): most demo
invoices are paid, one account is chased.

* Lena Schneider pays by SEPA direct debit (a mandate on ``DE02 1203 0000 0000 2020 51``):
  one pain.008 file collects both her invoices on the second invoice's due date. The bank's
  camt.054 credits the first and returns the second (``AM04`` insufficient funds); she
  then pays it by bank transfer, found in the bank's camt.053 by the invoice number in the
  remittance information. A transfer nobody can place waits in the matching queue.
* Nordwind's Munich depot pays by hand (a manual payment, allocated oldest due first).
* Nordwind's headquarters (which pays for the Hamburg depot) does not pay: dunning, run
  as of 22 days after its first invoice was due, sends the reminder, adds the late fee
  and suspends the active lines of the headquarters and of Hamburg (product orders the
  worker completes).

The bank's files are written by :mod:`openbss.payments.bank` with dates derived from the
invoices, so a second ``openbss demo`` imports the same files (duplicates: nothing
changes); the SEPA file is exported once; the dunning steps run once per case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from openbss.billing.models import Invoice
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.money import Money
from openbss.core.queries import scoped
from openbss.ordering import demo as ordering_demo
from openbss.party import queries as party_queries
from openbss.payments import bank, collections, dunning, methods, service
from openbss.payments import settings as payment_settings
from openbss.payments.models import PaymentMethod, SepaCollection

LENA_IBAN = "DE02120300000000202051"
LENA_MANDATE = "DEMO-LENA-0001"
HQ_IBAN = "DE75512108001245126199"
DUNNING_DAYS = 22


def _account(ctx: Context, name: str) -> str | None:
    row = party_queries.account_named(ctx, name)
    return str(row.id) if row is not None else None


def _bills(ctx: Context, account_id: str) -> list[Invoice]:
    return sorted(ctx.session.scalars(scoped(ctx, Invoice).where(
        Invoice.billing_account_id == account_id, Invoice.kind == "invoice")),
        key=lambda b: (b.bill_date, b.bill_no))


def _method(ctx: Context, account_id: str, body: dict[str, Any]) -> None:
    existing = ctx.session.scalars(scoped(ctx, PaymentMethod).where(
        PaymentMethod.billing_account_id == account_id,
        PaymentMethod.type == body["@type"])).first()
    if existing is None:
        methods.create_method(ctx, validated(methods.PaymentMethodCreate, {
            **body, "account": [{"id": account_id}]}))


def _stamp(day: date) -> datetime:
    return datetime.combine(day, time(18, 0), tzinfo=UTC)


def _import(ctx: Context, lines: list[str], what: str, content: bytes) -> None:
    result = collections.import_statement(ctx, content=content, filename=f"{what}.xml")
    s = result.summary
    ctx.session.commit()
    lines.append(f"payments: bank {what} — {s['entries']} entries, {s['matched']} matched, "
                 f"{s['returned']} returned, {s['unmatched']} unmatched, {s['duplicates']} "
                 "duplicates" + ("" if result.created else " (ready)"))


def _sepa(ctx: Context, lines: list[str], lena: str) -> None:
    bills = _bills(ctx, lena)
    if len(bills) < 2 or any(b.payment_due_date is None for b in bills):
        lines.append("payments: Lena's two invoices are missing (no SEPA collection)")
        return
    first, second = bills[0], bills[1]
    day = second.payment_due_date
    assert day is not None
    existing = ctx.session.scalars(scoped(ctx, SepaCollection).order_by(
        SepaCollection.created_at)).first()
    if existing is None:
        result = collections.export(ctx, collection_date=max(day, ctx.now.date()))
        ctx.session.commit()
        lines.append(f"payments: SEPA file {result.version}, {result.transactions} direct "
                     f"debits, {result.total} EUR, collection date {result.collection_date}")
        message_id = result.collection.message_id if result.collection else "none"
    else:
        lines.append(f"payments: SEPA file {existing.message_id} (ready)")
        message_id = existing.message_id
    e2e = {p.end_to_end_id: p for p in service.payments_by_end_to_end(
        ctx, [first.bill_no, second.bill_no]).values()}
    collected, returned = e2e.get(first.bill_no), e2e.get(second.bill_no)
    if collected is None or returned is None:
        return
    booked = max(day, ctx.now.date()) + timedelta(days=1)
    notice = bank.write(
        message="camt.054", message_id=f"DEMO-{message_id[-12:]}-N",
        created_at=_stamp(booked), account_iban=payment_settings.read(ctx).creditor.iban,
        currency="EUR", movements=[
            bank.BankMovement(collected.amount, "EUR", "collection", booked,
                              f"DEMO-{first.bill_no}-C", end_to_end_id=first.bill_no,
                              mandate_id=LENA_MANDATE),
            bank.BankMovement(returned.amount, "EUR", "return", booked + timedelta(days=2),
                              f"DEMO-{second.bill_no}-R", end_to_end_id=second.bill_no,
                              return_code="AM04", mandate_id=LENA_MANDATE)])
    _import(ctx, lines, "camt.054 (direct debits)", notice)
    transfers = [bank.BankMovement(
        returned.amount, "EUR", "transfer", booked + timedelta(days=5),
        f"DEMO-{second.bill_no}-T", debtor_name="Lena Schneider", debtor_iban=LENA_IBAN,
        remittance=(f"Rechnung {second.bill_no}",))]
    transfers.append(bank.BankMovement(
        Decimal("25.00"), "EUR", "transfer", booked + timedelta(days=4), "DEMO-UNKNOWN-T",
        debtor_name="M. Unbekannt", remittance=("Zahlung",)))
    statement = bank.write(
        message="camt.053", message_id=f"DEMO-{message_id[-12:]}-S",
        created_at=_stamp(booked + timedelta(days=6)),
        account_iban=payment_settings.read(ctx).creditor.iban, currency="EUR",
        movements=transfers)
    _import(ctx, lines, "camt.053 (account statement)", statement)


def _manual(ctx: Context, lines: list[str], account: str) -> None:
    bills = _bills(ctx, account)
    if not bills:
        return
    total = sum((b.amount_due for b in bills), Decimal(0))
    payment, created = service.record_payment(
        ctx, account_id=account, amount=Money(total, bills[0].currency), channel="cash",
        source_key="demo:munich-manual", payment_date=max(
            _stamp(bills[-1].bill_date.date() + timedelta(days=3)), ctx.now),
        body={"description": "paid at the Munich shop"})
    ctx.session.commit()
    lines.append(f"payments: Munich depot paid {payment.amount} EUR by hand"
                 + ("" if created else " (ready)"))


def _dunning(ctx: Context, lines: list[str], account: str) -> None:
    from openbss.ordering import orchestration

    bills = [b for b in _bills(ctx, account) if b.payment_due_date is not None]
    if not bills:
        return
    as_of = (bills[0].payment_due_date or ctx.now.date()) + timedelta(days=DUNNING_DAYS)
    summary = dunning.run(ctx, as_of=as_of)
    ctx.session.commit()
    for _ in range(10):
        if not orchestration.run_due_steps(ctx.session, tenant_id=ctx.tenant_id):
            break
    mine = [a["action"] for a in summary["actions"] if a["billingAccount"] == account]
    lines.append(f"payments: dunning as of {as_of} — Nordwind headquarters: "
                 + (", ".join(mine) if mine else "steps done (ready)"))


def load(ctx: Context) -> list[str]:
    lines: list[str] = []
    lena = _account(ctx, ordering_demo.LENA)
    hq = _account(ctx, ordering_demo.HEADQUARTERS)
    munich = _account(ctx, ordering_demo.MUNICH)
    if lena is None or not _bills(ctx, lena):
        return ["payments: the billing demo's invoices are missing (nothing paid)"]
    _method(ctx, lena, {"@type": "directDebit", "name": "SEPA mandate (Lena)",
                        "isPreferred": True, "accountNumber": LENA_IBAN,
                        "owner": "Lena Schneider", "mandateId": LENA_MANDATE,
                        "signatureDate": "2026-01-15T10:00:00Z"})
    if hq is not None:
        _method(ctx, hq, {"@type": "bankAccountTransfer", "name": "Nordwind house bank",
                          "accountNumber": HQ_IBAN, "owner": "Nordwind Logistik GmbH"})
    ctx.session.commit()
    _sepa(ctx, lines, lena)
    if munich is not None:
        _manual(ctx, lines, munich)
    if hq is not None:
        _dunning(ctx, lines, hq)
    return lines
