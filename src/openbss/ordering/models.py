"""Tables of the ordering context: the product inventory (TMF637).

A product is a TMF document in a JSON ``body`` (the validated resource minus ``id``/
``href``) next to typed, indexed columns for what the API filters on and what the rules
read. Its statuses and their transitions are declared once, here (:data:`PRODUCT_STATES`).

- :class:`Product` — one product (subscription) of a billing account;
- :class:`ProductHistory` — every change of a product, append-only, in business time
  (what changed, from what to what, which order item, who);
- :class:`ProductIdentifier` — the identifiers a product holds (MSISDN, IMSI, username …)
  with the business-time interval it held them: at most one *open* claim per identifier
  and tenant (a unique index), so a number belongs to one live product at a time, and
  history says who had it when.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, JSONType, UTCDateTime, new_id
from openbss.core.states import StateMachine


class ProductStatus(StrEnum):
    """TMF637 ``ProductStatusType``."""

    CREATED = "created"
    PENDING_ACTIVE = "pendingActive"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PENDING_TERMINATE = "pendingTerminate"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"
    ABORTED = "aborted"


S = ProductStatus
PRODUCT_STATES = StateMachine("product", ProductStatus, field="status", transitions={
    S.CREATED: {S.PENDING_ACTIVE, S.ACTIVE, S.CANCELLED, S.ABORTED},
    S.PENDING_ACTIVE: {S.ACTIVE, S.CANCELLED, S.ABORTED},
    S.ACTIVE: {S.SUSPENDED, S.PENDING_TERMINATE, S.TERMINATED},
    S.SUSPENDED: {S.ACTIVE, S.PENDING_TERMINATE, S.TERMINATED},
    S.PENDING_TERMINATE: {S.ACTIVE, S.SUSPENDED, S.TERMINATED},
})
#: Statuses in which a product holds its identifiers (a number cannot be given to another).
HOLDING = frozenset({S.CREATED, S.PENDING_ACTIVE, S.ACTIVE, S.SUSPENDED,
                     S.PENDING_TERMINATE})
#: Statuses of a product that never went live: the only ones that may be deleted.
DELETABLE = frozenset({S.CREATED, S.CANCELLED, S.ABORTED})


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (
        Index("ix_product_tenant_account", "tenant_id", "billing_account_id"),
        Index("ix_product_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    offering_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    offering_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # bundle
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    termination_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ProductHistory(Base):
    __tablename__ = "product_history"
    __table_args__ = (Index("ix_product_history_product", "tenant_id", "product_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    product_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … per product
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # business time of the change
    change: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))  # the status after the change
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))


class ProductIdentifier(Base):
    __tablename__ = "product_identifier"
    __table_args__ = (
        # One open claim per identifier and tenant: the database refuses a second holder.
        Index("ux_product_identifier_open", "tenant_id", "name", "value", unique=True,
              sqlite_where=text("valid_to IS NULL"),
              postgresql_where=text("valid_to IS NULL")),
        Index("ix_product_identifier_lookup", "tenant_id", "name", "value", "valid_from"),
        Index("ix_product_identifier_product", "tenant_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    name: Mapped[str] = mapped_column(String(64))  # canonical: msisdn, imsi, username …
    value: Mapped[str] = mapped_column(String(255))
    product_id: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
