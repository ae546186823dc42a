"""Use cases of customer management (TMF629): a party in the customer role with a
guarded status lifecycle ``initialized → validated → active → closed``
(:data:`openbss.party.states.CUSTOMER_STATES`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import BadRequestError, ValidationError
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams
from openbss.party import queries, schemas
from openbss.party.errors import (
    CreatedFinal,
    CustomerClosed,
    CustomerHasAccounts,
    CustomerNotClosable,
    CustomerNotDeletable,
    UnknownReference,
)
from openbss.party.hooks import account_blockers
from openbss.party.models import Account, Customer, Party
from openbss.party.normalize import normalize_contact_media
from openbss.party.paths import CUSTOMER_PATH, PATHS, account_path
from openbss.party.personal import personal_view, restore_masked, seal, unseal
from openbss.party.references import Target, bump, check_related_parties, replace_links
from openbss.party.states import CUSTOMER_STATES, CustomerStatus

CUSTOMER_API = "customerManagement"
DELETABLE = frozenset({CustomerStatus.INITIALIZED, CustomerStatus.CLOSED})


def render_customer(ctx: Context, row: Customer, *, full: bool = False) -> dict[str, Any]:
    """The customer as ``ctx.role`` may see it; ``full``: everything in clear (events)."""
    body = unseal(ctx.session, row.body) if full else personal_view(ctx.session, row.body,
                                                                     ctx.role)
    return render(ctx.base_url, CUSTOMER_PATH, row.id, body)


def _prepare(ctx: Context, body: dict[str, Any]) -> tuple[Party, list[Target]]:
    body.setdefault("@type", "Customer")
    engaged = body["engagedParty"]
    party = queries.find(ctx, Party, engaged["id"])
    if party is None:
        raise UnknownReference(f"engagedParty.id: no party {engaged['id']!r} in this tenant",
                               field="engagedParty.id")
    engaged.setdefault("name", party.name)
    engaged.setdefault("href", f"{ctx.base_url.rstrip('/')}{PATHS[party.kind]}/{party.id}")
    normalize_contact_media(ctx, body.get("contactMedium"), "contactMedium")
    targets: list[Target] = [("party", party.id, engaged.get("role") or "engagedParty")]
    targets += check_related_parties(ctx, body.get("relatedParty"), "relatedParty")
    for i, ref in enumerate(body.get("account") or []):
        account = queries.find(ctx, Account, ref["id"])
        if account is None:
            raise UnknownReference(f"account[{i}].id: no account {ref['id']!r} in this "
                                   "tenant", field=f"account[{i}].id")
        ref.setdefault("href", f"{ctx.base_url.rstrip('/')}{account_path(account.kind)}/"
                               f"{account.id}")
        ref.setdefault("@referredType", account.kind[0].upper() + account.kind[1:])
    return party, targets


def create_customer(ctx: Context, *, data: schemas.Customer) -> Customer:
    body = data.doc()
    if CUSTOMER_STATES.is_final(body["status"]):
        raise CreatedFinal("status: a customer cannot be created closed", field="status")
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
    return queries.owned(ctx, Customer, customer_id, "customer", lock=lock)


def customer_accounts(ctx: Context, row: Customer) -> list[Account]:
    """Accounts that refer to the customer or that the customer lists."""
    ids = queries.customer_account_ids(ctx, row.id)
    ids |= {ref["id"] for ref in row.body.get("account") or []}
    return sorted(queries.accounts_by_id(ctx, ids), key=lambda a: a.id)


def update_customer(ctx: Context, *, customer_id: str, patch: Any) -> Customer:
    """Apply a JSON merge-patch; a status change follows :data:`CUSTOMER_STATES`, and
    closing waits until no account of the customer has a blocker."""
    row = get_customer(ctx, customer_id=customer_id, lock=True)
    if CUSTOMER_STATES.is_final(row.status):
        raise CustomerClosed(f"customer {row.id} is closed and cannot be changed; create a "
                             "new customer (closed is a final state)", field="status")
    current = unseal(ctx.session, row.body)
    body = patched(current, patch, schemas.Customer).doc()
    restore_masked(body, current)
    if body["engagedParty"]["id"] != row.party_id:
        raise ValidationError("engagedParty.id: the engaged party of a customer cannot "
                              "change; create a new customer", field="engagedParty.id")
    old = row.status
    new = CUSTOMER_STATES.check(old, body["status"], resource_id=row.id)
    if new != old and new == CustomerStatus.CLOSED:
        reasons = [r for a in customer_accounts(ctx, row) for r in account_blockers(ctx, a)]
        if reasons:
            raise CustomerNotClosable(f"customer {row.id} cannot be closed", field="status",
                                      reasons=reasons)
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
    if row.status not in DELETABLE:
        raise CustomerNotDeletable(
            f"customer {row.id} is {row.status!r}; only an initialized or closed customer "
            "can be deleted (close it first)", field="status")
    accounts = customer_accounts(ctx, row)
    if accounts:
        raise CustomerHasAccounts(
            f"customer {row.id} still has accounts ({', '.join(a.id for a in accounts[:5])});"
            " delete or re-assign them first", field="account",
            details=[{"field": "account", "id": a.id} for a in accounts[:20]])
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
    names: list[str] = []
    rest = []
    for name, op, values in params.filters:
        if name == "name" and op == "eq":
            if len(values) != 1:
                raise BadRequestError("name takes one value", field="name")
            names.append(values[0])
        else:
            rest.append((name, op, values))
    return queries.customer_page(ctx, dataclasses.replace(params, filters=tuple(rest)),
                                 names=names)
