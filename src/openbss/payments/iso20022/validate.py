"""Validation of ISO 20022 documents against the official XSDs shipped in ``xsd/``.

The schemas are the unmodified ISO 20022 base messages (see ``xsd/``); each is loaded once.
A file that passes can still break a bank's usage rules (EPC character set …), which the
builder enforces itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

XSD_DIR = Path(__file__).parent / "xsd"
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
MESSAGES = ("pain.008.001.02", "pain.008.001.08", "camt.053.001.02", "camt.053.001.08",
            "camt.054.001.02", "camt.054.001.08")


class SchemaViolation(Exception):
    """The document does not validate against its message's XSD."""

    def __init__(self, message_name: str, errors: list[str]) -> None:
        super().__init__(f"{message_name}: " + "; ".join(errors[:5]))
        self.message_name = message_name
        self.errors = errors


@cache
def schema(message_name: str) -> xmlschema.XMLSchema10:
    """The XSD of ``message_name`` (e.g. ``pain.008.001.08``)."""
    if message_name not in MESSAGES:
        raise KeyError(message_name)
    return xmlschema.XMLSchema10(str(XSD_DIR / f"{message_name}.xsd"))


def errors(content: bytes | etree._Element, message_name: str) -> list[str]:
    """Every violation of ``content`` (XML bytes or a parsed element) against the XSD."""
    root = content if isinstance(content, etree._Element) else etree.fromstring(
        content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    return [f"{e.path}: {e.reason}" for e in schema(message_name).iter_errors(root)]


def check(content: bytes | etree._Element, message_name: str) -> None:
    """Raise :class:`SchemaViolation` when ``content`` is not a valid ``message_name``."""
    found = errors(content, message_name)
    if found:
        raise SchemaViolation(message_name, found)
