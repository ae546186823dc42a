"""TMF688 events: the transactional outbox, hub listeners and the delivery worker.

:func:`publish` writes the event, and one delivery row per matching listener, in the
caller's transaction, so an event exists exactly when the change it reports was
committed. The worker (:func:`deliver_due`) POSTs due deliveries to their callbacks
with an HMAC-SHA256 signature, records every attempt and retries with exponential
backoff; deliveries survive restarts because they are rows, not memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from openbss.core import jsonx
from openbss.core.context import Context
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.models import DeliveryAttempt, EventDelivery, HubSubscription, OutboxEvent

log = structlog.get_logger("openbss.events")

SIGNATURE_HEADER = "X-OpenBSS-Signature"
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600

# How each resource looks to a role, as a GET would show it: contexts register a filter
# per resource name (the key under ``event`` in the envelope, e.g. "individual") that
# masks what the role may not see. Deliveries apply it with the listener owner's role.
ViewFilter = Callable[[dict[str, Any], str], dict[str, Any]]
VIEW_FILTERS: dict[str, ViewFilter] = {}


def register_view_filter(resource_name: str, view_filter: ViewFilter) -> None:
    """Register how ``resource_name`` resources in events are masked for a role."""
    VIEW_FILTERS[resource_name] = view_filter


def _lookup(envelope: dict[str, Any], path: str) -> Any:
    node: Any = envelope
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_query(query: str | None) -> list[tuple[str, list[str]]]:
    """Parse a hub ``query`` such as ``eventType=CustomerCreateEvent,CustomerDeleteEvent``.

    Terms are ``&``-separated ``path=value[,value…]``; ``path`` is dotted into the
    event envelope (``event.customer.status=active``). Every term must match.
    """
    if not query or not query.strip():
        return []
    terms: list[tuple[str, list[str]]] = []
    for raw in query.split("&"):
        if not raw.strip():
            continue
        if "=" not in raw:
            raise ValidationError(
                f"query term {raw!r} must look like 'eventType=SomeEvent'", field="query"
            )
        key, _, value = raw.partition("=")
        pairs = parse_qsl(f"k={value.strip()}", keep_blank_values=True)
        values = [v.strip() for v in pairs[0][1].split(",")] if pairs else [""]
        terms.append((key.strip(), values))
    return terms


def matches(query: str | None, envelope: dict[str, Any]) -> bool:
    for path, values in parse_query(query):
        found = _lookup(envelope, path)
        if found is None or str(found) not in values:
            return False
    return True


def publish(
    ctx: Context,
    *,
    api: str,
    event_type: str,
    resource_name: str,
    resource: dict[str, Any],
) -> OutboxEvent:
    """Write a TMF688 event (and its deliveries) in the caller's transaction."""
    event_id = secrets.token_hex(16)
    envelope = {
        "eventId": event_id,
        "eventTime": ctx.now.isoformat().replace("+00:00", "Z"),
        "timeOcurred": ctx.now.isoformat().replace("+00:00", "Z"),
        "eventType": event_type,
        "correlationId": ctx.correlation_id or ctx.request_id or event_id,
        "domain": api,
        "event": {resource_name: resource},
    }
    row = OutboxEvent(
        id=event_id,
        tenant_id=ctx.tenant_id,
        api=api,
        event_type=event_type,
        resource_id=str(resource.get("id"))[:64] if resource.get("id") else None,
        event_time=ctx.now,
        correlation_id=envelope["correlationId"],
        payload=jsonx.loads(jsonx.dumps(envelope)),
    )
    ctx.session.add(row)
    ctx.session.flush()
    subs = ctx.session.scalars(
        select(HubSubscription).where(
            HubSubscription.tenant_id == ctx.tenant_id, HubSubscription.api == api
        )
    )
    due = datetime.now(UTC)
    for sub in subs:
        if matches(sub.query, row.payload):
            ctx.session.add(
                EventDelivery(
                    tenant_id=ctx.tenant_id,
                    event_id=row.id,
                    subscription_id=sub.id,
                    next_attempt_at=due,
                )
            )
    ctx.session.flush()
    return row


def redact(ctx: Context, *, resource_ids: list[str], resource_view: dict[str, Any]) -> int:
    """Replace the payloads of past events about these resources (data erasure): the
    envelope stays, the resource shrinks to ``resource_view`` plus its ``id``. Returns how
    many events were redacted. Deliveries still pending then carry the redacted form."""
    if not resource_ids:
        return 0
    rows = ctx.session.scalars(select(OutboxEvent).where(
        OutboxEvent.tenant_id == ctx.tenant_id, OutboxEvent.resource_id.in_(resource_ids)))
    count = 0
    for row in rows:
        payload = dict(row.payload)
        event = dict(payload.get("event") or {})
        for name, resource in event.items():
            if isinstance(resource, dict):
                event[name] = {"id": resource.get("id"), "href": resource.get("href"),
                               "@type": resource.get("@type"), **resource_view}
        payload["event"] = event
        row.payload = payload
        count += 1
    ctx.session.flush()
    return count


def register_listener(
    ctx: Context, *, api: str, callback: str, query: str | None, secret: str | None
) -> HubSubscription:
    parse_query(query)  # validate now, not at delivery time
    sub = HubSubscription(
        tenant_id=ctx.tenant_id,
        api=api,
        callback=callback,
        query=query,
        secret=secret or secrets.token_urlsafe(24),
    )
    ctx.session.add(sub)
    ctx.session.flush()
    return sub


def unregister_listener(ctx: Context, *, api: str, subscription_id: str) -> HubSubscription:
    sub = ctx.session.scalar(
        select(HubSubscription).where(
            HubSubscription.id == subscription_id,
            HubSubscription.tenant_id == ctx.tenant_id,
            HubSubscription.api == api,
        )
    )
    if sub is None:
        raise NotFoundError(f"no listener {subscription_id!r}", field="id")
    ctx.session.delete(sub)
    ctx.session.flush()
    return sub


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Signature header value: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes) -> bool:
    """What a listener does to check a delivery came from openbss."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: 5 s, 10 s, 20 s … ≤ 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))


def deliver_due(
    session: Session,
    *,
    client: httpx.Client,
    max_attempts: int,
    limit: int = 100,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Attempt every due delivery once; returns how many were attempted.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers
    can share the queue. The caller commits.
    """
    stmt = (
        select(EventDelivery)
        .where(EventDelivery.status == "pending", EventDelivery.next_attempt_at <= now())
        .order_by(EventDelivery.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    deliveries = list(session.scalars(stmt))
    for delivery in deliveries:
        event = session.get(OutboxEvent, delivery.event_id)
        sub = session.get(HubSubscription, delivery.subscription_id)
        if event is None or sub is None:
            delivery.status = "dead"
            delivery.last_error = "listener or event no longer exists"
            continue
        body = jsonx.dumps(event.payload).encode()
        started = time.monotonic()
        attempted_at = now()
        status_code: int | None = None
        error: str | None = None
        try:
            response = client.post(
                sub.callback,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(sub.secret, int(attempted_at.timestamp()), body),
                    "X-OpenBSS-Event-Id": event.id,
                    "X-OpenBSS-Delivery-Id": delivery.id,
                },
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"listener answered HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration = int((time.monotonic() - started) * 1000)
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                attempted_at=attempted_at,
                status_code=status_code,
                error=error,
                duration_ms=duration,
            )
        )
        delivery.attempts += 1
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = attempted_at
            delivery.last_error = None
        else:
            delivery.last_error = error
            if delivery.attempts >= max_attempts:
                delivery.status = "dead"
            else:
                delivery.next_attempt_at = attempted_at + backoff(delivery.attempts)
        log.info(
            "event_delivery_attempt",
            delivery_id=delivery.id,
            event_type=event.event_type,
            callback=sub.callback,
            status=delivery.status,
            http_status=status_code,
            error=error,
        )
    session.flush()
    return len(deliveries)
