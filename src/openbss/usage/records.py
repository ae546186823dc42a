"""TMF635 usage records, one at a time: ``flatten`` (a TMF635 document → the raw record
the pipeline reads) and the per-record ingestion path of ``POST usage``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Top-level attributes of a TMF635 usage that the raw record carries as they are.
TOP_LEVEL = ("usageDate", "usageType")


def flatten(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The raw record of a TMF635 usage document: ``usageDate``, ``usageType`` and each
    ``usageCharacteristic`` ``name → value`` (``msisdn``, ``calledNumber``, ``duration``,
    ``recordId``, ``source`` …). A top-level ``usageDate``/``usageType`` wins over a
    characteristic of the same name; of two characteristics with one name, the first.
    Anything that is not a name/value pair is left out (the schema refuses it on the
    API; a bulk line carrying it is rejected by the pipeline, not here)."""
    raw: dict[str, Any] = {}
    chars = doc.get("usageCharacteristic")
    if isinstance(chars, list):
        for char in chars:
            if isinstance(char, Mapping) and isinstance(char.get("name"), str) \
                    and char["name"] not in raw and char.get("value") is not None:
                raw[char["name"]] = char["value"]
    for key in TOP_LEVEL:
        if doc.get(key) is not None:
            raw[key] = doc[key]
    return raw
