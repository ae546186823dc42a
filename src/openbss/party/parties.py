"""Use cases of party management (TMF632): individuals and organizations, and their
search (name substring, e-mail, phone and identification number through blind indexes).

Customers live in :mod:`openbss.party.customers`, accounts in
:mod:`openbss.party.accounts`, data protection in :mod:`openbss.party.privacy`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from openbss.core import crypto
from openbss.core.context import Context
from openbss.core.errors import BadRequestError, NotFoundError, ValidationError
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams
from openbss.party import queries, schemas, validation
from openbss.party.errors import PartyAnonymized, PartyReferenced
from openbss.party.models import Party
from openbss.party.normalize import Contacts, normalize_contact_media, normalize_identifications
from openbss.party.paths import PATHS
from openbss.party.personal import (
    personal_view,
    restore_masked,
    seal_with,
    store_search_keys,
    unseal,
)
from openbss.party.references import bump, check_related_parties
from openbss.party.states import PARTY_STATES

PARTY_API = "partyManagement"
TYPE_NAMES = {"individual": "Individual", "organization": "Organization"}
SCHEMAS: dict[str, type[schemas.Individual | schemas.Organization]] = {
    "individual": schemas.Individual, "organization": schemas.Organization}
SEARCH_PARAMS = frozenset({"name", "email", "phone", "identification", "identificationId"})


def party_name(kind: str, body: dict[str, Any]) -> str:
    if kind == "individual":
        return str(body.get("formattedName") or body.get("fullName")
                   or f"{body.get('givenName', '')} {body.get('familyName', '')}".strip())
    return str(body.get("tradingName") or body.get("name") or "")


def ident_field(kind: str) -> str:
    return "individualIdentification" if kind == "individual" else "organizationIdentification"


def render_party(ctx: Context, row: Party, *, full: bool = False) -> dict[str, Any]:
    """The TMF resource as ``ctx.role`` may see it (:func:`personal_view`).

    ``full``: everything in clear — the form events are published in: the outbox stores
    personal resources encrypted (openbss.core.events) and each listener receives the
    view of its owner's role through the view filters of :mod:`openbss.party.personal`."""
    body = unseal(ctx.session, row.body) if full else personal_view(ctx.session, row.body,
                                                                     ctx.role)
    doc = render(ctx.base_url, PATHS[row.kind], row.id, body)
    if row.anonymized_at is not None:
        doc["anonymized"] = True
    return doc


def _event_view(ctx: Context, row: Party) -> dict[str, Any]:
    return render_party(ctx, row, full=True)


def _prepare(ctx: Context, kind: str, body: dict[str, Any],
             previous: Iterable[dict[str, Any]] = (), *,
             party_id: str | None = None) -> tuple[Contacts, list[str]]:
    body.setdefault("@type", TYPE_NAMES[kind])
    if kind == "organization" and not (body.get("tradingName") or body.get("name")):
        raise ValidationError("tradingName: an organization needs a tradingName or a name",
                              field="tradingName")
    contacts = normalize_contact_media(ctx, body.get("contactMedium"), "contactMedium")
    field = ident_field(kind)
    ident_keys = normalize_identifications(ctx, body.get(field), field, previous=previous)
    for i, rel in enumerate(body.get("relatedParty") or []):
        if party_id is not None and rel.get("id") == party_id:
            raise ValidationError("a party cannot relate to itself",
                                  field=f"relatedParty[{i}].id")
    check_related_parties(ctx, body.get("relatedParty"), "relatedParty")
    return contacts, ident_keys


def _apply(ctx: Context, row: Party, body: dict[str, Any], contacts: Contacts,
           ident_keys: list[str]) -> None:
    """Store the plain, validated ``body`` sealed, with its blind indexes."""
    ring = crypto.keyring(ctx.session, ctx.tenant_id)
    row.body = seal_with(ring, body)
    row.name = party_name(row.kind, body)[:300]
    row.name_key = row.name.casefold()
    row.status = body.get("status", "initialized")
    row.country = contacts.country
    values = {("email", ring.blind_index("email", e)) for e in contacts.emails}
    values |= {("phone", ring.blind_index("phone", p)) for p in contacts.phones}
    values |= {("identification", ring.blind_index("identification", k)) for k in ident_keys}
    store_search_keys(ctx.session, ctx.tenant_id, row, values)
    ctx.session.flush()


def create_party(ctx: Context, *, kind: str,
                 data: schemas.Individual | schemas.Organization) -> Party:
    body = data.doc()
    contacts, ident_keys = _prepare(ctx, kind, body)
    row = Party(tenant_id=ctx.tenant_id, kind=kind, name="", name_key="", status="",
                body={}, created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    _apply(ctx, row, body, contacts, ident_keys)
    record_change(ctx, api=PARTY_API, resource_name=kind, resource_id=row.id,
                  change="create", before=None, after=row.body,
                  event_resource=_event_view(ctx, row))
    return row


def get_party(ctx: Context, *, kind: str | None, party_id: str, lock: bool = False) -> Party:
    """The party (of ``kind``, when given) or 404; ``lock`` before changing it."""
    row = queries.owned(ctx, Party, party_id, kind or "party", lock=lock)
    if kind is not None and row.kind != kind:
        raise NotFoundError(f"{kind} {party_id!r} not found", field="id")
    return row


def update_party(ctx: Context, *, kind: str, party_id: str, patch: Any) -> Party:
    """Apply a JSON merge-patch; a status change follows :data:`PARTY_STATES`."""
    row = get_party(ctx, kind=kind, party_id=party_id, lock=True)
    if row.anonymized_at is not None:
        raise PartyAnonymized(f"{kind} {party_id} was anonymised and cannot be changed",
                              field="anonymized")
    current = unseal(ctx.session, row.body)
    if isinstance(patch, dict) and "anonymized" in patch:
        raise ValidationError("anonymized cannot be changed; use the anonymize operation",
                              field="anonymized")
    body = patched(current, patch, SCHEMAS[kind]).doc()
    restore_masked(body, current)
    old_status = row.status
    new_status = PARTY_STATES[kind].check(old_status, body.get("status", old_status),
                                          resource_id=row.id)
    contacts, ident_keys = _prepare(ctx, kind, body,
                                    previous=current.get(ident_field(kind)) or [],
                                    party_id=row.id)
    if body == current:
        return row
    before = row.body
    _apply(ctx, row, body, contacts, ident_keys)
    bump(row, ctx)
    record_change(ctx, api=PARTY_API, resource_name=kind, resource_id=row.id,
                  change="state" if old_status != new_status else "update",
                  before=before, after=row.body, event_resource=_event_view(ctx, row))
    return row


def delete_party(ctx: Context, *, kind: str, party_id: str) -> None:
    """Delete a party nothing refers to (409 ``party_referenced`` naming the users)."""
    row = get_party(ctx, kind=kind, party_id=party_id, lock=True)
    links = queries.links_to(ctx, "party", row.id)
    customers = queries.customer_ids_of(ctx, row.id)
    if links or customers:
        users = sorted({f"{link.resource_type} {link.resource_id}" for link in links}
                       | {f"customer {c}" for c in customers})
        raise PartyReferenced(
            f"{kind} {party_id} is referenced by {', '.join(users[:5])}"
            + (" …" if len(users) > 5 else "") + "; remove those references first",
            field="id", details=[{"field": "id", "referencedBy": u} for u in users[:20]])
    event = _event_view(ctx, row)
    before = dict(row.body)
    queries.delete_search_keys(ctx.session, ctx.tenant_id, row.id)
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=PARTY_API, resource_name=kind, resource_id=party_id,
                  change="delete", before=before, after=None, event_resource=event)


def _search_keys(ctx: Context, name: str, value: str) -> tuple[str, list[str]]:
    """The search-key type and every stored key ``value`` may have: blind indexes
    (HMAC-SHA256 under the tenant's index keys) of the lower-cased e-mail or the E.164
    phone, or the keyed hash of an identification number."""
    if name in ("email", "phone"):
        if name == "email":
            normal = validation.email_key(value)
        else:
            raw = value.strip()
            if value.startswith(" ") and raw[:1].isdigit():
                raw = "+" + raw  # an unencoded '+' arrives as a space
            try:
                normal = validation.e164(raw, ctx.tenant.default_region)
            except validation.InvalidValue as exc:
                raise BadRequestError(f"phone: {exc}", field="phone") from None
        ring = crypto.keyring(ctx.session, ctx.tenant_id, create=False)
        return name, ring.blind_indexes(name, normal)
    ring = crypto.keyring(ctx.session, ctx.tenant_id, create=False)
    return "identification", ring.blind_indexes("identification",
                                                validation.identifier_normal(value))


def list_parties(ctx: Context, *, kind: str, params: ListParams) -> tuple[list[Party], int]:
    """Filter by ``status``, ``country``; search ``name`` (case-insensitive substring),
    ``email``, ``phone`` (any format, matched as E.164) and ``identification`` (exact)."""
    names: list[str] = []
    searches: list[tuple[str, Sequence[str]]] = []
    rest = []
    for name, op, values in params.filters:
        if name not in SEARCH_PARAMS:
            rest.append((name, op, values))
            continue
        if op != "eq" or len(values) != 1:
            raise BadRequestError(f"{name} takes one value", field=name)
        if name == "name":
            names.append(values[0].casefold())
        else:
            searches.append(_search_keys(ctx, name, values[0]))
    return queries.party_page(ctx, kind, dataclasses.replace(params, filters=tuple(rest)),
                              names=names, searches=searches)

