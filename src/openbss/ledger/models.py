"""Tables of the ledger context.

- :class:`LedgerAccount` — the tenant's chart of accounts: a code, a name, a type
  (asset, liability, equity, revenue, expense) and an optional ``role`` — the posting rules
  name roles (``receivable``, ``cash``, ``taxPayable`` …), never codes, so a tenant can
  renumber its chart. Seeded with the default chart on first use (docs/ledger.md).
- :class:`JournalEntry` — one balanced journal entry: what posted it (``source_type`` and
  ``source_id``, e.g. ``customerBill``/id), its kind (``invoice``, ``creditNote``,
  ``payment``, ``refund``, ``reversal``, ``chargeback``, ``writeOff``, ``creditApplied``,
  ``paymentFee`` …), its business date, one currency. ``source_key`` is unique per
  tenant, so posting the same event twice is refused (idempotent posting). Never
  updated or deleted: a correction is a reversing entry (``reverses_id``).
- :class:`JournalLine` — one debit or credit of an entry (exactly one of the two is
  non-zero), with its dimensions: the billing account (the receivable sub-ledger), the
  tax rate or revenue family it came from.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, ExactDecimal, UTCDateTime, new_id


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


class LedgerAccount(Base):
    __tablename__ = "ledger_account"
    __table_args__ = (UniqueConstraint("tenant_id", "code", name="uq_ledger_account_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))  # AccountType
    #: the posting role this account plays (unique per tenant when set); None: only
    #: reached through the revenue mapping or manual use
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: True for accounts whose lines are kept per billing account (receivable, customer
    #: credit): their sum per billing account is the account's balance
    subledger: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class JournalEntry(Base):
    __tablename__ = "journal_entry"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_key", name="uq_journal_entry_source"),
        UniqueConstraint("tenant_id", "number", name="uq_journal_entry_number"),
        Index("ix_journal_entry_date", "tenant_id", "entry_date"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    #: gapless per tenant, in posting order
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(200))
    #: the business date the entry belongs to (the period it is reported in)
    entry_date: Mapped[date] = mapped_column(Date)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # business time of posting
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str | None] = mapped_column(Text, nullable=True)
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reverses_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))


class JournalLine(Base):
    __tablename__ = "journal_line"
    __table_args__ = (
        Index("ix_journal_line_entry", "tenant_id", "entry_id"),
        Index("ix_journal_line_subledger", "tenant_id", "billing_account_id", "account_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    entry_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    account_code: Mapped[str] = mapped_column(String(20))
    debit: Mapped[Decimal] = mapped_column(ExactDecimal)
    credit: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: where the amount came from: ``tax:DE:19``, ``family:mobile-postpaid``, ``bill:<id>``
    dimension: Mapped[str | None] = mapped_column(String(100), nullable=True)
    entry_date: Mapped[date] = mapped_column(Date)  # the entry's, for set-based reports


class LedgerCounter(Base):
    """The last journal entry number of a tenant (gapless: moved on in the posting
    transaction, like the invoice numbers)."""

    __tablename__ = "ledger_counter"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
