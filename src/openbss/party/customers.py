"""Use cases of customer management (TMF629): a party in the customer role with a
guarded status lifecycle ``initialized → validated → active → closed``."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from openbss.core.context import Context
from openbss.core.errors import BadRequestError, ConflictError, ValidationError
from openbss.core.money import validate_currency
from openbss.core.queries import get_owned
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams, apply_filters, paginate
from openbss.party import schemas
from openbss.party.models import Account, Customer, Party, PartyLink
from openbss.party.paths import CUSTOMER_PATH, PATHS, account_path
from openbss.party.service import (
    account_blockers,
    bump,
    check_related_parties,
    contains_pattern,
    normalize_contact_media,
    personal_view,
    replace_links,
    restore_masked,
    seal,
    unseal,
)

CUSTOMER_API = "customerManagement"
TRANSITIONS: dict[str, frozenset[str]] = {
    "initialized": frozenset({"validated", "closed"}),
    "validated": frozenset({"active", "closed"}),
    "active": frozenset({"closed"}),
    "closed": frozenset(),
}


def render_customer(ctx: Context, row: Customer, *, full: bool = False) -> dict[str, Any]:
    """The customer as ``ctx.role`` may see it; ``full``: everything in clear (events)."""
    body = unseal(ctx.session, row.body) if full else personal_view(ctx.session, row.body,
                                                                     ctx.role)
    return render(ctx.base_url, CUSTOMER_PATH, row.id, body)


def _prepare(ctx: Context, body: dict[str, Any]) -> tuple[Party, list[tuple[str, str, str]]]:
    body.setdefault("@type", "Customer")
    engaged = body["engagedParty"]
    party = ctx.session.get(Party, engaged["id"])
    if party is None or party.tenant_id != ctx.tenant_id:
        raise ValidationError(f"engagedParty.id: no party {engaged['id']!r} in this tenant",
                              field="engagedParty.id")
    engaged.setdefault("name", party.name)
    engaged.setdefault("href", f"{ctx.base_url.rstrip('/')}{PATHS[party.kind]}/{party.id}")
    normalize_contact_media(ctx, body.get("contactMedium"), "contactMedium")
    targets = [("party", party.id, engaged.get("role") or "engagedParty")]
    targets += check_related_parties(ctx, body.get("relatedParty"), "relatedParty")
    for i, ref in enumerate(body.get("account") or []):
        account = ctx.session.get(Account, ref["id"])
        if account is None or account.tenant_id != ctx.tenant_id:
            raise ValidationError(f"account[{i}].id: no account {ref['id']!r} in this tenant",
                                  field=f"account[{i}].id")
        ref.setdefault("href", f"{ctx.base_url.rstrip('/')}{account_path(account.kind)}/"
                               f"{account.id}")
        ref.setdefault("@referredType", account.kind[0].upper() + account.kind[1:])
    for i, profile in enumerate(body.get("creditProfile") or []):
        if profile.get("creditLimit"):
            validate_currency(profile["creditLimit"]["unit"],
                              field=f"creditProfile[{i}].creditLimit.unit")
    return party, targets


def create_customer(ctx: Context, *, data: schemas.Customer) -> Customer:
    body = data.doc()
    if body["status"] == "closed":
        raise ValidationError("status: a customer cannot be created closed", field="status")
    party, targets = _prepare(ctx, body)
    row = Customer(tenant_id=ctx.tenant_id, party_id=party.id, name=body["name"],
                   status=body["status"], body=seal(ctx, body), created_at=ctx.now,
                   updated_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    replace_links(ctx, "customer", row.id, targets)
    record_change(ctx, api=CUSTOMER_API, resource_name="customer", resource_id=row.id,
                  change="create", before=None, after=row.body,
                  event_resource=render_customer(ctx, row, full=True))
    return row


def get_customer(ctx: Context, *, customer_id: str, lock: bool = False) -> Customer:
    return get_owned(ctx.session, Customer, ctx.tenant_id, customer_id, "customer", lock=lock)


def customer_accounts(ctx: Context, row: Customer) -> list[Account]:
    """Accounts that refer to the customer or that the customer lists."""
    ids = set(ctx.session.scalars(select(PartyLink.resource_id).where(
        PartyLink.tenant_id == ctx.tenant_id, PartyLink.target_type == "customer",
        PartyLink.target_id == row.id)))
    ids |= {ref["id"] for ref in row.body.get("account") or []}
    if not ids:
        return []
    return list(ctx.session.scalars(select(Account).where(
        Account.tenant_id == ctx.tenant_id, Account.id.in_(ids)).order_by(Account.id)))


def update_customer(ctx: Context, *, customer_id: str, patch: Any) -> Customer:
    row = get_customer(ctx, customer_id=customer_id, lock=True)
    if row.status == "closed":
        raise ConflictError(f"customer {row.id} is closed and cannot be changed; create a "
                            "new customer (closed is a final state)", field="status")
    current = unseal(ctx.session, row.body)
    model = patched(current, patch, schemas.Customer)
    body = model.doc()
    restore_masked(body, current)
    if body["engagedParty"]["id"] != row.party_id:
        raise ValidationError("engagedParty.id: the engaged party of a customer cannot "
                              "change; create a new customer", field="engagedParty.id")
    old, new = row.status, body["status"]
    if old != new:
        if new not in TRANSITIONS[old]:
            allowed = ", ".join(sorted(TRANSITIONS[old])) or "none (final state)"
            raise ConflictError(
                f"customer {row.id} is {old!r} and cannot become {new!r}; allowed next "
                f"states: {allowed}", field="status")
        if new == "closed":
            reasons = [r for a in customer_accounts(ctx, row) for r in account_blockers(ctx, a)]
            if reasons:
                raise ConflictError(f"customer {row.id} cannot be closed: "
                                    + "; ".join(reasons), field="status")
    _, targets = _prepare(ctx, body)
    if current == body:
        return row
    before = row.body
    row.body = seal(ctx, body)
    row.name = body["name"]
    row.status = new
    bump(row, ctx)
    replace_links(ctx, "customer", row.id, targets)
    record_change(ctx, api=CUSTOMER_API, resource_name="customer", resource_id=row.id,
                  change="state" if old != new else "update", before=before,
                  after=row.body, event_resource=render_customer(ctx, row, full=True))
    return row


def delete_customer(ctx: Context, *, customer_id: str) -> None:
    row = get_customer(ctx, customer_id=customer_id, lock=True)
    if row.status not in ("initialized", "closed"):
        raise ConflictError(f"customer {row.id} is {row.status!r}; only an initialized or "
                            "closed customer can be deleted (close it first)", field="status")
    accounts = customer_accounts(ctx, row)
    if accounts:
        raise ConflictError(
            f"customer {row.id} still has accounts ({', '.join(a.id for a in accounts[:5])});"
            " delete or re-assign them first")
    event = render_customer(ctx, row, full=True)
    before = dict(row.body)
    replace_links(ctx, "customer", row.id, [])
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=CUSTOMER_API, resource_name="customer", resource_id=customer_id,
                  change="delete", before=before, after=None, event_resource=event)


def list_customers(ctx: Context, *, params: ListParams) -> tuple[list[Customer], int]:
    """Filter by ``status``, ``name``, ``engagedParty.id``; ``name.like``-style search is
    ``name`` as a case-insensitive substring."""
    stmt = select(Customer).where(Customer.tenant_id == ctx.tenant_id)
    rest = []
    for name, op, values in params.filters:
        if name == "name" and op == "eq":
            if len(values) != 1:
                raise BadRequestError("name takes one value", field="name")
            stmt = stmt.where(Customer.name.ilike(contains_pattern(values[0]), escape="\\"))
        else:
            rest.append((name, op, values))
    params = dataclasses.replace(params, filters=tuple(rest))
    stmt = apply_filters(stmt, params, {
        "status": Customer.status, "engagedParty.id": Customer.party_id,
        "name": Customer.name, "lastUpdate": Customer.updated_at,
    })
    return paginate(ctx.session, stmt, params, [Customer.name, Customer.id])
