"""Data protection: the data-subject access export and irreversible anonymisation.

Anonymisation replaces what identifies a person (names, contact media, identifications,
birth data, characteristics, credit profiles, account contacts) with fixed neutral
values, but keeps ids, states, currencies, tax and billing settings, so invoices,
payments and ledger entries keep pointing at consistent records. It is refused while
any of the person's accounts has an open balance or an active product (the hooks of
:mod:`openbss.party.hooks`), or while an erasure check objects.
"""

from __future__ import annotations

import copy
from typing import Any

from openbss.core import audit, events
from openbss.core.api import audit_view
from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.tmf import iso
from openbss.party import queries
from openbss.party.accounts import ACCOUNT_API, render_account, type_name
from openbss.party.customers import CUSTOMER_API, render_customer
from openbss.party.errors import PartyAlreadyAnonymized, PartyNotErasable
from openbss.party.hooks import account_blockers, erasure_blockers
from openbss.party.models import Account, Customer, Party
from openbss.party.parties import PARTY_API, get_party, ident_field, render_party
from openbss.party.personal import personal_view
from openbss.party.references import bump

ANONYMIZED = "Anonymized"


def _holdings(ctx: Context, party: Party) -> tuple[list[Customer], list[Account]]:
    """The customers of the person and every account that refers to the person or to
    one of those customers (or that a customer lists)."""
    customers = queries.customers_of_person(ctx, party.id)
    account_ids = queries.account_ids_referring(ctx, party.id, [c.id for c in customers])
    account_ids |= {ref["id"] for c in customers for ref in c.body.get("account") or []}
    accounts = queries.accounts_by_id(ctx, account_ids)
    return customers, accounts


def _reveal_history(ctx: Context, entry: dict[str, Any]) -> dict[str, Any]:
    """An audit entry with the personal values of its documents decrypted (and masked
    as the caller's role requires)."""
    entry = copy.deepcopy(entry)
    for side in ("before", "after"):
        doc = entry.get(side)
        if isinstance(doc, dict):
            entry[side] = personal_view(ctx.session, doc, ctx.role)
    return entry


def personal_data(ctx: Context, *, party_id: str) -> dict[str, Any]:
    """Everything openbss holds about a party: the party, its customers, their accounts
    and the contact history (the audit trail of all of them). The export is audited."""
    party = get_party(ctx, kind=None, party_id=party_id)
    customers, accounts = _holdings(ctx, party)
    ids = [party.id, *(c.id for c in customers), *(a.id for a in accounts)]
    history = queries.history_of(ctx, ids)
    export = {
        "@type": "PersonalDataExport",
        "exportedAt": iso(ctx.now),
        "subject": {"id": party.id, "@referredType": type_name(party.kind)},
        "party": render_party(ctx, party),
        "customer": [render_customer(ctx, c) for c in customers],
        "account": [render_account(ctx, a) for a in accounts],
        "contactHistory": [_reveal_history(ctx, audit_view(e, ctx.session))
                           for e in history],
    }
    audit.record(ctx, action="personalDataExport", resource_type=party.kind,
                 resource_id=party.id,
                 after={"customers": len(customers), "accounts": len(accounts)})
    return export


def _scrub_refs(refs: list[dict[str, Any]] | None, ids: set[str]) -> None:
    for ref in refs or []:
        if ref.get("id") in ids and "name" in ref:
            ref["name"] = ANONYMIZED


def _record(ctx: Context, *, api: str, resource_name: str, resource_id: str,
            erased: list[str], after: dict[str, Any], resource: dict[str, Any]) -> None:
    # The audit row names which fields were erased, never their former values.
    audit.record(ctx, action="anonymize", resource_type=resource_name,
                 resource_id=resource_id, before={"erasedFields": sorted(erased)}, after=after)
    events.publish(ctx, api=api,
                   event_type=f"{type_name(resource_name)}AttributeValueChangeEvent",
                   resource_name=resource_name, resource=resource)


def _owned_by(account: Account, subject_ids: set[str]) -> bool:
    owners = {ref.get("id") for ref in account.body.get("relatedParty") or []
              if (ref.get("@referredType") or "").lower()
              in ("individual", "organization", "party", "customer")}
    return bool(owners) and owners <= subject_ids


def anonymize(ctx: Context, *, party_id: str) -> dict[str, Any]:
    """Irreversibly anonymise an individual and the personal data of their customers and
    accounts; returns a summary."""
    party = get_party(ctx, kind=None, party_id=party_id, lock=True)
    if party.kind != "individual":
        raise ValidationError("only individuals are data subjects; organizations are not "
                              "anonymised", field="id")
    if party.anonymized_at is not None:
        raise PartyAlreadyAnonymized(f"individual {party.id} was already anonymised",
                                     field="id")
    customers, accounts = _holdings(ctx, party)
    # The person's own records: customers they are the engaged party of, and accounts
    # owned only by them or those customers. Records of other people that merely mention
    # the person (a spouse on someone's customer, a contact on a company account) keep
    # their data; only the mention of the person is removed from them.
    subject_ids = {party.id} | {c.id for c in customers if c.party_id == party.id}
    owned_accounts = {a.id for a in accounts if _owned_by(a, subject_ids)}
    reasons = erasure_blockers(ctx, party)
    for account in accounts:
        if account.id in owned_accounts:
            reasons += account_blockers(ctx, account)
    if reasons:
        raise PartyNotErasable(f"individual {party.id} cannot be anonymised yet",
                               field="id", reasons=reasons)

    # Crypto-shred what the audit log and past events said about the person: the audit
    # rows keep their hashes (the chain still verifies) but their payloads become
    # unreadable; past event payloads shrink to a stub.
    holdings = [("individual", party.id),
                *(("customer", c.id) for c in customers if c.id in subject_ids),
                *((a.kind, a.id) for a in accounts if a.id in owned_accounts)]
    audit.shred(ctx, resources=holdings)
    events.redact(ctx, resource_ids=[rid for _, rid in holdings],
                  resource_view={"anonymized": True})

    erased = [k for k in party.body if not k.startswith("@") and k != "status"]
    party.body = {"@type": "Individual", "givenName": ANONYMIZED, "familyName": ANONYMIZED,
                  "status": party.status}
    party.name = party.name_key = ANONYMIZED.lower()
    party.country = None
    party.anonymized_at = ctx.now
    queries.delete_search_keys(ctx.session, ctx.tenant_id, party.id)
    bump(party, ctx)
    ctx.session.flush()
    _record(ctx, api=PARTY_API, resource_name="individual", resource_id=party.id,
            erased=erased, after=party.body, resource=render_party(ctx, party, full=True))

    personal = ("contactMedium", "characteristic", "creditProfile", "statusReason")
    for customer in customers:
        body = copy.deepcopy(customer.body)
        removed = [k for k in personal if k in body] if customer.id in subject_ids else []
        for key in removed:
            body.pop(key, None)
        for ref in body.get("account") or []:
            if ref.get("id") in owned_accounts and "name" in ref:
                ref["name"] = f"Account {ref['id'][:8]}"
        if customer.party_id == party.id:
            body["name"] = customer.name = f"{ANONYMIZED} customer"
            body["engagedParty"]["name"] = ANONYMIZED
            removed.append("name")
        _scrub_refs(body.get("relatedParty"), subject_ids)
        customer.body = body
        bump(customer, ctx)
        _record(ctx, api=CUSTOMER_API, resource_name="customer", resource_id=customer.id,
                erased=removed, after=body, resource=render_customer(ctx, customer, full=True))

    for account in accounts:
        body = copy.deepcopy(account.body)
        owned = account.id in owned_accounts
        removed = []
        if owned:
            body["name"] = account.name = f"Account {account.id[:8]}"
            removed.append("name")
            for key in ("description", "contact"):
                if body.pop(key, None) is not None:
                    removed.append(key)
        elif body.get("contact"):
            kept = [c for c in body["contact"]
                    if (c.get("relatedParty") or {}).get("id") not in subject_ids]
            if len(kept) != len(body["contact"]):
                removed.append("contact")
            body["contact"] = kept
        _scrub_refs(body.get("relatedParty"), subject_ids)
        account.body = body
        bump(account, ctx)
        ctx.session.flush()
        _record(ctx, api=ACCOUNT_API, resource_name=account.kind, resource_id=account.id,
                erased=removed, after=body,
                resource=render_account(ctx, account, full=True))
    ctx.session.flush()
    return {
        "@type": "AnonymizationResult",
        "id": party.id,
        "anonymizedAt": iso(ctx.now),
        "customer": [c.id for c in customers],
        "account": [a.id for a in accounts],
        "identificationsErased": ident_field(party.kind) in erased,
    }
