"""Use cases of account management (TMF666): billing accounts and party accounts,
their hierarchy (parent / children, paid by parent), billing-cycle and payment-term
extensions, the account-balance read model and the guarded state lifecycle."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from openbss.core.context import Context
from openbss.core.errors import ConflictError, NotFoundError, ValidationError
from openbss.core.money import validate_currency
from openbss.core.queries import get_owned
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams, apply_filters, iso, paginate
from openbss.party import schemas, validation
from openbss.party.models import Account
from openbss.party.paths import account_path
from openbss.party.service import (
    account_balance,
    account_blockers,
    bump,
    check_related_parties,
    contains_pattern,
    invalid,
    normalize_contact_media,
    personal_view,
    replace_links,
    restore_masked,
    seal,
    unseal,
)

ACCOUNT_API = "accountManagement"
KINDS = ("billingAccount", "partyAccount")
TRANSITIONS: dict[str, frozenset[str]] = {
    "initialized": frozenset({"active", "closed"}),
    "active": frozenset({"suspended", "closed"}),
    "suspended": frozenset({"active", "closed"}),
    "closed": frozenset(),
}
READONLY = frozenset({"id", "href", "accountBalance", "lastModified"})
MAX_DEPTH = 20


def path(kind: str) -> str:
    return account_path(kind)


def type_name(kind: str) -> str:
    return kind[0].upper() + kind[1:]


def _children(ctx: Context, ids: list[str]) -> dict[str, list[Account]]:
    found: dict[str, list[Account]] = defaultdict(list)
    if ids:
        rows = ctx.session.scalars(select(Account).where(
            Account.tenant_id == ctx.tenant_id, Account.parent_id.in_(ids)
        ).order_by(Account.created_at, Account.id))
        for row in rows:
            assert row.parent_id is not None
            found[row.parent_id].append(row)
    return found


def render_accounts(ctx: Context, rows: list[Account], *, full: bool = False
                    ) -> list[dict[str, Any]]:
    """The TMF resources, with the derived ``child`` relationships, ``lastModified``
    and the ``accountBalance`` read model (zero until billing registers a provider)."""
    children = _children(ctx, [r.id for r in rows])
    docs = []
    for row in rows:
        # as ctx.role may see it; full: everything in clear (the event's form, see
        # openbss.party.service.render_party)
        body = unseal(ctx.session, row.body) if full else personal_view(
            ctx.session, row.body, ctx.role)
        relationships = list(body.get("accountRelationship") or [])
        for child in children.get(row.id, []):
            relationships.append({
                "relationshipType": "child",
                "account": {"id": child.id, "href": f"{ctx.base_url.rstrip('/')}"
                            f"{path(child.kind)}/{child.id}", "name": child.name,
                            "@referredType": type_name(child.kind)},
                "validFor": {"startDateTime": iso(child.created_at)},
            })
        if relationships:
            body["accountRelationship"] = relationships
        body["lastModified"] = iso(row.updated_at)
        balance = account_balance(ctx, row)
        body["accountBalance"] = [{
            "@type": "AccountBalance",
            "balanceType": "receivableBalance",
            "amount": {"unit": row.currency,
                       "value": int(balance) if balance == balance.to_integral_value()
                       else balance},  # exact: a Decimal, never a float
            "validFor": {"startDateTime": iso(row.created_at)},
        }]
        docs.append(render(ctx.base_url, path(row.kind), row.id, body))
    return docs


def render_account(ctx: Context, row: Account, *, full: bool = False) -> dict[str, Any]:
    return render_accounts(ctx, [row], full=full)[0]


def _check_parent(ctx: Context, row_id: str | None, kind: str, parent_id: str,
                  field: str) -> Account:
    parent = ctx.session.get(Account, parent_id)
    if parent is None or parent.tenant_id != ctx.tenant_id or parent.kind != kind:
        raise ValidationError(f"{field}: no {kind} {parent_id!r} in this tenant", field=field)
    if parent.state == "closed":
        raise ValidationError(f"{field}: parent account {parent_id} is closed", field=field)
    node: Account | None = parent
    depth = 0
    while node is not None:
        if row_id is not None and node.id == row_id:
            raise ValidationError(
                f"{field}: making {parent_id} the parent of {row_id} would create a cycle "
                "in the account hierarchy", field=field)
        depth += 1
        if depth > MAX_DEPTH:
            raise ValidationError(f"{field}: account hierarchies are at most {MAX_DEPTH} "
                                  "levels deep", field=field)
        node = ctx.session.get(Account, node.parent_id) if node.parent_id else None
    return parent


def _prepare(ctx: Context, kind: str, body: dict[str, Any], row_id: str | None
             ) -> tuple[Account | None, list[tuple[str, str, str]]]:
    body.setdefault("@type", type_name(kind))
    currency = validate_currency(body["currency"], field="currency")
    if body.get("creditLimit"):
        validate_currency(body["creditLimit"]["unit"], field="creditLimit.unit")
        if body["creditLimit"]["unit"] != currency:
            raise ValidationError(
                f"creditLimit.unit: {body['creditLimit']['unit']} differs from the account "
                f"currency {currency}", field="creditLimit.unit")
    targets = check_related_parties(ctx, body.get("relatedParty"), "relatedParty")
    if not targets:
        raise ValidationError(
            "relatedParty: an account needs at least one related Individual, Organization "
            "or Customer of this tenant (with its @referredType)", field="relatedParty")
    for i, plan in enumerate(body.get("paymentPlan") or []):
        if plan.get("totalAmount"):
            validate_currency(plan["totalAmount"]["unit"],
                              field=f"paymentPlan[{i}].totalAmount.unit")
    # hierarchy: one "parent" relationship; "child" entries are derived, never stored
    parent: Account | None = None
    kept = []
    for i, rel in enumerate(body.get("accountRelationship") or []):
        rel_type = rel["relationshipType"].lower()
        if rel_type == "child":
            continue
        rel.setdefault("validFor", {"startDateTime": iso(ctx.now)})
        if rel_type == "parent":
            field = f"accountRelationship[{i}].account.id"
            if parent is not None:
                raise ValidationError(f"{field}: an account has at most one parent",
                                      field=field)
            parent = _check_parent(ctx, row_id, kind, rel["account"]["id"], field)
            rel["relationshipType"] = "parent"
            rel["account"].setdefault("name", parent.name)
            rel["account"].setdefault(
                "href", f"{ctx.base_url.rstrip('/')}{path(kind)}/{parent.id}")
            rel["account"].setdefault("@referredType", type_name(kind))
        kept.append(rel)
    if kept:
        body["accountRelationship"] = kept
    else:
        body.pop("accountRelationship", None)
    if body.get("paidByParent"):
        if parent is None:
            raise ValidationError("paidByParent: the account has no parent account "
                                  "(add an accountRelationship of type 'parent')",
                                  field="paidByParent")
        if parent.currency != currency:
            raise ValidationError(
                f"paidByParent: the parent bills in {parent.currency}, this account in "
                f"{currency}; a paid-by-parent child must share its parent's currency",
                field="paidByParent")
    structure = body.get("billStructure") or {}
    cycle = structure.get("cycleSpecification")
    if cycle:
        try:
            validation.time_zone(cycle["timeZone"])
        except validation.InvalidValue as exc:
            raise invalid("billStructure.cycleSpecification.timeZone", exc) from None
    if structure.get("locale"):
        try:
            validation.locale(structure["locale"])
        except validation.InvalidValue as exc:
            raise invalid("billStructure.locale", exc) from None
    if body.get("taxIdentification"):
        tax = body["taxIdentification"]
        try:
            tax["identificationId"] = validation.vat_id(tax["identificationId"],
                                                        tax.get("issuingAuthority"))
        except validation.InvalidValue as exc:
            raise invalid("taxIdentification.identificationId", exc) from None
    for i, exemption in enumerate(body.get("taxExemption") or []):
        field = f"taxExemption[{i}].issuingJurisdiction"
        jurisdiction = exemption["issuingJurisdiction"]
        try:
            if "-" in jurisdiction:
                exemption["issuingJurisdiction"] = validation.subdivision_code(jurisdiction,
                                                                               None)
            else:
                exemption["issuingJurisdiction"] = validation.country_code(jurisdiction)
        except validation.InvalidValue as exc:
            raise invalid(field, exc) from None
        exemption.setdefault("validFor", {"startDateTime": iso(ctx.now)})
    for i, contact in enumerate(body.get("contact") or []):
        contact.setdefault("validFor", {"startDateTime": iso(ctx.now)})
        normalize_contact_media(ctx, contact.get("contactMedium"), f"contact[{i}].contactMedium")
        if contact.get("relatedParty"):
            targets += [(t, i_, "contact") for t, i_, _ in check_related_parties(
                ctx, [contact["relatedParty"]], f"contact[{i}].relatedParty")]
    return parent, targets


def create_account(ctx: Context, *, kind: str, data: schemas.Account) -> Account:
    body = data.doc()
    if body["state"] == "closed":
        raise ValidationError("state: an account cannot be created closed", field="state")
    body.setdefault("currency", ctx.tenant.default_currency)  # TMF666 v4 has no currency
    parent, targets = _prepare(ctx, kind, body, None)
    row = Account(tenant_id=ctx.tenant_id, kind=kind, name=body["name"], state=body["state"],
                  currency=body["currency"], parent_id=parent.id if parent else None,
                  paid_by_parent=bool(body.get("paidByParent")), body=seal(ctx, body),
                  created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    replace_links(ctx, kind, row.id, targets)
    record_change(ctx, api=ACCOUNT_API, resource_name=kind, resource_id=row.id,
                  change="create", before=None, after=row.body,
                  event_resource=render_account(ctx, row, full=True))
    return row


def get_account(ctx: Context, *, kind: str, account_id: str, lock: bool = False) -> Account:
    row = get_owned(ctx.session, Account, ctx.tenant_id, account_id, kind, lock=lock)
    if row.kind != kind:
        raise NotFoundError(f"{kind} {account_id!r} not found", field="id")
    return row


def _close_blockers(ctx: Context, row: Account) -> list[str]:
    reasons = account_blockers(ctx, row)
    open_children = [c.id for c in _children(ctx, [row.id]).get(row.id, [])
                     if c.state != "closed"]
    if open_children:
        reasons.append(f"child accounts {', '.join(open_children[:5])} are not closed")
    return reasons


def update_account(ctx: Context, *, kind: str, account_id: str, patch: Any) -> Account:
    row = get_account(ctx, kind=kind, account_id=account_id, lock=True)
    current = unseal(ctx.session, row.body)
    model = patched(current, patch, schemas.Account, readonly=READONLY)
    body = model.doc()
    restore_masked(body, current)
    old, new = row.state, body["state"]
    if old != new:
        if new not in TRANSITIONS[old]:
            allowed = ", ".join(sorted(TRANSITIONS[old])) or "none (final state)"
            raise ConflictError(
                f"{kind} {row.id} is {old!r} and cannot become {new!r}; allowed next "
                f"states: {allowed}", field="state")
        if new == "closed":
            reasons = _close_blockers(ctx, row)
            if reasons:
                raise ConflictError(f"{kind} {row.id} cannot be closed: " + "; ".join(reasons),
                                    field="state")
    elif old == "closed":
        raise ConflictError(f"{kind} {row.id} is closed and cannot be changed", field="state")
    if body.get("currency") != row.currency:
        raise ConflictError(f"currency: {kind} {row.id} bills in {row.currency}; the "
                            "currency of an account cannot change", field="currency")
    parent, targets = _prepare(ctx, kind, body, row.id)
    if current == body:
        return row
    before = row.body
    row.body = seal(ctx, body)
    row.name = body["name"]
    row.state = new
    row.parent_id = parent.id if parent else None
    row.paid_by_parent = bool(body.get("paidByParent"))
    bump(row, ctx)
    replace_links(ctx, kind, row.id, targets)
    record_change(ctx, api=ACCOUNT_API, resource_name=kind, resource_id=row.id,
                  change="state" if old != new else "update", before=before,
                  after=row.body, event_resource=render_account(ctx, row, full=True))
    return row


def delete_account(ctx: Context, *, kind: str, account_id: str) -> None:
    row = get_account(ctx, kind=kind, account_id=account_id, lock=True)
    if _children(ctx, [row.id]).get(row.id):
        raise ConflictError(f"{kind} {row.id} has child accounts; delete or re-parent them "
                            "first")
    reasons = account_blockers(ctx, row)
    if reasons:
        raise ConflictError(f"{kind} {row.id} cannot be deleted: " + "; ".join(reasons))
    event = render_account(ctx, row, full=True)
    before = dict(row.body)
    replace_links(ctx, kind, row.id, [])
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=ACCOUNT_API, resource_name=kind, resource_id=account_id,
                  change="delete", before=before, after=None, event_resource=event)


def list_accounts(ctx: Context, *, kind: str, params: ListParams) -> tuple[list[Account], int]:
    stmt = select(Account).where(Account.tenant_id == ctx.tenant_id, Account.kind == kind)
    rest = []
    for name, op, values in params.filters:
        if name == "name" and op == "eq" and len(values) == 1:
            stmt = stmt.where(Account.name.ilike(contains_pattern(values[0]), escape="\\"))
        else:
            rest.append((name, op, values))
    params = dataclasses.replace(params, filters=tuple(rest))
    stmt = apply_filters(stmt, params, {
        "state": Account.state, "currency": Account.currency, "name": Account.name,
        "parentId": Account.parent_id, "paidByParent": Account.paid_by_parent,
        "lastModified": Account.updated_at,
    })
    return paginate(ctx.session, stmt, params, [Account.name, Account.id])
