"""Tables of the party context: parties (individuals and organizations), customers,
accounts (billing and party accounts), and two index tables that make search and the
data-subject export exact and fast.

Each resource keeps its validated TMF document in ``body`` (without ``id``/``href``)
and typed columns for what is filtered, sorted or enforced on. Personal values inside
``body`` (e-mails, phones, postal addresses, identification numbers) are stored
encrypted under the tenant's data key (:func:`openbss.party.personal.seal`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, JSONType, UTCDateTime, new_id, utcnow_column_default


class Party(Base):
    """An individual or an organization (TMF632)."""

    __tablename__ = "party"
    __table_args__ = (
        Index("ix_party_tenant_kind_name", "tenant_id", "kind", "name_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # individual | organization
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300))  # case-folded, for search
    status: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    anonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    row_version: Mapped[int] = mapped_column(Integer, default=1)  # counts changes
    body: Mapped[Any] = mapped_column(JSONType)


class PartySearchKey(Base):
    """One searchable value of a party, never in plain text: the blind index
    (HMAC-SHA256 under the tenant's index key, :mod:`openbss.core.crypto`) of every
    e-mail (lower case), phone (E.164) and identification number (letters and digits,
    upper case)."""

    __tablename__ = "party_search_key"
    __table_args__ = (
        Index("ix_party_search_key_lookup", "tenant_id", "key_type", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    party_id: Mapped[str] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                          index=True)
    key_type: Mapped[str] = mapped_column(String(16))  # email | phone | identification
    value: Mapped[str] = mapped_column(String(320))


class Customer(Base):
    """A party in the customer role (TMF629)."""

    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("party.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    row_version: Mapped[int] = mapped_column(Integer, default=1)  # counts changes
    body: Mapped[Any] = mapped_column(JSONType)


class Account(Base):
    """A billing account or a party account (TMF666); ``kind`` tells which."""

    __tablename__ = "account"
    __table_args__ = (
        # the children of given accounts (a bill run's batch): only rows with a parent
        Index("ix_account_children", "tenant_id", "parent_id",
              sqlite_where=text("parent_id IS NOT NULL"),
              postgresql_where=text("parent_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # billingAccount | partyAccount
    name: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("account.id"), nullable=True,
                                                  index=True)
    paid_by_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow_column_default)
    row_version: Mapped[int] = mapped_column(Integer, default=1)  # counts changes
    body: Mapped[Any] = mapped_column(JSONType)


class PartyLink(Base):
    """A customer or account that refers to a party or a customer (engaged party,
    related party, account owner). Rebuilt on every change of the referring resource;
    used to refuse deleting a referenced party, to find a customer's accounts and for
    the personal-data export.
    """

    __tablename__ = "party_link"
    __table_args__ = (
        Index("ix_party_link_target", "tenant_id", "target_type", "target_id"),
        Index("ix_party_link_resource", "tenant_id", "resource_type", "resource_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"))
    target_type: Mapped[str] = mapped_column(String(16))  # party | customer
    target_id: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(32))  # customer | billingAccount | …
    resource_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(255), default="")
