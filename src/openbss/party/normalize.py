"""Normalisation shared by parties, customers and accounts (in place, with the field
path of every problem): contact media (countries, subdivisions, e-mail syntax, E.164
phones) and identifications (VAT, company registration and national id numbers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from openbss.core.context import Context
from openbss.core.crypto import RESERVED_PREFIX as ENCRYPTED_PREFIX
from openbss.core.crypto import mask
from openbss.core.errors import ValidationError
from openbss.party import validation
from openbss.party.personal import check_storable

PHONE_MEDIA = frozenset({"phone", "telephone", "telephonenumber", "mobile", "mobilephone",
                         "fax", "landline"})
EMAIL_MEDIA = frozenset({"email", "emailaddress", "mail"})


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
            check_storable(ch, base)
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
    numbers with python-stdnum); return their search forms
    (:func:`~openbss.party.validation.identifier_normal`; the party's blind indexes are
    built from them and :func:`~openbss.party.personal.seal` encrypts the numbers).

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
        keys.append(validation.identifier_normal(number))
        ident["identificationId"] = number  # sealed (encrypted) when stored
    return keys

