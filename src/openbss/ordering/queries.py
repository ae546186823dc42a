"""Every SQL statement of the ordering context, tenant-scoped through core.queries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_
from sqlalchemy.engine import CursorResult

from openbss.core.context import Context
from openbss.core.queries import find_owned, get_owned, scoped, scoped_delete, scoped_update
from openbss.core.tmf import ListParams, apply_filters, paginate
from openbss.ordering.models import (
    CancelProductOrder,
    FulfilmentStep,
    Product,
    ProductCharge,
    ProductHistory,
    ProductIdentifier,
    ProductOrder,
    ProductOrderItem,
    Quote,
)

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


#: Most values in one ``IN`` list of the set-based guiding statements (far below
#: SQLite's bound-parameter limit; a larger set is read in several statements).
IN_CHUNK = 2000


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for lo in range(0, len(ordered), IN_CHUNK):
        yield ordered[lo:lo + IN_CHUNK]


def _column_rows(ctx: Context, statement: Any) -> list[Any]:
    """The rows of a column-only statement read on the session's connection (no ORM
    result loading), after the session's autoflush as ``session.execute`` does it."""
    if ctx.session.autoflush:
        ctx.session.flush()
    return list(ctx.session.connection().execute(statement).all())


def _claims_overlapping(statement: Any, start: datetime, end: datetime,
                        name: str | None) -> Any:
    statement = statement.where(
        ProductIdentifier.valid_from < end,
        or_(ProductIdentifier.valid_to.is_(None), ProductIdentifier.valid_to > start))
    return statement if name is None else statement.where(ProductIdentifier.name == name)


def count_claims(ctx: Context) -> int:
    """How many claims the tenant has (past and present, held or reserved): read from
    the index alone, an upper bound of the claims of any period."""
    return int(ctx.session.scalar(scoped(ctx, func.count(), of=[ProductIdentifier])
                                  .select_from(ProductIdentifier)) or 0)


def claim_rows_during(ctx: Context, start: datetime, end: datetime,
                      name: str | None = None,
                      values: Iterable[str] | None = None) -> list[Any]:
    """The claims overlapping ``[start, end)`` joined with their products' account and
    bundle parent (name, value, product_id, valid_from, valid_to, billing_account_id,
    parent_id): columns only, one statement (set-based guiding). ``values``: only the
    claims on these identifier values (of ``name``; one statement per
    :data:`IN_CHUNK` values)."""
    statement = _claims_overlapping(
        scoped(ctx, ProductIdentifier.name, ProductIdentifier.value,
               ProductIdentifier.product_id, ProductIdentifier.valid_from,
               ProductIdentifier.valid_to, Product.billing_account_id,
               Product.parent_id, of=[Product])
        .join(Product, Product.id == ProductIdentifier.product_id), start, end, name)
    if values is None:
        return _column_rows(ctx, statement)
    rows: list[Any] = []
    for chunk in _chunks(values):
        rows.extend(_column_rows(ctx, statement.where(ProductIdentifier.value.in_(chunk))))
    return rows


def _history(ctx: Context, changes: Iterable[str] | None) -> Any:
    statement = scoped(ctx, ProductHistory.product_id, ProductHistory.at,
                       ProductHistory.change, cast(ProductHistory.after, Text).label("after"))
    if changes is not None:
        statement = statement.where(ProductHistory.change.in_(sorted(set(changes))))
    return statement


def claimant_history_rows(ctx: Context, start: datetime, end: datetime,
                          name: str | None = None, *,
                          changes: Iterable[str] | None = None) -> list[Any]:
    """The history (product_id, at, change, after) of every product with a claim
    overlapping ``[start, end)``, by product and sequence: columns only, one statement.
    ``after`` is the JSON text of the column; ``changes``: only entries of these kinds."""
    claimants = _claims_overlapping(scoped(ctx, ProductIdentifier.product_id), start, end,
                                    name)
    statement = _history(ctx, changes).where(ProductHistory.product_id.in_(claimants)) \
        .order_by(ProductHistory.product_id, ProductHistory.seq)
    return _column_rows(ctx, statement)


def history_rows_of(ctx: Context, product_ids: Iterable[str], *,
                    changes: Iterable[str] | None = None) -> list[Any]:
    """The history (product_id, at, change, after) of these products, by product and
    sequence (one statement per :data:`IN_CHUNK` products; a product's entries all in one):
    columns only, ``after`` as JSON text; ``changes``: only entries of these kinds."""
    rows: list[Any] = []
    base = _history(ctx, changes)
    for chunk in _chunks(product_ids):
        rows.extend(_column_rows(ctx, base.where(ProductHistory.product_id.in_(chunk))
                                 .order_by(ProductHistory.product_id, ProductHistory.seq)))
    return rows


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


# -- charges and due terminations (helper INVENTORY) ------------------------------------

def charges_of(ctx: Context, product_id: str) -> list[ProductCharge]:
    return list(ctx.session.scalars(scoped(ctx, ProductCharge).where(
        ProductCharge.product_id == product_id).order_by(ProductCharge.at, ProductCharge.id)))


def charge_for(ctx: Context, product_id: str, kind: str, order_id: str | None,
               order_item_id: str | None) -> ProductCharge | None:
    """The charge of ``kind`` already recorded for the product and order item (a retried
    step never charges twice)."""
    charge: ProductCharge | None = ctx.session.scalar(scoped(ctx, ProductCharge).where(
        ProductCharge.product_id == product_id, ProductCharge.kind == kind,
        ProductCharge.order_id.is_(None) if order_id is None
        else ProductCharge.order_id == order_id,
        ProductCharge.order_item_id.is_(None) if order_item_id is None
        else ProductCharge.order_item_id == order_item_id))
    return charge


def due_terminations(ctx: Context, now: datetime, limit: int) -> list[str]:
    """Ids of ``pendingTerminate`` products whose terminationDate has come."""
    return list(ctx.session.scalars(scoped(ctx, Product.id, of=[Product]).where(
        Product.status == "pendingTerminate", Product.termination_date.is_not(None),
        Product.termination_date <= now).order_by(Product.termination_date, Product.id)
        .limit(limit)))


# -- product orders and their fulfilment steps (helper ORDERS) ---------------------------

#: Attribute filters of ``GET productOrder``.
ORDER_FILTERS: dict[str, Any] = {
    "id": ProductOrder.id, "state": ProductOrder.state,
    "billingAccount.id": ProductOrder.billing_account_id,
    "externalId": ProductOrder.external_id, "orderDate": ProductOrder.order_date,
    "completionDate": ProductOrder.completion_date,
    "requestedStartDate": ProductOrder.requested_start_date,
}
CANCEL_FILTERS: dict[str, Any] = {
    "id": CancelProductOrder.id, "state": CancelProductOrder.state,
    "productOrder.id": CancelProductOrder.order_id,
}


def product_order(ctx: Context, order_id: str, *, lock: bool = False) -> ProductOrder:
    return get_owned(ctx.session, ProductOrder, ctx.tenant_id, order_id, "productOrder",
                     lock=lock)


def list_orders(ctx: Context, params: ListParams) -> tuple[list[ProductOrder], int]:
    stmt = apply_filters(scoped(ctx, ProductOrder), params, ORDER_FILTERS)
    return paginate(ctx.session, stmt, params, [ProductOrder.order_date, ProductOrder.id])


def order_items(ctx: Context, order_id: str) -> list[ProductOrderItem]:
    return list(ctx.session.scalars(scoped(ctx, ProductOrderItem).where(
        ProductOrderItem.order_id == order_id).order_by(ProductOrderItem.position)))


def open_items_on(ctx: Context, product_ids: Iterable[str],
                  states: Iterable[str]) -> list[ProductOrderItem]:
    """Items of open orders that change one of ``product_ids``."""
    ids = list(product_ids)
    if not ids:
        return []
    return list(ctx.session.scalars(scoped(ctx, ProductOrderItem).where(
        ProductOrderItem.product_id.in_(ids), ProductOrderItem.state.in_(list(states)),
        ProductOrderItem.action.in_(["modify", "delete"]))))


def steps_of(ctx: Context, order_id: str) -> list[FulfilmentStep]:
    return list(ctx.session.scalars(scoped(ctx, FulfilmentStep).where(
        FulfilmentStep.order_id == order_id).order_by(FulfilmentStep.kind,
                                                      FulfilmentStep.external_id)))


def due_step_ids(ctx: Context, *, states: Sequence[str], real_now: datetime,
                 business_now: datetime, limit: int) -> list[str]:
    """Steps of the tenant in ``states`` whose ``due_at`` (real time) and ``not_before``
    (business time) have come, oldest first."""
    return list(ctx.session.scalars(scoped(ctx, FulfilmentStep.id, of=[FulfilmentStep]).where(
        FulfilmentStep.state.in_(list(states)),
        or_(FulfilmentStep.due_at.is_(None), FulfilmentStep.due_at <= real_now),
        or_(FulfilmentStep.not_before.is_(None), FulfilmentStep.not_before <= business_now))
        .order_by(FulfilmentStep.due_at, FulfilmentStep.id).limit(limit)))


def claim_step(ctx: Context, step_id: str, *, skip_locked: bool) -> FulfilmentStep | None:
    """The step, locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL when ``skip_locked``:
    None if another worker holds it)."""
    stmt = scoped(ctx, FulfilmentStep).where(FulfilmentStep.id == step_id)
    stmt = stmt.with_for_update(skip_locked=skip_locked).execution_options(
        populate_existing=True)
    step: FulfilmentStep | None = ctx.session.scalar(stmt)
    return step


def delete_order(ctx: Context, order_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, FulfilmentStep)
                        .where(FulfilmentStep.order_id == order_id))
    ctx.session.execute(scoped_delete(ctx, ProductOrderItem)
                        .where(ProductOrderItem.order_id == order_id))
    ctx.session.execute(scoped_delete(ctx, ProductOrder).where(ProductOrder.id == order_id))


def cancel_request(ctx: Context, cancel_id: str) -> CancelProductOrder:
    return get_owned(ctx.session, CancelProductOrder, ctx.tenant_id, cancel_id,
                     "cancelProductOrder")


def list_cancel_requests(ctx: Context,
                         params: ListParams) -> tuple[list[CancelProductOrder], int]:
    stmt = apply_filters(scoped(ctx, CancelProductOrder), params, CANCEL_FILTERS)
    return paginate(ctx.session, stmt, params,
                    [CancelProductOrder.requested_at, CancelProductOrder.id])


# -- quotes (helper QUOTES) ------------------------------------------------------------

#: Attribute filters of ``GET quote``.
QUOTE_FILTERS: dict[str, Any] = {
    "id": Quote.id, "state": Quote.state, "externalId": Quote.external_id,
    "billingAccount.id": Quote.billing_account_id, "quoteDate": Quote.quote_date,
    "lastUpdate": Quote.last_update,
}


def quote(ctx: Context, quote_id: str, *, lock: bool = False) -> Quote:
    return get_owned(ctx.session, Quote, ctx.tenant_id, quote_id, "quote", lock=lock)


def list_quotes(ctx: Context, params: ListParams) -> tuple[list[Quote], int]:
    stmt = apply_filters(scoped(ctx, Quote), params, QUOTE_FILTERS)
    return paginate(ctx.session, stmt, params, [Quote.quote_date, Quote.id])


def delete_quote(ctx: Context, quote_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, Quote).where(Quote.id == quote_id))


def steps_by_external_ref(ctx: Context, external_ref: str, *,
                          lock: bool = False) -> list[FulfilmentStep]:
    """The tenant's fulfilment steps that the OSS knows as ``external_ref`` (locked for a
    state change with ``lock``)."""
    stmt = scoped(ctx, FulfilmentStep).where(FulfilmentStep.external_ref == external_ref)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list(ctx.session.scalars(stmt.order_by(FulfilmentStep.id)))


def release_reservations(ctx: Context, order_id: str,
                         keys: Iterable[tuple[str, str]] | None = None) -> None:
    """Drop the identifier reservations of an open order (``product_id`` = the order's
    id; see ``orders.reserve_identifiers``): those of ``keys`` ((name, value) pairs), or
    all of them."""
    stmt = scoped_delete(ctx, ProductIdentifier).where(
        ProductIdentifier.product_id == order_id, ProductIdentifier.valid_to.is_(None))
    if keys is None:
        ctx.session.execute(stmt)
        return
    for name, value in keys:
        ctx.session.execute(stmt.where(ProductIdentifier.name == name,
                                       ProductIdentifier.value == value))


def find_order(ctx: Context, order_id: str) -> ProductOrder | None:
    """The order of that id, or None (a claim's holder is a product or, reserved, an
    order)."""
    return find_owned(ctx.session, ProductOrder, ctx.tenant_id, order_id)


def mark_charges_billed(ctx: Context, charge_ids: Sequence[str]) -> int:
    """Set ``billed`` of product charges not billed yet (billing, when the invoice
    carrying them is issued); answers how many were set."""
    ids = sorted(set(charge_ids))
    marked = 0
    for start in range(0, len(ids), 5000):
        result = ctx.session.execute(scoped_update(ctx, ProductCharge).where(
            ProductCharge.id.in_(ids[start:start + 5000]),
            ProductCharge.billed.is_(False)).values(billed=True))
        assert isinstance(result, CursorResult)
        marked += result.rowcount
    return marked
