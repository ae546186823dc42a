"""Tables of the rating context.

- :class:`Tariff` — a tariff plan set of a tenant (destinations, rates, destination rates,
  timings, rating plans, rating profiles: the CGRateS model), one JSON document per
  named set (``rating.tariff.TariffSet.to_dict()``);
- :class:`RatedUsage` — the result of rating one usage record: amount at full precision,
  the tariff and rate used, allowance consumed, tax category and billing period. A
  re-rate adds a new *generation* and keeps the old rows (``current`` false) as history;
  billing reads the current rows (and sets ``invoice_id``); a current row whose earlier
  generation was invoiced is marked ``correction`` so billing corrects the invoice
  instead of anything changing silently;
- :class:`AllowanceCounter` — how much of an allowance (included units of a usage price)
  a holder (product, bundle or account) used in one billing period.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, ExactDecimal, JSONType, UTCDateTime, new_id


class Tariff(Base):
    __tablename__ = "rating_tariff"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_rating_tariff_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(32), default="cgrates")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class RatedUsage(Base):
    __tablename__ = "rated_usage"
    __table_args__ = (
        Index("ix_rated_usage_usage", "tenant_id", "usage_id", "current"),
        Index("ix_rated_usage_account_period", "tenant_id", "billing_account_id",
              "period_start", "current"),
        Index("ix_rated_usage_date", "tenant_id", "usage_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    usage_id: Mapped[str] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    product_id: Mapped[str] = mapped_column(String(32))
    billing_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    usage_date: Mapped[datetime] = mapped_column(UTCDateTime)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    usage_type: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)   # base units
    included: Mapped[Decimal] = mapped_column(ExactDecimal)   # allowance consumed
    charged: Mapped[Decimal] = mapped_column(ExactDecimal)    # quantity - included
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)     # full precision
    currency: Mapped[str] = mapped_column(String(3))
    price_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tariff: Mapped[str | None] = mapped_column(String(100), nullable=True)  # rating plan
    rate: Mapped[str | None] = mapped_column(String(100), nullable=True)
    destination: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tax_category: Mapped[str] = mapped_column(String(16), default="standard")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invoice_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    correction: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class AllowanceCounter(Base):
    __tablename__ = "allowance_counter"
    __table_args__ = (
        UniqueConstraint("tenant_id", "scope", "holder", "price_id", "period_start",
                         name="uq_allowance_counter"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    scope: Mapped[str] = mapped_column(String(16))       # product | bundle | account
    holder: Mapped[str] = mapped_column(String(64))      # its id
    price_id: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    granted: Mapped[Decimal] = mapped_column(ExactDecimal)  # base units
    used: Mapped[Decimal] = mapped_column(ExactDecimal)     # base units
    row_version: Mapped[int] = mapped_column(Integer, default=1)
