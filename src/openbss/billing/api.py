"""HTTP routes of the billing context: TMF678 Customer Bill Management and the billing
routes TMF lacks (``/api/v1``).

- ``GET customerBill`` (filters ``billingAccount.id``, ``state``, ``billDate.gte``/``.lt``
  …), ``GET customerBill/{id}``, ``PATCH customerBill/{id}`` (``state`` only: an issued
  bill is immutable);
- ``GET appliedCustomerBillingRate`` (``bill.id``) and ``/{id}``;
- ``POST customerBillOnDemand``: the pro-forma of the account's next bill; nothing is
  stored and no number is consumed, so there is nothing to list or read back (no
  ``GET customerBillOnDemand``, ``…/{id}`` is 404);
- ``POST /api/v1/customerBills/{id}/creditNotes``, ``GET /api/v1/customerBills/{id}/
  document`` (the PDF, rendered once);
- ``POST``/``GET /api/v1/billingAccounts/{id}/charges``, ``DELETE …/charges/{charge_id}``;
- ``POST /api/v1/billRuns`` (202), ``GET /api/v1/billRuns``, ``GET /api/v1/billRuns/{id}``;
- the settings groups ``billing`` and ``billingDocument``.

Family ``billing`` of the role matrix (read, write, delete).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from openbss.billing import documents, invoices, queries, schemas
from openbss.billing.paths import (
    BILL_API,
    BILL_PREFIX,
    BILL_RUN_ITEM,
    BILL_RUNS_PATH,
    BILLING_RATE_ITEM,
    BILLING_RATE_PATH,
    CHARGE_ITEM,
    CHARGES_PATH,
    CREDIT_NOTES_PATH,
    CUSTOMER_BILL_ITEM,
    CUSTOMER_BILL_PATH,
    DOCUMENT_PATH,
    ON_DEMAND_PATH,
)
from openbss.billing.settings import GROUP as BILLING_GROUP
from openbss.billing.settings import BillingSettings
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import list_filters, request_body
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, json_body
from openbss.core.tenant_settings import add_settings_routes
from openbss.core.tmf import list_params, list_response, require_merge_patch, resource_response

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [(BILL_API, BILL_PREFIX)]
READ = Requires.to("billing", "read")
WRITE = Requires.to("billing", "write")
DELETE = Requires.to("billing", "delete")
TAG = "customerBillManagement (TMF678)"
OWN_TAG = "billing"
Body = Annotated[Any, Depends(json_body)]

list_filters(CUSTOMER_BILL_PATH, queries.BILL_FILTERS)
list_filters(BILLING_RATE_PATH, queries.LINE_FILTERS)
list_filters(BILL_RUNS_PATH, queries.RUN_FILTERS)


# -- customerBill ------------------------------------------------------------------------------

@router.get(CUSTOMER_BILL_PATH, tags=[TAG], name="list customerBill")
def list_bills(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Invoices and credit notes, newest first. Filters: ``billingAccount.id``, ``state``,
    ``category``, ``billNo``, ``billDate`` (``.gte``/``.lt`` …), ``paymentDueDate``."""
    params = list_params(request)
    rows, total = invoices.list_bills(ctx, params=params)
    return list_response([invoices.render_bill(ctx, r) for r in rows], total, params)


@router.get(CUSTOMER_BILL_ITEM, tags=[TAG], name="get customerBill")
def get_bill(id: str, request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    return resource_response(invoices.render_bill(ctx, invoices.get_bill(ctx, bill_id=id)),
                             request)


@router.patch(CUSTOMER_BILL_ITEM, tags=[TAG], name="patch customerBill",
              openapi_extra=request_body(schemas.CustomerBillUpdate, patch=True))
def patch_bill(id: str, request: Request, body: Body,
               ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Change the bill's ``state`` (new → validated → sent → settled / partiallyPaid,
    onHold). Any other attribute: 409 ``INVOICE_ALREADY_ISSUED`` (a known one) or 422."""
    require_merge_patch(request)
    invoices.get_bill(ctx, bill_id=id)  # another tenant's id: 404 before any body check
    row = invoices.update_state(ctx, bill_id=id, patch=body)
    return resource_response(invoices.render_bill(ctx, row), request)


# -- appliedCustomerBillingRate ----------------------------------------------------------------

@router.get(BILLING_RATE_PATH, tags=[TAG], name="list appliedCustomerBillingRate")
def list_rates(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Invoice lines; ``?bill.id=`` gives one bill's lines in order."""
    params = list_params(request)
    rows, total = invoices.list_lines(ctx, params=params)
    return list_response(invoices.render_lines(ctx, rows), total, params)


@router.get(BILLING_RATE_ITEM, tags=[TAG], name="get appliedCustomerBillingRate")
def get_rate(id: str, request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    return resource_response(invoices.render_line(ctx, invoices.get_line(ctx, line_id=id)),
                             request)


# -- customerBillOnDemand ----------------------------------------------------------------------

@router.post(ON_DEMAND_PATH, tags=[TAG], status_code=201, name="create customerBillOnDemand",
             openapi_extra=request_body(schemas.CustomerBillOnDemandCreate))
def bill_on_demand(request: Request, body: Body,
                   ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """The pro-forma of the account's next bill as it stands now (``customerBill``):
    nothing is issued, stored or numbered."""
    data = validated(schemas.CustomerBillOnDemandCreate, body)
    account = invoices.on_demand_account(ctx, data=data)
    from openbss.billing import billrun

    outcomes = billrun.bill_accounts(ctx, [account.id], as_of=ctx.now, dry_run=True)
    issued = next((o.issued for o in outcomes if getattr(o, "issued", None) is not None),
                  None)
    return ExactJSONResponse(invoices.render_on_demand(ctx, data=data, account=account,
                                                       issued=issued), status_code=201)


# -- credit notes and documents ----------------------------------------------------------------

@router.post(CREDIT_NOTES_PATH, tags=[OWN_TAG], status_code=201,
             openapi_extra=request_body(schemas.CreditNoteCreate))
def credit_note(id: str, request: Request, body: Body,
                ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Credit the invoice ``id``: ``{"full": true}``, ``{"lines": [{"line": id,
    "amount"?: {unit, value}}]}`` or ``{"amount": {unit, value}}`` (tax excluded), with
    an optional ``reason``. 201 with the credit note (``category`` creditNote,
    ``correctsBill``). 409 ``CREDIT_EXCEEDS_CREDITABLE`` / ``NOT_CREDITABLE``."""
    invoices.get_bill(ctx, bill_id=id)  # another tenant's id: 404 before any body check
    data = validated(schemas.CreditNoteCreate, body)
    note = invoices.create_credit_note(ctx, bill_id=id, data=data)
    return resource_response(invoices.render_bill(ctx, note), request, 201)


@router.get(DOCUMENT_PATH, tags=[OWN_TAG], response_class=Response, responses={
    200: {"description": "The PDF", "content": {"application/pdf": {
        "schema": {"type": "string", "format": "binary"}}}}})
def bill_document(id: str, ctx: Annotated[Context, Depends(READ)]) -> Response:
    """The bill's PDF: rendered on first download and stored; later downloads get the
    same bytes."""
    doc = invoices.document(ctx, bill_id=id)
    return Response(content=doc.content, media_type=doc.media_type,
                    headers={"ETag": f'"{doc.sha256}"'})


# -- manual charges ----------------------------------------------------------------------------

@router.post(CHARGES_PATH, tags=[OWN_TAG], status_code=201,
             openapi_extra=request_body(schemas.ChargeCreate))
def create_charge(id: str, body: Body, ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """A manual one-off ``charge`` or ``credit`` (positive ``amount`` in the account's
    currency) for the account's next invoice."""
    invoices.list_charges(ctx, account_id=id)  # 404 for another tenant's account first
    data = validated(schemas.ChargeCreate, body)
    row = invoices.create_charge(ctx, account_id=id, data=data)
    doc = invoices.render_charge(ctx, row)
    return ExactJSONResponse(doc, status_code=201, headers={"Location": doc["href"]})


@router.get(CHARGES_PATH, tags=[OWN_TAG])
def list_charges(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """The account's manual charges and credits, oldest first, with their bill once
    billed."""
    rows = invoices.list_charges(ctx, account_id=id)
    return ExactJSONResponse([invoices.render_charge(ctx, r) for r in rows],
                             headers={"X-Total-Count": str(len(rows)),
                                      "X-Result-Count": str(len(rows))})


@router.delete(CHARGE_ITEM, tags=[OWN_TAG], status_code=204)
def delete_charge(id: str, charge_id: str,
                  ctx: Annotated[Context, Depends(DELETE)]) -> Response:
    """Delete a manual charge not billed yet (409 ``CHARGE_ALREADY_BILLED``)."""
    invoices.delete_charge(ctx, account_id=id, charge_id=charge_id)
    return Response(status_code=204)


# -- bill runs ---------------------------------------------------------------------------------

@router.post(BILL_RUNS_PATH, tags=[OWN_TAG], status_code=202,
             openapi_extra=request_body(schemas.BillRunCreate))
def start_bill_run(body: Body, ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Start a bill run up to ``asOf`` (all billing accounts, or ``billingAccounts``);
    ``dryRun`` issues nothing. 202 with the run; ``GET /api/v1/billRuns/{id}`` follows
    it."""
    data = validated(schemas.BillRunCreate, body)
    from openbss.billing import billrun  # imported late: it starts worker processes

    run = billrun.submit(ctx, as_of=data.as_of, account_ids=data.billing_accounts,
                         dry_run=data.dry_run)
    doc = billrun.render_run(run)
    return ExactJSONResponse(doc, status_code=202,
                             headers={"Location": str(doc.get("href", ""))})


@router.get(BILL_RUNS_PATH, tags=[OWN_TAG])
def list_bill_runs(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """The tenant's bill runs, newest first (``state``, ``dryRun`` filters)."""
    params = list_params(request)
    rows, total = queries.list_bill_runs(ctx, params)
    if not rows:
        return list_response([], total, params)
    from openbss.billing import billrun

    return list_response([billrun.render_run(r) for r in rows], total, params)


@router.get(BILL_RUN_ITEM, tags=[OWN_TAG])
def get_bill_run(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """One bill run: state, progress and results."""
    run = queries.bill_run(ctx, id)
    from openbss.billing import billrun

    return ExactJSONResponse(billrun.render_run(run))


# -- settings ----------------------------------------------------------------------------------

add_settings_routes(router, BILLING_GROUP, BillingSettings,
                    read_dep=Requires.to("settings", "read"),
                    write_dep=Requires.to("settings", "write"))


add_settings_routes(router, documents.TEMPLATE_GROUP, documents.DocumentTemplate,
                    read_dep=Requires.to("settings", "read"),
                    write_dep=Requires.to("settings", "write"))
