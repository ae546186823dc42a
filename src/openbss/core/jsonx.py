"""Exact JSON: ``Decimal`` in, ``Decimal`` out, never through a float.

- :func:`dumps` writes a ``Decimal`` as a JSON number with exactly its digits
  (``Decimal("0.123456789012")`` → ``0.123456789012``), datetimes as ISO 8601 in UTC;
- :func:`loads` reads every non-integer JSON number as a ``Decimal``;
- :func:`loads_bounded` does the same for untrusted input (request bodies, uploaded
  files) and refuses what would exhaust the server: nesting deeper than
  :data:`MAX_DEPTH` (:class:`TooDeepError`), more than :data:`MAX_NODES` values, and
  numbers beyond :data:`MAX_NUMBER_DIGITS` digits or an exponent beyond
  :data:`MAX_EXPONENT` (:class:`NumberOutOfRangeError`, naming the field path).
  :func:`check_bounds` applies the same bounds to data parsed otherwise (YAML).

The database engines use both for JSON columns, so TMF documents keep their money
exact in storage; :class:`ExactJSONResponse` uses :func:`dumps` for API responses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from starlette.responses import JSONResponse


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} cannot be written as JSON")
    return format(value, "f")


def _encode(value: Any, parts: list[str]) -> None:
    if isinstance(value, Decimal):
        parts.append(_number(value))
    elif isinstance(value, dict):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                parts.append(",")
            parts.append(json.dumps(str(key), ensure_ascii=False))
            parts.append(":")
            _encode(item, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _encode(item, parts)
        parts.append("]")
    elif isinstance(value, datetime):
        parts.append(json.dumps(value.isoformat().replace("+00:00", "Z")))
    elif isinstance(value, date):
        parts.append(json.dumps(value.isoformat()))
    elif isinstance(value, Enum):
        _encode(value.value, parts)
    elif isinstance(value, float):
        parts.append(orjson.dumps(value).decode())  # as the fast path writes it
    else:
        parts.append(json.dumps(value, ensure_ascii=False, default=str))


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python data: dicts, lists, str, int, bool, None and
    ``Decimal`` (kept exact); datetimes become ISO 8601 strings (UTC as ``Z``)."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool or kind is Decimal:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal | str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    return str(value)


def dumps(value: Any) -> str:
    """JSON text of ``value``; ``Decimal`` becomes an exact JSON number."""
    fast = _fast_dumps(value)
    if fast is not None:
        return fast
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


# The fast path: orjson (Rust), each Decimal handed back as a fragment of its exact
# digits (``orjson.Fragment``: inserted verbatim), datetimes, dates and dataclasses
# through ``_default`` as the exact encoder writes them. What orjson refuses (integers
# beyond 64 bits, keys that are not strings, lone surrogates, nesting deeper than 254)
# goes to the exact encoder above; both give the same text (floats too: the exact
# encoder writes them with orjson).
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _default(item: Any) -> Any:
    if isinstance(item, Decimal):
        return orjson.Fragment(_number(item))
    if isinstance(item, datetime):
        return item.isoformat().replace("+00:00", "Z")
    if isinstance(item, date):
        return item.isoformat()
    if isinstance(item, Enum):
        return item.value
    return str(item)


def _fast_dumps(value: Any) -> str | None:
    try:
        return orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS).decode()
    except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
        return None


def loads(text: str | bytes) -> Any:
    """Parse JSON reading every non-integer number as an exact ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


#: Deepest nesting of objects and arrays accepted in untrusted JSON (or YAML).
MAX_DEPTH = 64
#: Most values (objects, arrays, scalars) in one untrusted document; aliases in YAML
#: count each time they are used, so "billion laughs" documents stop here.
MAX_NODES = 200_000
#: Most digits of a number in untrusted JSON (a 64-bit integer has 19, a catalog amount
#: at most 48).
MAX_NUMBER_DIGITS = 50
#: Largest magnitude of a number's decimal exponent (``1e50`` and ``1e-50`` pass,
#: ``1e5000`` does not).
MAX_EXPONENT = 50


class BoundsError(ValueError):
    """Untrusted JSON exceeds a bound; ``field`` is the path of the offending value."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TooDeepError(BoundsError):
    """Nesting deeper than :data:`MAX_DEPTH` (or more than :data:`MAX_NODES` values)."""


class NumberOutOfRangeError(BoundsError):
    """A number with too many digits or too large an exponent."""


class NulCharacterError(BoundsError):
    """A string (or an object key) holding a NUL character: no text column of PostgreSQL
    can store it, so no backend accepts it."""


NUL_MESSAGE = "text must not contain NUL characters (\\u0000)"


class _Oversized:
    """Placeholder for an integer literal too long to convert (found by the walk)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> Any:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        return _Oversized(text)
    return int(text)


def _parse_float(text: str) -> Any:
    mantissa = text.lower().split("e", 1)[0]
    if sum(c.isdigit() for c in mantissa) > MAX_NUMBER_DIGITS:
        return _Oversized(text)
    return Decimal(text)


def _parse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def number_problem(value: Decimal | int) -> str | None:
    """Why ``value`` is outside the bounds of an untrusted number, or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_NUMBER_DIGITS:
            return f"numbers may have at most {MAX_NUMBER_DIGITS} digits"
        return None
    if not value.is_finite():
        return "numbers must be finite"
    digits = len(value.as_tuple().digits)
    if digits > MAX_NUMBER_DIGITS:
        return f"numbers may have at most {MAX_NUMBER_DIGITS} digits"
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        return f"numbers must lie between 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in magnitude"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT + MAX_NUMBER_DIGITS:
        return f"numbers must lie between 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in magnitude"
    return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


_INT_LIMIT = 10 ** MAX_NUMBER_DIGITS  # an int of more digits is out of bounds


def _nul_in_keys(item: dict[Any, Any]) -> bool:
    try:
        return "\x00" in "".join(item)  # JSON keys are strings: one C-level join
    except TypeError:  # a key that is no string (YAML)
        return any(isinstance(key, str) and "\x00" in key for key in item)


def _within_bounds(value: Any) -> bool:
    """Whether :func:`check_bounds` passes ``value``: the same rules, one nesting level
    at a time and no paths (those are built only to name what is wrong)."""
    nodes = 0
    level = [value]
    depth = 0
    while level:
        nodes += len(level)
        if nodes > MAX_NODES:
            return False
        deeper: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    return False
                continue
            if item is None or kind is bool:
                continue
            if kind is int:
                if -_INT_LIMIT < item < _INT_LIMIT:
                    continue
                return False
            if isinstance(item, dict):
                if depth >= MAX_DEPTH or _nul_in_keys(item):
                    return False
                deeper.extend(item.values())
            elif isinstance(item, list):
                if depth >= MAX_DEPTH:
                    return False
                deeper.extend(item)
            elif isinstance(item, _Oversized) or (
                    isinstance(item, Decimal | int | float) and number_problem(
                        Decimal(item) if isinstance(item, float) else item)):
                return False
        level = deeper
        depth += 1
    return True


def check_bounds(value: Any, root: str = "body") -> Any:
    """Raise :class:`BoundsError` if ``value`` (parsed JSON or YAML) is nested deeper than
    :data:`MAX_DEPTH`, holds more than :data:`MAX_NODES` values, a number beyond
    :data:`MAX_NUMBER_DIGITS` digits / :data:`MAX_EXPONENT`, or a string or attribute
    name with a NUL character; return ``value``.

    Errors name the path of the value (``characteristic[0].value``), or ``root`` for the
    document itself.
    """
    if _within_bounds(value):  # the common case, without building a path per value
        return value
    budget = [MAX_NODES]

    def walk(item: Any, path: str, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooDeepError(f"the document holds more than {MAX_NODES} values", root)
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise TooDeepError(f"nesting is limited to {MAX_DEPTH} levels", root)
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    raise NulCharacterError(f"an attribute name: {NUL_MESSAGE}", path or root)
                walk(child, _join(path, str(key)), depth + 1)
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise TooDeepError(f"nesting is limited to {MAX_DEPTH} levels", root)
            for index, child in enumerate(item):
                walk(child, _join(path, index), depth + 1)
        elif isinstance(item, str):
            if "\x00" in item:
                raise NulCharacterError(NUL_MESSAGE, path or root)
        elif isinstance(item, _Oversized):
            raise NumberOutOfRangeError(
                f"numbers may have at most {MAX_NUMBER_DIGITS} digits", path or root)
        elif isinstance(item, Decimal | int | float):
            problem = number_problem(Decimal(item) if isinstance(item, float) else item)
            if problem:
                raise NumberOutOfRangeError(problem, path or root)

    walk(value, "", 0)
    return value


def loads_bounded(text: str | bytes, root: str = "body") -> Any:
    """:func:`loads` for untrusted input: malformed JSON (including ``NaN`` and
    ``Infinity``) raises ``ValueError``, anything beyond the bounds :class:`BoundsError`
    (see :func:`check_bounds`)."""
    hooks: dict[str, Callable[[str], Any]] = {
        "parse_float": _parse_float, "parse_int": _parse_int,
        "parse_constant": _parse_constant,
    }
    try:
        value = json.loads(text, **hooks)  # type: ignore[arg-type]
    except RecursionError:
        raise TooDeepError(f"nesting is limited to {MAX_DEPTH} levels", root) from None
    return check_bounds(value, root)


class ExactJSONResponse(JSONResponse):
    """A JSON response whose ``Decimal`` values are exact JSON numbers."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
