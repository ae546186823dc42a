"""Every SQL statement of the ordering context, tenant-scoped through core.queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_

from openbss.core.context import Context
from openbss.core.queries import get_owned, scoped, scoped_delete, scoped_update
from openbss.core.tmf import ListParams, apply_filters, paginate
from openbss.ordering.models import Product, ProductHistory, ProductIdentifier

#: Attribute filters of ``GET product`` (plus ``productCharacteristic.value``, matched on
#: the identifiers a product holds or held).
PRODUCT_FILTERS: dict[str, Any] = {
    "id": Product.id, "name": Product.name, "status": Product.status,
    "billingAccount.id": Product.billing_account_id,
    "productOffering.id": Product.offering_id,
    "startDate": Product.start_date, "terminationDate": Product.termination_date,
    "lastUpdate": Product.last_update,
}
CHARACTERISTIC_VALUE = "productCharacteristic.value"


def product(ctx: Context, product_id: str, *, lock: bool = False) -> Product:
    return get_owned(ctx.session, Product, ctx.tenant_id, product_id, "product", lock=lock)


def list_products(ctx: Context, params: ListParams,
                  identifier_values: Sequence[str] = ()) -> tuple[list[Product], int]:
    stmt = apply_filters(scoped(ctx, Product), params, PRODUCT_FILTERS)
    if identifier_values:
        holders = scoped(ctx, ProductIdentifier.product_id).where(
            ProductIdentifier.value.in_(list(identifier_values)))
        stmt = stmt.where(Product.id.in_(holders))
    return paginate(ctx.session, stmt, params, [Product.start_date, Product.id])


def next_history_seq(ctx: Context, product_id: str) -> int:
    last = ctx.session.scalar(scoped(ctx, func.max(ProductHistory.seq), of=[ProductHistory])
                              .where(ProductHistory.product_id == product_id))
    return int(last or 0) + 1


def history(ctx: Context, product_ids: Iterable[str]) -> list[ProductHistory]:
    ids = list(product_ids)
    if not ids:
        return []
    return list(ctx.session.scalars(
        scoped(ctx, ProductHistory).where(ProductHistory.product_id.in_(ids))
        .order_by(ProductHistory.product_id, ProductHistory.seq)))


def open_claims(ctx: Context, product_id: str) -> list[ProductIdentifier]:
    return list(ctx.session.scalars(scoped(ctx, ProductIdentifier).where(
        ProductIdentifier.product_id == product_id, ProductIdentifier.valid_to.is_(None))))


def open_holder(ctx: Context, name: str, value: str) -> ProductIdentifier | None:
    """The open claim on an identifier, if any product holds it now."""
    claim: ProductIdentifier | None = ctx.session.scalar(scoped(ctx, ProductIdentifier).where(
        ProductIdentifier.name == name, ProductIdentifier.value == value,
        ProductIdentifier.valid_to.is_(None)))
    return claim


def close_claims(ctx: Context, claim_ids: Sequence[int], at: datetime) -> None:
    if claim_ids:
        ctx.session.execute(scoped_update(ctx, ProductIdentifier)
                            .where(ProductIdentifier.id.in_(list(claim_ids)))
                            .values(valid_to=at))


def holders_during(ctx: Context, value: str, start: datetime,
                   end: datetime) -> list[ProductIdentifier]:
    """Every claim on identifier ``value`` overlapping ``[start, end)``, oldest first."""
    return list(ctx.session.scalars(scoped(ctx, ProductIdentifier).where(
        ProductIdentifier.value == value, ProductIdentifier.valid_from < end,
        or_(ProductIdentifier.valid_to.is_(None), ProductIdentifier.valid_to > start))
        .order_by(ProductIdentifier.valid_from)))


def products_of_account(ctx: Context, billing_account_id: str) -> list[Product]:
    return list(ctx.session.scalars(scoped(ctx, Product).where(
        Product.billing_account_id == billing_account_id).order_by(Product.id)))


def products_by_id(ctx: Context, ids: Iterable[str]) -> list[Product]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(ctx.session.scalars(scoped(ctx, Product).where(Product.id.in_(wanted))
                                    .order_by(Product.id)))


def delete_product(ctx: Context, product_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, ProductIdentifier)
                        .where(ProductIdentifier.product_id == product_id))
    ctx.session.execute(scoped_delete(ctx, Product).where(Product.id == product_id))
