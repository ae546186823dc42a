"""TMF688 events: the transactional outbox, hub listeners and the delivery worker.

:func:`publish` writes the event, and one delivery row per matching listener, in the
caller's transaction, so an event exists exactly when the change it reports was
committed. The worker (:func:`deliver_due`) POSTs due deliveries to their callbacks
with an HMAC-SHA256 signature, records every attempt and retries with exponential
backoff; deliveries survive restarts because they are rows, not memory.

Who sees what: a listener receives an event only while the API key that registered it
is valid and its CURRENT role may read the API (:func:`openbss.core.permissions.
may_read_api`); each resource in the event is shown through the view filter its context
registered (:func:`register_view_filter`), with that role — the masking a GET by the
role would apply. Listeners registered before owners were recorded get the view of
``read_only``. Hub queries are matched against that same view, so a query cannot probe
masked fields.

Personal data at rest: events about resource types registered with
:func:`openbss.core.audit.register_personal_resource_type` are stored with the resource
sealed by the resource's audit data key (``{"id", "href", "@type", "@encrypted",
"@key"}``); :func:`event_payload` opens it. :func:`openbss.core.audit.shred` destroys
the key: such events can no longer be read, and deliveries still pending send the stub
``{"id", "href", "@type", "@erased": true}`` — the listener learns that an event
happened, never what it said. :func:`redact` replaces the payloads by a plain stub.

Where webhooks go: :mod:`openbss.core.netguard` (SSRF protection) at registration and
at every connection the worker makes.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl

import httpx
import structlog
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Table, bindparam, event, insert, select
from sqlalchemy.orm import Session

from openbss.core import audit, clock, crypto, jsonx, netguard
from openbss.core.config import get_settings
from openbss.core.context import Context
from openbss.core.errors import NotFoundError, PermissionDeniedError, ValidationError
from openbss.core.models import (
    ApiKey,
    AuditDataKey,
    DeliveryAttempt,
    EventDelivery,
    HubSubscription,
    OutboxEvent,
)
from openbss.core.permissions import may_read_api, may_see_personal_data

log = structlog.get_logger("openbss.events")

SIGNATURE_HEADER = "X-OpenBSS-Signature"
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600

# How each resource looks to a role, as a GET would show it: contexts register a filter
# per resource name (the key under ``event`` in the envelope, e.g. "individual") that
# masks what the role may not see. Deliveries apply it with the listener owner's role.
ViewFilter = Callable[[dict[str, Any], str], dict[str, Any]]
VIEW_FILTERS: dict[str, ViewFilter] = {}


# The role whose view a listener gets when nobody owns it (registered before owners
# were recorded, or by the CLI): the most restrictive reader.
OWNERLESS_ROLE = "read_only"
_STUB_KEYS = ("id", "href", "@type", "@referredType")


def register_view_filter(resource_name: str, view_filter: ViewFilter) -> None:
    """Register how ``resource_name`` resources in events are masked for a role."""
    VIEW_FILTERS[resource_name] = view_filter


def _stub(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: resource[k] for k in _STUB_KEYS if k in resource}


def resource_view(name: str, resource: Any, role: str) -> Any:
    """``resource`` (named ``name`` in an event) as ``role`` may see it: through the
    registered view filter; a personal resource type without a filter is reduced to its
    stub for roles that may not see personal data (fail closed)."""
    if not isinstance(resource, dict) or resource.get("@erased"):
        return resource
    view_filter = VIEW_FILTERS.get(name)
    if view_filter is not None:
        return view_filter(copy.deepcopy(resource), role)
    if name in audit.PERSONAL_RESOURCE_TYPES and not may_see_personal_data(role):
        return {**_stub(resource), "@masked": True}
    return resource


def envelope_view(envelope: dict[str, Any], role: str) -> dict[str, Any]:
    """The event envelope with every resource in ``event`` filtered for ``role``."""
    event = envelope.get("event")
    if not isinstance(event, dict):
        return envelope
    return {**envelope,
            "event": {name: resource_view(name, res, role) for name, res in event.items()}}


# --- sealing personal payloads ---------------------------------------------------------

def _fernet(key: AuditDataKey) -> Fernet:
    assert key.key is not None
    return Fernet(crypto.decrypt(key.key).encode())


def _seal(session: Session, tenant_id: str, name: str,
          resource: dict[str, Any]) -> dict[str, Any]:
    key = audit._data_key(session, tenant_id, name, str(resource["id"]))
    token = _fernet(key).encrypt(jsonx.dumps(resource).encode()).decode()
    return {**_stub(resource), "@encrypted": token, "@key": key.id}


def _open(session: Session, sealed: dict[str, Any]) -> dict[str, Any]:
    key = session.get(AuditDataKey, sealed.get("@key"))
    if key is not None and key.key is not None:
        try:
            opened: dict[str, Any] = jsonx.loads(_fernet(key).decrypt(
                str(sealed["@encrypted"]).encode()))
            return opened
        except (InvalidToken, ValueError):
            pass
    return {**_stub(sealed), "@erased": True}


def event_payload(session: Session, event: OutboxEvent) -> dict[str, Any]:
    """The readable envelope of a stored event: sealed personal resources are opened
    (``{"id", "href", "@type", "@erased": true}`` once their key was shredded)."""
    payload: dict[str, Any] = event.payload
    resources = payload.get("event")
    if not isinstance(resources, dict) or not any(
            isinstance(r, dict) and "@encrypted" in r for r in resources.values()):
        return payload
    opened = {name: _open(session, res) if isinstance(res, dict) and "@encrypted" in res
              else res for name, res in resources.items()}
    return {**payload, "event": opened}


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
    plain = jsonx.loads(jsonx.dumps(envelope))
    stored = plain
    if resource_name in audit.PERSONAL_RESOURCE_TYPES and resource.get("id"):
        stored = {**plain, "event": {resource_name: _seal(
            ctx.session, ctx.tenant_id, resource_name, plain["event"][resource_name])}}
    row = OutboxEvent(
        id=event_id,
        tenant_id=ctx.tenant_id,
        api=api,
        event_type=event_type,
        resource_id=str(resource.get("id"))[:64] if resource.get("id") else None,
        event_time=ctx.now,
        correlation_id=envelope["correlationId"],
        payload=stored,
        created_at=clock.utcnow(),
    )
    # Core statements built once, not an ORM flush (this runs on every mutation); the row
    # returned is a record of what was written, not attached to the session.
    session = ctx.session
    if session.new or session.dirty or session.deleted:
        session.flush()  # what the event refers to is written first
    conn = session.connection()
    conn.execute(_INSERT_EVENT, {name: getattr(row, name) for name in _EVENT_COLUMNS})
    # most events have no listener: find that out with one cheap query per transaction
    if not _has_listener(session, ctx.tenant_id, api):
        return row
    subs = list(ctx.session.scalars(
        select(HubSubscription).where(
            HubSubscription.tenant_id == ctx.tenant_id, HubSubscription.api == api
        )
    ))
    if not subs:
        return row
    owners = _owners(ctx.session, (s.owner_key_id for s in subs))
    due = clock.utcnow()
    views: dict[str, dict[str, Any]] = {}
    for sub in subs:
        role, refusal = listener_role(sub, owners)
        if refusal is not None:
            continue  # nothing is queued for a listener whose owner may not read it
        if role not in views:
            try:
                views[role] = envelope_view(plain, role)
            except Exception:  # a broken filter must not break the write: match a stub
                log.exception("event_view_filter_failed", resource=resource_name, role=role)
                views[role] = {**plain, "event": {resource_name: _stub(resource)}}
        if matches(sub.query, views[role]):
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


_EVENT_COLUMNS = ("id", "tenant_id", "api", "event_type", "resource_id", "event_time",
                  "correlation_id", "payload", "created_at")
_INSERT_EVENT = insert(cast(Table, OutboxEvent.__table__))
_HUBS = cast(Table, HubSubscription.__table__)
_ANY_LISTENER = (select(_HUBS.c.id).where(_HUBS.c.tenant_id == bindparam("probe_tenant"),
                                          _HUBS.c.api == bindparam("probe_api")).limit(1))
#: ``session.info`` key of the listener probes' answers, kept for one transaction
_PROBED = "openbss.events.listeners"


def _has_listener(session: Session, tenant_id: str, api: str) -> bool:
    """Whether ``api`` of the tenant has a listener, asked once per transaction (an order's
    fulfilment publishes five events, a bill run hundreds): the answer is forgotten when
    the transaction ends and when a listener is registered or removed in it."""
    probed: dict[tuple[str, str], bool] = session.info.setdefault(_PROBED, {})
    key = (tenant_id, api)
    if key not in probed:
        probed[key] = session.connection().scalar(
            _ANY_LISTENER, {"probe_tenant": tenant_id, "probe_api": api}) is not None
    return probed[key]


@event.listens_for(Session, "after_transaction_end")
def _forget_listeners(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction (not a savepoint) ended
        session.info.pop(_PROBED, None)


def _owners(session: Session, key_ids: Iterable[str | None]) -> dict[str, ApiKey]:
    wanted = {k for k in key_ids if k}
    if not wanted:
        return {}
    return {k.id: k for k in session.scalars(select(ApiKey).where(ApiKey.id.in_(wanted)))}


def listener_role(sub: HubSubscription, owners: dict[str, ApiKey]) -> tuple[str, str | None]:
    """The role whose view ``sub`` receives, and why nothing may be sent (or ``None``):
    the registering key's current role; ``read_only`` for listeners without an owner."""
    if not sub.owner_key_id:
        role = OWNERLESS_ROLE
    else:
        key = owners.get(sub.owner_key_id)
        if key is None or key.tenant_id != sub.tenant_id:
            return "", "not sent: the API key that registered this listener no longer exists"
        if key.revoked_at is not None:
            return "", "not sent: the API key that registered this listener was revoked"
        role = key.role
    if not may_read_api(role, sub.api):
        return role, (f"not sent: the role {role!r} of the key that registered this "
                      f"listener may not read the {sub.api} API")
    return role, None


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
            if isinstance(resource, dict):  # sealed resources keep id/href/@type in clear
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
    """Register a listener owned by the calling key. The caller's role must be able to
    read the API's resources (403), the callback must pass the SSRF guard (422)."""
    if not may_read_api(ctx.role, api):
        raise PermissionDeniedError(
            f"role {ctx.role!r} may not read the {api} API, so it may not listen to its "
            "events", field="role")
    parse_query(query)  # validate now, not at delivery time
    netguard.check_callback(callback, allow_private=get_settings().webhook_allow_private)
    sub = HubSubscription(
        tenant_id=ctx.tenant_id,
        api=api,
        callback=callback,
        query=query,
        secret=secret or secrets.token_urlsafe(24),
        owner_key_id=ctx.key_id or None,
    )
    ctx.session.add(sub)
    ctx.session.flush()
    ctx.session.info.pop(_PROBED, None)
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
    ctx.session.info.pop(_PROBED, None)
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


def _kill(delivery: EventDelivery, reason: str) -> None:
    delivery.status = "dead"
    delivery.last_error = reason


def _generic_error(exc: Exception) -> str:
    """What an attempt records about a failed connection: never the target's words (a
    response body, an OS error naming refused or filtered ports), so eventDeliveries
    cannot be used to scan networks."""
    if isinstance(exc, netguard.RefusedAddress):
        return netguard.REFUSED_MESSAGE
    if isinstance(exc, httpx.TimeoutException):
        return "the listener did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to the listener"
    return "the request to the listener failed"


def deliver_due(
    session: Session,
    *,
    client: httpx.Client | None = None,
    max_attempts: int,
    limit: int = 100,
    now: Callable[[], datetime] = lambda: clock.utcnow(),  # read at call time
) -> int:
    """Attempt every due delivery once; returns how many were attempted.

    ``client`` must be made by :func:`openbss.core.netguard.guarded_client` (the default:
    one is made, and closed, for this call) — its connections are what enforces the
    SSRF guard at delivery time. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so several workers can share the queue. The caller commits.
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
    if not deliveries:
        return 0
    own_client = client is None
    if client is None:
        settings = get_settings()
        client = netguard.guarded_client(allow_private=settings.webhook_allow_private,
                                         timeout=settings.webhook_timeout_seconds)
    try:
        for delivery in deliveries:
            _deliver_one(session, client, delivery, max_attempts=max_attempts, now=now)
    finally:
        if own_client:
            client.close()
    session.flush()
    return len(deliveries)


def _deliver_one(session: Session, client: httpx.Client, delivery: EventDelivery, *,
                 max_attempts: int, now: Callable[[], datetime]) -> None:
    event = session.get(OutboxEvent, delivery.event_id)
    sub = session.get(HubSubscription, delivery.subscription_id)
    if event is None or sub is None:
        _kill(delivery, "listener or event no longer exists")
        return
    role, refusal = listener_role(sub, _owners(session, [sub.owner_key_id]))
    if refusal is not None:
        _kill(delivery, refusal)
        log.info("event_delivery_refused", delivery_id=delivery.id, reason=refusal)
        return
    attempted_at = now()
    started = clock.monotonic()
    status_code: int | None = None
    error: str | None = None
    final = False
    try:
        body = jsonx.dumps(envelope_view(event_payload(session, event), role)).encode()
    except Exception:
        log.exception("event_view_filter_failed", delivery_id=delivery.id)
        body = None
        error = "not sent: the event could not be prepared for this listener's role"
    if body is not None:
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
            if 300 <= status_code < 400:
                error = f"listener answered HTTP {status_code} (redirects are not followed)"
            elif not 200 <= status_code < 300:
                error = f"listener answered HTTP {status_code}"
        except netguard.RefusedAddress as exc:
            error, final = _generic_error(exc), True
        except httpx.HTTPError as exc:
            error = _generic_error(exc)
            log.info("event_delivery_transport_error", delivery_id=delivery.id,
                     exc_type=type(exc).__name__)
    # A refused target leaves no trace of timing either.
    duration = 0 if final else int((clock.monotonic() - started) * 1000)
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
        if final or delivery.attempts >= max_attempts:
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


def publish_many(ctx: Context, *, api: str, event_type: str, resource_name: str,
                 resources: list[dict[str, Any]]) -> int:
    """:func:`publish` for many resources of one kind at once (a bill run's invoices):
    with no listener on ``api`` the events are written with one INSERT (executemany);
    with listeners, each goes through :func:`publish` (its deliveries and view filters)."""
    if not resources:
        return 0
    session = ctx.session
    if session.new or session.dirty or session.deleted:
        session.flush()
    conn = session.connection()
    personal = resource_name in audit.PERSONAL_RESOURCE_TYPES
    if personal or _has_listener(session, ctx.tenant_id, api):
        for resource in resources:
            publish(ctx, api=api, event_type=event_type, resource_name=resource_name,
                    resource=resource)
        return len(resources)
    when = ctx.now.isoformat().replace("+00:00", "Z")
    created = clock.utcnow()
    rows = []
    for resource in resources:
        event_id = secrets.token_hex(16)
        correlation = ctx.correlation_id or ctx.request_id or event_id
        envelope = {"eventId": event_id, "eventTime": when, "timeOcurred": when,
                    "eventType": event_type, "correlationId": correlation, "domain": api,
                    "event": {resource_name: resource}}
        rows.append({"id": event_id, "tenant_id": ctx.tenant_id, "api": api,
                     "event_type": event_type,
                     "resource_id": str(resource.get("id"))[:64] if resource.get("id")
                     else None, "event_time": ctx.now, "correlation_id": correlation,
                     "payload": envelope, "created_at": created})
    conn.execute(_INSERT_EVENT, rows)
    return len(rows)
