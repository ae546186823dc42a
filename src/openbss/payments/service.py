"""Use cases of payments and refunds (TMF676): record, allocate, complete, fail, reverse,
charge back, refund, write off, and use an account's unapplied credit.

Rules (docs/payments.md):

- A payment belongs to one billing account and is in its currency, with no more decimals
  than the currency has. ``source_key`` (a gateway charge, a statement entry, a SEPA
  end-to-end id, a client's ``correlatorId``) makes recording it twice record it once.
- Received (``done``): the amount is applied to bills — the ``paymentItem`` given, or
  (setting ``autoAllocate``) the account's open bills oldest due first — and the rest is
  kept as unapplied credit, used by the next invoice (``applyCreditToNewBills``). The bills'
  remaining amounts and states follow (billing's settlement), and the ledger posts the
  receipt in the same transaction.
- In flight (``pendingAuthorization``: a SEPA collection, a card awaiting its gateway):
  the bills it is for are remembered (``plannedAllocations``), nothing is applied or
  posted; :func:`complete_payment` applies and posts, :func:`fail_payment` forgets.
- Reversed (a returned debit, a bounced transfer) or charged back: every allocation of
  the payment is undone (the bills owe again and go back to dunning), its unapplied credit
  is gone, and the ledger posts the reverse; a chargeback may carry the bank's fee.
- A refund pays back up to what is left of a received payment: from its unapplied credit
  first, then from the bills it paid, newest first (they owe again, as Kill Bill's refund
  without adjustment). It goes through the payment's gateway (``manual``: at once).
- A write-off clears what a bill still owes as bad debt (Dr write-off / Cr receivable).

Every change is audited, publishes its TMF676 event (``PaymentCreateEvent``,
``PaymentStateChangeEvent``, ``PaymentAttributeValueChangeEvent``, ``RefundCreateEvent``),
and announces the accounts whose balance moved (:func:`payments.hooks.balance_changed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func

from openbss.billing import hooks as billing_hooks
from openbss.billing import queries as billing_queries
from openbss.billing import settlement
from openbss.billing.invoices import money
from openbss.billing.models import Invoice
from openbss.billing.queries import billing_accounts
from openbss.core import audit, events
from openbss.core.context import Context
from openbss.core.db import new_id
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.money import Money, round_amount
from openbss.core.queries import get_owned, scoped
from openbss.core.resources import record_change
from openbss.core.tmf import ListParams, apply_filters, href, iso, paginate
from openbss.ledger import service as ledger
from openbss.party import hooks as party_hooks
from openbss.party.models import Account
from openbss.payments import allocation, hooks, postings
from openbss.payments import settings as payment_settings
from openbss.payments.errors import (
    NothingToAllocate,
    PaymentNotReversible,
    RefundExceedsPayment,
    WrongCurrency,
)
from openbss.payments.gateways import get as gateway_of
from openbss.payments.models import (
    PAYMENT_STATES,
    REFUND_STATES,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from openbss.payments.paths import (
    ACCOUNT_PATH,
    CUSTOMER_BILL_PATH,
    METHOD_PATH,
    PAYMENT_API,
    PAYMENT_PATH,
    REFUND_PATH,
)

ZERO = Decimal(0)
PENDING = (PaymentStatus.PENDING.value, PaymentStatus.AUTHORIZED.value)

PAYMENT_FILTERS: dict[str, Any] = {
    "account.id": Payment.billing_account_id, "status": Payment.status,
    "channel.name": Payment.channel, "paymentDate": Payment.payment_date,
    "correlatorId": Payment.body["correlatorId"].as_string(),
    "paymentMethod.id": Payment.payment_method_id,
    "endToEndId": Payment.end_to_end_id, "gateway": Payment.gateway}
REFUND_FILTERS: dict[str, Any] = {
    "account.id": Refund.billing_account_id, "payment.id": Refund.payment_id,
    "status": Refund.status, "refundDate": Refund.refund_date}


# -- reading ----------------------------------------------------------------------------------

def get_payment(ctx: Context, *, payment_id: str, lock: bool = False) -> Payment:
    return get_owned(ctx.session, Payment, ctx.tenant_id, payment_id, "payment", lock=lock)


def list_payments(ctx: Context, params: ListParams) -> tuple[list[Payment], int]:
    stmt = apply_filters(scoped(ctx, Payment), params, PAYMENT_FILTERS)
    return paginate(ctx.session, stmt, params, [Payment.payment_date.desc(), Payment.id])


def get_refund(ctx: Context, *, refund_id: str) -> Refund:
    return get_owned(ctx.session, Refund, ctx.tenant_id, refund_id, "refund")


def list_refunds(ctx: Context, params: ListParams) -> tuple[list[Refund], int]:
    stmt = apply_filters(scoped(ctx, Refund), params, REFUND_FILTERS)
    return paginate(ctx.session, stmt, params, [Refund.refund_date.desc(), Refund.id])


def payments_by_end_to_end(ctx: Context, ids: Sequence[str]) -> dict[str, Payment]:
    """The latest payment of each SEPA end-to-end id."""
    out: dict[str, Payment] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 900):
        for p in ctx.session.scalars(scoped(ctx, Payment).where(
                Payment.end_to_end_id.in_(wanted[start:start + 900])).order_by(
                Payment.created_at)):
            out[p.end_to_end_id or ""] = p
    return out


def pending_bill_ids(ctx: Context, account_ids: Sequence[str]) -> set[str]:
    """Bills a payment in flight is for (never collected again while it is)."""
    out: set[str] = set()
    ids = list(account_ids)
    for start in range(0, len(ids), 900):
        for body in ctx.session.scalars(scoped(ctx, Payment.body).where(
                Payment.billing_account_id.in_(ids[start:start + 900]),
                Payment.status.in_(PENDING))):
            out.update(str(a["bill"]) for a in (body or {}).get("plannedAllocations") or [])
    return out


def net_allocations(ctx: Context, payment_id: str) -> list[tuple[str, Decimal]]:
    """(bill id, net amount applied) of a payment, oldest first; fully undone left out."""
    totals: dict[str, Decimal] = {}
    for alloc in ctx.session.scalars(scoped(ctx, PaymentAllocation).where(
            PaymentAllocation.payment_id == payment_id).order_by(PaymentAllocation.at,
                                                                 PaymentAllocation.id)):
        totals[alloc.bill_id] = totals.get(alloc.bill_id, ZERO) + alloc.amount
    return [(bill_id, value) for bill_id, value in totals.items() if value > 0]


def account_credit(ctx: Context, account_ids: Sequence[str]) -> dict[str, Decimal]:
    """Unapplied credit per account (received payments only; summed exactly here, not in
    SQL, where SQLite would sum the text column as floats)."""
    out: dict[str, Decimal] = {}
    ids = list(dict.fromkeys(account_ids))
    for start in range(0, len(ids), 900):
        for account_id, unapplied in ctx.session.execute(scoped(
                ctx, Payment.billing_account_id, Payment.unapplied).where(
                Payment.billing_account_id.in_(ids[start:start + 900]),
                Payment.status == PaymentStatus.DONE.value)):
            out[account_id] = out.get(account_id, ZERO) + unapplied
    return out


# -- rendering --------------------------------------------------------------------------------

def _ref(ctx: Context, path: str, rid: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "href": href(ctx.base_url, path, rid), **extra,
            "@referredType": kind}


def render_payment(ctx: Context, row: Payment, *,
                   allocations: Sequence[tuple[str, Decimal]] | None = None
                   ) -> dict[str, Any]:
    """TMF676 ``payment`` (with openbss extensions: ``unappliedAmount``,
    ``refundedAmount``, ``feeAmount``, ``endToEndId``, ``gateway``, ``reason``)."""
    body = row.body or {}
    cur = row.currency
    if allocations is None:
        allocations = net_allocations(ctx, row.id)
    items = allocations or [(str(a["bill"]), Decimal(str(a["amount"])))
                            for a in body.get("plannedAllocations") or []]
    method: dict[str, Any] = {"name": row.channel, "@referredType": body.get("methodType")
                              or "PaymentMethod"}
    if row.payment_method_id:
        method = _ref(ctx, METHOD_PATH, row.payment_method_id,
                      body.get("methodType") or "PaymentMethod")
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, PAYMENT_PATH, row.id), "@type": "Payment",
        "status": row.status, "statusDate": iso(row.status_date),
        "paymentDate": iso(row.payment_date),
        "account": _ref(ctx, ACCOUNT_PATH, row.billing_account_id, "BillingAccount"),
        "amount": money(row.amount, cur), "taxAmount": money(ZERO, cur),
        "totalAmount": money(row.amount, cur),
        "channel": {"id": row.channel, "name": row.channel}, "paymentMethod": method,
        "paymentItem": [{"amount": money(v, cur), "totalAmount": money(v, cur),
                         "item": _ref(ctx, CUSTOMER_BILL_PATH, b, "CustomerBill"),
                         "@type": "PaymentItem"} for b, v in items],
        "unappliedAmount": money(row.unapplied, cur),
        "refundedAmount": money(row.refunded, cur), "feeAmount": money(row.fee, cur),
        "gateway": row.gateway,
    }
    for key, value in (("correlatorId", body.get("correlatorId")),
                       ("description", body.get("description")),
                       ("name", body.get("name")),
                       ("authorizationCode", body.get("authorizationCode")),
                       ("endToEndId", row.end_to_end_id), ("reason", row.reason)):
        if value:
            doc[key] = value
    if body.get("payer"):
        doc["payer"] = body["payer"]
    return doc


def render_refund(ctx: Context, row: Refund) -> dict[str, Any]:
    body = row.body or {}
    cur = row.currency
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, REFUND_PATH, row.id), "@type": "Refund",
        "status": row.status, "statusDate": iso(row.status_date),
        "refundDate": iso(row.refund_date),
        "account": _ref(ctx, ACCOUNT_PATH, row.billing_account_id, "BillingAccount"),
        "payment": _ref(ctx, PAYMENT_PATH, row.payment_id, "Payment"),
        "amount": money(row.amount, cur), "taxAmount": money(ZERO, cur),
        "totalAmount": money(row.amount, cur),
        "paymentMethod": {"name": body.get("channel") or "manual",
                          "@referredType": "PaymentMethod"},
        "gateway": row.gateway}
    for key in ("correlatorId", "description", "name"):
        if body.get(key):
            doc[key] = body[key]
    if row.reason:
        doc["reason"] = row.reason
    return doc


# -- checks -----------------------------------------------------------------------------------

def _account(ctx: Context, account_id: str, *, field: str = "account.id") -> Account:
    found = billing_accounts(ctx, [account_id])
    if not found:
        raise NotFoundError(f"{field}: billingAccount {account_id!r} not found", field=field)
    return found[0]


def _check_amount(value: Money, account: Account, field: str) -> None:
    if value.currency != account.currency:
        raise WrongCurrency(f"{field}.unit: the billing account is in {account.currency}, "
                            f"not {value.currency}", field=f"{field}.unit")
    if round_amount(value.amount, value.currency) != value.amount:
        raise ValidationError(f"{field}.value: {value.amount} has more decimals than "
                              f"{value.currency} has", field=f"{field}.value")


def _open_bills(ctx: Context, account_id: str, currency: str) -> list[allocation.OpenBill]:
    return [allocation.OpenBill(b.id, b.remaining_amount)
            for b in settlement.open_bills(ctx, account_id=account_id)
            if b.currency == currency and b.remaining_amount > 0]


def _spread(ctx: Context, account: Account, amount: Decimal,
            wanted: Sequence[tuple[str, Decimal]] | None, *, auto: bool,
            prefix: str = "paymentItem") -> allocation.Spread:
    bills = _open_bills(ctx, account.id, account.currency)
    if wanted is None:
        if not auto:
            return allocation.Spread((), amount)
        return allocation.oldest_first(amount, bills)
    try:
        return allocation.checked(amount, wanted, {b.id: b for b in bills}, prefix=prefix)
    except allocation.AllocationError as exc:
        raise ValidationError(str(exc), field=exc.field) from None


# -- the writes -------------------------------------------------------------------------------

def _apply(ctx: Context, payment: Payment, spread: Sequence[tuple[str, Decimal]],
           kind: str) -> Decimal:
    """Apply parts of the payment to bills (billing's settlement, allocation rows)."""
    total = ZERO
    for bill_id, value in spread:
        settlement.apply_payment(ctx, bill_id=bill_id, amount=value,
                                 currency=payment.currency, payment_id=payment.id)
        ctx.session.add(PaymentAllocation(
            id=new_id(), tenant_id=ctx.tenant_id, payment_id=payment.id, bill_id=bill_id,
            amount=value, currency=payment.currency, kind=kind, at=ctx.now))
        total += value
    return total


def _publish(ctx: Context, payment: Payment, change: str, before: dict[str, Any] | None,
             after: dict[str, Any]) -> None:
    record_change(ctx, api=PAYMENT_API, resource_name="payment", resource_id=payment.id,
                  change=change,  # type: ignore[arg-type]
                  before=before, after=after, event_resource=render_payment(ctx, payment))


def _set_status(payment: Payment, status: str, ctx: Context, reason: str | None = None
                ) -> None:
    PAYMENT_STATES.check(payment.status, status, resource_id=payment.id)
    payment.status = status
    payment.status_date = ctx.now
    if reason is not None:
        payment.reason = reason[:2000]
    payment.row_version += 1


def record_payment(ctx: Context, *, account_id: str, amount: Money, channel: str = "manual",
                   source_key: str | None = None, gateway: str = "manual",
                   gateway_ref: str | None = None, method_id: str | None = None,
                   status: str = PaymentStatus.DONE.value,
                   payment_date: datetime | None = None,
                   allocations: Sequence[tuple[str, Decimal]] | None = None,
                   end_to_end_id: str | None = None, collection_id: str | None = None,
                   fee: Decimal = ZERO, body: dict[str, Any] | None = None,
                   auto: bool | None = None) -> tuple[Payment, bool]:
    """Record a payment (see the module docstring); ``(payment, created)`` — created is
    False when ``source_key`` was recorded before (that payment is returned unchanged)."""
    key = source_key or f"payment:{new_id()}"
    existing = ctx.session.scalars(scoped(ctx, Payment).where(
        Payment.source_key == key)).first()
    if existing is not None:
        return existing, False
    account = _account(ctx, account_id)
    _check_amount(amount, account, "totalAmount")
    if amount.amount <= 0:
        raise ValidationError("totalAmount.value: must be more than zero",
                              field="totalAmount.value")
    if fee < 0 or fee > amount.amount or round_amount(fee, amount.currency) != fee:
        raise ValidationError(f"feeAmount.value: between 0 and the payment's amount, in "
                              f"{amount.currency}'s decimals", field="feeAmount.value")
    if auto is None:
        auto = payment_settings.read(ctx).auto_allocate
    spread = _spread(ctx, account, amount.amount, allocations, auto=auto)
    payment = Payment(
        id=new_id(), tenant_id=ctx.tenant_id, billing_account_id=account.id,
        status=status, status_date=ctx.now, channel=channel[:32], gateway=gateway,
        gateway_ref=gateway_ref, payment_method_id=method_id,
        payment_date=payment_date or ctx.now, currency=amount.currency,
        amount=amount.amount, unapplied=ZERO, refunded=ZERO, fee=fee, source_key=key[:200],
        end_to_end_id=end_to_end_id, collection_id=collection_id, created_by=ctx.actor,
        created_at=ctx.now, row_version=1,
        body={k: v for k, v in (body or {}).items() if v is not None})
    if status in PENDING:
        payment.body = {**payment.body, "plannedAllocations": [
            {"bill": b, "amount": str(v)} for b, v in spread.allocations]}
    ctx.session.add(payment)
    ctx.session.flush()
    if status == PaymentStatus.DONE.value:
        _receive(ctx, payment, spread.allocations)
    elif spread.allocations:
        settlement.set_collection(ctx, bill_ids=[b for b, _ in spread.allocations],
                                  payment_id=payment.id, state="pending")
    _publish(ctx, payment, "create", None, {
        "status": payment.status, "amount": str(payment.amount), "currency": payment.currency,
        "account": payment.billing_account_id, "channel": payment.channel,
        "unapplied": str(payment.unapplied), "sourceKey": payment.source_key})
    return payment, True


@dataclass(frozen=True)
class NewPayment:
    """A received payment for :func:`record_many` (its bills already chosen)."""

    id: str
    account_id: str
    amount: Money
    source_key: str
    allocations: tuple[tuple[str, Decimal], ...]
    channel: str = "bankTransfer"
    body: dict[str, Any] = field(default_factory=dict)
    #: ``pendingAuthorization``: in flight (a SEPA collection): the bills are marked, not
    #: settled, and nothing is posted until :func:`complete_payment`
    status: str = PaymentStatus.DONE.value
    gateway: str = "manual"
    method_id: str | None = None
    end_to_end_id: str | None = None
    collection_id: str | None = None


def record_many(ctx: Context, items: Sequence[NewPayment]) -> dict[str, str]:
    """Record many payments at once (a bank statement's transfers, a SEPA file's
    collections), set-based:
    the accounts and bills read in one query each, the payments and their allocations
    written with one INSERT each, the bills settled as one batch, one ledger posting, one
    audit batch and one event batch. A ``source_key`` recorded before is not recorded
    again. Returns ``{item id: the payment's id}`` (the earlier one for a known key)."""
    if not items:
        return {}
    out: dict[str, str] = {}
    keys = [i.source_key for i in items]
    known: dict[str, str] = {}
    for start in range(0, len(keys), 900):
        known.update({k: pid for pid, k in ctx.session.execute(scoped(
            ctx, Payment.id, Payment.source_key).where(
            Payment.source_key.in_(keys[start:start + 900])))})
    accounts = {a.id: a for a in billing_accounts(ctx, sorted({i.account_id for i in items}))}
    fresh: list[NewPayment] = []
    for item in items:
        if item.source_key in known:
            out[item.id] = known[item.source_key]
            continue
        account = accounts.get(item.account_id)
        if account is None:
            raise NotFoundError(f"account.id: billingAccount {item.account_id!r} not found",
                                field="account.id")
        _check_amount(item.amount, account, "totalAmount")
        known[item.source_key] = item.id
        out[item.id] = item.id
        fresh.append(item)
    if not fresh:
        return out
    rows = []
    for item in fresh:
        applied = sum((v for _, v in item.allocations), ZERO)
        if applied > item.amount.amount or any(v <= 0 for _, v in item.allocations):
            raise ValidationError(f"paymentItem: {applied} exceeds the payment's "
                                  f"{item.amount.amount}", field="paymentItem")
        pending = item.status in PENDING
        body = {k: v for k, v in item.body.items() if v is not None}
        if pending:
            body["plannedAllocations"] = [{"bill": b, "amount": str(v)}
                                          for b, v in item.allocations]
        rows.append(Payment(
            id=item.id, tenant_id=ctx.tenant_id, billing_account_id=item.account_id,
            status=item.status, status_date=ctx.now, channel=item.channel,
            gateway=item.gateway, payment_method_id=item.method_id, payment_date=ctx.now,
            currency=item.amount.currency, amount=item.amount.amount,
            unapplied=ZERO if pending else item.amount.amount - applied,
            refunded=ZERO, fee=ZERO, source_key=item.source_key[:200],
            end_to_end_id=item.end_to_end_id, collection_id=item.collection_id,
            created_by=ctx.actor, created_at=ctx.now, row_version=1, body=body))
    ctx.session.add_all(rows)
    in_flight = [item for item in fresh if item.status in PENDING]
    fresh = [item for item in fresh if item.status not in PENDING]
    if in_flight:
        ctx.session.flush()
        by_payment: dict[str, list[str]] = {}
        for item in in_flight:
            by_payment.setdefault(item.id, []).extend(b for b, _ in item.allocations)
        settlement.mark_collections(ctx, by_payment, state="pending")
    allocated = {item.id: list(item.allocations) for item in fresh}
    ctx.session.add_all([PaymentAllocation(
        id=new_id(), tenant_id=ctx.tenant_id, payment_id=item.id, bill_id=bill_id,
        amount=value, currency=item.amount.currency, kind="payment", at=ctx.now)
        for item in fresh for bill_id, value in item.allocations])
    ctx.session.flush()
    settlement.apply_many(ctx, [(bill_id, value, item.amount.currency, item.id)
                                for item in fresh for bill_id, value in item.allocations])
    ledger.post_many(ctx, [postings.receipt(
        payment_id=item.id, account=item.account_id, currency=item.amount.currency,
        amount=item.amount.amount, allocated=sum((v for _, v in item.allocations), ZERO),
        on=ctx.now.date(), memo=item.body.get("description")) for item in fresh])
    audit.record_many(ctx, [{
        "action": "create", "resource_type": "payment", "resource_id": p.id,
        "after": {"status": p.status, "amount": str(p.amount), "currency": p.currency,
                  "account": p.billing_account_id, "channel": p.channel,
                  "unapplied": str(p.unapplied), "sourceKey": p.source_key}} for p in rows])
    events.publish_many(ctx, api=PAYMENT_API, event_type="PaymentCreateEvent",
                        resource_name="payment", resources=[
                            render_payment(ctx, p, allocations=[] if p.status in PENDING
                                           else allocated[p.id]) for p in rows])
    if fresh:
        hooks.balance_changed(ctx, [i.account_id for i in fresh])
    return out


def _receive(ctx: Context, payment: Payment, spread: Sequence[tuple[str, Decimal]]) -> None:
    applied = _apply(ctx, payment, spread, "payment")
    payment.unapplied = payment.amount - applied
    ledger.post(ctx, postings.receipt(
        payment_id=payment.id, account=payment.billing_account_id,
        currency=payment.currency, amount=payment.amount, allocated=applied,
        fee=payment.fee, on=payment.payment_date.date(),
        memo=(payment.body or {}).get("description")))
    ctx.session.flush()
    hooks.balance_changed(ctx, [payment.billing_account_id])


def complete_payment(ctx: Context, *, payment_id: str, fee: Decimal = ZERO,
                     gateway_ref: str | None = None) -> Payment:
    """A payment in flight was received: apply what it was for (bills already paid
    otherwise meanwhile: the rest is kept as credit, or auto-allocated) and post."""
    payment = get_payment(ctx, payment_id=payment_id, lock=True)
    if payment.status == PaymentStatus.DONE.value:
        return payment
    before = {"status": payment.status}
    _set_status(payment, PaymentStatus.DONE.value, ctx)
    if gateway_ref:
        payment.gateway_ref = gateway_ref
    if fee:
        payment.fee = fee
    planned = [(str(a["bill"]), Decimal(str(a["amount"])))
               for a in (payment.body or {}).get("plannedAllocations") or []]
    payment.body = {k: v for k, v in (payment.body or {}).items()
                    if k != "plannedAllocations"}
    settlement.set_collection(ctx, bill_ids=[b for b, _ in planned], payment_id=payment.id,
                              state=None)
    account = _account(ctx, payment.billing_account_id)
    bills = {b.id: b for b in _open_bills(ctx, account.id, account.currency)}
    spread = [(b, min(v, bills[b].remaining)) for b, v in planned
              if b in bills and bills[b].remaining > 0]
    _receive(ctx, payment, spread)
    _publish(ctx, payment, "state", before, {"status": payment.status,
                                             "unapplied": str(payment.unapplied)})
    return payment


def complete_many(ctx: Context, payment_ids: Sequence[str]) -> int:
    """:func:`complete_payment` for many payments in flight at once (a camt.054 crediting
    a SEPA file), set-based: the payments and their bills read in one query each, one
    settlement batch, one ledger posting, one audit and one event batch. Payments no
    longer in flight are left as they are; how many were completed."""
    ids = sorted(set(payment_ids))
    rows: list[Payment] = []
    for start in range(0, len(ids), 900):
        stmt = scoped(ctx, Payment).where(Payment.id.in_(ids[start:start + 900]))
        if ctx.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        rows.extend(p for p in ctx.session.scalars(stmt) if p.status in PENDING)
    if not rows:
        return 0
    planned = {p.id: [(str(a["bill"]), Decimal(str(a["amount"])))
                      for a in (p.body or {}).get("plannedAllocations") or []] for p in rows}
    bills = {b.id: b for b in billing_queries.invoices_by_id(
        ctx, sorted({b for spread in planned.values() for b, _ in spread}))}
    left = {b.id: b.remaining_amount for b in bills.values()}
    items: list[tuple[str, Decimal, str, str]] = []
    applied: dict[str, list[tuple[str, Decimal]]] = {}
    for p in rows:
        PAYMENT_STATES.check(p.status, PaymentStatus.DONE.value, resource_id=p.id)
        p.status, p.status_date = PaymentStatus.DONE.value, ctx.now
        p.row_version += 1
        p.body = {k: v for k, v in (p.body or {}).items() if k != "plannedAllocations"}
        spread = []
        for bill_id, value in planned[p.id]:
            share = min(value, left.get(bill_id, ZERO))
            if share > 0 and bill_id in bills and bills[bill_id].currency == p.currency:
                spread.append((bill_id, share))
                left[bill_id] -= share
        applied[p.id] = spread
        p.unapplied = p.amount - sum((v for _, v in spread), ZERO)
        items += [(b, v, p.currency, p.id) for b, v in spread]
    for bill in bills.values():  # the collection mark goes with the credit
        if (bill.body or {}).get("collection", {}).get("payment") in applied:
            bill.body = {k: v for k, v in (bill.body or {}).items() if k != "collection"}
    ctx.session.add_all([PaymentAllocation(
        id=new_id(), tenant_id=ctx.tenant_id, payment_id=pid, bill_id=b, amount=v,
        currency=cur, kind="payment", at=ctx.now) for b, v, cur, pid in items])
    ctx.session.flush()
    settlement.apply_many(ctx, items)
    ledger.post_many(ctx, [postings.receipt(
        payment_id=p.id, account=p.billing_account_id, currency=p.currency, amount=p.amount,
        allocated=p.amount - p.unapplied, fee=p.fee, on=ctx.now.date()) for p in rows])
    audit.record_many(ctx, [{
        "action": "state", "resource_type": "payment", "resource_id": p.id,
        "before": {"status": PaymentStatus.PENDING.value},
        "after": {"status": p.status, "unapplied": str(p.unapplied)}} for p in rows])
    events.publish_many(ctx, api=PAYMENT_API, event_type="PaymentStateChangeEvent",
                        resource_name="payment",
                        resources=[render_payment(ctx, p, allocations=applied[p.id])
                                   for p in rows])
    hooks.balance_changed(ctx, [p.billing_account_id for p in rows])
    return len(rows)


def fail_payment(ctx: Context, *, payment_id: str, reason: str) -> Payment:
    """A payment in flight did not go through (a direct debit returned before settlement,
    a card declined): nothing was applied, the bills stay open (and overdue: dunning)."""
    payment = get_payment(ctx, payment_id=payment_id, lock=True)
    if payment.status == PaymentStatus.FAILED.value:
        return payment
    if payment.status not in PENDING:
        raise PaymentNotReversible(f"payment {payment.id} is {payment.status}: only a "
                                   "payment in flight can fail (reverse a received one)",
                                   field="status")
    before = {"status": payment.status}
    settlement.set_collection(ctx, bill_ids=[str(a["bill"]) for a in (payment.body or {}).get(
        "plannedAllocations") or []], payment_id=payment.id, state="failed", reason=reason)
    _set_status(payment, PaymentStatus.FAILED.value, ctx, reason)
    payment.body = {**(payment.body or {}), "failedAllocations":
                    (payment.body or {}).get("plannedAllocations") or []}
    payment.body = {k: v for k, v in payment.body.items() if k != "plannedAllocations"}
    ctx.session.flush()
    _publish(ctx, payment, "state", before, {"status": payment.status, "reason": reason})
    hooks.balance_changed(ctx, [payment.billing_account_id])
    return payment


def reverse_payment(ctx: Context, *, payment_id: str, reason: str | None = None,
                    chargeback: bool = False, fee: Decimal = ZERO) -> Payment:
    """Undo a received payment (see the module docstring). A payment still in flight is
    failed instead (nothing was applied)."""
    payment = get_payment(ctx, payment_id=payment_id, lock=True)
    if payment.status in PENDING and not chargeback:
        return fail_payment(ctx, payment_id=payment_id, reason=reason or "reversed")
    if payment.status != PaymentStatus.DONE.value:
        raise PaymentNotReversible(
            f"payment {payment.id} is {payment.status}: only a received (done) payment can "
            f"be {'charged back' if chargeback else 'reversed'}", field="status")
    if fee < 0 or round_amount(fee, payment.currency) != fee:
        raise ValidationError(f"feeAmount.value: not negative, in {payment.currency}'s "
                              "decimals", field="feeAmount.value")
    kind = "chargeback" if chargeback else "reversal"
    undo = net_allocations(ctx, payment.id)
    reopened = ZERO
    for bill_id, value in undo:
        settlement.apply_payment(ctx, bill_id=bill_id, amount=-value,
                                 currency=payment.currency, payment_id=payment.id)
        ctx.session.add(PaymentAllocation(
            id=new_id(), tenant_id=ctx.tenant_id, payment_id=payment.id, bill_id=bill_id,
            amount=-value, currency=payment.currency, kind=kind, at=ctx.now))
        reopened += value
    if payment.gateway == "sepa" and undo:
        settlement.set_collection(ctx, bill_ids=[b for b, _ in undo], payment_id=payment.id,
                                  state="returned", reason=reason)
    credit = payment.unapplied
    before = {"status": payment.status, "unapplied": str(credit)}
    _set_status(payment, PaymentStatus.CHARGED_BACK.value if chargeback
                else PaymentStatus.REVERSED.value, ctx, reason or kind)
    payment.unapplied = ZERO
    if fee:
        payment.fee = payment.fee + fee
    ledger.post(ctx, postings.reversal(
        payment_id=payment.id, account=payment.billing_account_id,
        currency=payment.currency, reopened=reopened, credit=credit, kind=kind, fee=fee,
        on=ctx.now.date(), memo=reason))
    ctx.session.flush()
    _publish(ctx, payment, "state", before, {"status": payment.status,
                                             "reopened": str(reopened), "reason": reason})
    hooks.balance_changed(ctx, [payment.billing_account_id])
    return payment


def allocate(ctx: Context, *, payment_id: str,
             allocations: Sequence[tuple[str, Decimal]] | None = None,
             kind: str = "manual") -> Payment:
    """Apply (part of) a received payment's unapplied amount to bills: the ones given, or
    the account's open bills oldest due first."""
    payment = get_payment(ctx, payment_id=payment_id, lock=True)
    if payment.status != PaymentStatus.DONE.value:
        raise NothingToAllocate(f"payment {payment.id} is {payment.status}: only a received "
                                "payment's unapplied amount can be allocated", field="status")
    if payment.unapplied <= 0:
        raise NothingToAllocate(f"payment {payment.id} has nothing unapplied",
                                field="paymentItem")
    account = _account(ctx, payment.billing_account_id)
    spread = _spread(ctx, account, payment.unapplied, allocations, auto=True)
    if not spread.allocations:
        return payment
    applied = _apply(ctx, payment, spread.allocations, kind)
    before = {"unapplied": str(payment.unapplied)}
    payment.unapplied -= applied
    payment.row_version += 1
    n = ctx.session.scalar(scoped(ctx, func.count(), of=[PaymentAllocation]).where(
        PaymentAllocation.payment_id == payment.id))
    ledger.post(ctx, postings.credit_applied(
        payment_id=payment.id, account=payment.billing_account_id, currency=payment.currency,
        amount=applied, key=f"payment:{payment.id}:allocation:{n}", on=ctx.now.date()))
    ctx.session.flush()
    _publish(ctx, payment, "update", before, {"unapplied": str(payment.unapplied),
                                              "allocated": str(applied)})
    hooks.balance_changed(ctx, [payment.billing_account_id])
    return payment


def apply_credit(ctx: Context, account_ids: Sequence[str]) -> int:
    """Use the accounts' unapplied credit on their open bills (oldest payment first, oldest
    bill first); how many payments were applied."""
    done = 0
    ids = list(dict.fromkeys(account_ids))
    for start in range(0, len(ids), 900):
        credit = list(ctx.session.scalars(scoped(ctx, Payment).where(
            Payment.billing_account_id.in_(ids[start:start + 900]),
            Payment.status == PaymentStatus.DONE.value,
            ).order_by(
            Payment.payment_date, Payment.id)))
        for payment in credit:
            if payment.unapplied <= 0:
                continue
            if not _open_bills(ctx, payment.billing_account_id, payment.currency):
                continue
            allocate(ctx, payment_id=payment.id, kind="credit")
            done += 1
    return done


def refund_payment(ctx: Context, *, payment_id: str, amount: Money,
                   reason: str | None = None, source_key: str | None = None,
                   refund_date: datetime | None = None,
                   body: dict[str, Any] | None = None) -> tuple[Refund, bool]:
    """Pay back (part of) a received payment (see the module docstring)."""
    key = source_key or f"refund:{new_id()}"
    existing = ctx.session.scalars(scoped(ctx, Refund).where(Refund.source_key == key)).first()
    if existing is not None:
        return existing, False
    payment = get_payment(ctx, payment_id=payment_id, lock=True)
    if payment.status != PaymentStatus.DONE.value:
        raise RefundExceedsPayment(f"payment {payment.id} is {payment.status}: only a "
                                   "received (done) payment can be refunded",
                                   field="payment.id")
    if amount.currency != payment.currency:
        raise WrongCurrency(f"totalAmount.unit: the payment is in {payment.currency}",
                            field="totalAmount.unit")
    if round_amount(amount.amount, amount.currency) != amount.amount or amount.amount <= 0:
        raise ValidationError(f"totalAmount.value: more than zero, in {amount.currency}'s "
                              "decimals", field="totalAmount.value")
    left = payment.amount - payment.refunded
    if amount.amount > left:
        raise RefundExceedsPayment(f"totalAmount.value: {amount.amount} exceeds the {left} "
                                   f"{payment.currency} left of payment {payment.id}",
                                   field="totalAmount.value")
    from_credit = min(amount.amount, payment.unapplied)
    back = allocation.take_back(amount.amount - from_credit,
                                net_allocations(ctx, payment.id))
    refund = Refund(id=new_id(), tenant_id=ctx.tenant_id, payment_id=payment.id,
                    billing_account_id=payment.billing_account_id,
                    status=RefundStatus.PENDING.value, status_date=ctx.now,
                    refund_date=refund_date or ctx.now, currency=payment.currency,
                    amount=amount.amount, gateway=payment.gateway, source_key=key[:200],
                    reason=reason, created_by=ctx.actor, row_version=1,
                    body={k: v for k, v in {**(body or {}), "channel": payment.channel}.items()
                          if v is not None})
    ctx.session.add(refund)
    ctx.session.flush()
    result = gateway_of(payment.gateway, field="payment.gateway").refund(
        gateway_ref=payment.gateway_ref or payment.id, amount=amount,
        idempotency_key=f"{ctx.tenant_id}:{refund.id}") \
        if payment.gateway not in ("sepa",) else None
    status = result.status if result is not None else RefundStatus.DONE.value
    if status == "failed":
        REFUND_STATES.check(refund.status, RefundStatus.FAILED.value, resource_id=refund.id)
        refund.status = RefundStatus.FAILED.value
        refund.reason = (result.reason if result else None) or reason
    else:
        REFUND_STATES.check(refund.status, RefundStatus.DONE.value, resource_id=refund.id)
        refund.status = RefundStatus.DONE.value
        refund.gateway_ref = result.gateway_ref if result else None
        reopened = ZERO
        for bill_id, value in back.allocations:
            settlement.apply_payment(ctx, bill_id=bill_id, amount=-value,
                                     currency=payment.currency, payment_id=payment.id)
            ctx.session.add(PaymentAllocation(
                id=new_id(), tenant_id=ctx.tenant_id, payment_id=payment.id,
                bill_id=bill_id, amount=-value, currency=payment.currency, kind="refund",
                at=ctx.now))
            reopened += value
        payment.unapplied -= from_credit
        payment.refunded += amount.amount
        payment.row_version += 1
        ledger.post(ctx, postings.refund(
            refund_id=refund.id, account=payment.billing_account_id,
            currency=payment.currency, from_credit=from_credit, reopened=reopened,
            on=refund.refund_date.date(), memo=reason))
    ctx.session.flush()
    record_change(ctx, api=PAYMENT_API, resource_name="refund", resource_id=refund.id,
                  change="create", before=None,
                  after={"status": refund.status, "amount": str(refund.amount),
                         "payment": payment.id}, event_resource=render_refund(ctx, refund))
    if refund.status == RefundStatus.DONE.value:
        _publish(ctx, payment, "update", None, {"refunded": str(payment.refunded),
                                                "unapplied": str(payment.unapplied)})
        hooks.balance_changed(ctx, [payment.billing_account_id])
    return refund, True


def write_off(ctx: Context, *, bill_id: str, amount: Decimal | None = None,
              reason: str | None = None) -> Invoice:
    """Write off what a bill still owes (or ``amount`` of it) as bad debt."""
    bill = get_owned(ctx.session, Invoice, ctx.tenant_id, bill_id, "customerBill")
    if bill.kind != "invoice":
        raise ValidationError(f"{bill.bill_no} is a credit note: only invoices are written "
                              "off", field="id")
    value = bill.remaining_amount if amount is None else amount
    if value <= 0:
        raise NothingToAllocate(f"{bill.bill_no} owes nothing: nothing to write off",
                                field="amount")
    if round_amount(value, bill.currency) != value:
        raise ValidationError(f"amount.value: more decimals than {bill.currency} has",
                              field="amount.value")
    row = settlement.apply_payment(ctx, bill_id=bill.id, amount=value, currency=bill.currency,
                                   payment_id=None, field="amount.value")
    writeoffs = list((row.body or {}).get("writeOff") or [])
    writeoffs.append({"amount": str(value), "reason": reason, "at": iso(ctx.now),
                      "by": ctx.actor})
    row.body = {**(row.body or {}), "writeOff": writeoffs}
    ledger.post(ctx, postings.write_off(
        bill_id=bill.id, account=bill.billing_account_id, currency=bill.currency,
        amount=value, key=f"customerBill:{bill.id}:writeOff:{len(writeoffs)}",
        on=ctx.now.date(), memo=reason or bill.bill_no))
    ctx.session.flush()
    audit.record(ctx, action="update", resource_type="customerBill", resource_id=bill.id,
                 after={"writeOff": str(value), "reason": reason})
    hooks.balance_changed(ctx, [bill.billing_account_id])
    return row


# -- the request shapes to use cases ----------------------------------------------------------

def items_of(items: Sequence[Any] | None, currency: str, prefix: str = "paymentItem"
           ) -> list[tuple[str, Decimal]] | None:
    if items is None:
        return None
    out = []
    for i, item in enumerate(items):
        value = item.value
        if value.unit != currency:
            raise WrongCurrency(f"{prefix}[{i}].amount.unit: the payment is in {currency}",
                                field=f"{prefix}[{i}].amount.unit")
        out.append((item.item.id, value.value))
    return out


def create_payment(ctx: Context, data: Any) -> Payment:
    """``POST payment`` (:class:`~openbss.payments.schemas.PaymentCreate`)."""
    account = _account(ctx, data.account.id)
    total = data.total_amount
    method_id = method_type = None
    gateway = "manual"
    if data.payment_method is not None and data.payment_method.id:
        method = ctx.session.scalars(scoped(ctx, PaymentMethod).where(
            PaymentMethod.id == data.payment_method.id)).first()
        if method is None or method.billing_account_id != account.id:
            raise NotFoundError(f"paymentMethod.id: {data.payment_method.id!r} is not a "
                                "payment method of this billing account",
                                field="paymentMethod.id")
        method_id, method_type, gateway = method.id, method.type, method.gateway
        if gateway not in ("manual", "sepa"):
            return _charge(ctx, data, account, method)
    elif data.payment_method is not None:
        method_type = data.payment_method.referred_type or data.payment_method.type_
    channel = (data.channel.name if data.channel and data.channel.name else None) \
        or _channel_of(method_type)
    fee = data.fee_amount.value if data.fee_amount else ZERO
    if data.fee_amount is not None and data.fee_amount.unit != total.unit:
        raise WrongCurrency("feeAmount.unit: in the payment's currency",
                            field="feeAmount.unit")
    payment, _ = record_payment(
        ctx, account_id=account.id, amount=Money(total.value, total.unit), channel=channel,
        source_key=f"correlator:{data.correlator_id}" if data.correlator_id else None,
        gateway=gateway if gateway != "sepa" else "manual", method_id=method_id,
        payment_date=data.payment_date, fee=fee,
        allocations=items_of(data.payment_item, total.unit),
        body={"description": data.description, "name": data.name,
              "correlatorId": data.correlator_id, "methodType": method_type,
              "authorizationCode": data.authorization_code,
              "payer": data.payer.doc() if data.payer else None})
    return payment


def _channel_of(method_type: str | None) -> str:
    return {"BankAccountTransfer": "bankTransfer", "DirectDebit": "sepaDirectDebit",
            "Cash": "cash", "Check": "check", "TokenizedCard": "card",
            "Voucher": "voucher", "DigitalWallet": "digitalWallet"}.get(method_type or "",
                                                                          "manual")


def _charge(ctx: Context, data: Any, account: Account, method: PaymentMethod) -> Payment:
    """A payment taken through an online gateway from a stored method (a card)."""
    from openbss.payments.gateways import ChargeRequest, MethodRef

    total = data.total_amount
    key = f"correlator:{data.correlator_id}" if data.correlator_id else f"payment:{new_id()}"
    existing = ctx.session.scalars(scoped(ctx, Payment).where(Payment.source_key == key)).first()
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    payment, _ = record_payment(
        ctx, account_id=account.id, amount=Money(total.value, total.unit),
        channel=_channel_of(method.type), source_key=key, gateway=method.gateway,
        method_id=method.id, status=PaymentStatus.PENDING.value,
        allocations=items_of(data.payment_item, total.unit),
        body={"description": data.description, "correlatorId": data.correlator_id,
              "methodType": method.type, "name": data.name})
    result = gateway_of(method.gateway).charge(ChargeRequest(
        payment_id=payment.id, account_id=account.id, amount=Money(total.value, total.unit),
        method=MethodRef(method.id, method.type, method.gateway_ref, method.gateway_customer),
        idempotency_key=f"{ctx.tenant_id}:{payment.id}", description=data.description))
    payment.gateway_ref = result.gateway_ref
    if result.status == PaymentStatus.DONE.value:
        return complete_payment(ctx, payment_id=payment.id, fee=result.fee)
    if result.status == PaymentStatus.FAILED.value:
        return fail_payment(ctx, payment_id=payment.id, reason=result.reason or "declined")
    if result.status == PaymentStatus.AUTHORIZED.value:
        _set_status(payment, PaymentStatus.AUTHORIZED.value, ctx)
    ctx.session.flush()
    return payment


def create_refund(ctx: Context, data: Any) -> Refund:
    """``POST refund`` (:class:`~openbss.payments.schemas.RefundCreate`)."""
    payment = get_payment(ctx, payment_id=data.payment.id)
    if data.account is not None and data.account.id != payment.billing_account_id:
        raise ValidationError("account.id: not the account of the payment", field="account.id")
    total = data.total_amount
    refund, _ = refund_payment(
        ctx, payment_id=payment.id, amount=Money(total.value, total.unit),
        reason=data.description,
        source_key=f"correlator:{data.correlator_id}" if data.correlator_id else None,
        refund_date=data.refund_date,
        body={"description": data.description, "name": data.name,
              "correlatorId": data.correlator_id})
    return refund


# -- what payments registers in the contexts below it ------------------------------------------

@party_hooks.register_balance_provider
def unapplied_balance(ctx: Context, account: Account) -> Money | None:
    """The account's unapplied credit counts against what it owes (negative)."""
    credit = account_credit(ctx, [account.id]).get(account.id, ZERO)
    return Money(-credit, account.currency) if credit else None


@billing_hooks.register_issued
def use_credit_on_new_bills(ctx: Context, bills: Sequence[billing_hooks.IssuedBill]) -> None:
    """A new invoice uses the account's unapplied credit at once (setting
    ``applyCreditToNewBills``); a credit note changes the balance (dunning re-checks)."""
    accounts = sorted({str(b.bill["billing_account_id"]) for b in bills})
    invoiced = sorted({str(b.bill["billing_account_id"]) for b in bills
                       if b.bill.get("kind") == "invoice"})
    if invoiced and payment_settings.read(ctx).apply_credit_to_new_bills:
        credit = account_credit(ctx, invoiced)
        with_credit = [a for a in invoiced if credit.get(a, ZERO) > 0]
        if with_credit:
            apply_credit(ctx, with_credit)
    hooks.balance_changed(ctx, accounts)
