"""Tables of the shared kernel: tenants, API keys, audit log, idempotency, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, JSONType, UTCDateTime, new_id, utcnow_column_default


class Tenant(Base):
    """An isolated operator (or sandbox). Every business row carries ``tenant_id``."""

    __tablename__ = "tenant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sandbox tenants run on a test clock: the frozen "now" an admin sets and advances.
    clock_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The day of the month that month steps of the test clock aim for (31: Jan 31, Feb 28,
    # Mar 31 ...); set when the clock is set or moved by anything but whole months.
    clock_anchor_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    # The currency of billing accounts created without one (TMF666 v4 has no currency).
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)


class ApiKey(Base):
    """An API key; only its SHA-256 hash is stored."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """Append-only, hash-chained per tenant (``seq`` 1, 2, 3 …)."""

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("tenant_id", "seq", name="uq_audit_entry_tenant_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditDataKey(Base):
    """A data key that encrypts the audit payloads of one personal-data resource.

    Erasing the person destroys the key (``key`` set to NULL): the audit rows keep their
    hashes, so the chain still verifies, but their payloads can no longer be read
    (crypto-shredding)."""

    __tablename__ = "audit_data_key"
    __table_args__ = (Index("ix_audit_data_key_resource", "tenant_id", "resource_type",
                            "resource_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRecord(Base):
    """The stored answer to a POST made with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key", name="uq_idempotency_record_tenant_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_progress | done
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_headers: Mapped[Any] = mapped_column(JSONType, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)


class OutboxEvent(Base):
    """A TMF688 event written in the same transaction as the change it reports."""

    __tablename__ = "outbox_event"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    api: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    correlation_id: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)


class HubSubscription(Base):
    """A listener registered through ``POST /hub`` of one TMF API."""

    __tablename__ = "hub_subscription"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    api: Mapped[str] = mapped_column(String(64))
    callback: Mapped[str] = mapped_column(String(2000))
    query: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    secret: Mapped[str] = mapped_column(String(128))
    # The API key that registered the listener: events are filtered by its current role.
    owner_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_key.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)


class EventDelivery(Base):
    """One event owed to one listener; retried with backoff until delivered or dead."""

    __tablename__ = "event_delivery"
    __table_args__ = (Index("ix_event_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_event.id"))
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("hub_subscription.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeliveryAttempt(Base):
    """The record of one HTTP attempt to deliver an event."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("event_delivery.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class TenantDataKey(Base):
    """A tenant's key for personal data at rest (envelope encryption, core.crypto).

    ``purpose`` is ``data`` (AES-256-GCM field encryption; the newest active one encrypts,
    retired ones still decrypt) or ``index`` (HMAC-SHA256 blind indexes for exact search).
    ``wrapped_key`` is the key encrypted under the key-encryption key derived from
    ``OPENBSS_SECRET_KEY``; ``kek_id`` names that KEK so a wrong secret is detected."""

    __tablename__ = "tenant_data_key"
    __table_args__ = (Index("ix_tenant_data_key_tenant", "tenant_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    purpose: Mapped[str] = mapped_column(String(16))  # data | index
    wrapped_key: Mapped[str] = mapped_column(Text)
    kek_id: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TenantSetting(Base):
    """A tenant's settings of one group (``provisioning``, ``billing`` …): a JSON object
    that the owning context validates with its schema (``GET``/``PATCH
    /api/v1/settings/{group}``)."""

    __tablename__ = "tenant_setting"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_tenant_setting_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
