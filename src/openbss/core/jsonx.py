"""Exact JSON: ``Decimal`` in, ``Decimal`` out, never through a float.

- :func:`dumps` writes a ``Decimal`` as a JSON number with exactly its digits
  (``Decimal("0.123456789012")`` → ``0.123456789012``), datetimes as ISO 8601 in UTC;
- :func:`loads` reads every non-integer JSON number as a ``Decimal``.

The database engines use both for JSON columns, so TMF documents keep their money
exact in storage; :class:`ExactJSONResponse` uses :func:`dumps` for API responses.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

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
    else:
        parts.append(json.dumps(value, ensure_ascii=False, default=str))


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python data: dicts, lists, str, int, bool, None and
    ``Decimal`` (kept exact); datetimes become ISO 8601 strings (UTC as ``Z``)."""
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
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def loads(text: str | bytes) -> Any:
    """Parse JSON reading every non-integer number as an exact ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


class ExactJSONResponse(JSONResponse):
    """A JSON response whose ``Decimal`` values are exact JSON numbers."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
