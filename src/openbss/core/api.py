"""Routes of the shared kernel: health, metrics, OAuth2 tokens, audit, test clock, hubs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from openbss.core import audit, events, service
from openbss.core.auth import issue_token
from openbss.core.context import Context
from openbss.core.errors import AuthenticationError, BadRequestError
from openbss.core.models import (
    AuditEntry,
    DeliveryAttempt,
    EventDelivery,
    HubSubscription,
    OutboxEvent,
)
from openbss.core.permissions import ANY_ROLE, Requires, hub_roles
from openbss.core.routing import ExactRoute, off_loop
from openbss.core.schemas import ClockAdvance, HubCreate, TokenResponse
from openbss.core.tmf import apply_filters, iso, list_params, list_response, paginate

router = APIRouter(route_class=ExactRoute)


@router.get("/health", tags=["operations"])
async def health() -> dict[str, str]:
    """Liveness: the process answers (on the event loop: no thread, no database)."""
    return {"status": "ok"}


@router.get("/ready", tags=["operations"])
def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers."""
    session: Session = request.state.session
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", tags=["operations"])
def metrics() -> Response:
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.post("/oauth/token", tags=["auth"], response_model=TokenResponse)
def oauth_token(
    request: Request,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """OAuth2 client credentials (RFC 6749 §4.4).

    ``client_id`` is the API key's id (the part after ``obss_``), ``client_secret`` the
    key itself; HTTP Basic auth with the same pair is accepted too.
    """
    if grant_type != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type",
                             "error_description": "only client_credentials is supported"},
                            status_code=400)
    if client_id is None or client_secret is None:
        import base64

        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
                client_id, _, client_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
    if not client_id or not client_secret:
        return JSONResponse({"error": "invalid_request",
                             "error_description": "client_id and client_secret are required"},
                            status_code=400)
    try:
        token, ttl = issue_token(
            request.state.session, client_id=client_id, client_secret=client_secret
        )
    except AuthenticationError as exc:
        return JSONResponse({"error": "invalid_client", "error_description": exc.message},
                            status_code=401, headers={"WWW-Authenticate": "Basic"})
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": ttl},
        headers={"Cache-Control": "no-store"},
    )


def audit_view(row: AuditEntry, session: Session | None = None,
               role: str | None = None) -> dict[str, Any]:
    """An audit row for people; personal payloads are decrypted (or shown erased) and,
    given the reader's ``role``, shown as that role would see the resource in a GET
    (the resource's event view filter: field decryption and masking)."""
    before, after = row.before, row.after
    if session is not None:
        before, after = audit.reveal(session, before), audit.reveal(session, after)
    view = events.VIEW_FILTERS.get(row.resource_type) if role else None
    if view is not None and role is not None:
        before = view(before, role) if isinstance(before, dict) else before
        after = view(after, role) if isinstance(after, dict) else after
    return {
        "id": str(row.seq),
        "seq": row.seq,
        "time": iso(row.occurred_at),
        "actor": row.actor,
        "action": row.action,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "before": before,
        "after": after,
        "requestId": row.request_id,
        "prevHash": row.prev_hash,
        "hash": row.hash,
    }


@router.get("/api/v1/audit", tags=["audit"])
def list_audit(
    request: Request, ctx: Annotated[Context, Depends(Requires.to("audit", "read"))]
) -> JSONResponse:
    """Page through the tenant's audit log, newest first (``sort=seq`` for oldest first)."""
    params = list_params(request)
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == ctx.tenant_id)
    stmt = apply_filters(stmt, params, {
        "action": AuditEntry.action,
        "resourceType": AuditEntry.resource_type,
        "resourceId": AuditEntry.resource_id,
        "actor": AuditEntry.actor,
        "requestId": AuditEntry.request_id,
        "seq": AuditEntry.seq,
        "time": AuditEntry.occurred_at,
    })
    rows, total = paginate(ctx.session, stmt, params, [AuditEntry.seq.desc()])
    return list_response([audit_view(r, ctx.session, ctx.role) for r in rows], total, params)


@router.get("/api/v1/testClock", tags=["test clock"])
def get_clock(
    ctx: Annotated[Context, Depends(Requires.to("testClock", "read"))],
) -> dict[str, object]:
    """The tenant's business time; sandbox tenants run on a test clock."""
    return service.clock_view(ctx)


@router.post("/api/v1/testClock/advance", tags=["test clock"])
def advance_clock(
    body: ClockAdvance, ctx: Annotated[Context, Depends(Requires.to("testClock", "write"))]
) -> dict[str, object]:
    """Move a sandbox tenant's clock forward: ``{"to": "2027-01-01T00:00:00Z"}`` or
    ``{"months": 1, "days": 0, "hours": 0, "seconds": 0}``."""
    if body.to is None and not any((body.months, body.days, body.hours, body.seconds)):
        raise BadRequestError("give 'to' or a positive months/days/hours/seconds", field="to")
    service.advance_clock(ctx, to=body.to, months=body.months, days=body.days,
                          hours=body.hours, seconds=body.seconds)
    return service.clock_view(ctx)


def _deliveries_page(ctx: Context, request: Request) -> JSONResponse:
    params = list_params(request)
    stmt: Any = (
        select(EventDelivery, OutboxEvent, HubSubscription)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
        .join(HubSubscription, HubSubscription.id == EventDelivery.subscription_id,
              isouter=True)
        .where(EventDelivery.tenant_id == ctx.tenant_id)
    )
    stmt = apply_filters(stmt, params, {
        "status": EventDelivery.status,
        "eventType": OutboxEvent.event_type,
        "eventId": EventDelivery.event_id,
        "subscriptionId": EventDelivery.subscription_id,
        "attempts": EventDelivery.attempts,
    })
    total = ctx.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page: Any = ctx.session.execute(
        stmt.order_by(OutboxEvent.event_time.desc(), EventDelivery.id)
        .offset(params.offset).limit(params.limit)
    ).all()
    return list_response([service.delivery_view(*row) for row in page],
                         int(total or 0), params)


@router.get("/api/v1/eventDeliveries", tags=["events"])
def list_deliveries(
    request: Request, ctx: Annotated[Context, Depends(Requires.to("eventDeliveries", "read"))]
) -> JSONResponse:
    """Deliveries of events to hub listeners (``?status=dead`` finds what failed)."""
    return _deliveries_page(ctx, request)


@router.get("/api/v1/eventDeliveries/{id}", tags=["events"])
def get_delivery(
    id: str, ctx: Annotated[Context, Depends(Requires.to("eventDeliveries", "read"))]
) -> JSONResponse:
    """One delivery with every attempt made."""
    delivery = service.get_delivery(ctx, delivery_id=id)
    view = service.delivery_view(delivery, ctx.session.get(OutboxEvent, delivery.event_id),
                                 ctx.session.get(HubSubscription, delivery.subscription_id))
    attempts = ctx.session.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery.id).order_by(DeliveryAttempt.id))
    view["attempt"] = [{"time": iso(a.attempted_at), "httpStatus": a.status_code,
                        "error": a.error, "durationMs": a.duration_ms} for a in attempts]
    return JSONResponse(view)


@router.post("/api/v1/eventDeliveries/{id}/retry", tags=["events"])
def retry_delivery(
    id: str, ctx: Annotated[Context, Depends(Requires.to("eventDeliveries", "write"))]
) -> JSONResponse:
    """Queue a dead delivery for a new attempt now (409 if it was delivered)."""
    delivery = service.retry_delivery(ctx, delivery_id=id)
    return JSONResponse(service.delivery_view(
        delivery, ctx.session.get(OutboxEvent, delivery.event_id),
        ctx.session.get(HubSubscription, delivery.subscription_id)))


def hub_router(api: str, prefix: str, *, roles: tuple[str, ...] = ANY_ROLE) -> APIRouter:
    """``POST /hub`` and ``DELETE /hub/{id}`` (TMF630 listener registration) for one API."""
    hub = APIRouter(prefix=prefix, tags=[f"{api} events"], route_class=ExactRoute)
    # The matrix's "hubs" access narrowed to the roles that may read the API: a role that
    # may not GET the resources may not listen to their events (the service checks it
    # too). Read-only roles and partners may not make openbss call URLs of their choice.
    # The callback is checked against SSRF by the service (core/netguard.py).
    # ``roles`` can only narrow that further.
    writer = Requires(*(hub_roles(api, "write") & frozenset(roles)), family="hubs",
                      access="write")
    remover = Requires(*(hub_roles(api, "delete") & frozenset(roles)), family="hubs",
                       access="delete")

    @hub.post("/hub", status_code=201)
    @off_loop  # resolves the callback's host (DNS): never on the event loop
    def register(body: HubCreate, ctx: Context = Depends(writer)) -> JSONResponse:
        sub = service.register_listener(
            ctx, api=api, callback=str(body.callback), query=body.query, secret=body.secret
        )
        return JSONResponse(service.hub_view(sub, with_secret=True), status_code=201)

    @hub.delete("/hub/{id}", status_code=204)
    def unregister(id: str, ctx: Context = Depends(remover)) -> Response:
        service.unregister_listener(ctx, api=api, subscription_id=id)
        return Response(status_code=204)

    return hub
