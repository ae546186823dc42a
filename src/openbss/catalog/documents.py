"""Exact JSON for catalog documents.

Stored bodies keep decimals as strings (JSON columns have no exact number type). TMF
declares some of them as JSON numbers (``Money.value``, ``percentage``,
``Quantity.amount``): :func:`with_numbers` turns those back into ``Decimal`` and
:func:`dumps` writes a ``Decimal`` as a JSON number with exactly its digits, so
``"0.123456789012"`` goes out as ``0.123456789012`` and never through a float.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse

#: Paths (dotted, ``[]`` for every list item) of JSON numbers in each resource.
NUMBER_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "productOfferingPrice": (
        ("price", "value"),
        ("percentage",),
        ("unitOfMeasure", "amount"),
        ("productOfferingTerm", "[]", "duration", "amount"),
    ),
    "productOffering": (("productOfferingTerm", "[]", "duration", "amount"),),
}


def _convert(node: Any, path: tuple[str, ...]) -> Any:
    if not path:
        if isinstance(node, str):
            try:
                return Decimal(node)
            except ArithmeticError:
                return node
        return node
    head, rest = path[0], path[1:]
    if head == "[]":
        return [_convert(item, rest) for item in node] if isinstance(node, list) else node
    if isinstance(node, dict) and head in node:
        node = dict(node)
        node[head] = _convert(node[head], rest)
    return node


def with_numbers(kind: str, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with its TMF number attributes as ``Decimal``."""
    for path in NUMBER_PATHS.get(kind, ()):
        resource = _convert(resource, path)
    return resource


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return text


def _encode(value: Any, parts: list[str]) -> None:
    if isinstance(value, Decimal):
        parts.append(_number(value))
    elif isinstance(value, dict):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                parts.append(",")
            parts.append(json.dumps(str(key)))
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
    elif isinstance(value, float):
        raise TypeError("floats are not allowed in catalog documents")
    else:
        parts.append(json.dumps(value, default=str))


def dumps(value: Any) -> str:
    """JSON text of ``value``; ``Decimal`` becomes an exact JSON number."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def loads(text: str | bytes) -> Any:
    """Parse JSON reading every non-integer number as an exact ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


class ExactJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def exact_list_response(items: Iterable[dict[str, Any]], total: int) -> ExactJSONResponse:
    body = list(items)
    return ExactJSONResponse(
        body, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(body))}
    )
