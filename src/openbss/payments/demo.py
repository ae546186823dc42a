"""The payments demo (``openbss demo``): most demo invoices are paid, one account is
chased. The steps are called by :func:`openbss.demo.load_demo` on the demo's timeline
(the tenant's test clock is moved to each step's date first):

* Lena Schneider pays by SEPA direct debit (a mandate on ``DE02 1203 0000 0000 2020 51``):
  after each bill run a pain.008 file collects her new invoice on its due date
  (:func:`collect`). The bank's camt.054 credits the first (:func:`collected`) and returns
  the second (``AM04`` insufficient funds, :func:`returned`); she then pays it by bank
  transfer, found in the bank's camt.053 by the invoice number in the remittance
  information (:func:`transferred`). A transfer nobody can place waits in the matching
  queue.
* Nordwind's Munich depot pays by hand (:func:`manual`: a manual payment, allocated
  oldest due first).
* Nordwind's headquarters (which pays for the Hamburg depot) does not pay: dunning
  (:func:`chase`), run 22 days after its first invoice was due, sends the reminder, adds
  the late fee and suspends the active lines of the headquarters and of Hamburg (product
  orders the worker completes).

The bank's files are written by :mod:`openbss.payments.bank` with dates derived from the
invoices, so a second ``openbss demo`` imports the same files (duplicates: nothing
changes); a SEPA file is exported once per collection date; the dunning steps run once
per case.
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


def lena_bills(ctx: Context) -> list[Invoice]:
    lena = _account(ctx, ordering_demo.LENA)
    return _bills(ctx, lena) if lena is not None else []


def setup(ctx: Context) -> None:
    """The payment methods: Lena's SEPA mandate, the headquarters' bank account."""
    lena = _account(ctx, ordering_demo.LENA)
    hq = _account(ctx, ordering_demo.HEADQUARTERS)
    if lena is not None:
        _method(ctx, lena, {"@type": "directDebit", "name": "SEPA mandate (Lena)",
                            "isPreferred": True, "accountNumber": LENA_IBAN,
                            "owner": "Lena Schneider", "mandateId": LENA_MANDATE,
                            "signatureDate": "2026-01-15T10:00:00Z"})
    if hq is not None:
        _method(ctx, hq, {"@type": "bankAccountTransfer", "name": "Nordwind house bank",
                          "accountNumber": HQ_IBAN, "owner": "Nordwind Logistik GmbH"})
    ctx.session.commit()


def collection_day(ctx: Context, bill: Invoice) -> date:
    """When Lena's ``bill`` is collected: its due date (today if that has passed)."""
    return max(bill.payment_due_date or ctx.now.date(), ctx.now.date())


def collect(ctx: Context, lines: list[str], bill: Invoice) -> None:
    """A pain.008 file collecting what is due from the mandates on ``bill``'s due date."""
    day = bill.payment_due_date or ctx.now.date()
    existing = ctx.session.scalars(scoped(ctx, SepaCollection).where(
        SepaCollection.collection_date >= day).order_by(SepaCollection.created_at)).first()
    if existing is not None:
        lines.append(f"payments: SEPA file {existing.message_id} (ready)")
        return
    result = collections.export(ctx, collection_date=collection_day(ctx, bill))
    ctx.session.commit()
    lines.append(f"payments: SEPA file {result.version}, {result.transactions} direct "
                 f"debits, {result.total} EUR, collection date {result.collection_date}")


def _collection_of(ctx: Context, bill: Invoice) -> Any:
    return service.payments_by_end_to_end(ctx, [bill.bill_no]).get(bill.bill_no)


def collected_on(ctx: Context, bill: Invoice) -> date | None:
    """The collection date of the SEPA file that collected ``bill`` (None: not yet)."""
    payment = _collection_of(ctx, bill)
    if payment is None or payment.collection_id is None:
        return None
    row = ctx.session.scalars(scoped(ctx, SepaCollection).where(
        SepaCollection.id == payment.collection_id)).first()
    return row.collection_date if row is not None else None


def _creditor_iban(ctx: Context) -> str:
    return payment_settings.read(ctx).creditor.iban


def _notice(ctx: Context, lines: list[str], bill: Invoice, booked: date, *, what: str,
            movement: str, suffix: str, ref: str, return_code: str | None = None) -> None:
    """The bank's camt.054 on ``bill``'s direct debit (a credit or a return)."""
    payment = _collection_of(ctx, bill)
    if payment is None:
        return
    notice = bank.write(
        message="camt.054", message_id=f"DEMO-{bill.bill_no[-12:]}-{suffix}",
        created_at=_stamp(booked), account_iban=_creditor_iban(ctx), currency="EUR",
        movements=[bank.BankMovement(payment.amount, "EUR", movement, booked,
                                     f"DEMO-{bill.bill_no}-{ref}", end_to_end_id=bill.bill_no,
                                     mandate_id=LENA_MANDATE, return_code=return_code)])
    _import(ctx, lines, f"camt.054 ({what})", notice)


def collected(ctx: Context, lines: list[str], bill: Invoice, booked: date) -> None:
    """The bank's camt.054: ``bill``'s direct debit credited on ``booked``."""
    _notice(ctx, lines, bill, booked, what="direct debits", movement="collection",
            suffix="N", ref="C")


def returned(ctx: Context, lines: list[str], bill: Invoice, booked: date) -> None:
    """The bank's camt.054: ``bill``'s direct debit returned on ``booked`` (AM04)."""
    _notice(ctx, lines, bill, booked, what="returned debit", movement="return",
            suffix="R", ref="R", return_code="AM04")


def transferred(ctx: Context, lines: list[str], bill: Invoice, booked: date) -> None:
    """The bank's camt.053: Lena pays ``bill`` by transfer on ``booked``; an unknown
    transfer the day before."""
    transfers = [
        bank.BankMovement(bill.amount_due, "EUR", "transfer", booked,
                          f"DEMO-{bill.bill_no}-T", debtor_name="Lena Schneider",
                          debtor_iban=LENA_IBAN, remittance=(f"Rechnung {bill.bill_no}",)),
        bank.BankMovement(Decimal("25.00"), "EUR", "transfer", booked - timedelta(days=1),
                          "DEMO-UNKNOWN-T", debtor_name="M. Unbekannt",
                          remittance=("Zahlung",))]
    statement = bank.write(
        message="camt.053", message_id=f"DEMO-{bill.bill_no[-12:]}-S",
        created_at=_stamp(booked + timedelta(days=1)), account_iban=_creditor_iban(ctx),
        currency="EUR", movements=transfers)
    _import(ctx, lines, "camt.053 (account statement)", statement)


def manual(ctx: Context, lines: list[str]) -> None:
    """Nordwind's Munich depot pays everything it was billed, by hand."""
    account = _account(ctx, ordering_demo.MUNICH)
    bills = _bills(ctx, account) if account is not None else []
    if account is None or not bills:
        return
    total = sum((b.amount_due for b in bills), Decimal(0))
    payment, created = service.record_payment(
        ctx, account_id=account, amount=Money(total, bills[0].currency), channel="cash",
        source_key="demo:munich-manual", payment_date=ctx.now,
        body={"description": "paid at the Munich shop"})
    ctx.session.commit()
    lines.append(f"payments: Munich depot paid {payment.amount} EUR by hand"
                 + ("" if created else " (ready)"))


def chase_day(ctx: Context) -> date | None:
    """When the headquarters are chased: 22 days after their first invoice was due."""
    account = _account(ctx, ordering_demo.HEADQUARTERS)
    bills = [b for b in _bills(ctx, account) if b.payment_due_date is not None] \
        if account is not None else []
    if not bills or bills[0].payment_due_date is None:
        return None
    return bills[0].payment_due_date + timedelta(days=DUNNING_DAYS)


def chase(ctx: Context, lines: list[str], as_of: date) -> None:
    """Run dunning as of ``as_of``; the product orders it places are worked off."""
    from openbss.ordering import orchestration

    account = _account(ctx, ordering_demo.HEADQUARTERS)
    summary = dunning.run(ctx, as_of=as_of)
    ctx.session.commit()
    for _ in range(10):
        if not orchestration.run_due_steps(ctx.session, tenant_id=ctx.tenant_id):
            break
    mine = [a["action"] for a in summary["actions"] if a["billingAccount"] == account]
    lines.append(f"payments: dunning as of {as_of} — Nordwind headquarters: "
                 + (", ".join(mine) if mine else "steps done (ready)"))
