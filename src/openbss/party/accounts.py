"""Use cases of account management (TMF666): billing accounts and party accounts,
their hierarchy (parent / children, paid by parent), billing-cycle and payment-term
extensions, the account-balance read model and the guarded state lifecycle."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import CurrencyMismatchError, NotFoundError, ValidationError
from openbss.core.money import Money
from openbss.core.periods import Alignment, BillingCycle, Frequency, cycle_for_subscription
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams, iso
from openbss.party import queries, schemas, validation
from openbss.party.errors import (
    AccountClosed,
    AccountHasChildren,
    AccountNotClosable,
    AccountNotDeletable,
    CreatedFinal,
    CurrencyImmutable,
    UnknownReference,
)
from openbss.party.hooks import account_balance, account_blockers
from openbss.party.models import Account
from openbss.party.normalize import invalid, normalize_contact_media
from openbss.party.paths import account_path
from openbss.party.personal import personal_view, restore_masked, seal, unseal
from openbss.party.references import Target, bump, check_related_parties, replace_links
from openbss.party.states import ACCOUNT_STATES, AccountState

ACCOUNT_API = "accountManagement"
KINDS = queries.ACCOUNT_KINDS
READONLY = frozenset({"id", "href", "accountBalance", "lastModified"})
MAX_DEPTH = 20


def path(kind: str) -> str:
    return account_path(kind)


def type_name(kind: str) -> str:
    return kind[0].upper() + kind[1:]


def _children(ctx: Context, ids: list[str]) -> dict[str, list[Account]]:
    found: dict[str, list[Account]] = defaultdict(list)
    for row in queries.children_of(ctx, ids):
        assert row.parent_id is not None
        found[row.parent_id].append(row)
    return found


def balance_doc(balance: Money) -> dict[str, Any]:
    """A balance as TMF Money, exact: a Decimal (an integer when whole), never a float."""
    value = balance.amount
    return {"unit": balance.currency,
            "value": int(value) if value == value.to_integral_value() else value}


def render_accounts(ctx: Context, rows: Sequence[Account], *, full: bool = False
                    ) -> list[dict[str, Any]]:
    """The TMF resources, with the derived ``child`` relationships, ``lastModified``
    and the ``accountBalance`` read model (zero until billing registers a provider)."""
    children = _children(ctx, [r.id for r in rows])
    docs = []
    for row in rows:
        # as ctx.role may see it; full: everything in clear (the event's form, see
        # openbss.party.parties.render_party)
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
        body["accountBalance"] = [{
            "@type": "AccountBalance",
            "balanceType": "receivableBalance",
            "amount": balance_doc(account_balance(ctx, row)),
            "validFor": {"startDateTime": iso(row.created_at)},
        }]
        docs.append(render(ctx.base_url, path(row.kind), row.id, body))
    return docs


def render_account(ctx: Context, row: Account, *, full: bool = False) -> dict[str, Any]:
    return render_accounts(ctx, [row], full=full)[0]


def _check_parent(ctx: Context, row_id: str | None, kind: str, parent_id: str,
                  field: str) -> Account:
    parent = queries.find(ctx, Account, parent_id)
    if parent is None or parent.kind != kind:
        raise UnknownReference(f"{field}: no {kind} {parent_id!r} in this tenant", field=field)
    if ACCOUNT_STATES.is_final(parent.state):
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
        node = queries.find(ctx, Account, node.parent_id) if node.parent_id else None
    return parent


def _prepare(ctx: Context, kind: str, body: dict[str, Any], row_id: str | None
             ) -> tuple[Account | None, list[Target]]:
    body.setdefault("@type", type_name(kind))
    currency = body["currency"]
    if body.get("creditLimit") and body["creditLimit"]["unit"] != currency:
        raise CurrencyMismatchError(
            f"creditLimit.unit: {body['creditLimit']['unit']} differs from the account "
            f"currency {currency}", field="creditLimit.unit")
    targets = check_related_parties(ctx, body.get("relatedParty"), "relatedParty")
    if not targets:
        raise ValidationError(
            "relatedParty: an account needs at least one related Individual, Organization "
            "or Customer of this tenant (with its @referredType)", field="relatedParty")
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
    if ACCOUNT_STATES.is_final(body["state"]):
        raise CreatedFinal("state: an account cannot be created closed", field="state")
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
    row = queries.owned(ctx, Account, account_id, kind, lock=lock)
    if row.kind != kind:
        raise NotFoundError(f"{kind} {account_id!r} not found", field="id")
    return row


def lock_for_billing(ctx: Context, account_ids: Iterable[str]) -> None:
    """The billing lock of accounts, held to the end of the caller's transaction: a bill
    run takes it for the accounts it bills (and the children they pay for), and whatever
    changes what an account's bill must hold after a run has read it — re-rating its
    usage, deleting a manual charge — takes it first, so the two never interleave (a
    run never marks rated rows a re-rate has just replaced). Ids in any order."""
    queries.lock_for_billing(ctx, account_ids)


def _close_blockers(ctx: Context, row: Account) -> list[str]:
    reasons = account_blockers(ctx, row)
    open_children = [c.id for c in _children(ctx, [row.id]).get(row.id, [])
                     if not ACCOUNT_STATES.is_final(c.state)]
    if open_children:
        reasons.append(f"child accounts {', '.join(open_children[:5])} are not closed")
    return reasons


def update_account(ctx: Context, *, kind: str, account_id: str, patch: Any) -> Account:
    row = get_account(ctx, kind=kind, account_id=account_id, lock=True)
    current = unseal(ctx.session, row.body)
    model = patched(current, patch, schemas.Account, readonly=READONLY)
    body = model.doc()
    restore_masked(body, current)
    old = row.state
    new = ACCOUNT_STATES.check(old, body["state"], resource_id=row.id)
    if ACCOUNT_STATES.is_final(old):
        raise AccountClosed(f"{kind} {row.id} is {old!r} and cannot be changed (a final "
                            "state)", field="state")
    if new != old and new == AccountState.CLOSED:
        reasons = _close_blockers(ctx, row)
        if reasons:
            raise AccountNotClosable(f"{kind} {row.id} cannot be closed", field="state",
                                     reasons=reasons)
    if body.get("currency") != row.currency:
        raise CurrencyImmutable(f"currency: {kind} {row.id} bills in {row.currency}; the "
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
    children = _children(ctx, [row.id]).get(row.id)
    if children:
        raise AccountHasChildren(
            f"{kind} {row.id} has child accounts; delete or re-parent them first",
            field="id", details=[{"field": "id", "child": c.id} for c in children[:20]])
    reasons = account_blockers(ctx, row)
    if reasons:
        raise AccountNotDeletable(f"{kind} {row.id} cannot be deleted", field="id",
                                  reasons=reasons)
    event = render_account(ctx, row, full=True)
    before = dict(row.body)
    replace_links(ctx, kind, row.id, [])
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=ACCOUNT_API, resource_name=kind, resource_id=account_id,
                  change="delete", before=before, after=None, event_resource=event)


def list_accounts(ctx: Context, *, kind: str, params: ListParams) -> tuple[list[Account], int]:
    """Filter by ``state``, ``currency``, ``parentId``, ``paidByParent``,
    ``lastModified``; ``name`` is a case-insensitive substring."""
    names: list[str] = []
    rest = []
    for name, op, values in params.filters:
        if name == "name" and op == "eq" and len(values) == 1:
            names.append(values[0])
        else:
            rest.append((name, op, values))
    return queries.account_page(ctx, kind, dataclasses.replace(params, filters=tuple(rest)),
                                names=names)


def cycle_of(spec: Any, *, first_start: datetime | None = None) -> BillingCycle:
    """A billing account's bill cycle from its TMF666 ``billStructure.cycleSpecification``
    (``frequency`` daily|weekly|monthly|quarterly|yearly, default monthly; ``anchorDay``
    1-31, clamped to each month's last day — or the ISO weekday for weekly cycles;
    ``anchorMonth`` for quarterly / yearly; ``alignment`` calendar|anniversary;
    ``timeZone``, default UTC) as a :class:`~openbss.core.periods.BillingCycle`.

    Anniversary alignment is anchored on the ``anchorDay`` (and ``anchorMonth``) given; when
    one is missing, on ``first_start`` (the account's first product start: its local date
    in the account's zone); without either it falls back to the calendar grid. An unknown
    frequency is monthly. Pure: the one function rating and billing both use."""
    spec = spec if isinstance(spec, dict) else {}
    try:
        frequency = Frequency(spec.get("frequency") or "monthly")
    except ValueError:
        frequency = Frequency.MONTHLY
    tz = str(spec.get("timeZone") or "UTC")
    raw_anchor = spec.get("anchorDay")
    raw_month = spec.get("anchorMonth")
    months = frequency.months
    if frequency is Frequency.DAILY:
        return BillingCycle(frequency, None, Alignment.CALENDAR, tz)
    high = 7 if frequency is Frequency.WEEKLY else 31
    anchor = raw_anchor if isinstance(raw_anchor, int) and 1 <= raw_anchor <= high else None
    month = (raw_month if months in (3, 12) and isinstance(raw_month, int)
             and 1 <= raw_month <= 12 else None)
    anniversary = spec.get("alignment") == Alignment.ANNIVERSARY.value
    if anniversary:
        needs_month = months in (3, 12)
        if anchor is not None and (month is not None or not needs_month):
            return BillingCycle(frequency, anchor, Alignment.ANNIVERSARY, tz, month)
        if first_start is not None:
            derived = cycle_for_subscription(frequency, first_start, Alignment.ANNIVERSARY,
                                             tz)
            return BillingCycle(frequency, anchor or derived.anchor_day,
                                Alignment.ANNIVERSARY, tz, month or derived.anchor_month)
    if frequency is Frequency.WEEKLY:
        return BillingCycle(frequency, anchor, Alignment.CALENDAR, tz)
    return BillingCycle(frequency, anchor, Alignment.CALENDAR, tz, month)
