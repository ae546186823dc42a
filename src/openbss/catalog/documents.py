"""Exact JSON for catalog documents.

Stored catalog bodies keep decimals as strings. TMF declares some of them as JSON
numbers (``Money.value``, ``percentage``, ``Quantity.amount``): :func:`with_numbers`
turns those back into ``Decimal``, and :mod:`openbss.core.jsonx` writes a ``Decimal`` as a
JSON number with exactly its digits, so ``"0.123456789012"`` goes out as
``0.123456789012`` and never through a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

#: Paths (dotted, ``[]`` for every list item) of JSON numbers in each resource.
NUMBER_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "productOfferingPrice": (
        ("price", "value"),
        ("percentage",),
        ("unitOfMeasure", "amount"),
        ("productOfferingTerm", "[]", "duration", "amount"),
        ("minimumCommitment", "value"),
    ),
    "productOffering": (("productOfferingTerm", "[]", "duration", "amount"),
                        ("minimumCommitment", "value")),
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
