"""Gateway webhooks: ``POST /callbacks/payments/{gateway}/{tenant}`` (``{tenant}``: the
tenant's id). No API key — the gateway's signature is the credential (Stripe:
``Stripe-Signature``, 401 when it does not verify). The event is applied to the payment
whose ``gateway_ref`` it names: ``succeeded`` completes a payment in flight, ``failed``
fails it, ``disputed`` charges a received one back; an event already applied (or about a
payment openbss does not know) changes nothing and answers 200, so the gateway stops
retrying. ``{"received": true, "applied": bool}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from openbss.core.context import load_tenant, system_context
from openbss.core.errors import AuthenticationError, ValidationError
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import document_response
from openbss.core.queries import scoped
from openbss.core.routing import ExactRoute, RawBodyRoute
from openbss.payments import gateways, service
from openbss.payments.models import Payment
from openbss.payments.paths import GATEWAY_WEBHOOK_PATH

router = APIRouter(route_class=ExactRoute)
MAX_BYTES = 1 << 20


async def raw_body(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > MAX_BYTES:
        raise ValidationError(f"body: a webhook is at most {MAX_BYTES} bytes", field="body")
    return raw


def webhook(gateway: str, tenant: str, request: Request,
            body: Annotated[bytes, Depends(raw_body)]) -> JSONResponse:
    session: Session = request.state.session
    owner = load_tenant(session, tenant) if len(tenant) <= 64 else None
    if owner is None:
        raise AuthenticationError("unknown webhook")
    port = gateways.get(gateway, field="gateway")
    event = port.parse_webhook(headers=dict(request.headers), body=body)
    ctx = system_context(session, owner, actor=f"gateway:{gateway}")
    applied = False
    payment = ctx.session.scalars(scoped(ctx, Payment).where(
        Payment.gateway == gateway, Payment.gateway_ref == event.gateway_ref)).first() \
        if event.gateway_ref else None
    if payment is not None:
        before = payment.status
        if event.kind == "succeeded" and payment.status in service.PENDING:
            service.complete_payment(ctx, payment_id=payment.id)
        elif event.kind == "failed" and payment.status in service.PENDING:
            service.fail_payment(ctx, payment_id=payment.id, reason=event.reason or "failed")
        elif event.kind == "disputed" and payment.status == "done":
            service.reverse_payment(ctx, payment_id=payment.id, chargeback=True,
                                    reason=event.reason)
        applied = payment.status != before
    doc: dict[str, Any] = {"received": True, "applied": applied, "event": event.event_id}
    return ExactJSONResponse(doc)


router.add_api_route(
    GATEWAY_WEBHOOK_PATH, webhook, methods=["POST"], tags=["payments"],
    route_class_override=RawBodyRoute, responses={
        401: {"description": "The signature does not verify",
              "content": {"application/json": {"schema": {
                  "$ref": "#/components/schemas/Error"}}}}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object"}}}}})

document_response("post", GATEWAY_WEBHOOK_PATH, {
    "type": "object", "required": ["received", "applied"],
    "properties": {"received": {"type": "boolean"}, "applied": {"type": "boolean"},
                   "event": {"type": "string"}}})
