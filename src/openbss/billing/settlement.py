"""Use cases other contexts call to settle bills: the open bills of an account, oldest
due first, and applying (or undoing) part of a payment to one bill.

A bill's ``remaining_amount`` is what is still owed on it; its TMF678 ``state`` follows:
``settled`` at zero, ``partiallyPaid`` in between, back to ``sent`` when all of it is owed
again (a reversed payment). What was applied from each payment is listed in the bill's
``appliedPayment`` (netted per payment). Payments never write billing's tables: they call
these functions (the ledger entry is the caller's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from openbss.billing import queries
from openbss.billing.errors import WrongCurrency
from openbss.billing.invoices import render_bill, state_for
from openbss.billing.models import INVOICE_STATES, Invoice, InvoiceKind
from openbss.core import audit, events
from openbss.core.context import Context
from openbss.core.errors import ConflictError, NotFoundError, ValidationError
from openbss.core.queries import scoped
from openbss.core.resources import record_change

API = "customerBillManagement"


class OverApplied(ConflictError):
    """More applied to a bill than it still owes, or more undone than was applied."""

    code = "OVER_APPLIED"
    reason = "Amount exceeds what is owed"


def open_bills(ctx: Context, *, account_id: str, lock: bool = False) -> list[Invoice]:
    """The account's invoices with something still owed, oldest due first (due date, then
    bill date, then number)."""
    return queries.open_invoices(ctx, account_id, lock=lock)


def apply_payment(ctx: Context, *, bill_id: str, amount: Decimal, currency: str,
                  payment_id: str | None, field: str = "amount") -> Invoice:
    """Take ``amount`` off what the bill still owes (a negative amount gives it back: a
    reversal, a chargeback, a refund of an applied payment). ``payment_id`` None: applied
    credit that is not a payment (a credit note). Returns the locked, updated bill."""
    row = queries.invoice(ctx, bill_id, lock=True)
    before = _apply_row(ctx, row, amount, currency, payment_id, field)
    if before is None:
        return row
    ctx.session.flush()
    record_change(ctx, api=API, resource_name="customerBill", resource_id=row.id,
                  change="state" if before["state"] != row.state else "update",
                  before=before, after=_after(row, payment_id),
                  event_resource=render_bill(ctx, row))
    return row


def apply_many(ctx: Context, items: Sequence[tuple[str, Decimal, str, str]]) -> None:
    """:func:`apply_payment` for many (bill id, amount, currency, payment id) at once — a
    bank statement's transfers: the bills locked and read in one query, one audit batch,
    one event batch per event type. Any refusal aborts the whole batch."""
    if not items:
        return
    ids = sorted({bill_id for bill_id, _, _, _ in items})
    rows: dict[str, Invoice] = {}
    for start in range(0, len(ids), 900):
        stmt = scoped(ctx, Invoice).where(Invoice.id.in_(ids[start:start + 900])).order_by(
            Invoice.id)
        if ctx.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        rows.update({r.id: r for r in ctx.session.scalars(stmt)})
    changed: dict[str, tuple[dict[str, Any], str]] = {}
    for bill_id, amount, currency, payment_id in items:
        row = rows.get(bill_id)
        if row is None:
            raise NotFoundError(f"customerBill {bill_id!r} not found", field="amount")
        before = _apply_row(ctx, row, amount, currency, payment_id, "amount")
        if before is not None and bill_id not in changed:
            changed[bill_id] = (before, payment_id)
    if not changed:
        return
    ctx.session.flush()
    audit.record_many(ctx, [{
        "action": "state" if before["state"] != rows[b].state else "update",
        "resource_type": "customerBill", "resource_id": b, "before": before,
        "after": _after(rows[b], payment_id)} for b, (before, payment_id) in changed.items()])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for b, (before, _) in changed.items():
        kind = "StateChangeEvent" if before["state"] != rows[b].state else \
            "AttributeValueChangeEvent"
        by_type.setdefault(kind, []).append(render_bill(ctx, rows[b]))
    for kind, docs in by_type.items():
        events.publish_many(ctx, api=API, event_type=f"CustomerBill{kind}",
                            resource_name="customerBill", resources=docs)


def _after(row: Invoice, payment_id: str | None) -> dict[str, Any]:
    return {"remainingAmount": str(row.remaining_amount), "state": row.state,
            "payment": payment_id}


def _apply_row(ctx: Context, row: Invoice, amount: Decimal, currency: str,
               payment_id: str | None, field: str) -> dict[str, Any] | None:
    """Apply to one loaded bill (the checks and the state rule); what it was before, or
    None for a zero amount."""
    if row.kind != InvoiceKind.INVOICE:
        raise ValidationError(f"{field}: {row.bill_no} is a credit note; payments are "
                              "applied to invoices", field=field)
    if currency != row.currency:
        raise WrongCurrency(f"{field}: {row.bill_no} is in {row.currency}, not {currency}",
                            field=field)
    if amount == 0:
        return None
    new_remaining = row.remaining_amount - amount
    if new_remaining < 0:
        raise OverApplied(f"{field}: {amount} {currency} exceeds the {row.remaining_amount} "
                          f"still owed on {row.bill_no}", field=field)
    if new_remaining > row.amount_due:
        raise OverApplied(f"{field}: cannot give back {-amount} {currency} to "
                          f"{row.bill_no}: only {row.amount_due - row.remaining_amount} "
                          "was applied", field=field)
    before = {"remainingAmount": str(row.remaining_amount), "state": row.state}
    row.remaining_amount = new_remaining
    if payment_id is not None:
        row.body = {**(row.body or {}),
                    "appliedPayment": _net(row.body or {}, payment_id, amount)}
    state = state_for(row)
    if state == "settled" and (row.body or {}).get("collection", {}).get("state") != "pending":
        row.body = {k: v for k, v in (row.body or {}).items() if k != "collection"}
    if state != row.state:
        INVOICE_STATES.check(row.state, state, resource_id=row.id)
        row.state = state
    row.last_update = ctx.now
    row.row_version += 1
    return before


def _net(body: dict[str, Any], payment_id: str, amount: Decimal) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    found = False
    for item in body.get("appliedPayment") or []:
        if item.get("payment", {}).get("id") == payment_id:
            found = True
            value = Decimal(str(item["appliedAmount"])) + amount
            if value != 0:
                out.append({**item, "appliedAmount": str(value)})
        else:
            out.append(item)
    if not found:
        out.append({"appliedAmount": str(amount), "payment": {"id": payment_id}})
    return out


def bills_by_id(ctx: Context, ids: Sequence[str]) -> dict[str, Invoice]:
    return {row.id: row for row in queries.invoices_by_id(ctx, ids)}


def set_collection(ctx: Context, *, bill_ids: Sequence[str], payment_id: str,
                   state: str | None, reason: str | None = None) -> None:
    """Mark bills as being collected by ``payment_id`` (a SEPA direct debit in flight:
    ``state`` ``pending``), or clear the mark (``None``: the collection was credited) or
    leave the outcome (``returned`` with its reason: the bill is owed again). Shown as the
    bill's ``collection`` (an openbss extension: TMF678 has no state for it)."""
    for row in queries.invoices_by_id(ctx, list(bill_ids)):
        body = dict(row.body or {})
        current = body.get("collection") or {}
        if state is None:
            if current.get("payment") == payment_id:
                body.pop("collection", None)
        else:
            body["collection"] = {"state": state, "payment": payment_id,
                                  "since": ctx.now.isoformat().replace("+00:00", "Z"),
                                  **({"reason": reason} if reason else {})}
        if body != (row.body or {}):
            row.body = body
            row.last_update = ctx.now
            row.row_version += 1
    ctx.session.flush()


def mark_collections(ctx: Context, by_payment: Mapping[str, Sequence[str]], *,
                     state: str) -> None:
    """:func:`set_collection` for many payments at once (a SEPA file): one query."""
    payment_of = {bill: payment for payment, bills in by_payment.items() for bill in bills}
    stamp = ctx.now.isoformat().replace("+00:00", "Z")
    for row in queries.invoices_by_id(ctx, sorted(payment_of)):
        row.body = {**(row.body or {}), "collection": {
            "state": state, "payment": payment_of[row.id], "since": stamp}}
        row.last_update = ctx.now
        row.row_version += 1
    ctx.session.flush()
