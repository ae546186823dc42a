"""Use cases of the shared kernel: tenants, test clocks, API keys, hub listeners."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from openbss.core import audit, clock, events
from openbss.core.auth import create_api_key
from openbss.core.config import get_settings
from openbss.core.context import Context, system_context
from openbss.core.errors import ConflictError, NotFoundError, ValidationError
from openbss.core.models import ApiKey, EventDelivery, HubSubscription, OutboxEvent, Tenant
from openbss.core.money import validate_currency
from openbss.core.periods import add_months

_TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


#: a test clock is always before this instant
CLOCK_END = datetime(9000, 1, 1, tzinfo=UTC)


def create_tenant(
    session: Session,
    *,
    name: str,
    sandbox: bool = False,
    clock_start: datetime | None = None,
    default_region: str | None = None,
    default_currency: str | None = None,
) -> Tenant:
    """Create a tenant; a sandbox tenant starts its test clock at ``clock_start``.

    ``default_region`` (the country of national phone numbers) and ``default_currency``
    (of billing accounts created without one) default to the settings
    ``OPENBSS_DEFAULT_REGION`` and ``OPENBSS_DEFAULT_CURRENCY``.
    """
    settings = get_settings()
    region = _region(default_region or settings.default_region)
    currency = validate_currency((default_currency or settings.default_currency).upper(),
                                 field="default_currency")
    if not _TENANT_NAME.match(name):
        raise ValidationError(
            "tenant names are 1-63 lower-case letters, digits, '-' or '_'", field="name"
        )
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise ConflictError(f"tenant {name!r} already exists", field="name")
    if clock_start is not None and not sandbox:
        raise ValidationError("only sandbox tenants have a test clock", field="clock_start")
    if clock_start is not None and clock_start.tzinfo is None:
        raise ValidationError("clock_start must carry a time zone", field="clock_start")
    try:
        start = (clock_start or clock.utcnow()).astimezone(UTC)  # one reading: time, anchor day
    except OverflowError:
        start = CLOCK_END
    if start >= CLOCK_END:
        raise ValidationError(f"a test clock stays before {CLOCK_END.isoformat()}",
                              field="clock_start")
    tenant = Tenant(
        name=name,
        sandbox=sandbox,
        clock_time=start if sandbox else None,
        clock_anchor_day=start.day if sandbox else None,
        default_region=region,
        default_currency=currency,
    )
    session.add(tenant)
    session.flush()
    ctx = system_context(session, tenant)
    audit.record(ctx, action="create", resource_type="tenant", resource_id=tenant.id,
                 after={"name": name, "sandbox": sandbox, "defaultRegion": region,
                        "defaultCurrency": currency})
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by name (an operator's view across tenants: CLI only)."""
    return list(session.scalars(select(Tenant).order_by(Tenant.name)))


def _region(code: str) -> str:
    region = code.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"default_region: {code!r} is not a country code like DE or US",
                              field="default_region")
    return region


def ensure_tenant(session: Session, name: str, *, region: str | None = None,
                  currency: str | None = None) -> tuple[Tenant, bool]:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is not None:
        return tenant, False
    return create_tenant(session, name=name, default_region=region,
                         default_currency=currency), True


def set_tenant_defaults(ctx: Context, *, region: str | None = None,
                        currency: str | None = None) -> bool:
    """Change a tenant's phone region and/or default currency (audited); True if changed.

    Existing accounts keep their currency; stored phone numbers are already E.164.
    """
    tenant = ctx.tenant
    before = {"defaultRegion": tenant.default_region,
              "defaultCurrency": tenant.default_currency}
    if region is not None:
        tenant.default_region = _region(region)
    if currency is not None:
        tenant.default_currency = validate_currency(currency.upper(),
                                                    field="default_currency")
    after = {"defaultRegion": tenant.default_region,
             "defaultCurrency": tenant.default_currency}
    if after == before:
        return False
    audit.record(ctx, action="update", resource_type="tenant", resource_id=tenant.id,
                 before=before, after=after)
    return True


def make_sandbox(ctx: Context, *, clock_start: datetime) -> None:
    """Put a tenant on a test clock starting at ``clock_start`` (audited): its business
    time is then frozen and moves only with :func:`advance_clock` (``openbss demo`` does
    this to a tenant that holds no data yet, to live through its demo months)."""
    tenant = ctx.tenant
    before = {"sandbox": tenant.sandbox,
              "clock": tenant.clock_time.isoformat() if tenant.clock_time else None}
    tenant.sandbox = True
    tenant.clock_time = clock_start.astimezone(UTC)
    tenant.clock_anchor_day = tenant.clock_time.day
    ctx.now = tenant.clock_time
    audit.record(ctx, action="update", resource_type="tenant", resource_id=tenant.id,
                 before=before, after={"sandbox": True, "clock": ctx.now.isoformat()})


def issue_api_key(ctx: Context, *, role: str, name: str = "") -> str:
    key = create_api_key(ctx.session, tenant=ctx.tenant, role=role, name=name)
    audit.record(ctx, action="create", resource_type="apiKey", resource_id=key.split("_")[1],
                 after={"role": role, "name": name})
    return key


def revoke_api_key(ctx: Context, *, key_id: str) -> None:
    """Revoke a key (by its id, the part after ``obss_``); tokens issued for it stop too."""
    key = ctx.session.scalar(
        select(ApiKey).where(ApiKey.prefix == key_id, ApiKey.tenant_id == ctx.tenant_id)
    )
    if key is None:
        raise NotFoundError(f"no API key {key_id!r} in tenant {ctx.tenant.name!r}", field="id")
    if key.revoked_at is not None:
        return
    key.revoked_at = ctx.now
    audit.record(ctx, action="revoke", resource_type="apiKey", resource_id=key_id,
                 before={"role": key.role, "name": key.name}, after=None)


def list_api_keys(ctx: Context) -> list[ApiKey]:
    return list(ctx.session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == ctx.tenant_id).order_by(ApiKey.created_at)
    ))


def clock_view(ctx: Context) -> dict[str, object]:
    return {
        "@type": "TestClock",
        "tenant": ctx.tenant.name,
        "sandbox": ctx.tenant.sandbox,
        "frozen": ctx.tenant.sandbox,
        "now": ctx.now.isoformat().replace("+00:00", "Z"),
    }


def advance_clock(
    ctx: Context,
    *,
    to: datetime | None = None,
    months: int = 0,
    days: int = 0,
    hours: int = 0,
    seconds: int = 0,
) -> datetime:
    """Move a sandbox tenant's test clock forward (never backward)."""
    tenant = ctx.tenant
    if not tenant.sandbox:
        raise ConflictError(
            "this tenant runs on real time; create a sandbox tenant "
            "('openbss tenant create NAME --sandbox') to use a test clock"
        )
    current = ctx.now
    anchor_day = tenant.clock_anchor_day or current.day
    if to is not None:
        if any((months, days, hours, seconds)):
            raise ValidationError("give either 'to' or an amount to advance by", field="to")
        target = to.astimezone(UTC)
        anchor_day = target.day
    else:
        # Month steps keep the anchor day (31 Jan -> 28 Feb -> 31 Mar), like bill cycles.
        stepped = add_months(current, months, anchor_day=anchor_day) if months else current
        try:
            target = stepped + timedelta(days=days, hours=hours, seconds=seconds)
        except OverflowError:
            raise ValidationError("the clock cannot go that far", field="days") from None
        if days or hours or seconds or not months:
            anchor_day = target.day
    if target < current:
        raise ValidationError(
            f"a test clock only moves forward; it is at {current.isoformat()}", field="to"
        )
    if target >= CLOCK_END:
        # (bill cycles, due dates and notice periods are computed from the clock: a
        # clock in year 9999 would overflow them)
        given = [name for name, amount in (("months", months), ("days", days),
                                           ("hours", hours), ("seconds", seconds)) if amount]
        raise ValidationError(f"a test clock stays before {CLOCK_END.isoformat()}",
                              field="to" if to is not None or not given else given[0])
    before = {"now": current.isoformat()}
    tenant.clock_time = target
    tenant.clock_anchor_day = anchor_day
    ctx.now = target
    audit.record(ctx, action="advance", resource_type="testClock", resource_id=tenant.id,
                 before=before, after={"now": target.isoformat()})
    events.publish(ctx, api="event", event_type="TestClockAdvanceEvent",
                   resource_name="testClock", resource=clock_view(ctx))
    return target


def hub_view(sub: HubSubscription, *, with_secret: bool = False) -> dict[str, object]:
    """A listener as shown (and audited). The signing secret only with ``with_secret``:
    in the answer to its registration, never in audit rows or delivery views."""
    view: dict[str, object] = {"id": sub.id, "callback": sub.callback}
    if sub.query:
        view["query"] = sub.query
    if with_secret:
        view["secret"] = sub.secret
    return view


def register_listener(
    ctx: Context, *, api: str, callback: str, query: str | None, secret: str | None
) -> HubSubscription:
    sub = events.register_listener(ctx, api=api, callback=callback, query=query, secret=secret)
    audit.record(ctx, action="create", resource_type="hub", resource_id=sub.id,
                 after=hub_view(sub))
    return sub


def unregister_listener(ctx: Context, *, api: str, subscription_id: str) -> None:
    sub = events.unregister_listener(ctx, api=api, subscription_id=subscription_id)
    audit.record(ctx, action="delete", resource_type="hub", resource_id=sub.id,
                 before=hub_view(sub))


def delivery_view(delivery: EventDelivery, event: OutboxEvent | None,
                  sub: HubSubscription | None) -> dict[str, object]:
    return {
        "id": delivery.id,
        "eventId": delivery.event_id,
        "eventType": event.event_type if event else None,
        "subscriptionId": delivery.subscription_id,
        "callback": sub.callback if sub else None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": delivery.next_attempt_at.isoformat().replace("+00:00", "Z")
        if delivery.status == "pending" else None,
        "lastError": delivery.last_error,
        "deliveredAt": delivery.delivered_at.isoformat().replace("+00:00", "Z")
        if delivery.delivered_at else None,
    }


def get_delivery(ctx: Context, *, delivery_id: str) -> EventDelivery:
    delivery = ctx.session.scalar(select(EventDelivery).where(
        EventDelivery.id == delivery_id, EventDelivery.tenant_id == ctx.tenant_id))
    if delivery is None:
        raise NotFoundError(f"no event delivery {delivery_id!r}", field="id")
    return delivery


def retry_delivery(ctx: Context, *, delivery_id: str) -> EventDelivery:
    """Queue a dead (or pending) delivery for an immediate new attempt."""
    delivery = get_delivery(ctx, delivery_id=delivery_id)
    if delivery.status == "delivered":
        raise ConflictError(f"event delivery {delivery_id} was already delivered")
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = "pending"
    delivery.next_attempt_at = clock.utcnow()
    ctx.session.flush()
    audit.record(ctx, action="retry", resource_type="eventDelivery", resource_id=delivery.id,
                 before=before, after={"status": "pending"})
    return delivery
