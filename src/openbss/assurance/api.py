"""HTTP route of the assurance context:

- ``GET /api/v1/reconciliation?period=2026-11&currency=EUR`` — the reconciliation report
  (:func:`openbss.assurance.service.reconcile`; the same JSON as ``openbss reconcile
  --json``). Always 200: a report whose ``ok`` is false is an answer, not an error.

Family ``ledger`` (read) of the role matrix: finance, auditors, billing operations.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from openbss.assurance import service
from openbss.assurance.paths import RECONCILIATION_PATH
from openbss.core.context import Context
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import document_response
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute

router = APIRouter(route_class=ExactRoute)
READ = Requires.to("ledger", "read")
TAG = "revenue assurance"


@router.get(RECONCILIATION_PATH, tags=[TAG])
def reconciliation(
    ctx: Annotated[Context, Depends(READ)],
    period: Annotated[str | None, Query(max_length=7, description=(
        "A month (2026-11) or a year (2026), UTC calendar days; none: everything"))] = None,
    currency: Annotated[str | None, Query(max_length=3, description=(
        "ISO 4217 currency of the stage amounts (default: the tenant's)"))] = None,
) -> JSONResponse:
    """Counts and amounts at each stage (usage read → accepted / duplicate / rejected →
    rated → billed → invoiced → paid / outstanding) and the controls that prove them,
    with every difference listed item by item."""
    return ExactJSONResponse(service.reconcile(ctx, period=period, currency=currency))


_AMOUNT = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"}
_REPORT = {
    "type": "object", "required": ["period", "currency", "stages", "checks", "ok"],
    "properties": {
        "period": {"type": ["string", "null"]}, "from": {"type": ["string", "null"]},
        "to": {"type": ["string", "null"]}, "currency": {"type": "string"},
        "asOf": {"type": ["string", "null"]},
        "stages": {"type": "array", "items": {
            "type": "object", "required": ["name", "count", "amount"],
            "properties": {"name": {"type": "string"}, "count": {"type": "integer"},
                           "amount": _AMOUNT}}},
        "rejectedByReason": {"type": "object", "additionalProperties": {"type": "integer"}},
        "checks": {"type": "array", "items": {
            "type": "object", "required": ["name", "ok", "differences"],
            "properties": {"name": {"type": "string"}, "ok": {"type": "boolean"},
                           "description": {"type": "string"},
                           "differences": {"type": "array", "items": {"type": "object"}},
                           "moreDifferences": {"type": "integer"}}}},
        "ok": {"type": "boolean"}}}
document_response("get", RECONCILIATION_PATH, _REPORT, component="Reconciliation")
