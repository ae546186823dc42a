"""Use cases other contexts call to settle bills: the open bills of an account, oldest
due first, and applying (or undoing) part of a payment to one bill.

A bill's ``remaining_amount`` is what is still owed on it; its TMF678 ``state`` follows:
``settled`` at zero, ``partiallyPaid`` in between, back to ``sent`` when all of it is owed
again (a reversed payment). What was applied from each payment is listed in the bill's
``appliedPayment`` (netted per payment). Payments never write billing's tables: they call
these functions (the ledger entry is the caller's).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openbss.billing import queries
from openbss.billing.errors import WrongCurrency
from openbss.billing.invoices import render_bill, state_for
from openbss.billing.models import INVOICE_STATES, Invoice, InvoiceKind
from openbss.core.context import Context
from openbss.core.errors import ConflictError, ValidationError
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
    if row.kind != InvoiceKind.INVOICE:
        raise ValidationError(f"{field}: {row.bill_no} is a credit note; payments are "
                              "applied to invoices", field=field)
    if currency != row.currency:
        raise WrongCurrency(f"{field}: {row.bill_no} is in {row.currency}, not {currency}",
                            field=field)
    if amount == 0:
        return row
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
    ctx.session.flush()
    record_change(ctx, api=API, resource_name="customerBill", resource_id=row.id,
                  change="state" if before["state"] != row.state else "update",
                  before=before, after={"remainingAmount": str(row.remaining_amount),
                                        "state": row.state, "payment": payment_id},
                  event_resource=render_bill(ctx, row))
    return row


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
