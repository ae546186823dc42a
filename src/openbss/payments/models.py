"""Tables of the payments context.

- :class:`PaymentMethod` — TMF670 ``paymentMethod`` of a billing account: a SEPA direct
  debit mandate (``DirectDebit``), a bank account for transfers (``BankAccountTransfer``),
  a card held by a gateway (``TokenizedCard``: the gateway's token and the last four
  digits, never a card number), a ``Voucher``, ``Cash`` … The account number (IBAN) is
  personal data: kept sealed under the tenant's data key (``sealed``), only the masked
  form is in ``body``. At most one ``is_preferred`` method per billing account: the
  default one.
- :class:`Payment` — TMF676 ``payment``: money received (or to be collected) from a
  billing account through a channel; ``amount`` is what was received, ``unapplied`` what
  of it is not allocated to a bill yet (the account's credit), ``refunded`` what was paid
  back. ``source_key`` (unique per tenant) makes recording the same external payment
  twice impossible: a gateway's charge id, a statement entry, a SEPA end-to-end id.
- :class:`PaymentAllocation` — part of a payment applied to one bill (TMF676
  ``paymentItem``, TMF678 ``appliedPayment``); a reversal or chargeback is a negative
  allocation, never an edit.
- :class:`Refund` — TMF676 ``refund`` of (part of) a payment.
- :class:`SepaCollection` — one exported pain.008 file (message id, collection date,
  version) and :class:`BankStatement` — one imported camt.053/054 file (its sha256 is
  unique: the same file twice changes nothing); :class:`StatementEntry` — each credit or
  debit of a statement with how it was matched (``matched``, ``unmatched`` — the manual
  matching queue —, ``returned``, ``duplicate``, ``ignored``).
- :class:`DunningPolicy` (ordered steps by days overdue, per customer segment),
  :class:`DunningCase` (one open collection process per billing account),
  :class:`DunningAction` (a step executed for a case: unique per case and step, so a
  step never runs twice) and :class:`CollectionHold` (a disputed bill or a payment plan:
  the account is left out of dunning while the hold is active).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, ExactDecimal, JSONType, UTCDateTime, new_id
from openbss.core.states import StateMachine

# -- payment methods (TMF670) -----------------------------------------------------------------


class MethodStatus(StrEnum):
    PENDING = "pending"      # e.g. a mandate not signed yet
    ACTIVE = "active"
    INACTIVE = "inactive"    # revoked, cancelled, replaced
    EXPIRED = "expired"      # past validFor.endDateTime or the card's expiry


METHOD_STATES = StateMachine("paymentMethod", MethodStatus, field="status", transitions={
    MethodStatus.PENDING: {MethodStatus.ACTIVE, MethodStatus.INACTIVE},
    MethodStatus.ACTIVE: {MethodStatus.INACTIVE, MethodStatus.EXPIRED},
    MethodStatus.INACTIVE: {MethodStatus.ACTIVE},
    MethodStatus.EXPIRED: set(),
})


class PaymentMethod(Base):
    __tablename__ = "payment_method"
    __table_args__ = (
        Index("ix_payment_method_account", "tenant_id", "billing_account_id"),
        UniqueConstraint("tenant_id", "mandate_id", name="uq_payment_method_mandate"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    #: the TMF670 ``@type``: DirectDebit, BankAccountTransfer, BankAccountDebit,
    #: TokenizedCard, Voucher, Cash, Check, DigitalWallet
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    status_date: Mapped[datetime] = mapped_column(UTCDateTime)
    is_preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the gateway that holds it (``manual``, ``stripe``, ``sepa``) and its reference
    #: there (a Stripe payment method id, a card token)
    gateway: Mapped[str] = mapped_column(String(32), default="manual")
    gateway_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    gateway_customer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: SEPA mandate reference (unique per tenant) and its sequence: FRST until the first
    #: collection went through, then RCUR; OOFF for a one-off mandate
    mandate_id: Mapped[str | None] = mapped_column(String(35), nullable=True)
    sequence_type: Mapped[str | None] = mapped_column(String(4), nullable=True)
    signature_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: the account number (IBAN), card data the gateway returned … sealed with the
    #: tenant's keyring (core.crypto); ``body`` holds only masked values
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


# -- payments and refunds (TMF676) ------------------------------------------------------------


class PaymentStatus(StrEnum):
    """TMF676's example status values, plus ``reversed`` and ``chargedBack``."""

    PENDING = "pendingAuthorization"  # initiated, not received: a SEPA collection in
    #                                   flight, a card payment awaiting the gateway
    AUTHORIZED = "authorized"         # a card authorised, not captured yet
    DONE = "done"                     # received: allocated or kept as credit
    FAILED = "failed"                 # declined, rejected before settlement
    CANCELED = "canceled"
    REVERSED = "reversed"             # after done: a returned debit, a bounced payment
    CHARGED_BACK = "chargedBack"      # after done: the card holder's bank took it back


PAYMENT_STATES = StateMachine("payment", PaymentStatus, field="status", transitions={
    PaymentStatus.PENDING: {PaymentStatus.AUTHORIZED, PaymentStatus.DONE,
                            PaymentStatus.FAILED, PaymentStatus.CANCELED},
    PaymentStatus.AUTHORIZED: {PaymentStatus.DONE, PaymentStatus.FAILED,
                               PaymentStatus.CANCELED},
    PaymentStatus.DONE: {PaymentStatus.REVERSED, PaymentStatus.CHARGED_BACK},
    PaymentStatus.FAILED: set(),
    PaymentStatus.CANCELED: set(),
    PaymentStatus.REVERSED: set(),
    PaymentStatus.CHARGED_BACK: set(),
})


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_key", name="uq_payment_source"),
        Index("ix_payment_account", "tenant_id", "billing_account_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    status_date: Mapped[datetime] = mapped_column(UTCDateTime)
    #: ``manual``, ``bankTransfer``, ``sepaDirectDebit``, ``card``, ``cash`` … (TMF676
    #: ``channel.name``) and the gateway that moved the money
    channel: Mapped[str] = mapped_column(String(32))
    gateway: Mapped[str] = mapped_column(String(32), default="manual")
    gateway_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payment_date: Mapped[datetime] = mapped_column(UTCDateTime)  # business time received
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)      # received, > 0
    unapplied: Mapped[Decimal] = mapped_column(ExactDecimal)   # not allocated yet, >= 0
    refunded: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal(0))
    fee: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal(0))  # gateway fee
    source_key: Mapped[str] = mapped_column(String(200))
    #: SEPA end-to-end id (ties the collection to its bill), the statement entry …
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), nullable=True, index=True)
    collection_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # failure/return reason
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)  # description, correlatorId …


class PaymentAllocation(Base):
    __tablename__ = "payment_allocation"
    __table_args__ = (
        Index("ix_payment_allocation_payment", "tenant_id", "payment_id"),
        Index("ix_payment_allocation_bill", "tenant_id", "bill_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    payment_id: Mapped[str] = mapped_column(String(32))
    bill_id: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)  # negative: undone (reversal)
    currency: Mapped[str] = mapped_column(String(3))
    #: ``payment`` (at receipt), ``credit`` (unapplied credit used by a later bill),
    #: ``manual`` (matched by hand), ``reversal``, ``chargeback``, ``refund``
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefundStatus(StrEnum):
    PENDING = "pendingAuthorization"
    DONE = "done"
    FAILED = "failed"


REFUND_STATES = StateMachine("refund", RefundStatus, field="status", transitions={
    RefundStatus.PENDING: {RefundStatus.DONE, RefundStatus.FAILED},
    RefundStatus.DONE: set(),
    RefundStatus.FAILED: set(),
})


class Refund(Base):
    __tablename__ = "payment_refund"
    __table_args__ = (UniqueConstraint("tenant_id", "source_key", name="uq_refund_source"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    payment_id: Mapped[str] = mapped_column(String(32), index=True)
    billing_account_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    status_date: Mapped[datetime] = mapped_column(UTCDateTime)
    refund_date: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    gateway: Mapped[str] = mapped_column(String(32), default="manual")
    gateway_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_key: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


# -- SEPA direct debit and bank statements (ISO 20022) --------------------------------------


class SepaCollection(Base):
    __tablename__ = "sepa_collection"
    __table_args__ = (UniqueConstraint("tenant_id", "message_id", name="uq_sepa_message"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    message_id: Mapped[str] = mapped_column(String(35))
    version: Mapped[str] = mapped_column(String(24))  # pain.008.001.08 | pain.008.001.02
    collection_date: Mapped[date] = mapped_column(Date)
    transactions: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(ExactDecimal)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # the XML as written
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BankStatement(Base):
    __tablename__ = "bank_statement"
    __table_args__ = (UniqueConstraint("tenant_id", "sha256", name="uq_bank_statement_file"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(35), nullable=True)
    format: Mapped[str] = mapped_column(String(24))  # camt.053.001.02 …
    filename: Mapped[str | None] = mapped_column(String(300), nullable=True)
    entries: Mapped[int] = mapped_column(Integer)
    results: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the import summary
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EntryState(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"   # the manual matching queue
    RETURNED = "returned"     # a returned direct debit (R-transaction)
    DUPLICATE = "duplicate"   # already imported through another file
    IGNORED = "ignored"       # a debit that is not ours to match (bank fees …)


class StatementEntry(Base):
    __tablename__ = "statement_entry"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entry_key", name="uq_statement_entry_key"),
        Index("ix_statement_entry_state", "tenant_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    statement_id: Mapped[str] = mapped_column(String(32))
    #: what identifies this entry across files: the bank's reference (AcctSvcrRef) or a
    #: hash of the entry's booking date, amount, references
    entry_key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(4))  # CRDT | DBIT
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    booking_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    value_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), nullable=True)
    remittance: Mapped[str | None] = mapped_column(Text, nullable=True)
    debtor_name: Mapped[str | None] = mapped_column(String(140), nullable=True)
    debtor_iban: Mapped[str | None] = mapped_column(String(34), nullable=True)
    return_reason: Mapped[str | None] = mapped_column(String(8), nullable=True)
    payment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    matched_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


# -- dunning ----------------------------------------------------------------------------------


class DunningPolicy(Base):
    __tablename__ = "dunning_policy"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_dunning_policy_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    name: Mapped[str] = mapped_column(String(100))
    #: the customer segment it applies to (None: the default policy)
    segment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: [{"days": 7, "action": "reminder", ...}, ...] ordered by days
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class CaseState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"     # the debt was cleared (services resumed)
    HANDED_OVER = "handedOver"  # given to a collection agency


class DunningCase(Base):
    __tablename__ = "dunning_case"
    __table_args__ = (Index("ix_dunning_case_account", "tenant_id", "billing_account_id",
                            "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    policy_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the due date the days overdue are counted from (the oldest unpaid bill's)
    overdue_since: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)  # overdue when last run
    #: products this case suspended (to resume when it closes)
    suspended: Mapped[list[str]] = mapped_column(JSONType, default=list)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class DunningAction(Base):
    __tablename__ = "dunning_action"
    __table_args__ = (UniqueConstraint("tenant_id", "case_id", "step",
                                       name="uq_dunning_action_step"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    step: Mapped[int] = mapped_column(Integer)  # index in the policy's steps
    action: Mapped[str] = mapped_column(String(32))
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)  # order id, charge id …


class CollectionHold(Base):
    __tablename__ = "collection_hold"
    __table_args__ = (Index("ix_collection_hold_account", "tenant_id", "billing_account_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # dispute | paymentPlan
    bill_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: a payment plan's instalments [{"dueDate", "amount"}]
    schedule: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
