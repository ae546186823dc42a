"""Personal data at rest and in views: sealing (encryption under the tenant's data key),
masking for roles that may not see it, the blind indexes search uses, and the tenant's
re-encryption job.

Stored documents hold contact values (e-mail, phone, address lines …) and an
individual's identification numbers (not VAT ids) as v2 ciphertexts under the tenant's
data key (:mod:`openbss.core.crypto`); responses decrypt them, and mask them for roles
that may not see personal data. Audit rows and events carry the stored (encrypted)
form; events are turned into the listener owner's view by the view filters registered
here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import structlog
from sqlalchemy.orm import Session

from openbss.core import audit, crypto, events
from openbss.core.context import Context
from openbss.core.crypto import RESERVED_PREFIX as ENCRYPTED_PREFIX
from openbss.core.crypto import Keyring, decrypt, is_encrypted, looks_masked, mask
from openbss.core.errors import ValidationError
from openbss.core.permissions import may_see_personal_data
from openbss.party import queries, validation
from openbss.party.models import Party, PartySearchKey

# Audit payloads of these resources hold personal data: encrypted per resource and
# crypto-shredded when the person is anonymised (openbss.core.audit); their outbox
# payloads are encrypted likewise (openbss.core.events). An organization's contact
# media name people too.
PERSONAL_RESOURCES = ("individual", "organization", "customer", "billingAccount",
                      "partyAccount")
for _personal in PERSONAL_RESOURCES:
    audit.register_personal_resource_type(_personal)

log = structlog.get_logger("openbss.party")

REVEAL_ROLES = frozenset({"admin", "care_agent"})
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


def check_storable(ch: dict[str, Any], path: str) -> None:
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


for _resource_name in PERSONAL_RESOURCES:
    events.register_view_filter(_resource_name, _event_view_filter)


def identifier_values(doc: dict[str, Any]) -> list[str]:
    """The search forms of every identification number of a plain party document."""
    return [validation.identifier_normal(str(ident["identificationId"]))
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



def store_search_keys(session: Session, tenant_id: str, party: Party,
                      values: set[tuple[str, str]]) -> None:
    """Replace ``party``'s blind indexes by ``values`` (``(key_type, index)``)."""
    queries.delete_search_keys(session, tenant_id, party.id)
    for key_type, value in sorted(values):
        session.add(PartySearchKey(tenant_id=tenant_id, party_id=party.id,
                                   key_type=key_type, value=value))


def _reencrypt_party_context(session: Session, tenant_id: str, ring: Keyring) -> int:
    """Rewrite every party, customer and account of the tenant under the active data
    key (plain legacy values get encrypted too) and rebuild the parties' blind indexes."""
    count = 0
    for row in queries.tenant_documents(session, tenant_id):
        plain = unseal(session, row.body)
        row.body = seal_with(ring, plain)
        if isinstance(row, Party):
            store_search_keys(session, tenant_id, row, search_keys(ring, plain))
        count += 1
    session.flush()
    return count


crypto.register_reencrypter("party", _reencrypt_party_context)
