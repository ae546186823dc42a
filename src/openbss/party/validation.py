"""Pure checks for party data: phone numbers, e-mail, countries, subdivisions, VAT and
company ids, national ids, time zones and locales.

Every function takes plain values and either returns the normalised value or raises
:class:`InvalidValue` with a human message; callers attach the field path. No I/O,
no clock, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
import pycountry
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError


class InvalidValue(ValueError):
    """A value failed a check; the message says why."""


# --- countries and subdivisions ---------------------------------------------------------

# EU member states as VAT prefixes (Greece uses EL in VAT numbers).
EU_VAT_COUNTRIES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})


@lru_cache(maxsize=512)
def country_code(raw: str) -> str:
    """ISO 3166-1 alpha-2 code of ``raw`` (alpha-2, alpha-3, numeric or English name)."""
    value = raw.strip()
    if not value:
        raise InvalidValue("country must not be empty")
    if value.upper() == "EL":  # Greece's VAT prefix
        return "GR"
    if value.upper() == "UK":
        return "GB"
    try:
        country = pycountry.countries.lookup(value)
    except LookupError:
        raise InvalidValue(f"unknown country {raw!r} (use an ISO 3166-1 code)") from None
    return str(country.alpha_2)


@lru_cache(maxsize=512)
def subdivision_code(raw: str, country: str | None) -> str:
    """ISO 3166-2 code of ``raw``: ``US-CA``, ``CA`` (with country ``US``) or a name."""
    value = raw.strip()
    candidates = [value.upper()]
    if country and "-" not in value:
        candidates.insert(0, f"{country}-{value.upper()}")
    for code in candidates:
        sub = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
        if sub is not None and (country is None or sub.country_code == country):
            return str(sub.code)
    if country:
        subs = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
        for sub in subs or []:
            if sub.name.casefold() == value.casefold():
                return str(sub.code)
    where = f" of {country}" if country else ""
    raise InvalidValue(f"unknown subdivision {raw!r}{where} (use an ISO 3166-2 code)")


# --- phone and e-mail -------------------------------------------------------------------


def e164(raw: str, region: str | None) -> str:
    """Parse ``raw`` (international, or national read in ``region``) into E.164."""
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"not a phone number: {raw!r} ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        where = f" in region {region}" if region and not raw.strip().startswith("+") else ""
        raise InvalidValue(f"not a valid phone number{where}: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(raw: str) -> str:
    """Check e-mail syntax (no DNS lookup); return the normalised address."""
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(f"not a valid e-mail address: {exc}") from None
    return str(result.normalized)


def email_key(address: str) -> str:
    """The case-insensitive search key of an e-mail address."""
    return address.strip().lower()


# --- identifiers ------------------------------------------------------------------------


def _normalise_type(identification_type: str) -> str:
    return re.sub(r"[^a-z]", "", identification_type.lower())


VAT_TYPES = frozenset({"vat", "vatid", "vatnumber", "taxvat"})
COMPANY_TYPES = frozenset({"companyregistration", "companyregistrationnumber",
                           "registrationnumber", "businessregistration", "companynumber"})
NATIONAL_ID_TYPES = frozenset({"nationalid", "nationalidentitycard", "idcard",
                               "personalid", "nationalidentifier"})

# stdnum modules checking company registration numbers, by country.
COMPANY_MODULES = {
    "AT": "at.businessid", "CH": "ch.uid", "DK": "dk.cvr", "EE": "ee.registrikood",
    "ES": "es.cif", "FI": "fi.ytunnus", "FR": "fr.siren", "NO": "no.orgnr",
    "PL": "pl.regon", "SE": "se.orgnr", "US": "us.ein",
}


def is_vat(identification_type: str) -> bool:
    return _normalise_type(identification_type) in VAT_TYPES


def is_company_registration(identification_type: str) -> bool:
    return _normalise_type(identification_type) in COMPANY_TYPES


def is_national_id(identification_type: str) -> bool:
    return _normalise_type(identification_type) in NATIONAL_ID_TYPES


def _check_with(module: Any, number: str, what: str, country: str) -> str:
    try:
        return str(module.validate(number))
    except StdnumError as exc:
        raise InvalidValue(f"not a valid {country} {what}: {number!r} ({exc})") from None


def vat_id(number: str, issuing_authority: str | None) -> str:
    """Validate a VAT id; the country comes from ``issuing_authority`` or the id's prefix.

    Returns the compact form; EU ids always carry their country prefix (``DE136695976``).
    """
    compact = re.sub(r"[\s.\-/]", "", number).upper()
    if issuing_authority and issuing_authority.strip().upper() not in ("EU", ""):
        country = country_code(issuing_authority)
    elif compact[:2].isalpha():
        country = country_code(compact[:2])
    else:
        raise InvalidValue("issuingAuthority must name the country of a VAT id (e.g. 'DE')")
    if country in EU_VAT_COUNTRIES:
        prefix = "EL" if country == "GR" else country
        if not compact.startswith(prefix):
            compact = prefix + compact
        try:
            return str(eu_vat.validate(compact))
        except StdnumError as exc:
            raise InvalidValue(f"not a valid {country} VAT id: {number!r} ({exc})") from None
    module = get_cc_module(country.lower(), "vat")
    if module is None:
        return compact  # no checksum known for this country: keep the compact form
    return _check_with(module, compact, "VAT id", country)


def company_registration(number: str, country: str) -> str:
    """Validate a company registration number where python-stdnum knows the country."""
    name = COMPANY_MODULES.get(country)
    if name is None:
        return number.strip()
    module = importlib.import_module(f"stdnum.{name}")
    return _check_with(module, number, "company registration number", country)


def national_id(number: str, country: str) -> str:
    """Validate a national id number where python-stdnum has a ``personalid`` module."""
    module = get_cc_module(country.lower(), "personalid")
    if module is None:
        return number.strip()
    return _check_with(module, number, "national id", country)


def identifier_normal(number: str) -> str:
    """The search form of an identification number: letters and digits, upper case (so
    ``DE 136 695 976`` and ``de136695976`` match)."""
    return re.sub(r"[^0-9A-Za-z]", "", number).upper()


def identifier_key(secret: str, identification_type: str, number: str) -> str:
    """Keyed hash (HMAC-SHA256) of an identifier, for exact search without the plain text.

    The type is not part of the key, so a search by number finds it whatever its type.
    """
    del identification_type
    normal = re.sub(r"[^0-9A-Za-z]", "", number).upper()
    key = hmac.new(secret.encode(), b"openbss-identifier-search", hashlib.sha256).digest()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()


# --- time zones and locales -------------------------------------------------------------


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(raw: str) -> str:
    """An IANA time-zone name known to zoneinfo."""
    if raw not in _zones():
        raise InvalidValue(f"unknown IANA time zone {raw!r} (e.g. 'Europe/Berlin')")
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(f"unknown IANA time zone {raw!r}") from None
    return raw


def locale(raw: str) -> str:
    """A BCP 47 / CLDR locale such as ``de-DE`` or ``en``; returned as given."""
    try:
        Locale.parse(raw.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise InvalidValue(f"unknown locale {raw!r} (e.g. 'de-DE', 'en-GB')") from None
    return raw
