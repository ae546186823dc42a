"""Tables of the billing context.

- :class:`BillRun` — one bill run (``POST /api/v1/billRuns``, ``openbss billrun``): as-of
  date, state, progress and results; :class:`BillRunAccount` — each account's outcome in
  a run (billed, nothing to bill, failed with the reason), so a failed account is
  reported and retried by the next run;
- :class:`Invoice` — an issued invoice or credit note (TMF678 ``customerBill``):
  immutable once issued except for its state and remaining amount; its number is
  assigned at issue from :class:`InvoiceSequence` in the issuing transaction, so numbers
  are gapless per tenant, series and year;
- :class:`InvoiceLine` — one line (TMF678 ``appliedCustomerBillingRate``): the service
  period it covers, the amounts before and after tax, what it corrects;
- :class:`BillingCharge` — a manual one-off charge or credit on an account (role
  ``billing_ops``), put on the account's next invoice;
- :class:`InvoiceDocument` — the PDF of an invoice or credit note, rendered once.
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


class BillRunState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


BILL_RUN_STATES = StateMachine("billRun", BillRunState, field="state", transitions={
    BillRunState.RUNNING: {BillRunState.COMPLETED, BillRunState.FAILED},
    BillRunState.COMPLETED: set(),
    BillRunState.FAILED: set(),
})


class BillRun(Base):
    __tablename__ = "bill_run"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)  # business time billed up to
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the accounts asked for (None: every billing account of the tenant)
    requested: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    accounts_total: Mapped[int] = mapped_column(Integer, default=0)
    accounts_done: Mapped[int] = mapped_column(Integer, default=0)
    #: results: accountsBilled, invoices, totals per currency, failures [{account, reason}]
    results: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # real time
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class BillRunAccount(Base):
    __tablename__ = "bill_run_account"
    __table_args__ = (
        UniqueConstraint("tenant_id", "bill_run_id", "billing_account_id",
                         name="uq_bill_run_account"),
        Index("ix_bill_run_account_failed", "tenant_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    bill_run_id: Mapped[str] = mapped_column(String(32))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # billed | nothing | failed
    invoice_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "creditNote"


class InvoiceState(StrEnum):
    """TMF678 ``StateValue`` (customerBill ``state``)."""

    NEW = "new"
    ON_HOLD = "onHold"
    VALIDATED = "validated"
    SENT = "sent"
    PARTIALLY_PAID = "partiallyPaid"
    SETTLED = "settled"


INVOICE_STATES = StateMachine("customerBill", InvoiceState, field="state", transitions={
    InvoiceState.NEW: {InvoiceState.VALIDATED, InvoiceState.ON_HOLD, InvoiceState.SENT,
                       InvoiceState.PARTIALLY_PAID, InvoiceState.SETTLED},
    InvoiceState.ON_HOLD: {InvoiceState.NEW, InvoiceState.VALIDATED,
                           InvoiceState.PARTIALLY_PAID, InvoiceState.SETTLED},
    InvoiceState.VALIDATED: {InvoiceState.SENT, InvoiceState.ON_HOLD,
                             InvoiceState.PARTIALLY_PAID, InvoiceState.SETTLED},
    InvoiceState.SENT: {InvoiceState.PARTIALLY_PAID, InvoiceState.SETTLED},
    InvoiceState.PARTIALLY_PAID: {InvoiceState.SETTLED, InvoiceState.SENT},
    InvoiceState.SETTLED: {InvoiceState.PARTIALLY_PAID, InvoiceState.SENT},
})


class Invoice(Base):
    __tablename__ = "customer_bill"
    __table_args__ = (
        UniqueConstraint("tenant_id", "bill_no", name="uq_customer_bill_no"),
        Index("ix_customer_bill_account", "tenant_id", "billing_account_id", "bill_date"),
        Index("ix_customer_bill_state", "tenant_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    kind: Mapped[str] = mapped_column(String(16))  # invoice | creditNote
    bill_no: Mapped[str] = mapped_column(String(40))
    series: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    bill_date: Mapped[datetime] = mapped_column(UTCDateTime)  # business time of issue
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payment_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    tax_excluded: Mapped[Decimal] = mapped_column(ExactDecimal)
    tax_included: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount_due: Mapped[Decimal] = mapped_column(ExactDecimal)
    remaining_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    bill_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    corrects_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # credit note
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    #: the issued snapshot: taxItem, seller and buyer, notes (reverse charge), locale
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class InvoiceSequence(Base):
    """The next number of a series: one row per tenant, series and year, updated in the
    issuing transaction (so a rollback gives the numbers back: no gap)."""

    __tablename__ = "invoice_sequence"
    __table_args__ = (UniqueConstraint("tenant_id", "series", "year",
                                       name="uq_invoice_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    series: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class LineType(StrEnum):
    """TMF678 ``appliedCustomerBillingRate.type``."""

    RECURRING = "recurring"
    ONE_TIME = "oneTime"
    USAGE = "usage"
    DISCOUNT = "discount"
    ADJUSTMENT = "adjustment"


class InvoiceLine(Base):
    __tablename__ = "applied_billing_rate"
    __table_args__ = (
        Index("ix_applied_billing_rate_bill", "tenant_id", "invoice_id", "position"),
        Index("ix_applied_billing_rate_product", "tenant_id", "product_id"),
        Index("ix_applied_billing_rate_account", "tenant_id", "billed_account_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    invoice_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the account whose charge this is (a child's id on a parent's invoice)
    billed_account_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    price_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    tax_excluded: Mapped[Decimal] = mapped_column(ExactDecimal)
    tax_included: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    tax_category: Mapped[str] = mapped_column(String(16), default="standard")
    corrects_line_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: the source of the line (ProductCharge id, BillingCharge id, usage summary key,
    #: recurring slice key) — what the calculation compares on the next run
    source_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: appliedTax [{taxCategory, taxRate, taxAmount, jurisdiction}], the calculation detail
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class BillingCharge(Base):
    __tablename__ = "billing_charge"
    __table_args__ = (Index("ix_billing_charge_unbilled", "tenant_id", "billing_account_id",
                            "invoice_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    billing_account_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # charge | credit
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)  # positive; credits subtract
    currency: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tax_category: Mapped[str] = mapped_column(String(16), default="standard")
    tax_included: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the ledger role its revenue posts to (``lateFees`` for a dunning late fee); None:
    #: the ledger's mapping for manual charges
    ledger_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    product_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # business time
    invoice_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))


class InvoiceDocument(Base):
    __tablename__ = "invoice_document"

    invoice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(64), default="application/pdf")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(64))
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime)
