"""HTTP routes of the product catalog: TMF620 v4 and the ``/api/v1/catalog`` actions.

The five TMF620 resources and ``importJob``/``exportJob`` come from the kernel's route
factory (:func:`openbss.core.crud.add_resource_routes`; jobs have no PATCH); the actions
TMF620 does not define validate their body with :func:`openbss.core.crud.validated` and
call a use case. No SQL here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from openbss.catalog import jobs, queries, selling, service, versions
from openbss.catalog.models import RESOURCE_MODELS, CatalogJob
from openbss.catalog.paths import PREFIX, path_of
from openbss.catalog.schemas import SCHEMAS, ExportJobIn, ImportJobIn, NewVersionIn
from openbss.core.context import Context
from openbss.core.crud import TmfResource, add_resource_routes, validated
from openbss.core.errors import BadRequestError
from openbss.core.money import validate_currency
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, optional_json_body
from openbss.core.tmf import list_params, list_response, resource_response

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [("productCatalogManagement", PREFIX)]

READ = Requires.to("catalog", "read")
WRITE = Requires.to("catalog", "write")
DELETE = Requires.to("catalog", "delete")
TAG = "productCatalogManagement (TMF620)"


def _resource(kind: str) -> TmfResource:
    return TmfResource(
        name=kind, path=path_of(kind), tag=TAG, schema=SCHEMAS[kind],
        filters=tuple(queries.filter_columns(kind)), read=READ, write=WRITE, delete=DELETE,
        create=lambda ctx, data: service.create_resource(ctx, kind=kind, data=data),
        find=lambda ctx, params: service.list_resources(ctx, kind=kind, params=params),
        get=lambda ctx, id: service.get_resource(ctx, kind=kind, resource_id=id),
        update=lambda ctx, id, patch: service.update_resource(ctx, kind=kind, resource_id=id,
                                                              patch=patch),
        remove=lambda ctx, id: service.delete_resource(ctx, kind=kind, resource_id=id),
        render=service.render_resource,
    )


for _kind in RESOURCE_MODELS:
    add_resource_routes(router, _resource(_kind))


def _job(kind: str, schema: type[BaseModel], create: Callable[..., CatalogJob]) -> TmfResource:
    return TmfResource(
        name=kind, path=path_of(kind), tag=TAG, schema=schema,
        filters=tuple(queries.JOB_FILTERS), read=READ, write=WRITE, delete=DELETE,
        create=lambda ctx, data: create(ctx, data=data),
        find=lambda ctx, params: jobs.list_jobs(ctx, kind=kind, params=params),
        get=lambda ctx, id: jobs.get_job(ctx, kind=kind, job_id=id),
        remove=lambda ctx, id: jobs.delete_job(ctx, kind=kind, job_id=id),
        render=jobs.render_job,
        create_off_loop=True,  # a large import or export computes for long: not on the loop
    )


add_resource_routes(router, _job("importJob", ImportJobIn, jobs.create_import_job))
add_resource_routes(router, _job("exportJob", ExportJobIn, jobs.create_export_job))


@router.get(PREFIX + "/exportJob/{id}/content", tags=[TAG])
def export_content(id: str, ctx: Annotated[Context, Depends(READ)]) -> Response:
    """The exported file of an export job (the job's ``url``)."""
    job = jobs.get_job(ctx, kind="exportJob", job_id=id)
    return PlainTextResponse(job.content or "", media_type=job.content_type)


# -- /api/v1/catalog: actions TMF620 does not define ------------------------------------------

V1 = "/api/v1/catalog/productOffering/{id}"


def _aware(at: datetime | None) -> None:
    if at is not None and at.tzinfo is None:
        raise BadRequestError("at must include a time zone offset", field="at")


@router.post(V1 + "/version", status_code=201, tags=["catalog"])
def new_version(id: str, request: Request, body: Annotated[Any, Depends(optional_json_body)],
                ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Copy an offering and its prices into a new ``In design`` version.

    Body (optional): ``{"version": "2.0", "validFor": {"startDateTime": "..."}}``.
    """
    data = validated(NewVersionIn, {} if body is None else body)
    row = versions.new_offering_version(ctx, offering_id=id, data=data)
    return resource_response(service.render_resource(ctx, row), request, 201)


@router.get(V1 + "/prices", tags=["catalog"])
def offering_prices(
    id: str, request: Request, ctx: Annotated[Context, Depends(READ)],
    currency: Annotated[str | None, Query(description="ISO 4217 currency of the buyer")] = None,
    at: Annotated[datetime | None, Query(description="Instant (default now)")] = None,
) -> JSONResponse:
    """The prices of an offering for a buyer paying in ``currency`` at ``at`` (without
    ``currency``: every price valid at ``at``)."""
    service.get_resource(ctx, kind="productOffering", resource_id=id)
    _aware(at)
    if currency is not None:
        validate_currency(currency)
    pops = selling.select_prices(ctx, offering_id=id, currency=currency, at=at)
    return list_response([service.render_resource(ctx, p) for p in pops], len(pops),
                         list_params(request))


@router.get(V1 + "/eligibility", tags=["catalog"])
def offering_eligibility(
    id: str, ctx: Annotated[Context, Depends(READ)],
    customerType: Annotated[str | None, Query()] = None,
    country: Annotated[str | None, Query()] = None,
    at: Annotated[datetime | None, Query()] = None,
) -> dict[str, Any]:
    """Whether a customer of that type and country may order the offering now (or ``at``)."""
    row = service.get_resource(ctx, kind="productOffering", resource_id=id)
    _aware(at)
    eligible = selling.check_eligibility(row.body, customer_type=customerType, country=country)
    return {"id": row.id, "eligible": eligible,
            "orderable": selling.is_orderable(ctx, offering_id=id, at=at)}
