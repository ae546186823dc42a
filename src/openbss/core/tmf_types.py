"""Shared TMF value types for request schemas: absolute URIs (TMF ``format: uri``) and
free-form TMF sub-objects validated against their official TMF definitions."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jsonschema
from pydantic import (
    AfterValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# An absolute URI (RFC 3986: a scheme, then only URI characters), what TMF's
# ``format: uri`` attributes (``@schemaLocation``, ``href``) hold.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]"
                  r"|%[0-9A-Fa-f]{2})*$")


def is_uri(value: str) -> bool:
    return bool(_URI.match(value))


def _uri(value: str) -> str:
    if not is_uri(value):
        raise PydanticCustomError(
            "invalid_uri", "must be an absolute URI such as https://example.org/schema.json")
    return value


Uri = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_uri),
                WithJsonSchema({"type": "string", "format": "uri", "maxLength": 2000})]


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # an instant in years 1-9999 in UTC
    except (ValueError, OverflowError):
        return False
    return parsed.tzinfo is not None and "T" in value.upper()


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("uri")(lambda value: not isinstance(value, str) or is_uri(value))
FORMATS.checks("date-time")(_date_time)


#: The TMF definitions openbss uses, extracted from the official swagger files
#: (``openbss.core.openapi.extract_definitions``).
DEFINITIONS_FILE = Path(__file__).with_name("tmf_definitions.json")


@functools.cache
def tmf_definitions() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(DEFINITIONS_FILE.read_text())
    return data


@functools.cache
def _validator(component: str) -> Any:
    root = {"$ref": f"#/components/schemas/{component}",
            "components": {"schemas": tmf_definitions()}}
    return jsonschema.Draft4Validator(root, format_checker=FORMATS)


def _check(component: str, value: dict[str, Any]) -> dict[str, Any]:
    errors = sorted(_validator(component).iter_errors(value),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        error = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                        for p in error.absolute_path).lstrip(".")
        raise PydanticCustomError("tmf_type", "{where}{detail} (TMF {name})", {
            "where": f"{where}: " if where else "", "detail": error.message[:300],
            "name": component.split(".", 1)[-1]})
    return value


TMF_REF = "x-tmf-definition"


@dataclass(frozen=True)
class TmfType:
    """``Annotated[dict[str, Any], TmfType("TMF620.RelatedParty")]``: a free-form TMF
    sub-object validated against its official TMF definition (from
    ``core/tmf_definitions.json``) and documented in the OpenAPI document as that
    component; its attributes are kept as given."""

    component: str

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            functools.partial(_check, self.component), handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # A marker (pydantic resolves "$ref"s itself): core/openapi.py turns it into a
        # reference to the TMF component in the app's document.
        return {"type": "object", TMF_REF: self.component}
