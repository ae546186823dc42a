"""Dunning: chasing overdue billing accounts, step by step, and the aging report.

- A **policy** is a list of steps by days overdue: ``reminder`` (an event and an e-mail
  through :mod:`openbss.payments.notify`), ``lateFee`` (a one-time charge on the next
  invoice, posted to the ledger's ``lateFees`` revenue), ``suspend`` (a ``modify`` product
  order setting every active product of the account — and of the accounts it pays for —
  ``suspended``), ``terminate`` (a
  ``delete`` order), ``collectionAgency`` (the case is handed over; ``GET
  /api/v1/dunning/handovers`` is the agency's CSV). A policy applies to a customer
  segment (the billing account's ``accountType``) or, without one, to everyone; the
  tenant gets :data:`DEFAULT_STEPS` on first use.
- :func:`run` (``openbss dunning run``, ``POST /api/v1/dunning/runs``, and once a day per
  tenant in the worker) looks at every account with an invoice overdue on ``as_of`` (due
  date before it, something still owed): it opens a **case** (counting days from the
  oldest unpaid due date) and executes every step whose day has come and that has not run
  for this case — a step never runs twice (``dunning_action`` is unique per case and
  step), so runs are idempotent. Accounts with an active hold (a disputed bill, a payment
  plan) are left out.
- When the account owes nothing overdue any more (a payment, a credit note, a write-off —
  :func:`payments.hooks.balance_changed`), its case closes and the products the case
  suspended are resumed (a ``modify`` order back to ``active``).

Each step publishes ``DunningCaseStepEvent`` (paymentManagement), each case
``DunningCaseCreateEvent`` / ``DunningCaseStateChangeEvent``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from openbss.billing import invoices
from openbss.billing.models import Invoice
from openbss.billing.queries import billing_accounts
from openbss.billing.schemas import ChargeCreate
from openbss.core import audit, events
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.db import new_id
from openbss.core.errors import ConflictError, NotFoundError, OpenBSSError, ValidationError
from openbss.core.queries import find_owned, get_owned, scoped
from openbss.core.tmf import ListParams, apply_filters, href, iso, paginate
from openbss.core.tmf_common import Money as MoneyIn
from openbss.core.tmf_common import TmfModel
from openbss.party.models import Account
from openbss.payments import hooks, notify
from openbss.payments.models import (
    CaseState,
    CollectionHold,
    DunningAction,
    DunningCase,
    DunningPolicy,
    Payment,
)
from openbss.payments.paths import (
    DUNNING_CASES_PATH,
    DUNNING_POLICIES_PATH,
    HOLDS_PATH,
    PAYMENT_API,
)

ZERO = Decimal(0)
ACTIONS = ("reminder", "lateFee", "suspend", "terminate", "collectionAgency")
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"days": 3, "action": "reminder"},
    {"days": 14, "action": "lateFee", "amount": {"unit": "EUR", "value": "5.00"}},
    {"days": 21, "action": "suspend"},
    {"days": 60, "action": "terminate"},
    {"days": 90, "action": "collectionAgency"},
]
AGING_BUCKETS = ("0-30", "31-60", "61-90", "90+")
POLICY_FILTERS: dict[str, Any] = {"name": DunningPolicy.name, "segment": DunningPolicy.segment,
                                  "active": DunningPolicy.active}
CASE_FILTERS: dict[str, Any] = {"billingAccount.id": DunningCase.billing_account_id,
                                "state": DunningCase.state}
HOLD_FILTERS: dict[str, Any] = {"billingAccount.id": CollectionHold.billing_account_id,
                                "kind": CollectionHold.kind}


# -- policies ---------------------------------------------------------------------------------

class Step(TmfModel):
    days: Annotated[int, Field(ge=0, le=3650)]
    action: Literal["reminder", "lateFee", "suspend", "terminate", "collectionAgency"]
    amount: MoneyIn | None = None          # lateFee
    tax_category: Literal["standard", "reduced", "zero", "exempt"] = "exempt"
    subject: Annotated[str, Field(max_length=200)] | None = None  # reminder e-mail


class PolicyCreate(TmfModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    segment: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    steps: Annotated[list[Step], Field(min_length=1, max_length=20)]
    active: bool = True


def _check_steps(steps: Sequence[Step]) -> None:
    days = [s.days for s in steps]
    if days != sorted(days):
        raise ValidationError("steps: ordered by days overdue", field="steps")
    for i, s in enumerate(steps):
        if s.action == "lateFee" and (s.amount is None or s.amount.value <= 0):
            raise ValidationError(f"steps[{i}].amount: a lateFee step needs a positive "
                                  "amount", field=f"steps[{i}].amount")


def _steps_doc(steps: Sequence[Step]) -> list[dict[str, Any]]:
    return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in s.doc().items()}
            if s.amount is None else {**s.doc(), "amount": {"unit": s.amount.unit,
                                                          "value": str(s.amount.value)}}
            for s in steps]


def policies(ctx: Context) -> list[DunningPolicy]:
    """The tenant's active policies; the default one is created on first use."""
    rows = list(ctx.session.scalars(scoped(ctx, DunningPolicy).order_by(DunningPolicy.name)))
    if not rows:
        row = DunningPolicy(id=new_id(), tenant_id=ctx.tenant_id, name="default",
                            segment=None, steps=DEFAULT_STEPS, active=True,
                            created_at=ctx.now, last_update=ctx.now, row_version=1)
        ctx.session.add(row)
        ctx.session.flush()
        rows = [row]
    return [r for r in rows if r.active]


def create_policy(ctx: Context, data: PolicyCreate) -> DunningPolicy:
    _check_steps(data.steps)
    policies(ctx)
    if ctx.session.scalars(scoped(ctx, DunningPolicy.id).where(
            DunningPolicy.name == data.name)).first():
        raise ConflictError(f"name: a dunning policy {data.name!r} exists", field="name")
    row = DunningPolicy(id=new_id(), tenant_id=ctx.tenant_id, name=data.name,
                        segment=data.segment, steps=_steps_doc(data.steps), active=data.active,
                        created_at=ctx.now, last_update=ctx.now, row_version=1)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="dunningPolicy", resource_id=row.id,
                 after=render_policy(ctx, row))
    return row


def update_policy(ctx: Context, policy_id: str, patch: Any) -> DunningPolicy:
    row = get_policy(ctx, policy_id)
    current = {"name": row.name, "segment": row.segment, "steps": row.steps,
               "active": row.active}
    if not isinstance(patch, dict):
        raise ValidationError("a merge-patch body must be a JSON object", field="body")
    data = validated(PolicyCreate, {**current, **{k: v for k, v in patch.items()
                                                  if k not in ("id", "href")}})
    _check_steps(data.steps)
    row.name, row.segment, row.active = data.name, data.segment, data.active
    row.steps = _steps_doc(data.steps)
    row.last_update = ctx.now
    row.row_version += 1
    ctx.session.flush()
    audit.record(ctx, action="update", resource_type="dunningPolicy", resource_id=row.id,
                 before=current, after=render_policy(ctx, row))
    return row


def delete_policy(ctx: Context, policy_id: str) -> None:
    row = get_policy(ctx, policy_id)
    if ctx.session.scalars(scoped(ctx, DunningCase.id).where(
            DunningCase.policy_id == row.id, DunningCase.state == CaseState.OPEN)).first():
        raise ConflictError("open dunning cases follow this policy; deactivate it "
                            "(PATCH active false) instead", field="id")
    audit.record(ctx, action="delete", resource_type="dunningPolicy", resource_id=row.id,
                 before=render_policy(ctx, row))
    ctx.session.delete(row)
    ctx.session.flush()


def get_policy(ctx: Context, policy_id: str) -> DunningPolicy:
    return get_owned(ctx.session, DunningPolicy, ctx.tenant_id, policy_id, "dunningPolicy")


def list_policies(ctx: Context, params: ListParams) -> tuple[list[DunningPolicy], int]:
    policies(ctx)
    stmt = apply_filters(scoped(ctx, DunningPolicy), params, POLICY_FILTERS)
    return paginate(ctx.session, stmt, params, [DunningPolicy.name, DunningPolicy.id])


def render_policy(ctx: Context, row: DunningPolicy) -> dict[str, Any]:
    return {"id": row.id, "href": href(ctx.base_url, DUNNING_POLICIES_PATH, row.id),
            "name": row.name, "segment": row.segment, "steps": row.steps,
            "active": row.active, "lastUpdate": iso(row.last_update)}


# -- holds ------------------------------------------------------------------------------------

class HoldCreate(TmfModel):
    kind: Literal["dispute", "paymentPlan"]
    billing_account: Annotated[dict[str, str], Field(min_length=1)]
    customer_bill: dict[str, str] | None = None
    reason: Annotated[str, Field(max_length=2000)] | None = None
    valid_until: date | None = None
    schedule: list[dict[str, Any]] | None = None


def create_hold(ctx: Context, data: HoldCreate) -> CollectionHold:
    account_id = str(data.billing_account.get("id", ""))
    if not billing_accounts(ctx, [account_id]):
        raise NotFoundError(f"billingAccount.id: {account_id!r} not found",
                            field="billingAccount.id")
    bill_id = (data.customer_bill or {}).get("id")
    if bill_id is not None:
        bill = find_owned(ctx.session, Invoice, ctx.tenant_id, bill_id)
        if bill is None or bill.billing_account_id != account_id:
            raise NotFoundError(f"customerBill.id: {bill_id!r} is not a bill of the account",
                                field="customerBill.id")
    if data.kind == "dispute" and bill_id is None:
        raise ValidationError("customerBill.id: a dispute names the disputed bill",
                              field="customerBill.id")
    row = CollectionHold(id=new_id(), tenant_id=ctx.tenant_id, billing_account_id=account_id,
                         kind=data.kind, bill_id=bill_id, reason=data.reason,
                         schedule=data.schedule, valid_until=data.valid_until,
                         released_at=None, created_by=ctx.actor, created_at=ctx.now,
                         row_version=1)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="collectionHold", resource_id=row.id,
                 after=render_hold(ctx, row))
    return row


def release_hold(ctx: Context, hold_id: str) -> None:
    row = get_hold(ctx, hold_id)
    if row.released_at is None:
        row.released_at = ctx.now
        row.row_version += 1
        ctx.session.flush()
        audit.record(ctx, action="update", resource_type="collectionHold",
                     resource_id=row.id, after={"releasedAt": iso(ctx.now)})


def get_hold(ctx: Context, hold_id: str) -> CollectionHold:
    return get_owned(ctx.session, CollectionHold, ctx.tenant_id, hold_id, "collectionHold")


def list_holds(ctx: Context, params: ListParams) -> tuple[list[CollectionHold], int]:
    stmt = apply_filters(scoped(ctx, CollectionHold), params, HOLD_FILTERS)
    return paginate(ctx.session, stmt, params, [CollectionHold.created_at.desc(),
                                                CollectionHold.id])


def render_hold(ctx: Context, row: CollectionHold) -> dict[str, Any]:
    return {"id": row.id, "href": href(ctx.base_url, HOLDS_PATH, row.id), "kind": row.kind,
            "billingAccount": {"id": row.billing_account_id},
            "customerBill": {"id": row.bill_id} if row.bill_id else None,
            "reason": row.reason, "validUntil": row.valid_until.isoformat()
            if row.valid_until else None, "schedule": row.schedule,
            "active": row.released_at is None, "releasedAt": iso(row.released_at),
            "createdAt": iso(row.created_at)}


def _held(ctx: Context, account_ids: Sequence[str], on: date) -> set[str]:
    out: set[str] = set()
    ids = list(account_ids)
    for start in range(0, len(ids), 900):
        for row in ctx.session.scalars(scoped(ctx, CollectionHold).where(
                CollectionHold.billing_account_id.in_(ids[start:start + 900]),
                CollectionHold.released_at.is_(None))):
            if row.valid_until is None or row.valid_until >= on:
                out.add(row.billing_account_id)
    return out


# -- the run ----------------------------------------------------------------------------------

def _overdue(ctx: Context, on: date, account_ids: Sequence[str] | None = None
             ) -> dict[str, list[Invoice]]:
    """Per account, its invoices due before ``on`` with something owed (oldest first)."""
    stmt = scoped(ctx, Invoice).where(Invoice.kind == "invoice",
                                      Invoice.payment_due_date.is_not(None),
                                      Invoice.payment_due_date < on,
                                      Invoice.state.in_(("sent", "partiallyPaid", "new",
                                                         "validated")))
    if account_ids is not None:
        stmt = stmt.where(Invoice.billing_account_id.in_(list(account_ids)))
    out: dict[str, list[Invoice]] = {}
    for bill in ctx.session.scalars(stmt.order_by(Invoice.payment_due_date, Invoice.bill_no)):
        if bill.remaining_amount > 0:
            out.setdefault(bill.billing_account_id, []).append(bill)
    return out


def _policy_for(account: Account, rows: Sequence[DunningPolicy]) -> DunningPolicy | None:
    segment = (account.body or {}).get("accountType")
    return next((p for p in rows if p.segment and p.segment == segment), None) or next(
        (p for p in rows if p.segment is None), None)


def run(ctx: Context, *, as_of: date) -> dict[str, Any]:
    """Dunning up to ``as_of`` (see the module docstring); the summary:
    ``{"asOf", "accounts", "casesOpened", "casesClosed", "held", "actions": [...]}``."""
    overdue = _overdue(ctx, as_of)
    open_cases = {c.billing_account_id: c for c in ctx.session.scalars(
        scoped(ctx, DunningCase).where(DunningCase.state == CaseState.OPEN))}
    summary: dict[str, Any] = {"asOf": as_of.isoformat(), "accounts": len(overdue),
                               "casesOpened": 0, "casesClosed": 0, "held": 0, "actions": []}
    # A case closes when its debt is cleared: nothing overdue on as_of, nor today (a run
    # as of an earlier date must not close a case whose account owes now)
    candidates = sorted(set(open_cases) - set(overdue))
    today = ctx.now.date()
    still_owed = _overdue(ctx, today, candidates) if candidates and today > as_of else {}
    for account_id in candidates:
        if account_id in still_owed:
            continue
        _close(ctx, open_cases[account_id], "the debt is cleared")
        summary["casesClosed"] += 1
    if not overdue:
        return summary
    rows = policies(ctx)
    accounts = {a.id: a for a in billing_accounts(ctx, sorted(overdue))}
    held = _held(ctx, sorted(overdue), as_of)
    for account_id, bills in sorted(overdue.items()):
        account = accounts.get(account_id)
        if account is None:
            continue
        if account_id in held:
            summary["held"] += 1
            continue
        case = open_cases.get(account_id)
        if case is None:
            policy = _policy_for(account, rows)
            if policy is None:
                continue
            case = _open(ctx, account, policy, bills)
            summary["casesOpened"] += 1
        case.amount = sum((b.remaining_amount for b in bills), ZERO)
        case.overdue_since = min(case.overdue_since, bills[0].payment_due_date or as_of)
        policy = find_owned(ctx.session, DunningPolicy, ctx.tenant_id, case.policy_id)
        if policy is None:
            continue
        days = (as_of - case.overdue_since).days
        done = set(ctx.session.scalars(scoped(ctx, DunningAction.step).where(
            DunningAction.case_id == case.id)))
        for index, step in enumerate(policy.steps):
            if int(step["days"]) > days or index in done:
                continue
            result = _execute(ctx, case, account, bills, step, as_of)
            ctx.session.add(DunningAction(id=new_id(), tenant_id=ctx.tenant_id,
                                          case_id=case.id, step=index,
                                          action=step["action"], executed_at=ctx.now,
                                          result=result))
            ctx.session.flush()
            summary["actions"].append({"billingAccount": account_id, "step": index,
                                       "action": step["action"], "daysOverdue": days,
                                       **result})
            events.publish(ctx, api=PAYMENT_API, event_type="DunningCaseStepEvent",
                           resource_name="dunningCase", resource={
                               **render_case(ctx, case), "step": {
                                   "index": index, "action": step["action"],
                                   "daysOverdue": days, "result": result}})
        case.row_version += 1
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="dunningRun", resource_id=new_id(),
                 after={k: v for k, v in summary.items() if k != "actions"}
                 | {"actions": len(summary["actions"])})
    return summary


def _open(ctx: Context, account: Account, policy: DunningPolicy, bills: Sequence[Invoice]
          ) -> DunningCase:
    case = DunningCase(id=new_id(), tenant_id=ctx.tenant_id, billing_account_id=account.id,
                       policy_id=policy.id, state=CaseState.OPEN.value, opened_at=ctx.now,
                       closed_at=None, overdue_since=bills[0].payment_due_date or ctx.now.date(),
                       currency=account.currency,
                       amount=sum((b.remaining_amount for b in bills), ZERO), suspended=[],
                       row_version=1)
    ctx.session.add(case)
    ctx.session.flush()
    events.publish(ctx, api=PAYMENT_API, event_type="DunningCaseCreateEvent",
                   resource_name="dunningCase", resource=render_case(ctx, case))
    return case


def _close(ctx: Context, case: DunningCase, why: str) -> None:
    resumed: list[str] = []
    if case.suspended:
        resumed = _order(ctx, case, "resume", case.suspended)
    case.state = CaseState.CLOSED.value
    case.closed_at = ctx.now
    case.row_version += 1
    ctx.session.flush()
    audit.record(ctx, action="update", resource_type="dunningCase", resource_id=case.id,
                 after={"state": case.state, "reason": why, "resumed": resumed})
    events.publish(ctx, api=PAYMENT_API, event_type="DunningCaseStateChangeEvent",
                   resource_name="dunningCase", resource={**render_case(ctx, case),
                                                          "resumed": resumed})


def _execute(ctx: Context, case: DunningCase, account: Account, bills: Sequence[Invoice],
             step: dict[str, Any], as_of: date) -> dict[str, Any]:
    action = step["action"]
    if action == "reminder":
        buyer = invoices.open_buyer(ctx, (bills[-1].body or {}).get("buyer"))
        email = buyer.get("email")
        listing = "\n".join(f"  {b.bill_no}: {b.remaining_amount} {b.currency}, due "
                            f"{b.payment_due_date}" for b in bills)
        outcome = notify.notifier.send(notify.Mail(
            to=email, subject=step.get("subject") or f"Payment reminder: {len(bills)} "
            "overdue invoice(s)", text=f"Dear {buyer.get('name') or account.name},\n\n"
            f"as of {as_of} these invoices are overdue:\n{listing}\n\nPlease pay "
            f"{case.amount} {case.currency}.\n")) if email else "no e-mail address"
        return {"email": outcome}
    if action == "lateFee":
        amount = step.get("amount") or {}
        if amount.get("unit") != account.currency:
            return {"skipped": f"the fee is in {amount.get('unit')}, the account in "
                               f"{account.currency}"}
        charge = invoices.create_charge(ctx, account_id=account.id, data=ChargeCreate(
            kind="charge", amount={"unit": amount["unit"], "value": Decimal(
                str(amount["value"]))}, name="Late fee", description=f"dunning case "
            f"{case.id}: overdue since {case.overdue_since}",
            tax_category=step.get("taxCategory", "exempt")), ledger_role="lateFees")
        return {"charge": charge.id, "amount": str(charge.amount)}
    if action in ("suspend", "terminate"):
        from openbss.billing.queries import paid_children
        from openbss.ordering.queries import products_of_account

        wanted = "active" if action == "suspend" else None
        owners = [account.id, *(c.id for c in paid_children(ctx, [account.id]))]
        products = [p.id for owner in owners for p in products_of_account(ctx, owner)
                    if p.parent_id is None and (p.status == wanted or (
                        wanted is None and p.status in ("active", "suspended")))]
        done = _order(ctx, case, action, products)
        if action == "suspend":
            case.suspended = sorted(set(case.suspended or []) | set(done))
        else:
            case.suspended = []
        return {"products": done}
    if action == "collectionAgency":
        case.state = CaseState.HANDED_OVER.value
        return {"handedOver": True, "amount": str(case.amount)}
    return {"skipped": f"unknown action {action!r}"}


def _order(ctx: Context, case: DunningCase, action: str, product_ids: Sequence[str]
           ) -> list[str]:
    """Suspend, resume or terminate products through the ordering context: one product
    order per product (a product locked by another open order is left out)."""
    from openbss.ordering import orders
    from openbss.ordering.models import Product
    from openbss.ordering.schemas import ProductOrderCreate

    done: list[str] = []
    owner = {p.id: p.billing_account_id for p in ctx.session.scalars(scoped(
        ctx, Product).where(Product.id.in_(list(product_ids))))} if product_ids else {}
    for pid in product_ids:
        item: dict[str, Any] = {"id": "1", "action": "delete", "product": {"id": pid}} \
            if action == "terminate" else {"id": "1", "action": "modify", "product": {
                "id": pid, "status": "suspended" if action == "suspend" else "active"}}
        try:
            with ctx.session.begin_nested():
                orders.create_order(ctx, data=validated(ProductOrderCreate, {
                    "externalId": f"dunning-{case.id}-{action}-{pid}",
                    "billingAccount": {"id": owner.get(pid) or case.billing_account_id},
                    "description": f"dunning: {action} (case {case.id})",
                    "productOrderItem": [item]}))
            done.append(pid)
        except OpenBSSError:
            continue
    return done


@hooks.register_balance_changed
def recheck(ctx: Context, account_ids: list[str]) -> None:
    """Close the open cases of accounts that owe nothing overdue any more."""
    cases = list(ctx.session.scalars(scoped(ctx, DunningCase).where(
        DunningCase.billing_account_id.in_(account_ids),
        DunningCase.state == CaseState.OPEN)))
    if not cases:
        return
    still = _overdue(ctx, ctx.now.date() + timedelta(days=1),
                     [c.billing_account_id for c in cases])
    for case in cases:
        if case.billing_account_id not in still:
            _close(ctx, case, "the debt is cleared")


# -- cases, handovers, aging ------------------------------------------------------------------

def get_case(ctx: Context, case_id: str) -> DunningCase:
    return get_owned(ctx.session, DunningCase, ctx.tenant_id, case_id, "dunningCase")


def list_cases(ctx: Context, params: ListParams) -> tuple[list[DunningCase], int]:
    stmt = apply_filters(scoped(ctx, DunningCase), params, CASE_FILTERS)
    return paginate(ctx.session, stmt, params, [DunningCase.opened_at.desc(), DunningCase.id])


def render_case(ctx: Context, row: DunningCase) -> dict[str, Any]:
    actions = [{"step": a.step, "action": a.action, "executedAt": iso(a.executed_at),
                "result": a.result} for a in ctx.session.scalars(
        scoped(ctx, DunningAction).where(DunningAction.case_id == row.id).order_by(
            DunningAction.step))]
    return {"id": row.id, "href": href(ctx.base_url, DUNNING_CASES_PATH, row.id),
            "state": row.state, "billingAccount": {"id": row.billing_account_id},
            "policy": {"id": row.policy_id}, "overdueSince": row.overdue_since.isoformat(),
            "amount": {"unit": row.currency, "value": row.amount},
            "openedAt": iso(row.opened_at), "closedAt": iso(row.closed_at),
            "suspendedProducts": row.suspended or [], "actions": actions}


def handovers_csv(ctx: Context) -> str:
    """The cases handed to a collection agency, one row per overdue invoice. The debtor's
    name and e-mail are personal data: in clear only for roles that may see the payment
    family's personal data (the agency needs them: export as such a role)."""
    from openbss.core.permissions import PERSONAL, allowed

    clear = allowed(ctx.role, "payment", PERSONAL)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("caseId", "billingAccountId", "accountName", "billNo", "dueDate",
                     "remaining", "currency", "overdueSince", "debtorName", "debtorEmail"))
    cases = list(ctx.session.scalars(scoped(ctx, DunningCase).where(
        DunningCase.state == CaseState.HANDED_OVER).order_by(DunningCase.opened_at)))
    if not cases:
        return buf.getvalue()
    names = {a.id: a.name for a in billing_accounts(ctx, [c.billing_account_id
                                                          for c in cases])}
    bills = _overdue(ctx, ctx.now.date() + timedelta(days=1),
                     [c.billing_account_id for c in cases])
    for case in cases:
        for bill in bills.get(case.billing_account_id, []):
            buyer = invoices.open_buyer(ctx, (bill.body or {}).get("buyer"))
            writer.writerow((case.id, case.billing_account_id,
                             names.get(case.billing_account_id, ""), bill.bill_no,
                             bill.payment_due_date, format(bill.remaining_amount, "f"),
                             bill.currency, case.overdue_since,
                             (buyer.get("name") or "") if clear else "***",
                             (buyer.get("email") or "") if clear else "***"))
    return buf.getvalue()


def bucket(days_overdue: int) -> str:
    if days_overdue <= 30:
        return "0-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


def aging(ctx: Context, *, as_of: date) -> dict[str, Any]:
    """What each account owes on ``as_of`` by how long overdue: ``current`` (not due
    yet) and the buckets 0-30, 31-60, 61-90, 90+ days; ``credit``: unapplied payments and
    credit notes; ``total`` = the buckets + current − credit (the account's balance)."""
    per: dict[str, dict[str, Any]] = {}

    def row(account_id: str, currency: str) -> dict[str, Any]:
        return per.setdefault(account_id, {"currency": currency, "current": ZERO,
                                           "credit": ZERO, **dict.fromkeys(AGING_BUCKETS, ZERO)})

    for bill in ctx.session.scalars(scoped(ctx, Invoice).where(Invoice.bill_date <= _end(
            as_of))):
        if bill.remaining_amount == 0:
            continue
        r = row(bill.billing_account_id, bill.currency)
        if bill.kind != "invoice":
            r["credit"] -= bill.remaining_amount
        elif bill.payment_due_date is None or bill.payment_due_date >= as_of:
            r["current"] += bill.remaining_amount
        else:
            r[bucket((as_of - bill.payment_due_date).days)] += bill.remaining_amount
    for account_id, currency, unapplied in ctx.session.execute(scoped(
            ctx, Payment.billing_account_id, Payment.currency, Payment.unapplied).where(
            Payment.status == "done")):
        if unapplied:
            row(account_id, currency)["credit"] += unapplied
    names = {a.id: a.name for a in billing_accounts(ctx, sorted(per))} if per else {}
    accounts = []
    totals: dict[str, dict[str, Decimal]] = {}
    for account_id, r in sorted(per.items()):
        total = r["current"] + sum((r[b] for b in AGING_BUCKETS), ZERO) - r["credit"]
        accounts.append({"billingAccount": {"id": account_id, "name": names.get(account_id)},
                         **r, "total": total})
        t = totals.setdefault(r["currency"], dict.fromkeys(
            ("current", *AGING_BUCKETS, "credit", "total"), ZERO))
        for k in t:
            t[k] += total if k == "total" else r[k]
    return {"asOf": as_of.isoformat(), "buckets": list(AGING_BUCKETS), "accounts": accounts,
            "totals": [{"currency": c, **v} for c, v in sorted(totals.items())]}


def _end(day: date) -> Any:
    from datetime import UTC, datetime

    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


# -- the worker -------------------------------------------------------------------------------

_last_run: dict[str, date] = {}


def daily_pass() -> int:
    """Dunning once a day per tenant (by the tenant's clock), in the worker loop."""
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.service import list_tenants

    done = 0
    with unit_of_work() as session:
        tenants = list_tenants(session)
        for tenant in tenants:
            ctx = system_context(session, tenant, actor="dunning")
            today = ctx.now.date()
            if _last_run.get(tenant.id) == today:
                continue
            summary = run(ctx, as_of=today)
            _last_run[tenant.id] = today
            done += len(summary["actions"]) + summary["casesClosed"]
    return done


def register_worker_pass() -> None:
    from openbss.core.worker import register_periodic

    register_periodic("dunning.daily", daily_pass)

