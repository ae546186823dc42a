"""Tables of the ordering context: quotes (TMF648), product orders and their orchestration
(TMF622, provisioning through TMF641), and the product inventory (TMF637).

A product is a TMF document in a JSON ``body`` (the validated resource minus ``id``/
``href``) next to typed, indexed columns for what the API filters on and what the rules
read. Its statuses and their transitions are declared once, here (:data:`PRODUCT_STATES`).

- :class:`Product` — one product (subscription) of a billing account;
- :class:`ProductHistory` — every change of a product, append-only, in business time
  (what changed, from what to what, which order item, who);
- :class:`ProductIdentifier` — the identifiers a product holds (MSISDN, IMSI, username …)
  with the business-time interval it held them: at most one *open* claim per identifier
  and tenant (a unique index), so a number belongs to one live product at a time, and
  history says who had it when;
- :class:`Quote`, :class:`ProductOrder` (+ :class:`ProductOrderItem` rows),
  :class:`CancelProductOrder` — TMF documents next to the columns the rules read;
- :class:`FulfilmentStep` — the orchestration's work queue: one row per item to provision
  or compensate, run by the worker (a restart loses nothing; ``external_id`` makes a re-sent
  provisioning request idempotent);
- :class:`ProductCharge` — one-time charges a product incurred (early-termination fees),
  exact Money at business time, for billing to invoice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, ExactDecimal, JSONType, UTCDateTime, new_id
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


# -- quotes (TMF648) -----------------------------------------------------------------------

class QuoteState(StrEnum):
    """TMF648 ``QuoteStateType``."""

    IN_PROGRESS = "inProgress"
    PENDING = "pending"
    APPROVED = "approved"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


Q = QuoteState
QUOTE_STATES = StateMachine("quote", QuoteState, field="state", transitions={
    Q.IN_PROGRESS: {Q.PENDING, Q.CANCELLED},
    Q.PENDING: {Q.APPROVED, Q.REJECTED, Q.IN_PROGRESS, Q.CANCELLED},
    Q.APPROVED: {Q.ACCEPTED, Q.REJECTED, Q.CANCELLED},
})


class Quote(Base):
    """A quote; its items, prices and notes live in the TMF document ``body``."""

    __tablename__ = "quote"
    __table_args__ = (Index("ix_quote_tenant_state", "tenant_id", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    quote_date: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    product_order_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


# -- product orders (TMF622) -------------------------------------------------------------

class OrderState(StrEnum):
    """TMF622 ``ProductOrderStateType`` (items use the same values but ``partial``)."""

    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    ASSESSING_CANCELLATION = "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation"


OS = OrderState
ORDER_STATES = StateMachine("productOrder", OrderState, field="state", transitions={
    OS.ACKNOWLEDGED: {OS.IN_PROGRESS, OS.PENDING, OS.HELD, OS.REJECTED,
                     OS.ASSESSING_CANCELLATION, OS.CANCELLED},
    OS.PENDING: {OS.IN_PROGRESS, OS.HELD, OS.ASSESSING_CANCELLATION, OS.CANCELLED, OS.FAILED},
    OS.HELD: {OS.IN_PROGRESS, OS.PENDING, OS.ASSESSING_CANCELLATION, OS.CANCELLED, OS.FAILED},
    OS.IN_PROGRESS: {OS.COMPLETED, OS.FAILED, OS.PARTIAL, OS.HELD, OS.PENDING},
    OS.ASSESSING_CANCELLATION: {OS.PENDING_CANCELLATION, OS.ACKNOWLEDGED, OS.PENDING, OS.HELD,
                               OS.IN_PROGRESS},
    OS.PENDING_CANCELLATION: {OS.CANCELLED},
})
ITEM_STATES = StateMachine("productOrderItem", OrderState, field="state", transitions={
    OS.ACKNOWLEDGED: {OS.IN_PROGRESS, OS.PENDING, OS.HELD, OS.REJECTED,
                     OS.ASSESSING_CANCELLATION, OS.CANCELLED},
    OS.PENDING: {OS.IN_PROGRESS, OS.HELD, OS.ASSESSING_CANCELLATION, OS.CANCELLED, OS.FAILED},
    OS.HELD: {OS.IN_PROGRESS, OS.PENDING, OS.ASSESSING_CANCELLATION, OS.CANCELLED, OS.FAILED},
    OS.IN_PROGRESS: {OS.COMPLETED, OS.FAILED, OS.HELD, OS.PENDING},
    OS.COMPLETED: {OS.CANCELLED},  # compensated: its product was removed again
    OS.ASSESSING_CANCELLATION: {OS.PENDING_CANCELLATION, OS.ACKNOWLEDGED, OS.PENDING, OS.HELD,
                               OS.IN_PROGRESS},
    OS.PENDING_CANCELLATION: {OS.CANCELLED},
})
#: Order states in which an order is still open (it may change its products).
OPEN_ORDER_STATES = frozenset({OS.ACKNOWLEDGED, OS.PENDING, OS.HELD, OS.IN_PROGRESS,
                               OS.ASSESSING_CANCELLATION, OS.PENDING_CANCELLATION})


class ItemAction(StrEnum):
    """TMF622 ``OrderItemActionType``."""

    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"
    NO_CHANGE = "noChange"


class ProductOrder(Base):
    """A product order; the TMF document (items, prices, notes, milestones) is ``body``,
    its items are also rows of :class:`ProductOrderItem` for the rules and the worker."""

    __tablename__ = "product_order"
    __table_args__ = (Index("ix_product_order_tenant_state", "tenant_id", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quote_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    order_date: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_start_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requested_completion_date: Mapped[datetime | None] = mapped_column(UTCDateTime,
                                                                       nullable=True)
    completion_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Provisioning of some item has started: from then on a cancel is refused.
    provisioning_started: Mapped[bool] = mapped_column(Boolean, default=False)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ProductOrderItem(Base):
    __tablename__ = "product_order_item"
    __table_args__ = (
        Index("ix_product_order_item_order", "tenant_id", "order_id", "position"),
        Index("ix_product_order_item_product", "tenant_id", "product_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    order_id: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(64))  # the TMF item id inside the order
    position: Mapped[int] = mapped_column(Integer)  # index in productOrderItem[]
    action: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    #: The inventory product: the one changed (modify/delete) or the one created (add).
    product_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    offering_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class StepState(StrEnum):
    WAITING = "waiting"  # for its prerequisites or its requested start date
    READY = "ready"
    RUNNING = "running"  # submitted to the provisioning adapter, result not known yet
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ST = StepState
STEP_STATES = StateMachine("fulfilmentStep", StepState, field="state", transitions={
    ST.WAITING: {ST.READY, ST.CANCELLED, ST.FAILED},
    ST.READY: {ST.RUNNING, ST.DONE, ST.FAILED, ST.CANCELLED},
    ST.RUNNING: {ST.RUNNING, ST.DONE, ST.FAILED, ST.READY},
})


class FulfilmentStep(Base):
    """One unit of orchestration work, run by the worker from this row: provision an order
    item (or compensate one). ``external_id`` is the idempotency key of the request to the
    network side, so a re-sent request after a crash never provisions twice."""

    __tablename__ = "fulfilment_step"
    __table_args__ = (
        Index("ix_fulfilment_step_due", "state", "due_at"),
        Index("ix_fulfilment_step_order", "tenant_id", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    order_id: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # provision | compensate
    state: Mapped[str] = mapped_column(String(16))
    waits_for: Mapped[list[str]] = mapped_column(JSONType)  # item ids
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # real time
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # business
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str] = mapped_column(String(100))
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    external_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CancelState(StrEnum):
    """TMF622 ``TaskStateType`` of a ``cancelProductOrder`` request."""

    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "inProgress"
    DONE = "done"
    TERMINATED_WITH_ERROR = "terminatedWithError"


class CancelProductOrder(Base):
    __tablename__ = "cancel_product_order"
    __table_args__ = (Index("ix_cancel_product_order_order", "tenant_id", "order_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    order_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ChargeKind(StrEnum):
    """What a :class:`ProductCharge` is for."""

    EARLY_TERMINATION_FEE = "earlyTerminationFee"


class ProductCharge(Base):
    """A one-time charge a product incurred (the early-termination fee of a product
    terminated inside its commitment), at business time, for billing to invoice: billing
    reads the unbilled rows and sets ``billed``."""

    __tablename__ = "product_charge"
    __table_args__ = (
        Index("ix_product_charge_product", "tenant_id", "product_id"),
        Index("ix_product_charge_unbilled", "tenant_id", "billed"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    product_id: Mapped[str] = mapped_column(String(32))
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # business time
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    price_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # catalog POP
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    billed: Mapped[bool] = mapped_column(Boolean, default=False)
