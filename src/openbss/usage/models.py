"""Tables of the usage context (TMF635).

- :class:`UsageRecord` — one usage record as accepted (or rejected): the normalised,
  typed columns the pipeline and the API filter on (UTC ``usage_date``, ``usage_type``,
  ``metric``, ``quantity`` in base units, the identifier it was guided by, the E.164
  destination), the product and billing account it was guided to, its status and, when
  rejected, the reason code. ``dedup_key`` (SHA-256 of the source and the record's key)
  is unique per tenant: the database itself refuses a second copy, whatever the path
  (API, bulk, file import), across restarts and concurrent requests. ``body`` holds the
  rest of the TMF document (``usageCharacteristic``, ``relatedParty`` …; for a reject the
  raw record, so it can be reprocessed); file imports may leave it empty (the API renders
  the document from the columns).
- :class:`UsageSpecification` — TMF635 ``usageSpecification`` documents.

Statuses are TMF635's ``UsageStatusType`` with one machine (:data:`USAGE_STATES`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, ExactDecimal, JSONType, UTCDateTime, new_id
from openbss.core.states import StateMachine


class UsageStatus(StrEnum):
    """TMF635 ``UsageStatusType``."""

    RECEIVED = "received"
    REJECTED = "rejected"
    RECYCLED = "recycled"
    GUIDED = "guided"
    RATED = "rated"
    RERATED = "rerated"
    BILLED = "billed"


class RejectReason(StrEnum):
    """Why a record was rejected (stored with it; ``openbss usage rejects``)."""

    MALFORMED = "malformed"
    UNKNOWN_IDENTIFIER = "unknown_identifier"
    PRODUCT_INACTIVE = "product_inactive"
    INVALID_QUANTITY = "invalid_quantity"
    PERIOD_CLOSED = "period_closed"
    UNRATED_DESTINATION = "unrated_destination"


U = UsageStatus
USAGE_STATES = StateMachine("usage", UsageStatus, field="status", transitions={
    U.RECEIVED: {U.GUIDED, U.RATED, U.REJECTED},
    U.GUIDED: {U.RATED, U.REJECTED},
    # reprocessing a reject: it is recycled, then guided / rated or rejected again
    U.REJECTED: {U.RECYCLED, U.GUIDED, U.RATED, U.REJECTED},
    U.RECYCLED: {U.GUIDED, U.RATED, U.REJECTED},
    U.RATED: {U.RERATED, U.BILLED},
    U.RERATED: {U.RERATED, U.BILLED},
    U.BILLED: {U.RERATED},
})


class UsageRecord(Base):
    __tablename__ = "usage_record"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedup_key", name="uq_usage_record_dedup"),
        Index("ix_usage_record_status", "tenant_id", "status", "reject_reason"),
        Index("ix_usage_record_date", "tenant_id", "usage_date"),
        Index("ix_usage_record_account", "tenant_id", "billing_account_id", "usage_date"),
        Index("ix_usage_record_product", "tenant_id", "product_id", "usage_date"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    source: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    usage_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    usage_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    metric: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(16), nullable=True)
    identifier_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    identifier_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    destination: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reject_detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    product_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    party_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    usage_specification_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # business time
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    #: how many copies of this record arrived after it (each answered ``duplicate``): the
    #: revenue-assurance count ``read = accepted + duplicates + rejected`` (assurance)
    duplicates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class UsageSpecification(Base):
    __tablename__ = "usage_specification"
    __table_args__ = (Index("ix_usage_specification_name", "tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
