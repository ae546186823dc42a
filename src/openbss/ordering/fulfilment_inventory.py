"""The inventory side of fulfilment: what a completed order item makes of the product
inventory (a new product, a plan change at the instant it applies, a termination now or
pending until its date, suspend and resume), and what a compensation restores. Called by
:mod:`openbss.ordering.orchestration` inside the step's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import OpenBSSError
from openbss.ordering import inventory, queries
from openbss.ordering.models import (
    ProductOrder,
    ProductOrderItem,
    ProductStatus,
)
from openbss.ordering.order_events import z
from openbss.ordering.schemas import Product as ProductIn


def _product_prices(item_prices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """TMF637 ``productPrice`` from the order item's ``itemPrice`` (one-time lines were
    charged by the order; recurring and usage lines stay in force)."""
    prices = []
    for line in item_prices:
        if line.get("priceType") not in ("recurring", "usage"):
            continue
        price: dict[str, Any] = {k: line[k] for k in ("name", "description", "priceType",
                                      "recurringChargePeriod", "unitOfMeasure", "price",
                                      "productOfferingPrice") if k in line}
        if line.get("priceAlteration"):
            price["productPriceAlteration"] = [
                {k: a[k] for k in ("name", "description", "priceType", "recurringChargePeriod",
                                   "unitOfMeasure", "applicationDuration", "priority", "price",
                                   "productOfferingPrice") if k in a}
                for a in line["priceAlteration"]]
        prices.append(price)
    return prices


def _merged_characteristics(current: list[dict[str, Any]],
                            given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {c["name"].lower() for c in given}
    return [c for c in current if c["name"].lower() not in names] + given


def _order_item_ref(order: ProductOrder, item: ProductOrderItem) -> dict[str, Any]:
    return {"orderItemId": item.item_id, "productOrderId": order.id,
            "orderItemAction": item.action, "@referredType": "ProductOrderItem"}


def _apply_inventory(ctx: Context, order: ProductOrder, item: ProductOrderItem) -> str:
    """Make the inventory what the completed item says; a short note for the milestone."""
    doc = order.body["productOrderItem"][item.position]
    product = doc.get("product") or {}
    if item.action == "noChange":
        return ""
    if item.action == "add":
        bundled = {r["id"] for r in doc.get("productOrderItemRelationship") or []
                   if r["relationshipType"].lower() == "bundles"}
        components = [i for i in queries.order_items(ctx, order.id)
                      if i.item_id in bundled and i.product_id] if bundled else []
        body: dict[str, Any] = {
            "name": product.get("name") or item.body.get("offeringName"),
            "status": ProductStatus.ACTIVE.value, "startDate": z(ctx.now),
            "billingAccount": {"id": item.billing_account_id},
            "productOffering": {"id": item.offering_id,
                                "name": item.body.get("offeringName")},
            "productPrice": _product_prices(doc.get("itemPrice") or []),
            "productOrderItem": [_order_item_ref(order, item)],
        }
        for key in ("description", "place", "productCharacteristic", "productSpecification",
                    "agreement", "isCustomerVisible", "productSerialNumber"):
            if product.get(key) is not None:
                body[key] = product[key]
        if order.body.get("relatedParty") or product.get("relatedParty"):
            body["relatedParty"] = product.get("relatedParty") or order.body["relatedParty"]
        if item.quantity != 1:
            body["quantity"] = item.quantity
        if components:
            body["isBundle"] = True
            body["productRelationship"] = [{"relationshipType": "bundles",
                                            "product": {"id": c.product_id}}
                                           for c in components]
        row = inventory.create_product(ctx, data=ProductIn.model_validate(body),
                                       order_id=order.id, order_item_id=item.item_id)
        item.product_id = row.id
        return f"product {row.id}"
    assert item.product_id is not None
    current = queries.product(ctx, item.product_id, lock=True)
    item.body = {**item.body, "restore": {
        k: current.body.get(k) for k in ("status", "name", "productOffering",
                                         "productCharacteristic", "productPrice", "quantity",
                                         "terminationDate")}}
    refs = [*(current.body.get("productOrderItem") or []), _order_item_ref(order, item)]
    if item.action == "delete":
        requested = order.requested_completion_date
        at = inventory.termination_effective(ctx, product_id=current.id, requested=requested)
        inventory.record_early_termination(ctx, product_id=current.id, at=at,
                                           order_id=order.id, order_item_id=item.item_id)
        if at > ctx.now:
            inventory.update_product(ctx, product_id=current.id, patch={
                "status": ProductStatus.PENDING_TERMINATE.value, "terminationDate": z(at),
                "productOrderItem": refs}, order_id=order.id, order_item_id=item.item_id)
            return f"product {current.id} terminates at {z(at)}"
        inventory.update_product(ctx, product_id=current.id, patch={
            "status": ProductStatus.TERMINATED.value, "terminationDate": z(at),
            "productOrderItem": refs}, order_id=order.id, order_item_id=item.item_id,
            effective=at)
        return f"product {current.id} terminated"
    patch: dict[str, Any] = {"productOrderItem": refs}
    effective = ctx.now
    if item.body.get("planChange") and item.offering_id:
        # a scheduled change (see _schedule) applies at its instant, now past
        scheduled = item.body.get("effective")
        effective = min(datetime.fromisoformat(scheduled), ctx.now) if scheduled else \
            inventory.plan_change_effective(ctx, product_id=current.id,
                                            offering_id=item.offering_id)
        patch["productOffering"] = {"id": item.offering_id,
                                    "name": item.body.get("offeringName")}
        patch["productPrice"] = _product_prices(doc.get("itemPrice") or [])
        old_name = (current.body.get("productOffering") or {}).get("name")
        if item.body.get("offeringName") and not product.get("name") and \
                current.body.get("name") in (None, old_name):
            patch["name"] = item.body["offeringName"]  # named after its plan: follow it
    if product.get("productCharacteristic") is not None:
        patch["productCharacteristic"] = _merged_characteristics(
            current.body.get("productCharacteristic") or [], product["productCharacteristic"])
    if item.quantity != int(current.body.get("quantity") or 1):
        patch["quantity"] = item.quantity
    if item.body.get("status"):
        patch["status"] = item.body["status"]
    inventory.update_product(ctx, product_id=current.id, patch=patch, order_id=order.id,
                             order_item_id=item.item_id, effective=effective)
    return f"product {current.id}" + (f", effective {z(effective)}" if effective != ctx.now
                                      else "")


def _undo_inventory(ctx: Context, order: ProductOrder, item: ProductOrderItem) -> None:
    """Compensation: an added product is terminated (its identifiers released); a
    modified one gets back what it had; a product whose termination is pending is kept."""
    if item.product_id is None or item.action == "noChange":
        return
    current = queries.product(ctx, item.product_id, lock=True)
    if item.action == "add":
        if current.status != ProductStatus.TERMINATED:
            inventory.update_product(ctx, product_id=current.id, patch={
                "status": ProductStatus.TERMINATED.value}, order_id=order.id,
                order_item_id=item.item_id)
        return
    restore = dict(item.body.get("restore") or {})
    if current.status == ProductStatus.TERMINATED:
        raise _NotUndoable(f"product {current.id} is already terminated")
    patch = {k: restore.get(k) for k in restore}
    inventory.update_product(ctx, product_id=current.id, patch=patch, order_id=order.id,
                             order_item_id=item.item_id)


class _NotUndoable(OpenBSSError):
    status = 409
    code = "not_undoable"
