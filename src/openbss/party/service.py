"""Use cases of party management (TMF632): individuals and organizations, their
search, plus what the whole context shares: the hooks later contexts register into,
contact-media and identification normalisation, references and links.

Customers live in :mod:`openbss.party.customers`, accounts in
:mod:`openbss.party.accounts`, data protection in :mod:`openbss.party.privacy`.

Hooks (other contexts register at import time, e.g. billing and ordering)::

    from openbss.party import service as party

    @party.register_balance_provider
    def open_invoices(ctx, account) -> Decimal | None: ...   # amount owed, or None

    @party.register_close_check
    def active_subscriptions(ctx, account) -> str | None: ...  # reason, or None

    @party.register_erasure_check
    def open_disputes(ctx, party) -> str | None: ...  # reason, or None
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Session

from openbss.core import audit, crypto, events
from openbss.core.context import Context
from openbss.core.crypto import RESERVED_PREFIX as ENCRYPTED_PREFIX
from openbss.core.crypto import Keyring, decrypt, is_encrypted, looks_masked, mask
from openbss.core.errors import BadRequestError, ConflictError, ValidationError
from openbss.core.permissions import may_see_personal_data
from openbss.core.queries import get_owned
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams, apply_filters, is_foreign_ref, iso, paginate
from openbss.party import schemas, validation
from openbss.party.models import Account, Customer, Party, PartyLink, PartySearchKey
from openbss.party.paths import CUSTOMER_PATH, PATHS

# Audit payloads of these resources hold personal data: encrypted per resource and
# crypto-shredded when the person is anonymised (openbss.core.audit); their outbox
# payloads are encrypted likewise (openbss.core.events). An organization's contact
# media name people too.
for _personal in ("individual", "organization", "customer", "billingAccount",
                  "partyAccount"):
    audit.register_personal_resource_type(_personal)

log = structlog.get_logger("openbss.party")

PARTY_API = "partyManagement"
TYPE_NAMES = {"individual": "Individual", "organization": "Organization"}
REVEAL_ROLES = frozenset({"admin", "care_agent"})
PHONE_MEDIA = frozenset({"phone", "telephone", "telephonenumber", "mobile", "mobilephone",
                         "fax", "landline"})
EMAIL_MEDIA = frozenset({"email", "emailaddress", "mail"})
TERMINAL = {"individual": "deceaded", "organization": "closed"}

# --- hooks --------------------------------------------------------------------------------

BalanceProvider = Callable[[Context, Account], Decimal | None]
CloseCheck = Callable[[Context, Account], str | None]
ErasureCheck = Callable[[Context, Party], str | None]
_balance_providers: list[BalanceProvider] = []
_close_checks: list[CloseCheck] = []
_erasure_checks: list[ErasureCheck] = []


def register_balance_provider(fn: BalanceProvider) -> BalanceProvider:
    """Register ``fn(ctx, account) -> Decimal | None``: an amount the account owes (in its
    currency). The account balance is the sum of all providers (zero with none)."""
    if fn not in _balance_providers:
        _balance_providers.append(fn)
    return fn


def register_close_check(fn: CloseCheck) -> CloseCheck:
    """Register ``fn(ctx, account) -> str | None``; a string is a reason the account may
    not be closed (or its owner anonymised), e.g. ``"2 active subscriptions"``."""
    if fn not in _close_checks:
        _close_checks.append(fn)
    return fn


def register_erasure_check(fn: ErasureCheck) -> ErasureCheck:
    """Register ``fn(ctx, party) -> str | None``: a reason the person may not be
    anonymised yet (beyond the checks of their accounts)."""
    if fn not in _erasure_checks:
        _erasure_checks.append(fn)
    return fn


def unregister_hook(fn: Callable[..., Any]) -> None:
    """Remove a registered hook (tests, plugin unloading)."""
    for registry in (_balance_providers, _close_checks, _erasure_checks):
        while fn in registry:
            registry.remove(fn)


def account_balance(ctx: Context, account: Account) -> Decimal:
    total = Decimal(0)
    for provider in _balance_providers:
        amount = provider(ctx, account)
        if amount is not None:
            total += amount
    return total


def account_blockers(ctx: Context, account: Account) -> list[str]:
    """Why ``account`` may not be closed now (empty: it may)."""
    reasons: list[str] = []
    balance = account_balance(ctx, account)
    if balance != 0:
        reasons.append(f"billing account {account.id} has an open balance of "
                       f"{balance} {account.currency}")
    for check in _close_checks:
        reason = check(ctx, account)
        if reason:
            reasons.append(reason)
    return reasons


def erasure_blockers(ctx: Context, party: Party) -> list[str]:
    reasons: list[str] = []
    for check in _erasure_checks:
        reason = check(ctx, party)
        if reason:
            reasons.append(reason)
    return reasons


# --- personal data at rest and masking -----------------------------------------------------
#
# Stored documents hold these values as v2 ciphertexts under the tenant's data key
# (openbss.core.crypto); responses decrypt them, and mask them for roles that may not
# see personal data. Audit rows and events carry the stored (encrypted) form; events are
# turned into the listener owner's view by the view filters registered below.

SEALED_CHARACTERISTICS = ("emailAddress", "phoneNumber", "faxNumber", "street1", "street2",
                          "city", "postCode", "socialNetworkId")
_SEALED = frozenset(SEALED_CHARACTERISTICS)
MASKED_AWAY = ("birthDate", "placeOfBirth")  # removed from masked views
_MASKERS: dict[str, Callable[[str], str]] = {
    "emailAddress": crypto.mask_email, "phoneNumber": crypto.mask_phone,
    "faxNumber": crypto.mask_phone,
}


def _mask_value(attr: str, value: str) -> str:
    return _MASKERS.get(attr, crypto.mask_text)(value)


def _copy_medium(medium: Any) -> Any:
    if not isinstance(medium, dict):
        return medium
    out = dict(medium)
    if isinstance(out.get("characteristic"), dict):
        out["characteristic"] = dict(out["characteristic"])
    return out


def _copy_personal(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` whose personal parts (contact media, identifications) are new
    objects, so they can be changed without touching ``doc``."""
    out = dict(doc)
    if isinstance(out.get("contactMedium"), list):
        out["contactMedium"] = [_copy_medium(m) for m in out["contactMedium"]]
    if isinstance(out.get("contact"), list):
        contacts = []
        for contact in out["contact"]:
            if isinstance(contact, dict) and isinstance(contact.get("contactMedium"), list):
                contact = {**contact,
                           "contactMedium": [_copy_medium(m) for m in contact["contactMedium"]]}
            contacts.append(contact)
        out["contact"] = contacts
    for field in ("individualIdentification", "organizationIdentification"):
        if isinstance(out.get(field), list):
            out[field] = [dict(i) if isinstance(i, dict) else i for i in out[field]]
    return out


def _characteristics(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, characteristic)`` of every contact medium of a party, customer or account."""
    lists: list[tuple[str, Any]] = [("contactMedium", doc.get("contactMedium"))]
    for i, contact in enumerate(doc.get("contact") or []):
        if isinstance(contact, dict):
            lists.append((f"contact[{i}].contactMedium", contact.get("contactMedium")))
    for prefix, media in lists:
        if not isinstance(media, list):
            continue
        for i, medium in enumerate(media):
            if isinstance(medium, dict) and isinstance(medium.get("characteristic"), dict):
                yield f"{prefix}[{i}].characteristic", medium["characteristic"]


def _sensitive_ids(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Identifications stored encrypted: an individual's, except VAT ids."""
    for ident in doc.get("individualIdentification") or []:
        if isinstance(ident, dict) and isinstance(ident.get("identificationId"), str) and \
                not validation.is_vat(str(ident.get("identificationType") or "")):
            yield ident


def seal_with(ring: Keyring, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its personal values encrypted (values already encrypted are kept)."""
    out = _copy_personal(doc)
    for _, ch in _characteristics(out):
        for attr in SEALED_CHARACTERISTICS:
            value = ch.get(attr)
            if isinstance(value, str) and value and not is_encrypted(value):
                ch[attr] = ring.encrypt(value)
    for ident in _sensitive_ids(out):
        if not is_encrypted(ident["identificationId"]):
            ident["identificationId"] = ring.encrypt(ident["identificationId"])
    return out


def seal(ctx: Context, doc: dict[str, Any]) -> dict[str, Any]:
    return seal_with(crypto.keyring(ctx.session, ctx.tenant_id), doc)


def unseal(session: Session | None, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with every encrypted value decrypted (plain legacy values pass through)."""
    out = _copy_personal(doc)
    for _, ch in _characteristics(out):
        for attr, value in ch.items():
            if attr in _SEALED and isinstance(value, str) and value.startswith("enc:"):
                ch[attr] = _opened(value, session)
    for field in ("individualIdentification", "organizationIdentification"):
        for ident in out.get(field) or []:
            if isinstance(ident, dict) and is_encrypted(ident.get("identificationId")):
                ident["identificationId"] = _opened(ident["identificationId"], session)
    return out


def _opened(value: str, session: Session | None) -> str:
    try:
        return decrypt(value, session)
    except ValueError as exc:  # a key wrapped under another secret, a damaged value
        log.error("personal_value_unreadable", error=str(exc))
        return value  # shown (and kept) as the ciphertext; never a 500


def personal_view(session: Session | None, doc: dict[str, Any], role: str) -> dict[str, Any]:
    """How ``doc`` (stored form) looks to ``role``: decrypted; contact media masked,
    birth data removed for roles without ``may_see_personal_data``; identification
    numbers (not VAT ids) in full only for ``admin`` and ``care_agent``."""
    out = unseal(session, doc)
    if role not in REVEAL_ROLES:
        for ident in _sensitive_ids(out):
            ident["identificationId"] = mask(ident["identificationId"])
    if not may_see_personal_data(role):
        for _, ch in _characteristics(out):
            for attr in SEALED_CHARACTERISTICS:
                if isinstance(ch.get(attr), str) and ch[attr]:
                    ch[attr] = _mask_value(attr, ch[attr])
        for key in MASKED_AWAY:
            out.pop(key, None)
    return out


def restore_masked(doc: dict[str, Any], previous: dict[str, Any]) -> None:
    """Masked contact values sent back unchanged (a PATCH built from a masked GET) keep
    the stored values, each stored value at most once and only in the same attribute;
    any other masked-looking value is refused (422) rather than stored."""
    stored: dict[tuple[str, str], list[str]] = {}
    for _, ch in _characteristics(previous):
        for attr in SEALED_CHARACTERISTICS:
            value = ch.get(attr)
            if isinstance(value, str) and value:
                stored.setdefault((attr, _mask_value(attr, value)), []).append(value)
    for path, ch in _characteristics(doc):
        for attr in SEALED_CHARACTERISTICS:
            value = ch.get(attr)
            if isinstance(value, str) and looks_masked(value):
                plain = stored.get((attr, value))
                if not plain:
                    raise ValidationError(
                        f"{path}.{attr}: a masked value cannot be stored; send the full "
                        "value", field=f"{path}.{attr}")
                ch[attr] = plain.pop(0)


def _check_storable(ch: dict[str, Any], path: str) -> None:
    """Refuse storing a masked-looking value or one in the reserved ciphertext format."""
    for attr in SEALED_CHARACTERISTICS:
        value = ch.get(attr)
        if isinstance(value, str) and (value.startswith(ENCRYPTED_PREFIX)
                                       or looks_masked(value)):
            raise ValidationError(f"{path}.{attr}: not a valid value (masked values "
                                  "cannot be stored; send the full value)",
                                  field=f"{path}.{attr}")


def _event_view_filter(resource: dict[str, Any], role: str) -> dict[str, Any]:
    return personal_view(None, resource, role)


for _resource_name in ("individual", "organization", "customer", "billingAccount",
                       "partyAccount"):
    events.register_view_filter(_resource_name, _event_view_filter)


def identifier_normal(number: str) -> str:
    """The search form of an identification number: letters and digits, upper case (so
    ``DE 136 695 976`` and ``de136695976`` match)."""
    return re.sub(r"[^0-9A-Za-z]", "", number).upper()


def identifier_values(doc: dict[str, Any]) -> list[str]:
    """The search forms of every identification number of a plain party document."""
    return [identifier_normal(str(ident["identificationId"]))
            for field in ("individualIdentification", "organizationIdentification")
            for ident in doc.get(field) or []
            if isinstance(ident, dict) and ident.get("identificationId")]


def search_values(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The normalised e-mails (lower case) and phones (E.164) of a plain document."""
    emails: list[str] = []
    phones: list[str] = []
    for _, ch in _characteristics(doc):
        if isinstance(ch.get("emailAddress"), str) and ch["emailAddress"]:
            emails.append(validation.email_key(ch["emailAddress"]))
        for attr in ("phoneNumber", "faxNumber"):
            if isinstance(ch.get(attr), str) and ch[attr]:
                phones.append(ch[attr])
    return emails, phones


def search_keys(ring: Keyring, plain: dict[str, Any]) -> set[tuple[str, str]]:
    """``(key_type, blind index)`` of every e-mail, phone and identification number."""
    emails, phones = search_values(plain)
    values = {("email", ring.blind_index("email", e)) for e in emails}
    values |= {("phone", ring.blind_index("phone", p)) for p in phones}
    values |= {("identification", ring.blind_index("identification", n))
               for n in identifier_values(plain)}
    return values


def _reencrypt_party_context(session: Session, tenant_id: str, ring: Keyring) -> int:
    """Rewrite every party, customer and account of the tenant under the active data
    key (plain legacy values get encrypted too) and rebuild the parties' blind indexes."""
    count = 0
    rows: list[Party | Customer | Account] = [
        *session.scalars(select(Party).where(Party.tenant_id == tenant_id)),
        *session.scalars(select(Customer).where(Customer.tenant_id == tenant_id)),
        *session.scalars(select(Account).where(Account.tenant_id == tenant_id))]
    for row in rows:
        plain = unseal(session, row.body)
        row.body = seal_with(ring, plain)
        if isinstance(row, Party):
            session.execute(delete(PartySearchKey).where(PartySearchKey.party_id == row.id))
            values = search_keys(ring, plain)
            for key_type, value in sorted(values):
                session.add(PartySearchKey(tenant_id=tenant_id, party_id=row.id,
                                           key_type=key_type, value=value))
        count += 1
    session.flush()
    return count


crypto.register_reencrypter("party", _reencrypt_party_context)


# --- shared normalisation -----------------------------------------------------------------


def invalid(field: str, exc: Exception) -> ValidationError:
    return ValidationError(f"{field}: {exc}", field=field)


@dataclasses.dataclass
class Contacts:
    emails: list[str] = dataclasses.field(default_factory=list)
    phones: list[str] = dataclasses.field(default_factory=list)
    country: str | None = None


def _media_kind(medium_type: str) -> str:
    key = "".join(ch for ch in medium_type.lower() if ch.isalpha())
    if key in EMAIL_MEDIA:
        return "email"
    if key in PHONE_MEDIA:
        return "phone"
    return "other"


def normalize_contact_media(ctx: Context, media: list[dict[str, Any]] | None,
                            prefix: str) -> Contacts:
    """Validate and normalise contact media in place: country → ISO alpha-2,
    stateOrProvince → ISO 3166-2, e-mail syntax, phone and fax → E.164 (national formats
    read with the medium's country, else the tenant's default region). Masked values and
    the reserved ``enc:`` prefix are refused (:func:`restore_masked` runs first on a
    PATCH)."""
    found = Contacts()
    for i, medium in enumerate(media or []):
        ch = medium.setdefault("characteristic", {})
        base = f"{prefix}[{i}].characteristic"
        if isinstance(ch, dict):
            _check_storable(ch, base)
        country = None
        if ch.get("country"):
            try:
                country = ch["country"] = validation.country_code(ch["country"])
            except validation.InvalidValue as exc:
                raise invalid(f"{base}.country", exc) from None
            found.country = found.country or country
        if ch.get("stateOrProvince"):
            try:
                ch["stateOrProvince"] = validation.subdivision_code(ch["stateOrProvince"],
                                                                    country)
            except validation.InvalidValue as exc:
                raise invalid(f"{base}.stateOrProvince", exc) from None
        kind = _media_kind(medium.get("mediumType", ""))
        if kind == "email" and not ch.get("emailAddress"):
            raise ValidationError(f"{base}.emailAddress: an e-mail medium needs an address",
                                  field=f"{base}.emailAddress")
        if kind == "phone" and not (ch.get("phoneNumber") or ch.get("faxNumber")):
            raise ValidationError(f"{base}.phoneNumber: a phone medium needs a number",
                                  field=f"{base}.phoneNumber")
        if ch.get("emailAddress"):
            try:
                ch["emailAddress"] = validation.email(ch["emailAddress"])
            except validation.InvalidValue as exc:
                raise invalid(f"{base}.emailAddress", exc) from None
            found.emails.append(validation.email_key(ch["emailAddress"]))
        for attr in ("phoneNumber", "faxNumber"):
            if ch.get(attr):
                try:
                    ch[attr] = validation.e164(ch[attr], country or ctx.tenant.default_region)
                except validation.InvalidValue as exc:
                    raise invalid(f"{base}.{attr}", exc) from None
                found.phones.append(ch[attr])
    return found


MaskKey = tuple[str, str, str]


def _mask_key(ident: dict[str, Any], number: str) -> MaskKey:
    return (mask(number), str(ident.get("identificationType") or ""),
            str(ident.get("issuingAuthority") or ""))


def _unmask(ident: dict[str, Any], previous: dict[MaskKey, list[str]], field: str) -> str:
    """A masked number sent back unchanged keeps the stored number — only under the same
    type and issuing authority, each stored number at most once."""
    value = ident["identificationId"]
    if "*" not in value:
        return str(value)
    stored = previous.get(_mask_key(ident, value))
    if stored:
        return stored.pop(0)
    raise ValidationError(f"{field}: a masked number cannot be stored (or moved to another "
                          "type or authority); send the full number", field=field)


def normalize_identifications(
    ctx: Context, items: list[dict[str, Any]] | None, prefix: str, *,
    previous: Iterable[dict[str, Any]] = (),
) -> list[str]:
    """Validate identifications in place (VAT ids, company registration and national id
    numbers with python-stdnum); return their search forms (:func:`identifier_normal`;
    :func:`_apply` stores their blind indexes, :func:`seal` encrypts the numbers).

    ``previous`` are the stored (decrypted) identifications: a masked number sent back
    unchanged by a role that only saw the mask keeps the stored number.
    """
    masked: dict[MaskKey, list[str]] = {}
    for p in previous:
        if p.get("identificationId"):
            masked.setdefault(_mask_key(p, p["identificationId"]), []).append(
                p["identificationId"])
    keys: list[str] = []
    for i, ident in enumerate(items or []):
        base = f"{prefix}[{i}]"
        if str(ident["identificationId"]).startswith(ENCRYPTED_PREFIX):
            raise ValidationError(f"{base}.identificationId: not a valid number",
                                  field=f"{base}.identificationId")
        number = _unmask(ident, masked, f"{base}.identificationId")
        id_type = ident["identificationType"]
        authority = ident.get("issuingAuthority")
        try:
            if validation.is_vat(id_type):
                number = validation.vat_id(number, authority)
            else:
                country = None
                if authority:
                    try:
                        country = validation.country_code(authority)
                    except validation.InvalidValue:
                        country = None  # an authority name, not a country
                if country and validation.is_company_registration(id_type):
                    number = validation.company_registration(number, country)
                elif country and validation.is_national_id(id_type):
                    number = validation.national_id(number, country)
        except validation.InvalidValue as exc:
            raise invalid(f"{base}.identificationId", exc) from None
        keys.append(identifier_normal(number))
        ident["identificationId"] = number  # sealed (encrypted) when stored
    return keys


def ref_exists(ctx: Context, ref_id: str, referred_type: str | None) -> tuple[str, str] | None:
    """Resolve a related-party reference to ``("party"|"customer", id)`` in this tenant."""
    kind = (referred_type or "").lower()
    if kind in ("customer",):
        row_c = ctx.session.get(Customer, ref_id)
        return ("customer", ref_id) if row_c and row_c.tenant_id == ctx.tenant_id else None
    row = ctx.session.get(Party, ref_id)
    if row is None or row.tenant_id != ctx.tenant_id:
        return None
    if kind in ("individual", "organization") and row.kind != kind:
        return None  # an Organization reference must point at an organization
    return ("party", ref_id)


LOCAL_PARTY_TYPES = frozenset({"individual", "organization", "party", "customer"})


def check_related_parties(ctx: Context, refs: list[dict[str, Any]] | None,
                          prefix: str) -> list[tuple[str, str, str]]:
    """References to individuals, organizations or customers must exist in this tenant
    (others, e.g. a partner's system, are kept as given). Returns the resolved targets
    as ``(target_type, target_id, role)`` and fills in ``href``."""
    found: list[tuple[str, str, str]] = []
    for i, ref in enumerate(refs or []):
        referred = ref.get("@referredType", "")
        if referred.lower() not in LOCAL_PARTY_TYPES or is_foreign_ref(ref.get("href"),
                                                                       ctx.base_url):
            continue
        target = ref_exists(ctx, ref["id"], referred)
        if target is None:
            raise ValidationError(
                f"{prefix}[{i}].id: no {referred} {ref['id']!r} in this tenant",
                field=f"{prefix}[{i}].id",
            )
        found.append((*target, ref.get("role") or ""))
        entity: Customer | Party | None
        if target[0] == "customer":
            entity, path = ctx.session.get(Customer, target[1]), CUSTOMER_PATH
        else:
            entity = ctx.session.get(Party, target[1])
            path = PATHS[entity.kind] if entity else PATHS["individual"]
        ref.setdefault("href", f"{ctx.base_url.rstrip('/')}{path}/{ref['id']}")
        if entity is not None:
            ref.setdefault("name", entity.name)
    return found


def replace_links(ctx: Context, resource_type: str, resource_id: str,
                  targets: Iterable[tuple[str, str, str]]) -> None:
    ctx.session.execute(delete(PartyLink).where(
        PartyLink.tenant_id == ctx.tenant_id, PartyLink.resource_type == resource_type,
        PartyLink.resource_id == resource_id))
    seen: set[tuple[str, str, str]] = set()
    for target_type, target_id, role in targets:
        key = (target_type, target_id, role[:255])
        if key in seen:
            continue
        seen.add(key)
        ctx.session.add(PartyLink(tenant_id=ctx.tenant_id, target_type=target_type,
                                  target_id=target_id, resource_type=resource_type,
                                  resource_id=resource_id, role=role[:255]))
    ctx.session.flush()


def bump(row: Party | Customer | Account, ctx: Context) -> None:
    row.version += 1
    row.updated_at = ctx.now


# --- parties ------------------------------------------------------------------------------


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
    view of its owner's role through the view filters registered above."""
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
    ident_keys = normalize_identifications(
        ctx, body.get(field), field, previous=previous)
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
    ctx.session.execute(delete(PartySearchKey).where(PartySearchKey.party_id == row.id))
    values = {("email", ring.blind_index("email", e)) for e in contacts.emails}
    values |= {("phone", ring.blind_index("phone", p)) for p in contacts.phones}
    values |= {("identification", ring.blind_index("identification", k)) for k in ident_keys}
    for key_type, value in sorted(values):
        ctx.session.add(PartySearchKey(tenant_id=ctx.tenant_id, party_id=row.id,
                                       key_type=key_type, value=value))
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
    row = get_owned(ctx.session, Party, ctx.tenant_id, party_id, kind or "party", lock=lock)
    if kind is not None and row.kind != kind:
        raise_not_found(kind, party_id)
    return row


def raise_not_found(label: str, resource_id: str) -> None:
    from openbss.core.errors import NotFoundError

    raise NotFoundError(f"{label} {resource_id!r} not found", field="id")


def decrypted_body(ctx: Context, row: Party | Customer | Account) -> dict[str, Any]:
    """The stored document with every personal value decrypted (for changing it)."""
    return unseal(ctx.session, row.body)


def update_party(ctx: Context, *, kind: str, party_id: str, patch: Any) -> Party:
    row = get_party(ctx, kind=kind, party_id=party_id, lock=True)
    if row.anonymized_at is not None:
        raise ConflictError(f"{kind} {party_id} was anonymised and cannot be changed")
    current = decrypted_body(ctx, row)
    schema: type[schemas.Individual | schemas.Organization] = (
        schemas.Individual if kind == "individual" else schemas.Organization)
    if isinstance(patch, dict) and "anonymized" in patch:
        raise ValidationError("anonymized cannot be changed; use the anonymize operation",
                              field="anonymized")
    model = patched(current, patch, schema)
    body = model.doc()
    restore_masked(body, current)
    old_status, new_status = row.status, body.get("status", row.status)
    if old_status != new_status and old_status == TERMINAL[kind]:
        raise ConflictError(
            f"{kind} {party_id} is {old_status!r}, a final state; it cannot become "
            f"{new_status!r}", field="status")
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
    row = get_party(ctx, kind=kind, party_id=party_id, lock=True)
    links = ctx.session.scalars(select(PartyLink).where(
        PartyLink.tenant_id == ctx.tenant_id, PartyLink.target_type == "party",
        PartyLink.target_id == row.id)).all()
    customers = ctx.session.scalars(select(Customer.id).where(
        Customer.tenant_id == ctx.tenant_id, Customer.party_id == row.id)).all()
    if links or customers:
        users = sorted({f"{link.resource_type} {link.resource_id}" for link in links}
                       | {f"customer {c}" for c in customers})
        raise ConflictError(
            f"{kind} {party_id} is referenced by {', '.join(users[:5])}"
            + (" …" if len(users) > 5 else "") + "; remove those references first")
    event = _event_view(ctx, row)
    before = dict(row.body)
    ctx.session.execute(delete(PartySearchKey).where(PartySearchKey.party_id == row.id))
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=PARTY_API, resource_name=kind, resource_id=party_id,
                  change="delete", before=before, after=None, event_resource=event)


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere (``%`` and ``_`` escaped with
    a backslash; use ``escape="\\"``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


SEARCH_PARAMS = frozenset({"name", "email", "phone", "identification", "identificationId"})


def _search_values(ctx: Context, name: str, value: str) -> tuple[str, list[str]]:
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
    return "identification", ring.blind_indexes("identification", identifier_normal(value))


def list_parties(ctx: Context, *, kind: str, params: ListParams) -> tuple[list[Party], int]:
    """Filter by ``status``, ``country``; search ``name`` (case-insensitive substring),
    ``email``, ``phone`` (any format, matched as E.164) and ``identification`` (exact)."""
    stmt = select(Party).where(Party.tenant_id == ctx.tenant_id, Party.kind == kind)
    rest = []
    for name, op, values in params.filters:
        if name not in SEARCH_PARAMS:
            rest.append((name, op, values))
            continue
        if op != "eq" or len(values) != 1:
            raise BadRequestError(f"{name} takes one value", field=name)
        if name == "name":
            stmt = stmt.where(Party.name_key.like(contains_pattern(values[0].casefold()),
                                                  escape="\\"))
            continue
        key_type, keys = _search_values(ctx, name, values[0])
        if not keys:  # the tenant has no index key yet, so nothing was ever indexed
            stmt = stmt.where(sql_false())
            continue
        stmt = stmt.where(Party.id.in_(select(PartySearchKey.party_id).where(
            PartySearchKey.tenant_id == ctx.tenant_id, PartySearchKey.key_type == key_type,
            PartySearchKey.value.in_(keys))))
    params = dataclasses.replace(params, filters=tuple(rest))
    stmt = apply_filters(stmt, params, {
        "status": Party.status, "country": Party.country, "name": Party.name_key,
        "lastUpdate": Party.updated_at, "creationDate": Party.created_at,
    })
    return paginate(ctx.session, stmt, params, [Party.name_key, Party.id])


def party_summary(row: Party) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "@referredType": TYPE_NAMES[row.kind],
            "status": row.status, "updated": iso(row.updated_at)}
