"""Shared plumbing for TMF resources stored as documents.

A TMF resource is large and mostly free-form (characteristics, related parties,
contact media …). Contexts store it as a JSON ``body`` column next to typed, indexed
columns for what they filter, sort and enforce rules on (name, status, validity,
money). These helpers keep every context's CRUD the same:

- :func:`render` builds the response: ``id``, ``href``, then the body;
- :func:`patched` applies a JSON merge-patch to a body and re-validates it;
- :func:`record_change` writes the audit row and the TMF event of a mutation in the
  caller's transaction, with the TMF event-type names
  (``<Resource>CreateEvent``, ``…AttributeValueChangeEvent``, ``…StateChangeEvent``,
  ``…DeleteEvent``).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from openbss.core import audit, events
from openbss.core.context import Context
from openbss.core.error_handlers import clean_loc, order_errors
from openbss.core.errors import ValidationError
from openbss.core.tmf import href, merge_patch

M = TypeVar("M", bound=BaseModel)
Change = Literal["create", "update", "state", "delete"]
EVENT_SUFFIX: dict[str, str] = {
    "create": "CreateEvent",
    "update": "AttributeValueChangeEvent",
    "state": "StateChangeEvent",
    "delete": "DeleteEvent",
}


def render(base_url: str, path: str, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A TMF resource: ``id`` and ``href`` first, then the stored body."""
    return {"id": resource_id, "href": href(base_url, path, resource_id), **body}


def validation_error(exc: PydanticValidationError, prefix: str = "",
                     data: Any = None) -> ValidationError:
    """Turn a Pydantic error into our 422, naming the first offending field path (errors
    of values sent first, in ``data``'s order, then missing fields)."""
    details = []
    for err in order_errors(exc.errors(), data):
        path = prefix
        for part in clean_loc(err["loc"]):
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        details.append({"field": path, "message": err["msg"], "type": err["type"]})
    first = details[0] if details else {"field": prefix, "message": str(exc)}
    return ValidationError(f"{first['field']}: {first['message']}", field=first["field"],
                           details=details)


def patched(current: dict[str, Any], patch: Any, schema: type[M],
            readonly: frozenset[str] = frozenset({"id", "href"})) -> M:
    """Apply a merge-patch to ``current`` and validate the result with ``schema``."""
    if not isinstance(patch, dict):
        raise ValidationError("a merge-patch body must be a JSON object", field="body")
    for key in patch:
        if key in readonly:
            raise ValidationError(f"{key} cannot be changed", field=key)
    merged = merge_patch(current, patch)
    try:
        return schema.model_validate(merged)
    except PydanticValidationError as exc:
        raise validation_error(exc, data=merged) from None


def record_change(
    ctx: Context,
    *,
    api: str,
    resource_name: str,
    resource_id: str,
    change: Change,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    event_resource: dict[str, Any],
) -> None:
    """Audit a mutation and publish its TMF event, in the caller's transaction."""
    audit.record(
        ctx,
        action=change,
        resource_type=resource_name,
        resource_id=resource_id,
        before=before,
        after=after,
    )
    type_name = resource_name[0].upper() + resource_name[1:]
    events.publish(
        ctx,
        api=api,
        event_type=f"{type_name}{EVENT_SUFFIX[change]}",
        resource_name=resource_name,
        resource=event_resource,
    )
