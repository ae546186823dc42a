"""Identifiers of products (MSISDN, IMSI, username, API key …): their canonical names and
normal forms (an MSISDN in E.164), and the claims that give an identifier to at most one
product of a tenant at a time (``product_identifier``; an open order's reservation is a
claim held by the order's id)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import phonenumbers

from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.ordering import queries
from openbss.ordering.errors import IdentifierInUse
from openbss.ordering.models import ProductIdentifier

#: Characteristic names that identify a product to the network and to usage (matched
#: case-insensitively, ignoring spaces, ``-`` and ``_``), by their canonical name.
IDENTIFIERS: dict[str, str] = {
    "msisdn": "msisdn", "imsi": "imsi", "iccid": "iccid", "imei": "imei",
    "username": "username", "apikey": "apiKey", "ipaddress": "ipAddress",
    "sipuri": "sipUri", "circuitid": "circuitId", "accountnumber": "accountNumber",
}

def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def _normalize_identifier(ctx: Context, name: str, value: Any, field: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError(f"{field}: an identifier needs a value", field=field)
    if name != "msisdn":
        return text
    try:
        number = phonenumbers.parse(text, ctx.tenant.default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{field}: {text!r} is not a valid phone number (E.164, e.g. "
                              "+4915112345678, or national in the tenant's region "
                              f"{ctx.tenant.default_region})", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _spellings(ctx: Context, value: str) -> list[str]:
    """An identifier as given and, when it reads as a phone number, in E.164. A leading
    space followed by digits is a ``+`` that an unencoded query string turned into one."""
    if value[:1] == " " and value.strip().isdigit():
        value = "+" + value.strip()
    spellings = [value]
    try:
        e164 = _normalize_identifier(ctx, "msisdn", value, "identifier")
    except ValidationError:
        return spellings
    return spellings if e164 == value else [*spellings, e164]


def _identifiers(ctx: Context, body: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``{(canonical name, normalised value): characteristic name}``; MSISDNs become E.164
    in the stored body too."""
    found: dict[tuple[str, str], str] = {}
    for char in body.get("productCharacteristic") or []:
        canonical = IDENTIFIERS.get(_squash(char["name"]))
        if canonical is None:
            continue
        field = f"productCharacteristic[{char['name']}]"
        value = _normalize_identifier(ctx, canonical, char["value"], field)
        char["value"] = value
        found[(canonical, value)] = char["name"]
    return found


def _claim(ctx: Context, product_id: str, wanted: dict[tuple[str, str], str],
           at: datetime) -> None:
    """Hold exactly ``wanted`` from ``at``: release the others, claim the new ones."""
    held = {(c.name, c.value): c for c in queries.open_claims(ctx, product_id)}
    queries.close_claims(ctx, [c.id for key, c in held.items() if key not in wanted], at)
    for key, char_name in wanted.items():
        if key in held:
            continue
        holder = queries.open_holder(ctx, *key)
        if holder is not None:
            raise IdentifierInUse(
                f"productCharacteristic[{char_name}]: {key[1]} is "
                f"{held_by(ctx, holder.product_id)}",
                field=f"productCharacteristic[{char_name}]")
        ctx.session.add(ProductIdentifier(tenant_id=ctx.tenant_id, name=key[0], value=key[1],
                                          product_id=product_id, valid_from=at))


def held_by(ctx: Context, holder_id: str) -> str:
    """Who holds an identifier, for a 409: a product, or an open order that reserved it
    (an order's add items reserve their identifiers until their products take them)."""
    if queries.find_order(ctx, holder_id) is not None:
        return (f"reserved by open productOrder {holder_id}; wait for it to finish or "
                "cancel it")
    return f"held by product {holder_id}; terminate that product first"
