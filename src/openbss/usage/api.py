"""HTTP routes of the usage context: TMF635 Usage Management (``usage``,
``usageSpecification``), the bulk ingestion, the rejects and the ``usage`` settings
group (docs/usage-and-rating.md, "The usage API")."""

# No ``from __future__ import annotations``: FastAPI reads the dependency annotations.
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from openbss.core.context import Context
from openbss.core.crud import Body, TmfResource, add_resource_routes, validated
from openbss.core.errors import UnsupportedMediaTypeError, ValidationError
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import list_filters, request_body
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, media_type, optional_json_body
from openbss.core.tenant_settings import add_settings_routes
from openbss.core.tmf import list_params, list_response, require_merge_patch, resource_response
from openbss.usage import records, rejects, schemas, specifications
from openbss.usage.paths import (
    BULK_PATH,
    REJECTS_PATH,
    REPROCESS_PATH,
    SETTINGS_GROUP,
    USAGE_API,
    USAGE_PATH,
    USAGE_PREFIX,
    USAGE_SPECIFICATION_PATH,
)
from openbss.usage.queries import (
    REJECT_FILTERS,
    RELATED_PARTY,
    SPECIFICATION_FILTERS,
    USAGE_FILTERS,
)
from openbss.usage.settings import UsageSettings

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [(USAGE_API, USAGE_PREFIX)]
TAG = "usageManagement (TMF635)"
READ = Requires.to("usage", "read")
WRITE = Requires.to("usage", "write")
DELETE = Requires.to("usage", "delete")
#: Response header of a ``POST usage`` that found the record already stored (200).
DUPLICATE_HEADER = "X-Duplicate"
_SOURCE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

# -- usage --------------------------------------------------------------------------------
list_filters(USAGE_PATH, (*USAGE_FILTERS, RELATED_PARTY))


@router.post(USAGE_PATH, status_code=201, tags=[TAG], name="create usage",
             openapi_extra=request_body(schemas.Usage),
             responses={200: {"description": f"A duplicate: the record received first "
                                             f"(header {DUPLICATE_HEADER}: true)",
                              "content": {"application/json": {"schema": {
                                  "$ref": "#/components/schemas/TMF635.Usage"}}}}})
def create_usage(request: Request, body: Body,
                 ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """One usage record: 201 whether it was accepted (``status`` rated) or rejected
    (``status`` rejected, ``rejectReason``: stored for reprocessing); 200 with the stored
    record and ``X-Duplicate: true`` when it was received before; 422 for a body that is
    not a TMF635 usage (unknown attributes, wrong JSON types)."""
    outcome = records.create_usage(ctx, data=validated(schemas.Usage, body))
    resource = records.render_usage(ctx, outcome.row)
    if outcome.status == "duplicate":
        response = resource_response(resource, request, 200)
        response.headers[DUPLICATE_HEADER] = "true"
        response.headers["Content-Location"] = resource["href"]
        return response
    return resource_response(resource, request, 201)


@router.get(USAGE_PATH, tags=[TAG], name="list usage")
def list_usage(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    params = list_params(request)
    rows, total = records.list_usage(ctx, params=params)
    return list_response(records.render_usages(ctx, rows), total, params)


@router.get(USAGE_PATH + "/{id}", tags=[TAG], name="get usage")
def get_usage(id: str, request: Request,
              ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    return resource_response(records.render_usage(ctx, records.get_usage(ctx, usage_id=id)),
                             request)


@router.patch(USAGE_PATH + "/{id}", tags=[TAG], name="patch usage",
              openapi_extra=request_body(schemas.Usage, patch=True))
def patch_usage(id: str, request: Request, body: Body,
                ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Correct a rejected record (``description``, ``usageCharacteristic``,
    ``usageDate``, ``usageType``); it is processed again at once. 409
    ``usage_not_editable`` for a record that is not rejected."""
    require_merge_patch(request)
    row = records.update_usage(ctx, usage_id=id, patch=body)
    return resource_response(records.render_usage(ctx, row), request)


@router.delete(USAGE_PATH + "/{id}", status_code=204, tags=[TAG], name="delete usage")
def delete_usage(id: str, ctx: Annotated[Context, Depends(DELETE)]) -> Response:
    """Delete a record that is not rated; 409 ``usage_not_deletable`` otherwise."""
    records.delete_usage(ctx, usage_id=id)
    return Response(status_code=204)


# -- usageSpecification -------------------------------------------------------------------
add_resource_routes(router, TmfResource(
    name="usageSpecification", path=USAGE_SPECIFICATION_PATH, tag=TAG,
    schema=schemas.UsageSpecification, filters=tuple(SPECIFICATION_FILTERS),
    read=READ, write=WRITE, delete=DELETE,
    create=lambda ctx, data: specifications.create_specification(ctx, data=data),
    find=lambda ctx, params: specifications.list_specifications(ctx, params=params),
    get=lambda ctx, id: specifications.get_specification(ctx, spec_id=id),
    update=lambda ctx, id, patch: specifications.update_specification(
        ctx, spec_id=id, patch=patch),
    remove=lambda ctx, id: specifications.delete_specification(ctx, spec_id=id),
    render=specifications.render_specification,
))


# -- bulk -----------------------------------------------------------------------------------

class BulkRoute(ExactRoute):
    """The bulk route reads its body itself: a JSON array or NDJSON, each record bounded
    on its own (a 10,000-record array holds more values than one document may), an
    unparseable NDJSON line rejecting that record only."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = APIRoute.get_route_handler(self)

        async def bulk_handler(request: Request) -> Response:
            media = media_type(request)
            if media not in ("application/json", rejects.NDJSON):
                raise UnsupportedMediaTypeError(
                    f"Content-Type: send a JSON array as application/json or one usage "
                    f"per line as {rejects.NDJSON} (got {media or 'none'!r})",
                    field="Content-Type")
            response: Response = await handler(request)
            return response

        return bulk_handler


async def _bulk_body(request: Request) -> tuple[bytes, str]:
    return await request.body(), media_type(request)


bulk_router = APIRouter(route_class=BulkRoute)


@bulk_router.post(BULK_PATH, tags=["usage"], name="bulk usage", openapi_extra={
    "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "maxItems": rejects.MAX_BULK,
                                         "items": {"$ref": "#/components/schemas/usage.Usage"}}},
        rejects.NDJSON: {"schema": {"type": "string", "description": "One TMF635 usage "
                                    "(JSON object) per line"}}}}},
    responses={413: {"description": f"More than {rejects.MAX_BULK} records",
                     "content": {"application/json": {"schema": {
                         "$ref": "#/components/schemas/Error"}}}}})
def bulk_usage(raw: Annotated[tuple[bytes, str], Depends(_bulk_body)],
               ctx: Annotated[Context, Depends(WRITE)],
               source: str | None = None) -> JSONResponse:
    """Up to 10,000 TMF635 usages in one transaction: a result per record in input
    order (``accepted`` / ``duplicate`` / ``rejected`` with its reason) and the counts.
    ``?source=``: the source of records that name none."""
    if source is not None and not _SOURCE.match(source):
        raise ValidationError("source: a source name is 1-64 letters, digits, '_', '.' "
                              "or '-'", field="source")
    entries = rejects.parse_bulk(raw[0], raw[1])
    results = rejects.ingest_bulk(ctx, entries, source=source)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result.status] += 1
    return ExactJSONResponse({"results": [rejects.result_json(r) for r in results],
                              "accepted": counts["accepted"],
                              "duplicates": counts["duplicate"],
                              "rejected": counts["rejected"]})


# -- rejects --------------------------------------------------------------------------------
list_filters(REJECTS_PATH, REJECT_FILTERS)


@router.get(REJECTS_PATH, tags=["usage"], name="list usage rejects")
def list_rejects(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Rejected records, oldest first (``?reason=unknown_identifier`` …, paged)."""
    params = list_params(request)
    rows, total = rejects.list_rejects(ctx, params=params)
    return list_response([rejects.render_reject(ctx, r) for r in rows], total, params)


_REPROCESS_BODY = request_body(schemas.RejectsReprocess)
_REPROCESS_BODY["requestBody"]["required"] = False


@router.post(REPROCESS_PATH, tags=["usage"], name="reprocess usage rejects",
             openapi_extra=_REPROCESS_BODY)
def reprocess_rejects(body: Annotated[Any, Depends(optional_json_body)],
                      ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """The stored rejects (``{"reason": CODE}``, or all) through the pipeline again: how
    many were reprocessed, accepted now, and rejected again by reason."""
    data = validated(schemas.RejectsReprocess, body)
    return ExactJSONResponse(rejects.reprocess(ctx, reason=data.reason))


add_settings_routes(router, SETTINGS_GROUP, UsageSettings,
                    read_dep=Requires.to("settings", "read"),
                    write_dep=Requires.to("settings", "write"))
