"""HTTP routes of the product catalog: TMF620 v4 and the ``/api/v1/catalog`` actions.

Thin: parse (JSON numbers as exact ``Decimal``), authorize, call :mod:`service`, shape
the reply with exact decimal numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import select

from openbss.catalog import jobs, service
from openbss.catalog.lifecycle import canonical_status
from openbss.catalog.models import RESOURCE_MODELS, CatalogJob
from openbss.catalog.paths import PREFIX, path_of
from openbss.catalog.schemas import SCHEMAS, ExportJobIn, ImportJobIn
from openbss.core.context import Context
from openbss.core.errors import BadRequestError, ValidationError
from openbss.core.money import validate_currency
from openbss.core.openapi import list_filters, request_body
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, json_body, optional_json_body
from openbss.core.tmf import (
    ListParams,
    apply_filters,
    list_params,
    list_response,
    paginate,
    require_merge_patch,
    resource_response,
)

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [("productCatalogManagement", PREFIX)]

READ = Requires.to("catalog", "read")
WRITE = Requires.to("catalog", "write")
DELETE = Requires.to("catalog", "delete")
TAG = "productCatalogManagement (TMF620)"


# Bodies are parsed by the kernel (ExactRoute): exact decimals, bounded depth and numbers,
# one Content-Type rule.
Body = Annotated[Any, Depends(json_body)]


def _filters(model: Any, kind: str) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "id": model.id, "name": model.name, "lifecycleStatus": model.lifecycle_status,
        "version": model.version, "lastUpdate": model.last_update,
        "validFor.startDateTime": model.valid_from, "validFor.endDateTime": model.valid_to,
    }
    extra = {
        "catalog": {"catalogType": "catalog_type"},
        "category": {"parentId": "parent_id", "isRoot": "is_root"},
        "productSpecification": {"brand": "brand", "productNumber": "product_number",
                                 "isBundle": "is_bundle"},
        "productOffering": {"isBundle": "is_bundle", "isSellable": "is_sellable",
                            "productSpecification.id": "product_specification_id"},
        "productOfferingPrice": {"priceType": "price_type", "price.unit": "currency",
                                 "price.value": "amount", "percentage": "percentage",
                                 "taxCategory": "tax_category", "taxIncluded": "tax_included",
                                 "isBundle": "is_bundle"},
    }[kind]
    columns.update({name: getattr(model, attr) for name, attr in extra.items()})
    return columns


def _normalized(params: ListParams) -> ListParams:
    """Accept any spelling of lifecycleStatus in filters (``active``, ``In Design``)."""
    filters: list[tuple[str, str, list[Any]]] = []
    for name, op, values in params.filters:
        parsed: list[Any] = values
        if name == "lifecycleStatus":
            try:
                parsed = [canonical_status(v) for v in values]
            except ValueError as exc:
                raise BadRequestError(str(exc), field="lifecycleStatus") from None
        filters.append((name, op, parsed))
    return ListParams(params.offset, params.limit, params.fields, params.sort, tuple(filters))


def _add_resource_routes(kind: str) -> None:
    model = RESOURCE_MODELS[kind]
    columns = _filters(model, kind)
    path = path_of(kind)
    list_filters(path, columns)

    @router.post(path, status_code=201, tags=[TAG], name=f"create {kind}",
                 openapi_extra=request_body(SCHEMAS[kind]))
    def create(request: Request, body: Body,
               ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
        row = service.create(ctx, kind, body)
        return resource_response(service.view(ctx, kind, row), request, 201)

    @router.get(path, tags=[TAG], name=f"list {kind}")
    def list_(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
        params = _normalized(list_params(request))
        stmt = apply_filters(select(model).where(model.tenant_id == ctx.tenant_id), params,
                             columns)
        rows, total = paginate(ctx.session, stmt, params, [model.name, model.version,
                                                            model.id])
        return list_response([service.view(ctx, kind, r) for r in rows], total, params)

    @router.get(path + "/{id}", tags=[TAG], name=f"get {kind}")
    def get(id: str, request: Request,
            ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
        return resource_response(service.view(ctx, kind, service.get(ctx, kind, id)), request)

    @router.patch(path + "/{id}", tags=[TAG], name=f"patch {kind}",
                  openapi_extra=request_body(SCHEMAS[kind], patch=True))
    def patch(id: str, request: Request, body: Body,
              ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
        require_merge_patch(request)
        row = service.update(ctx, kind, id, body)
        return resource_response(service.view(ctx, kind, row), request)

    @router.delete(path + "/{id}", status_code=204, tags=[TAG], name=f"delete {kind}")
    def delete(id: str, ctx: Annotated[Context, Depends(DELETE)]) -> Response:
        service.delete(ctx, kind, id)
        return Response(status_code=204)


for _kind in RESOURCE_MODELS:
    _add_resource_routes(_kind)


def _add_job_routes(kind: str) -> None:
    path = path_of(kind)
    list_filters(path, ("id", "status", "creationDate"))

    @router.post(path, status_code=201, tags=[TAG], name=f"create {kind}",
                 openapi_extra=request_body(ImportJobIn if kind == "importJob" else ExportJobIn))
    def create(request: Request, body: Body,
               ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
        job = jobs.run_import(ctx, body) if kind == "importJob" else jobs.run_export(ctx, body)
        return resource_response(jobs.view(ctx, job), request, 201)

    @router.get(path, tags=[TAG], name=f"list {kind}")
    def list_(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
        params = _normalized(list_params(request))
        stmt = select(CatalogJob).where(CatalogJob.tenant_id == ctx.tenant_id,
                                        CatalogJob.kind == kind)
        stmt = apply_filters(stmt, params, {"id": CatalogJob.id, "status": CatalogJob.status,
                                            "creationDate": CatalogJob.creation_date})
        rows, total = paginate(ctx.session, stmt, params, [CatalogJob.creation_date,
                                                            CatalogJob.id])
        return list_response([jobs.view(ctx, r) for r in rows], total, params)

    @router.get(path + "/{id}", tags=[TAG], name=f"get {kind}")
    def get(id: str, request: Request,
            ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
        return resource_response(jobs.view(ctx, jobs.get(ctx, kind, id)), request)

    @router.delete(path + "/{id}", status_code=204, tags=[TAG], name=f"delete {kind}")
    def delete(id: str, ctx: Annotated[Context, Depends(DELETE)]) -> Response:
        jobs.delete(ctx, kind, id)
        return Response(status_code=204)


_add_job_routes("importJob")
_add_job_routes("exportJob")


@router.get(PREFIX + "/exportJob/{id}/content", tags=[TAG])
def export_content(id: str, ctx: Annotated[Context, Depends(READ)]) -> Response:
    """The exported file of an export job (the job's ``url``)."""
    job = jobs.get(ctx, "exportJob", id)
    return PlainTextResponse(job.content or "", media_type=job.content_type)


# -- /api/v1/catalog: actions TMF620 does not define ------------------------------------------

V1 = "/api/v1/catalog/productOffering/{id}"


@router.post(V1 + "/version", status_code=201, tags=["catalog"])
def new_version(id: str, request: Request, body: Annotated[Any, Depends(optional_json_body)],
                ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Copy an offering and its prices into a new ``In design`` version.

    Body (optional): ``{"version": "2.0", "validFor": {"startDateTime": "..."}}``.
    """
    if not isinstance(body, dict) or set(body) - {"version", "validFor"}:
        raise ValidationError("the body may only carry version and validFor", field="body")
    row = service.new_offering_version(ctx, offering_id=id, version=body.get("version"),
                                       valid_for=body.get("validFor"))
    return resource_response(service.view(ctx, "productOffering", row), request, 201)


@router.get(V1 + "/prices", tags=["catalog"])
def offering_prices(
    id: str, request: Request, ctx: Annotated[Context, Depends(READ)],
    currency: Annotated[str | None, Query(description="ISO 4217 currency of the buyer")] = None,
    at: Annotated[datetime | None, Query(description="Instant (default now)")] = None,
) -> JSONResponse:
    """The prices of an offering for a buyer paying in ``currency`` at ``at`` (without
    ``currency``: every price valid at ``at``)."""
    service.get(ctx, "productOffering", id)
    if at is not None and at.tzinfo is None:
        raise BadRequestError("at must include a time zone offset", field="at")
    if currency is not None:
        validate_currency(currency)
    pops = service.select_prices(ctx, offering_id=id, currency=currency, at=at)
    return list_response([service.view(ctx, "productOfferingPrice", p) for p in pops],
                         len(pops), list_params(request))


@router.get(V1 + "/eligibility", tags=["catalog"])
def offering_eligibility(
    id: str, ctx: Annotated[Context, Depends(READ)],
    customerType: Annotated[str | None, Query()] = None,
    country: Annotated[str | None, Query()] = None,
    at: Annotated[datetime | None, Query()] = None,
) -> dict[str, Any]:
    """Whether a customer of that type and country may order the offering now (or ``at``)."""
    row = service.get(ctx, "productOffering", id)
    if at is not None and at.tzinfo is None:
        raise BadRequestError("at must include a time zone offset", field="at")
    eligible = service.check_eligibility(row, customer_type=customerType, country=country)
    return {"id": row.id, "eligible": eligible,
            "orderable": service.is_orderable(ctx, offering_id=id, at=at)}
