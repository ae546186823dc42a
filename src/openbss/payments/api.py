"""HTTP routes of the payments context: TMF676 ``payment`` and ``refund``, and what TMF
lacks under ``/api/v1`` — allocating a payment's unapplied amount, reversals and
chargebacks, writing a bill off, the ``payments`` settings. The routers of the other
payments modules (methods, SEPA files and statements, dunning, gateway webhooks) are
included here.

Family ``payment`` of the role matrix (read, write).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from openbss.billing.invoices import render_bill
from openbss.core.context import Context
from openbss.core.crud import TmfResource, add_resource_routes, validated
from openbss.core.openapi import document_response, request_body
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, json_body
from openbss.core.tenant_settings import add_settings_routes
from openbss.core.tmf import resource_response
from openbss.payments import (
    api_collections,
    api_dunning,
    api_gateways,
    api_methods,
    schemas,
    service,
)
from openbss.payments import settings as payment_settings
from openbss.payments.paths import (
    ALLOCATIONS_PATH,
    CHARGEBACK_PATH,
    METHOD_API,
    METHOD_PREFIX,
    PAYMENT_API,
    PAYMENT_PATH,
    PAYMENT_PREFIX,
    REFUND_PATH,
    REVERSAL_PATH,
    WRITE_OFF_PATH,
)

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [(PAYMENT_API, PAYMENT_PREFIX), (METHOD_API, METHOD_PREFIX)]
READ = Requires.to("payment", "read")
WRITE = Requires.to("payment", "write")
TAG = "paymentManagement (TMF676)"
OWN_TAG = "payments"
Body = Annotated[Any, Depends(json_body)]

add_resource_routes(router, TmfResource(
    name="payment", path=PAYMENT_PATH, tag=TAG, schema=schemas.PaymentCreate,
    read=READ, write=WRITE, create=service.create_payment, find=service.list_payments,
    get=lambda ctx, id: service.get_payment(ctx, payment_id=id),
    render=service.render_payment, filters=tuple(service.PAYMENT_FILTERS)))

add_resource_routes(router, TmfResource(
    name="refund", path=REFUND_PATH, tag=TAG, schema=schemas.RefundCreate,
    read=READ, write=WRITE, create=service.create_refund, find=service.list_refunds,
    get=lambda ctx, id: service.get_refund(ctx, refund_id=id),
    render=service.render_refund, filters=tuple(service.REFUND_FILTERS)))


@router.post(ALLOCATIONS_PATH, tags=[OWN_TAG], openapi_extra=request_body(
    schemas.AllocationCreate))
def allocate(id: str, request: Request, body: Body,
             ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Apply the payment's unapplied amount to bills: ``paymentItem`` (bill and amount
    each), or none for the account's open bills oldest due first. 409
    ``NOTHING_TO_ALLOCATE`` when nothing is unapplied."""
    payment = service.get_payment(ctx, payment_id=id)
    data = validated(schemas.AllocationCreate, body)
    row = service.allocate(ctx, payment_id=payment.id, allocations=service.items_of(
        data.payment_item, payment.currency))
    return resource_response(service.render_payment(ctx, row), request)


def _undo(id: str, request: Request, body: Any, ctx: Context, *, chargeback: bool
          ) -> JSONResponse:
    service.get_payment(ctx, payment_id=id)
    data = validated(schemas.ReversalCreate, body)
    payment = service.get_payment(ctx, payment_id=id)
    if data.fee_amount is not None and data.fee_amount.unit != payment.currency:
        from openbss.payments.errors import WrongCurrency

        raise WrongCurrency(f"feeAmount.unit: the payment is in {payment.currency}",
                            field="feeAmount.unit")
    row = service.reverse_payment(ctx, payment_id=id, reason=data.reason,
                                  chargeback=chargeback,
                                  fee=data.fee_amount.value if data.fee_amount else
                                  service.ZERO)
    return resource_response(service.render_payment(ctx, row), request)


@router.post(REVERSAL_PATH, tags=[OWN_TAG], openapi_extra=request_body(
    schemas.ReversalCreate))
def reverse(id: str, request: Request, body: Body,
            ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """A received payment came back (a returned direct debit, a bounced transfer): its
    allocations are undone, the bills owe again (state ``sent``/``partiallyPaid``), the
    ledger posts the reverse. A payment in flight is failed. 409
    ``PAYMENT_NOT_REVERSIBLE`` otherwise."""
    return _undo(id, request, body, ctx, chargeback=False)


@router.post(CHARGEBACK_PATH, tags=[OWN_TAG], openapi_extra=request_body(
    schemas.ReversalCreate))
def chargeback(id: str, request: Request, body: Body,
               ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """The card holder's bank took a payment back (``chargedBack``), with the bank's fee
    (``feeAmount``) if any: like a reversal, the fee posted to payment fees."""
    return _undo(id, request, body, ctx, chargeback=True)


@router.post(WRITE_OFF_PATH, tags=[OWN_TAG], openapi_extra=request_body(
    schemas.WriteOffCreate))
def write_off(id: str, request: Request, body: Body,
              ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Write off what the invoice still owes (or ``amount`` of it) as bad debt; the bill
    with its new remaining amount."""
    from openbss.billing.queries import invoice

    bill = invoice(ctx, id)
    data = validated(schemas.WriteOffCreate, body)
    if data.amount is not None and data.amount.unit != bill.currency:
        from openbss.payments.errors import WrongCurrency

        raise WrongCurrency(f"amount.unit: the bill is in {bill.currency}",
                            field="amount.unit")
    row = service.write_off(ctx, bill_id=bill.id, amount=data.amount.value if data.amount
                            else None, reason=data.reason)
    return resource_response(render_bill(ctx, row), request)


add_settings_routes(router, payment_settings.GROUP, payment_settings.PaymentSettings,
                    read_dep=Requires.to("settings", "read"),
                    write_dep=Requires.to("settings", "write"))

for _sub in (api_methods, api_collections, api_dunning, api_gateways):
    router.include_router(_sub.router)

for _method, _path, _schema in (
        ("post", ALLOCATIONS_PATH, {"$ref": "#/components/schemas/TMF676.Payment"}),
        ("post", REVERSAL_PATH, {"$ref": "#/components/schemas/TMF676.Payment"}),
        ("post", CHARGEBACK_PATH, {"$ref": "#/components/schemas/TMF676.Payment"}),
        ("post", WRITE_OFF_PATH, {"$ref": "#/components/schemas/TMF678.CustomerBill"}),
        ("get", "/api/v1/settings/payments",
         {"$ref": "#/components/schemas/payments.PaymentSettings"}),
        ("patch", "/api/v1/settings/payments",
         {"$ref": "#/components/schemas/payments.PaymentSettings"})):
    document_response(_method, _path, _schema)
