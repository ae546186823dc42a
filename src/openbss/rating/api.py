"""HTTP routes of the rating context (``/api/v1/rating``; TMF has no tariff API).

- ``GET /api/v1/rating/tariffs`` — the tenant's tariffs (without their content);
- ``GET /api/v1/rating/tariffs/{id}`` — one, with its TariffSet document;
- ``PUT /api/v1/rating/tariffs/{name}`` — create or replace the tariff ``name`` from a
  TariffSet document (tariffs built without CSV files): 201 created, 200 replaced;
- ``DELETE /api/v1/rating/tariffs/{id}``;
- ``POST /api/v1/rating/cost`` — price one event on the tenant's tariffs (CGRateS's
  ``GetCost``); nothing is stored.

Family ``rating`` of the role matrix: read to list and to price, write to import or
replace, delete to delete.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from openbss.core.context import Context
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute
from openbss.rating import service
from openbss.rating.paths import COST_PATH, TARIFF_BY_NAME_PATH, TARIFF_PATH, TARIFFS_PATH
from openbss.rating.schemas import CostRequest

router = APIRouter(route_class=ExactRoute)
READ = Requires.to("rating", "read")
WRITE = Requires.to("rating", "write")
DELETE = Requires.to("rating", "delete")
TAG = "rating"


@router.get(TARIFFS_PATH, tags=[TAG])
def list_tariffs(ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """The tenant's tariffs by name: currency, source (cgrates or json), version and how
    many destinations, rates, plans … each holds."""
    rows = service.list_tariffs(ctx)
    return ExactJSONResponse([service.render_tariff(ctx, r, full=False) for r in rows],
                             headers={"X-Total-Count": str(len(rows)),
                                      "X-Result-Count": str(len(rows))})


@router.get(TARIFF_PATH, tags=[TAG])
def get_tariff(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """One tariff with its TariffSet document (``tariff``)."""
    return ExactJSONResponse(service.render_tariff(ctx, service.get_tariff(ctx, tariff_id=id)))


@router.put(TARIFF_BY_NAME_PATH, tags=[TAG], responses={
    200: {"description": "Replaced"},
    201: {"description": "Created", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/RatingTariff"}}}}})
def put_tariff(name: str, body: dict[str, Any],
               ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Create (201) or replace (200) the tariff ``name`` from a TariffSet document:
    ``{"currency", "timeZone", "destinations", "rates", "destinationRates", "timings",
    "ratingPlans", "ratingProfiles"}`` (the shape ``GET …/tariffs/{id}`` shows in
    ``tariff``). Errors name the path of the bad value (``rates[RT_1][0].rateUnit``);
    an id another tariff of the tenant defines differently answers 422
    ``tariff_conflict``."""
    row, created = service.put_tariff(ctx, name=name, document=body)
    return ExactJSONResponse(service.render_tariff(ctx, row),
                             status_code=201 if created else 200)


@router.delete(TARIFF_PATH, tags=[TAG], status_code=204)
def delete_tariff(id: str, ctx: Annotated[Context, Depends(DELETE)]) -> Response:
    """Delete a tariff (rated usage keeps the plan and rate names it was rated with)."""
    service.delete_tariff(ctx, tariff_id=id)
    return Response(status_code=204)


@router.post(COST_PATH, tags=[TAG])
def cost(body: CostRequest, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Price one event as CGRateS's ``GetCost`` does, on the tenant's tariffs: the rating
    profile of (tenant, category, subject) active at ``answerTime`` (``*any`` and
    fallback subjects), the plan's destination rate by longest prefix, increments,
    connect fee, rounding and max cost. Nothing is stored.

    ``usage``: ``"130s"``, ``"2m10s"``, a number of seconds, or units for data/SMS.
    Money (``cost``, ``connectFee``, ``rate``, increment ``cost``) as exact decimal
    strings. 422 ``UNAUTHORIZED_DESTINATION`` (no binding covers the destination),
    ``RATING_PLAN_NOT_FOUND`` (no profile for the subject, no fallback)."""
    return ExactJSONResponse(service.cost(ctx, request=body))
