"""Validate response bodies against the official TMF v4 Swagger definitions
(vendored in ``specs/tmf``). Shared by every context's tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SPECS = Path(__file__).resolve().parent.parent / "specs" / "tmf"


@functools.cache
def _definitions(spec_file: str) -> dict[str, Any]:
    return json.loads((SPECS / spec_file).read_text())["definitions"]  # type: ignore[no-any-return]


@functools.cache
def validator(spec_file: str, definition: str) -> jsonschema.protocols.Validator:
    """A JSON-Schema validator for one definition of an official TMF Swagger 2 file."""
    schema = {"$ref": f"#/definitions/{definition}", "definitions": _definitions(spec_file)}
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid(spec_file: str, definition: str, instance: Any) -> None:
    """Fail with the schema violations of ``instance`` (an object or a list of them)."""
    for item in instance if isinstance(instance, list) else [instance]:
        errors = sorted(validator(spec_file, definition).iter_errors(item),
                        key=lambda e: list(e.absolute_path))
        assert not errors, f"{definition} violates {spec_file}:\n" + "\n".join(
            f"  {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
