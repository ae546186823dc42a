"""Tables of the product catalog (TMF620).

Every resource is a TMF document kept in a JSON ``body`` (the validated resource minus
``id``/``href``; decimals as exact strings) next to typed, indexed columns for what the
API filters and sorts on and what the business rules read (status, validity, price type,
currency, amount). ``row_version`` counts changes (optimistic concurrency); ``key`` is
the resource's local name in import files (kept so exports re-import with the same keys).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openbss.core.db import Base, ExactDecimal, JSONType, UTCDateTime, new_id


class CatalogResource:
    """Columns shared by every catalog resource (the type of "one of the catalog's rows")."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(500))
    lifecycle_status: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(32), default="1.0")
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Catalog(CatalogResource, Base):
    __tablename__ = "catalog_catalog"
    __table_args__ = (Index("ix_catalog_catalog_tenant_name", "tenant_id", "name"),)

    catalog_type: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Category(CatalogResource, Base):
    __tablename__ = "catalog_category"
    __table_args__ = (Index("ix_catalog_category_tenant_name", "tenant_id", "name"),)

    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    is_root: Mapped[bool] = mapped_column(Boolean, default=True)


class ProductSpecification(CatalogResource, Base):
    __tablename__ = "catalog_product_specification"
    __table_args__ = (Index("ix_catalog_product_specification_tenant_name", "tenant_id", "name"),)

    brand: Mapped[str | None] = mapped_column(String(200), nullable=True)
    product_number: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)


class ProductOffering(CatalogResource, Base):
    __tablename__ = "catalog_product_offering"
    __table_args__ = (
        Index("ix_catalog_product_offering_tenant_name", "tenant_id", "name", "version"),
    )

    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)
    is_sellable: Mapped[bool] = mapped_column(Boolean, default=True)
    product_specification_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The offering this one is a new version of (None for a first version).
    previous_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ProductOfferingPrice(CatalogResource, Base):
    __tablename__ = "catalog_product_offering_price"
    __table_args__ = (
        Index("ix_catalog_product_offering_price_tenant_name", "tenant_id", "name"),
    )

    price_type: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    percentage: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    tax_category: Mapped[str] = mapped_column(String(16), default="standard")
    tax_included: Mapped[bool] = mapped_column(Boolean, default=False)
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)


class CatalogJob(Base):
    """A TMF620 ``importJob`` or ``exportJob``; the file content is kept inline."""

    __tablename__ = "catalog_job"
    __table_args__ = (Index("ix_catalog_job_tenant_kind", "tenant_id", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # importJob | exportJob
    status: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(100))
    creation_date: Mapped[datetime] = mapped_column(UTCDateTime)
    completion_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_log: Mapped[str | None] = mapped_column(Text, nullable=True)
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)


RESOURCE_MODELS: dict[str, type[CatalogResource]] = {
    "catalog": Catalog,
    "category": Category,
    "productSpecification": ProductSpecification,
    "productOffering": ProductOffering,
    "productOfferingPrice": ProductOfferingPrice,
}
