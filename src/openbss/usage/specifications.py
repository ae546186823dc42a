"""Use cases of TMF635 ``usageSpecification``: what a kind of usage record carries (its
characteristics), referred to by usage records (``usageSpecification.id``)."""

from __future__ import annotations

from typing import Any

from openbss.core.context import Context
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams, iso
from openbss.usage import queries
from openbss.usage.errors import UsageSpecificationInUse
from openbss.usage.models import UsageSpecification
from openbss.usage.paths import USAGE_API, USAGE_SPECIFICATION_PATH
from openbss.usage.schemas import UsageSpecification as SpecificationIn

READONLY = frozenset({"id", "href", "lastUpdate"})
NAME = "usageSpecification"


def render_specification(ctx: Context, row: UsageSpecification) -> dict[str, Any]:
    return render(ctx.base_url, USAGE_SPECIFICATION_PATH, row.id,
                  {"@type": "UsageSpecification", **row.body,
                   "lastUpdate": iso(row.last_update)})


def _body(data: SpecificationIn) -> dict[str, Any]:
    body = data.doc()
    body.pop("lastUpdate", None)  # openbss keeps it
    return body


def create_specification(ctx: Context, *, data: SpecificationIn) -> UsageSpecification:
    body = _body(data)
    row = UsageSpecification(tenant_id=ctx.tenant_id, name=body["name"],
                             last_update=ctx.now, row_version=1, body=body)
    ctx.session.add(row)
    ctx.session.flush()
    record_change(ctx, api=USAGE_API, resource_name=NAME, resource_id=row.id,
                  change="create", before=None, after=body,
                  event_resource=render_specification(ctx, row))
    return row


def get_specification(ctx: Context, *, spec_id: str) -> UsageSpecification:
    return queries.specification(ctx, spec_id)


def list_specifications(ctx: Context, *,
                        params: ListParams) -> tuple[list[UsageSpecification], int]:
    return queries.list_specifications(ctx, params)


def update_specification(ctx: Context, *, spec_id: str, patch: Any) -> UsageSpecification:
    row = queries.specification(ctx, spec_id, lock=True)
    before = dict(row.body)
    body = _body(patched(before, patch, SpecificationIn, readonly=READONLY))
    if body == before:
        return row
    row.body, row.name = body, body["name"]
    row.last_update = ctx.now
    row.row_version += 1
    record_change(ctx, api=USAGE_API, resource_name=NAME, resource_id=row.id,
                  change="update", before=before, after=body,
                  event_resource=render_specification(ctx, row))
    return row


def delete_specification(ctx: Context, *, spec_id: str) -> None:
    row = queries.specification(ctx, spec_id, lock=True)
    used = queries.specification_in_use(ctx, row.id)
    if used:
        raise UsageSpecificationInUse(
            f"usageSpecification {row.id} is referred to by {used} usage record(s)",
            field="id")
    event = render_specification(ctx, row)
    queries.delete_specification(ctx, row.id)
    record_change(ctx, api=USAGE_API, resource_name=NAME, resource_id=spec_id,
                  change="delete", before=row.body, after=None, event_resource=event)
