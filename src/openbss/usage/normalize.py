"""Normalisation of one raw usage record (pure: no I/O, no clock, no database).

The raw record is a flat mapping with canonical camelCase keys (``recordId``,
``usageDate``, ``usageType``, ``metric``, ``quantity``, ``unit``, ``duration``,
``volume``, ``count``, ``calledNumber``, ``callingNumber``, one identifier such as
``msisdn`` / ``imsi`` / ``username`` / ``apiKey`` — the names of
``ordering.identifiers.IDENTIFIERS`` — and ``source``); every other key is kept as
``extra``. Both paths build it: the TMF635 API (``usage.records.flatten``) and the file
mappings (``usage.mapping``). :func:`normalize` turns it into a :class:`Normalized`
record or a :class:`Rejected` one with a reason code:

- ``usageDate`` → an aware UTC datetime: ISO 8601 with an offset (``Z``, ``+02:00``) as
  given; without an offset (``2026-01-15T10:00:00``, ``2026-01-15 10:00:00``) in the
  source's ``timeZone`` (ambiguous autumn hours: the first, summer-time reading; spring
  hours that do not exist are rejected); epoch seconds (``1768471200``, fractions
  allowed). Missing or unparseable, or outside :data:`FIRST_DATE` … :data:`END_DATE`
  (no network records a call in year 1 or 9999, and billing periods must exist on
  both sides of it) → ``malformed``.
- ``usageType`` → ``voice`` | ``sms`` | ``data`` | ``event`` (case-insensitive, with
  the aliases of :data:`USAGE_TYPE_ALIASES`: ``call`` → voice, ``gprs`` → data, ``text``
  → sms …). An ``event`` needs a ``metric``; a record with a metric and no type is an
  event. Unknown → ``malformed``.
- the quantity in base units (:data:`BASE_UNITS`): voice ``duration`` (``"130s"``,
  ``"2m10s"``, ``"1h"``, ``"1500ms"``, ``"0:02:10"`` or a number of seconds), data
  ``volume`` (a number of bytes or ``"10MB"``, ``"1.5 GiB"`` …), sms ``count`` (1 when
  absent), event ``quantity`` (1 when absent); ``quantity`` with a ``unit`` works for
  every type (``{"quantity": 2, "unit": "min"}`` is 120 seconds). Negative, NaN,
  infinite, not a number, an unknown unit, or a voice/data record without one →
  ``invalid_quantity``, and so is a quantity of more than 9 decimal places of its base
  unit or of 10^28 base units or more. 0 (an unanswered call) is accepted.
- the identifier: the first key (case-, space-, ``_``- and ``-``-insensitive) naming a
  product identifier, in the order of ``IDENTIFIERS``; an MSISDN written in E.164
  (``+`` and up to 15 digits) is taken as given, one written nationally becomes E.164 by
  the same rule as the product inventory (the source's ``defaultRegion``, else the
  tenant's); none, or a national MSISDN that is no valid number → ``malformed`` (an E.164
  number nobody holds is ``unknown_identifier`` when guided).
- ``calledNumber`` / ``callingNumber`` → as given when written in E.164 already
  (``+`` and up to 15 digits), else E.164 when they are valid numbers in the region
  (``030 1234567`` → ``+49301234567``), else as dialled (an extension ``1002`` stays
  ``1002``).
- ``dedup_key``: SHA-256 (hex) of the source and the ``recordId``; when the source
  configures ``dedupFields``, of the source and those fields' raw values (in order);
  with neither, of the source and the whole record (every key and value), so an identical
  record resubmitted is still recognised.

The scalar helpers (:func:`e164`, :func:`zone`, :func:`parse_duration`,
:func:`parse_volume`, :func:`usage_type_of`, :func:`dedup_key`) are cached or cheap, so
the vectorized path (``usage.batch``) maps the distinct values of a column through the
very same functions and gets the same answers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from openbss.ordering.identifiers import IDENTIFIERS
from openbss.rating.book import UNIT_SCALES, USAGE_TYPES
from openbss.usage.settings import SourceSettings

MALFORMED = "malformed"
INVALID_QUANTITY = "invalid_quantity"

#: Usage type spellings (lower case) → the canonical type.
USAGE_TYPE_ALIASES: Mapping[str, str] = {
    "voice": "voice", "call": "voice", "calls": "voice", "telephony": "voice",
    "phone": "voice", "moc": "voice", "mtc": "voice",
    "sms": "sms", "text": "sms", "message": "sms", "messaging": "sms", "mo-sms": "sms",
    "data": "data", "gprs": "data", "internet": "data", "packet": "data", "ps": "data",
    "event": "event", "metered": "event", "api": "event", "usage": "event",
}

#: The base unit of each usage type (the ``unit`` of a normalised record; an event's
#: base unit is ``second`` or ``byte`` when it was measured in time or bytes).
BASE_UNITS: Mapping[str, str] = {"voice": "second", "sms": "message", "data": "byte",
                                 "event": "event"}

#: Canonical raw keys (everything else is ``extra``), identifiers included.
KNOWN_KEYS = frozenset({
    "recordId", "usageDate", "usageType", "metric", "quantity", "unit", "duration",
    "volume", "count", "calledNumber", "callingNumber", "source"})

_TIME_UNITS = {"s", "sec", "second", "seconds", "min", "minute", "minutes", "h", "hour",
               "hours", "ms", "msec", "millisecond", "milliseconds"}
_BYTE_UNITS = {"b", "byte", "bytes", "octet", "octets", "kb", "mb", "gb", "tb", "kib",
               "mib", "gib", "tib"}
_SCALES: dict[str, Decimal] = {**UNIT_SCALES, "ms": Decimal("0.001"),
                               "msec": Decimal("0.001"), "millisecond": Decimal("0.001"),
                               "milliseconds": Decimal("0.001"), "octets": Decimal(1)}


#: squashed name (lower case, no spaces, ``_`` or ``-``) → canonical identifier name
IDENTIFIER_KEYS: Mapping[str, str] = IDENTIFIERS
_IDENTIFIER_ORDER = tuple(dict.fromkeys(IDENTIFIER_KEYS.values()))
_SQUASH = re.compile(r"[\s_\-]")


@dataclass(frozen=True, slots=True)
class Normalized:
    """An accepted record in normal form."""

    source: str
    record_id: str | None
    dedup_key: str
    usage_date: datetime  # aware, UTC
    usage_type: str  # voice | sms | data | event
    metric: str | None
    quantity: Decimal  # base units, >= 0
    unit: str  # the base unit: second | byte | message | event
    identifier_name: str  # canonical: msisdn, imsi, username, apiKey …
    identifier_value: str  # MSISDN in E.164
    destination: str | None  # called number: E.164 or as dialled
    calling_number: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot be accepted: ``reason`` is a ``RejectReason`` value
    (``malformed`` or ``invalid_quantity`` here), ``field`` the raw key at fault."""

    source: str
    record_id: str | None
    dedup_key: str
    reason: str
    detail: str
    field: str | None
    raw: dict[str, Any]


class _Reject(Exception):
    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


# -- cached scalar functions (the vector path maps distinct values through them) -------

@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1 << 18)
def e164(text: str, region: str) -> str | None:
    """``text`` in E.164 when it is a valid phone number (national numbers read in
    ``region``), else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: A number written in E.164 already (``+`` and up to 15 digits): kept as given.
E164_FORM = re.compile(r"^\+[1-9]\d{1,14}$")


#: The longest called or calling number kept (the column's width): E.164 has at most 15
#: digits, and no dial string, extension or SIP user part of a real CDR comes near it.
MAX_DIALLED = 64


def dialled(value: Any, region: str, key: str = "calledNumber") -> str | None:
    """A called or calling number: as given when written in E.164 (``+4930…``), else in
    E.164 when it is a valid number in ``region`` (``030 1234567``), else the text as
    dialled (an extension ``1002``). Longer than :data:`MAX_DIALLED` characters it is
    ``malformed`` — never cut to fit and rated by what is left."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if E164_FORM.match(text):
        return text
    if len(text) > MAX_DIALLED:
        raise _Reject(MALFORMED, key, f"{key}: {len(text)} characters is not a number "
                      f"(at most {MAX_DIALLED})")
    return e164(text, region) or text


@lru_cache(maxsize=4096)
def usage_type_of(text: str) -> str | None:
    return USAGE_TYPE_ALIASES.get(text.strip().lower())


_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?(?:(?P<s>\d+(?:\.\d+)?)s)?"
    r"(?:(?P<ms>\d+(?:\.\d+)?)ms)?$")
_CLOCK = re.compile(r"^(?P<h>\d+):(?P<m>[0-5]?\d):(?P<s>[0-5]?\d(?:\.\d+)?)$")
_AMOUNT = re.compile(r"^(?P<n>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
                     r"(?P<u>[A-Za-z]+)?$")


def number_of(value: Any, key: str) -> Decimal:
    """A finite, non-negative Decimal from a number or a numeric string."""
    if isinstance(value, bool):
        raise _Reject(INVALID_QUANTITY, key, f"{key}: {value!r} is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Reject(INVALID_QUANTITY, key, f"{key}: {value!r} is not a finite number")
        number = Decimal(repr(value))
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _Reject(INVALID_QUANTITY, key,
                          f"{key}: {value!r} is not a number") from None
    if not number.is_finite():
        raise _Reject(INVALID_QUANTITY, key, f"{key}: {value!r} is not a finite number")
    if number < 0:
        raise _Reject(INVALID_QUANTITY, key, f"{key}: {value!r} is negative")
    return number


def _scaled(number: Decimal, unit: str | None, key: str, allowed: set[str] | None,
            default: str) -> Decimal:
    name = (unit or default).strip().lower()
    if allowed is not None and name not in allowed:
        raise _Reject(INVALID_QUANTITY, key, f"{key}: unknown unit {unit!r}")
    scale = _SCALES.get(name, Decimal(1))
    return _plain(number * scale)


def _plain(number: Decimal) -> Decimal:
    """Without exponent or trailing zeros (``1.5E+3`` → ``1500``, ``2.0`` → ``2``)."""
    if number == number.to_integral_value():
        return Decimal(int(number))
    return number.normalize()


@lru_cache(maxsize=1 << 14)
def parse_duration(text: str, default_unit: str = "s") -> Decimal | None:
    """Seconds in ``"130s"``, ``"2m10s"``, ``"1h2m"``, ``"1500ms"``, ``"0:02:10"`` or a
    bare number (in ``default_unit``); None when it is none of those. Raises for a
    negative or non-finite number."""
    text = text.strip().lower().replace(" ", "")
    if not text:
        return None
    match = _AMOUNT.match(text)
    if match and not match["u"]:
        return _scaled(number_of(match["n"], "duration"), default_unit, "duration",
                       _TIME_UNITS, "s")
    if text.startswith("-"):
        raise _Reject(INVALID_QUANTITY, "duration", f"duration: {text!r} is negative")
    clock = _CLOCK.match(text)
    if clock:
        return _plain(Decimal(clock["h"]) * 3600 + Decimal(clock["m"]) * 60
                      + Decimal(clock["s"]))
    parts = _DURATION.match(text)
    if parts and any(parts.group(g) for g in ("h", "m", "s", "ms")):
        total = Decimal(0)
        for group, scale in (("h", 3600), ("m", 60), ("s", 1)):
            if parts[group]:
                total += Decimal(parts[group]) * scale
        if parts["ms"]:
            total += Decimal(parts["ms"]) / 1000
        return _plain(total)
    if match and match["u"]:
        return _scaled(number_of(match["n"], "duration"), match["u"], "duration",
                       _TIME_UNITS, "s")
    return None


@lru_cache(maxsize=1 << 14)
def parse_volume(text: str, default_unit: str = "B") -> Decimal | None:
    """Bytes in a bare number (in ``default_unit``) or ``"10MB"``, ``"1.5 GiB"`` …;
    None when it is not a number with a byte unit."""
    match = _AMOUNT.match(text.strip())
    if not match:
        return None
    return _scaled(number_of(match["n"], "volume"), match["u"] or default_unit, "volume",
                   _BYTE_UNITS, "b")


# -- timestamps --------------------------------------------------------------------------

_EPOCH = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$")
_EPOCH0 = datetime(1970, 1, 1, tzinfo=UTC)
#: the usage dates accepted: from FIRST_DATE (inclusive) to END_DATE (exclusive)
FIRST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
END_DATE = datetime(9000, 1, 1, tzinfo=UTC)


def _epoch(seconds: Decimal) -> datetime:
    whole = int(seconds)
    micros = int(((seconds - whole) * 1_000_000).to_integral_value())
    return _EPOCH0 + timedelta(seconds=whole, microseconds=micros)


def local_to_utc(naive: datetime, zone_name: str) -> datetime | None:
    """A wall-clock time of ``zone_name`` in UTC (the first reading of an ambiguous
    hour); None for a time that does not exist there (skipped by a DST change)."""
    if zone_name in ("UTC", "Etc/UTC"):
        return naive.replace(tzinfo=UTC)
    tz = zone(zone_name)
    aware = naive.replace(tzinfo=tz)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return utc


def parse_date(value: Any, zone_name: str, fmt: str | None = None) -> datetime:
    """``usageDate`` as an aware UTC datetime (see the module docstring)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Reject(MALFORMED, "usageDate", "usageDate: missing")
    utc = _parse_date(value, zone_name, fmt)
    if not FIRST_DATE <= utc < END_DATE:
        raise _Reject(MALFORMED, "usageDate",
                      f"usageDate: {value!r} is outside the years "
                      f"{FIRST_DATE.year}–{END_DATE.year - 1}")
    return utc


def _parse_date(value: Any, zone_name: str, fmt: str | None) -> datetime:
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return _epoch(Decimal(value))
        elif isinstance(value, float) and math.isfinite(value):
            return _epoch(Decimal(repr(value)))
        else:
            text = str(value).strip()
            if fmt is not None:
                parsed = datetime.strptime(text, fmt)
            elif _EPOCH.match(text):
                return _epoch(Decimal(text))
            else:
                parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        utc = local_to_utc(parsed, zone_name)
    except (ValueError, OverflowError, InvalidOperation):
        raise _Reject(MALFORMED, "usageDate",
                      f"usageDate: {value!r} is not a date (ISO 8601, "
                      "'YYYY-MM-DD HH:MM:SS' or epoch seconds)") from None
    if utc is None:
        raise _Reject(MALFORMED, "usageDate",
                      f"usageDate: {value!r} does not exist in {zone_name} (a daylight-"
                      "saving change skips it)")
    return utc


# -- dedup --------------------------------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def dedup_text(raw: Mapping[str, Any], source: str, fields: Sequence[str] | None) -> str:
    """What :func:`dedup_key` hashes (``source``, then the key values, ``\\x1f``-joined)."""
    if fields:
        return "\x1f".join([source, *(_text(raw.get(f)) for f in fields)])
    record_id = _text(raw.get("recordId"))
    if record_id:
        return f"{source}\x1f{record_id}"
    return "\x1f".join([source, "\x1e", *(f"{k}={_text(v)}" for k, v in sorted(
        raw.items()) if k != "source" and _text(v))])


def dedup_key(raw: Mapping[str, Any], source: str, fields: Sequence[str] | None) -> str:
    return hashlib.sha256(dedup_text(raw, source, fields).encode()).hexdigest()


# -- the record ---------------------------------------------------------------------------

def squash(name: str) -> str:
    return _SQUASH.sub("", name).lower()


def find_identifier(raw: Mapping[str, Any]) -> tuple[str, str, Any] | None:
    """``(canonical name, raw key, value)`` of the record's identifier, or None."""
    found: dict[str, tuple[str, Any]] = {}
    for key, value in raw.items():
        if key in KNOWN_KEYS or _text(value) == "":
            continue
        canonical = IDENTIFIER_KEYS.get(squash(key))
        if canonical is not None and canonical not in found:
            found[canonical] = (key, value)
    for name in _IDENTIFIER_ORDER:
        if name in found:
            return name, *found[name]
    return None


def identifier_value(name: str, key: str, value: Any, region: str) -> str:
    text = _text(value)
    if name != "msisdn" or E164_FORM.match(text):
        return text
    number = e164(text, region)
    if number is None:
        raise _Reject(MALFORMED, key, f"{key}: {text!r} is not a valid phone number "
                      f"(E.164, or national in region {region})")
    return number


def _usage_type(raw: Mapping[str, Any]) -> tuple[str, str | None]:
    metric = _text(raw.get("metric")) or None
    given = _text(raw.get("usageType"))
    if not given:
        if metric is not None:
            return "event", metric
        raise _Reject(MALFORMED, "usageType", "usageType: missing (voice, sms, data or "
                      "event with a metric)")
    usage_type = usage_type_of(given)
    if usage_type is None:
        raise _Reject(MALFORMED, "usageType", f"usageType: unknown {given!r} (voice, sms, "
                      "data or event, or an alias such as call, gprs, text)")
    if usage_type == "event" and metric is None:
        raise _Reject(MALFORMED, "metric", "metric: an event needs a metric name")
    return usage_type, metric


def quantity_of(raw: Mapping[str, Any], usage_type: str,
                units: Mapping[str, str] | None = None) -> tuple[Decimal, str]:
    """The quantity in base units and the base unit."""
    units = units or {}
    base = BASE_UNITS[usage_type]
    if usage_type == "voice" and _text(raw.get("duration")):
        return _duration(raw["duration"], units.get("duration", "s")), base
    if usage_type == "data" and _text(raw.get("volume")):
        return _volume(raw["volume"], units.get("volume", "B")), base
    if _text(raw.get("quantity")):
        unit = _text(raw.get("unit")) or units.get("quantity") or None
        number = number_of(raw["quantity"], "quantity")
        if usage_type == "voice":
            return _scaled(number, unit, "unit", _TIME_UNITS, "s"), base
        if usage_type == "data":
            return _scaled(number, unit, "unit", _BYTE_UNITS, "b"), base
        name = (unit or "").lower()
        if usage_type == "event" and name in _TIME_UNITS:
            base = "second"
        elif usage_type == "event" and name in _BYTE_UNITS:
            base = "byte"
        return _scaled(number, unit, "unit", None, "event"), base
    if _text(raw.get("count")):
        return _plain(number_of(raw["count"], "count")), base
    if usage_type in ("sms", "event"):
        return Decimal(1), base
    key = "duration" if usage_type == "voice" else "volume"
    raise _Reject(INVALID_QUANTITY, key, f"{key}: missing (a {usage_type} record needs "
                  f"its {key} or a quantity)")


#: Quantities are exact to :data:`QUANTITY_SCALE` decimal places (a nanosecond, a
#: billionth of a byte) and below ``10**QUANTITY_DIGITS`` base units: what the batch
#: path's ``Decimal(38, 9)`` columns hold.
QUANTITY_SCALE = 9
QUANTITY_DIGITS = 28


def _fits(quantity: Decimal) -> None:
    exponent = quantity.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -QUANTITY_SCALE:
        raise _Reject(INVALID_QUANTITY, "quantity", f"quantity: {quantity} base units has "
                      f"more than {QUANTITY_SCALE} decimal places")
    if quantity >= Decimal(10) ** QUANTITY_DIGITS:
        raise _Reject(INVALID_QUANTITY, "quantity", f"quantity: {quantity} base units is "
                      "too large")


def _duration(value: Any, default_unit: str) -> Decimal:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _scaled(number_of(value, "duration"), default_unit, "duration", _TIME_UNITS,
                       "s")
    seconds = parse_duration(str(value), default_unit)
    if seconds is None:
        raise _Reject(INVALID_QUANTITY, "duration", f"duration: {value!r} is not a "
                      "duration (130, '130s', '2m10s', '1500ms', '0:02:10')")
    return seconds


def _volume(value: Any, default_unit: str) -> Decimal:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _scaled(number_of(value, "volume"), default_unit, "volume", _BYTE_UNITS, "b")
    volume = parse_volume(str(value), default_unit)
    if volume is None:
        raise _Reject(INVALID_QUANTITY, "volume", f"volume: {value!r} is not a volume "
                      "(bytes, or '10MB', '1.5GiB')")
    return volume


def normalize(raw: Mapping[str, Any], *, source: str, settings: SourceSettings,
              default_region: str, timestamp_format: str | None = None,
              time_zone: str | None = None,
              units: Mapping[str, str] | None = None) -> Normalized | Rejected:
    """One raw record in normal form, or why not (see the module docstring).

    ``default_region``: the tenant's, used when the source has none. A file mapping may
    give a ``timestamp_format`` (``strptime``), a ``time_zone`` (instead of the
    source's) and the ``units`` of bare numbers (``{"duration": "ms"}``)."""
    key = dedup_key(raw, source, settings.dedup_fields)
    record_id = _text(raw.get("recordId")) or None
    region = settings.default_region or default_region
    try:
        usage_date = parse_date(raw.get("usageDate"), time_zone or settings.time_zone,
                                timestamp_format)
        usage_type, metric = _usage_type(raw)
        identifier = find_identifier(raw)
        if identifier is None:
            raise _Reject(MALFORMED, "identifier", "identifier: none (msisdn, imsi, "
                          "username, apiKey …)")
        name, id_key, id_raw = identifier
        value = identifier_value(name, id_key, id_raw, region)
        quantity, unit = quantity_of(raw, usage_type, units)
        _fits(quantity)
        destination = dialled(raw.get("calledNumber"), region)
        calling_number = dialled(raw.get("callingNumber"), region, "callingNumber")
    except _Reject as reject:
        return Rejected(source, record_id, key, reject.reason, reject.detail,
                        reject.field, dict(raw))
    extra = {k: v for k, v in raw.items() if k not in KNOWN_KEYS and k != id_key}
    return Normalized(source=source, record_id=record_id, dedup_key=key,
                      usage_date=usage_date, usage_type=usage_type, metric=metric,
                      quantity=quantity, unit=unit, identifier_name=name,
                      identifier_value=value,
                      destination=destination, calling_number=calling_number,
                      extra=extra)


__all__ = ["BASE_UNITS", "USAGE_TYPES", "USAGE_TYPE_ALIASES", "Normalized", "Rejected",
           "dedup_key", "dialled", "e164", "normalize", "parse_date", "parse_duration",
           "parse_volume", "usage_type_of", "zone"]
