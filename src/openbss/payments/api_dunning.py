"""HTTP routes of dunning (``/api/v1/dunning``) and the aging report.

- ``/api/v1/dunning/policies`` — create, list, get, patch (merge-patch of name, segment,
  steps, active), delete (refused while cases follow it);
- ``POST /api/v1/dunning/runs`` ``{"asOf": "2026-12-01"}`` (default: the tenant's today)
  — run dunning now; the summary;
- ``GET /api/v1/dunning/cases`` (``billingAccount.id``, ``state``) and ``/{id}``;
- ``/api/v1/dunning/holds`` — open a dispute or a payment plan (``POST``), list, get,
  ``DELETE`` releases it;
- ``GET /api/v1/dunning/handovers`` — the collection agency's CSV;
- ``GET /api/v1/reports/aging?asOf=`` — balances by account in 0-30 / 31-60 / 61-90 /
  90+ day buckets.

Family ``dunning`` of the role matrix.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from openbss.core.context import Context
from openbss.core.crud import TmfResource, add_resource_routes, validated
from openbss.core.errors import ValidationError
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import document_response, request_body
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, json_body
from openbss.core.tmf_common import TmfModel
from openbss.payments import dunning
from openbss.payments.paths import (
    AGING_PATH,
    DUNNING_CASES_PATH,
    DUNNING_POLICIES_PATH,
    DUNNING_RUNS_PATH,
    HANDOVERS_PATH,
    HOLDS_PATH,
)

router = APIRouter(route_class=ExactRoute)
READ = Requires.to("dunning", "read")
WRITE = Requires.to("dunning", "write")
DELETE = Requires.to("dunning", "delete")
TAG = "dunning"
Body = Annotated[Any, Depends(json_body)]


class RunCreate(TmfModel):
    as_of: date | None = None


add_resource_routes(router, TmfResource(
    name="dunningPolicy", path=DUNNING_POLICIES_PATH, tag=TAG, schema=dunning.PolicyCreate,
    read=READ, write=WRITE, delete=DELETE, create=dunning.create_policy,
    find=dunning.list_policies, get=dunning.get_policy, update=dunning.update_policy,
    remove=dunning.delete_policy, render=dunning.render_policy,
    filters=tuple(dunning.POLICY_FILTERS)))

add_resource_routes(router, TmfResource(
    name="collectionHold", path=HOLDS_PATH, tag=TAG, schema=dunning.HoldCreate,
    read=READ, write=WRITE, delete=DELETE, create=dunning.create_hold,
    find=dunning.list_holds, get=dunning.get_hold, remove=dunning.release_hold,
    render=dunning.render_hold, filters=tuple(dunning.HOLD_FILTERS)))


@router.post(DUNNING_RUNS_PATH, tags=[TAG], openapi_extra=request_body(RunCreate))
def run(body: Body, ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Run dunning as of ``asOf`` (default: the tenant's today). Idempotent per step."""
    data = validated(RunCreate, body)
    return ExactJSONResponse(dunning.run(ctx, as_of=data.as_of or ctx.now.date()))


@router.get(DUNNING_CASES_PATH, tags=[TAG])
def list_cases(ctx: Annotated[Context, Depends(READ)],
               billing_account: Annotated[str | None, Query(alias="billingAccount.id")
                                          ] = None,
               state: str | None = None) -> JSONResponse:
    """Dunning cases, newest first, with the steps executed."""
    from openbss.core.queries import scoped
    from openbss.payments.models import DunningCase

    stmt = scoped(ctx, DunningCase).order_by(DunningCase.opened_at.desc(), DunningCase.id)
    if billing_account:
        stmt = stmt.where(DunningCase.billing_account_id == billing_account)
    if state:
        stmt = stmt.where(DunningCase.state == state)
    rows = [dunning.render_case(ctx, r) for r in ctx.session.scalars(stmt.limit(1000))]
    return ExactJSONResponse(rows, headers={"X-Total-Count": str(len(rows)),
                                            "X-Result-Count": str(len(rows))})


@router.get(DUNNING_CASES_PATH + "/{id}", tags=[TAG])
def get_case(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    return ExactJSONResponse(dunning.render_case(ctx, dunning.get_case(ctx, id)))


@router.get(HANDOVERS_PATH, tags=[TAG], response_class=Response, responses={
    200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}})
def handovers(ctx: Annotated[Context, Depends(READ)]) -> Response:
    """The cases handed over to a collection agency (one row per overdue invoice)."""
    return Response(dunning.handovers_csv(ctx), media_type="text/csv")


@router.get(AGING_PATH, tags=[TAG])
def aging(ctx: Annotated[Context, Depends(READ)],
          as_of: Annotated[str | None, Query(alias="asOf")] = None) -> JSONResponse:
    """Balances by account in 0-30 / 31-60 / 61-90 / 90+ days overdue buckets."""
    day = ctx.now.date()
    if as_of:
        try:
            day = date.fromisoformat(as_of[:10])
        except ValueError:
            raise ValidationError(f"asOf: {as_of!r} is not a date", field="asOf") from None
    return ExactJSONResponse(dunning.aging(ctx, as_of=day))


_POLICY = {"type": "object", "required": ["id", "name", "steps"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"},
    "segment": {"type": ["string", "null"]}, "steps": {"type": "array", "items": {
        "type": "object", "required": ["days", "action"]}}, "active": {"type": "boolean"}}}
_HOLD = {"type": "object", "required": ["id", "kind", "billingAccount"], "properties": {
    "id": {"type": "string"}, "kind": {"type": "string"}, "active": {"type": "boolean"}}}
_CASE = {"type": "object", "required": ["id", "state", "billingAccount"], "properties": {
    "id": {"type": "string"}, "state": {"type": "string"}, "actions": {"type": "array"}}}
_RUN = {"type": "object", "required": ["asOf", "actions"], "properties": {
    "asOf": {"type": "string", "format": "date"}, "accounts": {"type": "integer"},
    "casesOpened": {"type": "integer"}, "casesClosed": {"type": "integer"},
    "held": {"type": "integer"}, "actions": {"type": "array"}}}
_AGING = {"type": "object", "required": ["asOf", "buckets", "accounts"], "properties": {
    "asOf": {"type": "string"}, "buckets": {"type": "array"}, "accounts": {"type": "array"},
    "totals": {"type": "array"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


document_response("get", DUNNING_POLICIES_PATH + "/{id}", _POLICY, component="DunningPolicy")
for _m, _p in (("post", DUNNING_POLICIES_PATH), ("patch", DUNNING_POLICIES_PATH + "/{id}")):
    document_response(_m, _p, _ref("DunningPolicy"))
document_response("get", DUNNING_POLICIES_PATH, {"type": "array",
                                                 "items": _ref("DunningPolicy")})
document_response("get", HOLDS_PATH + "/{id}", _HOLD, component="CollectionHold")
document_response("post", HOLDS_PATH, _ref("CollectionHold"))
document_response("get", HOLDS_PATH, {"type": "array", "items": _ref("CollectionHold")})
document_response("get", DUNNING_CASES_PATH + "/{id}", _CASE, component="DunningCase")
document_response("get", DUNNING_CASES_PATH, {"type": "array", "items": _ref("DunningCase")})
document_response("post", DUNNING_RUNS_PATH, _RUN, component="DunningRun")
document_response("get", AGING_PATH, _AGING, component="AgingReport")
