"""Use cases of TMF622 product orders: create (validated, priced, decomposed into
fulfilment steps in the same transaction), read, patch the open order's notes and
descriptive attributes, delete a final order, and ``cancelProductOrder``.

The rules are in :mod:`openbss.ordering.order_rules`; the work after acceptance is
:mod:`openbss.ordering.orchestration` (run by the worker). Every state change and
milestone is recorded on the order (``milestone[]``, an extension: ``name``, ``date`` in
business time, ``state``, ``message``) and published as a TMF622 event through the
outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from openbss.catalog import service as catalog
from openbss.core.context import Context
from openbss.core.db import new_id
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.periods import to_utc
from openbss.core.resources import patched, record_change
from openbss.core.tmf import ListParams
from openbss.ordering import inventory, orchestration, queries
from openbss.ordering import order_rules as rules
from openbss.ordering.errors import (
    IdentifierInUse,
    InvalidReference,
    OrderNotCancellable,
    OrderNotChangeable,
    ProductLocked,
)
from openbss.ordering.graph import GraphItem, Relation, plan
from openbss.ordering.models import (
    ITEM_STATES,
    OPEN_ORDER_STATES,
    ORDER_STATES,
    CancelProductOrder,
    CancelState,
    OrderState,
    ProductIdentifier,
    ProductOrder,
    ProductOrderItem,
    StepState,
)
from openbss.ordering.order_events import (
    add_milestone,
    publish,
    render_cancel,
    render_order,
    set_item_state,
    set_order_state,
    z,
)
from openbss.ordering.paths import ORDERING_API
from openbss.ordering.pricing import PricedItem, price_items
from openbss.ordering.references import AccountsRead
from openbss.ordering.schemas import CancelProductOrderCreate, ProductOrderCreate
from openbss.ordering.schemas import ProductOrderPatch as OrderPatch

ITEM_FIELD = "productOrderItem"
#: Attributes a ``PATCH`` may change on an open order.
PATCHABLE = frozenset(OrderPatch.model_fields[name].alias or name
                      for name in OrderPatch.model_fields)


# -- create ------------------------------------------------------------------------------

def _offering_ref(item: dict[str, Any]) -> dict[str, Any]:
    return item.get("productOffering") or (item.get("product") or {}).get(
        "productOffering") or {}


def _requested(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    return to_utc(datetime.fromisoformat(value), key) if isinstance(value, str) else None


def _check_item(ctx: Context, body: dict[str, Any], index: int, item: dict[str, Any],
                customer: rules.Customer, *, at: datetime, in_bundle: bool,
                is_bundle: bool, read: AccountsRead) -> rules.CheckedItem:
    where = f"{ITEM_FIELD}[{index}]"
    action = item["action"]
    product_doc = item.get("product") or {}
    item_account = (item.get("billingAccount") or {}).get("id")
    account_id = item_account or (body.get("billingAccount") or {}).get("id")
    account_field = (f"{where}.billingAccount.id" if item_account else "billingAccount.id")
    checked = rules.CheckedItem(index=index, item_id=item["id"], action=action, field=where,
                                quantity=int(item.get("quantity") or 1),
                                account_id=account_id, currency=None,
                                item_account=bool(item_account), is_bundle=is_bundle)
    if action != "add":
        product_id = product_doc.get("id")
        if not product_id:
            if action == "noChange":
                return checked
            raise ValidationError(f"{where}.product.id: a {action} item names the product "
                                  "it changes", field=f"{where}.product.id")
        row = rules.existing_product(ctx, str(product_id), where=f"{where}.product.id",
                                     account_id=account_id)
        checked.product = row
        account_id = checked.account_id = account_id or row.billing_account_id
        if item.get("quantity") is None:
            checked.quantity = int(row.body.get("quantity") or 1)
    if account_id is None:
        if action == "add":
            raise ValidationError(f"{where}.billingAccount: an add item needs a billing "
                                  "account (on the item or the order)",
                                  field=f"{where}.billingAccount")
        return checked
    checked.currency = rules.account_currency(ctx, account_id, where=account_field,
                                              read=read)
    if action in ("noChange",):
        return checked
    offering_id = _offering_ref(item).get("id")
    if action == "add" and not offering_id:
        raise ValidationError(f"{where}.productOffering.id: an add item names the offering",
                              field=f"{where}.productOffering.id")
    current = checked.product.offering_id if checked.product is not None else None
    offering_id = offering_id or current
    offering_field = (f"{where}.productOffering.id" if item.get("productOffering")
                      else f"{where}.product.productOffering.id")
    checked.plan_change = action == "modify" and offering_id != current
    if offering_id is None:
        return checked
    if action == "add" or checked.plan_change:
        offering = rules.orderable_offering(ctx, str(offering_id), at=at, where=offering_field,
                                            in_bundle=in_bundle)
        rules.check_eligible(offering, customer, where=offering_field)
    else:
        try:
            offering = catalog.get_resource(ctx, kind="productOffering",
                                            resource_id=str(offering_id))
        except NotFoundError:
            # the product's offering left the catalog: the product can still be changed
            # or terminated, without catalog prices
            checked.offering_id = str(offering_id)
            return checked
    checked.offering_id = offering.id
    checked.offering_name = offering.name
    checked.offering_version = str(offering.version)
    checked.policy = rules.failure_policy(offering.body)
    checked.is_bundle = is_bundle or bool(offering.is_bundle)
    checked.prices = rules.offering_prices(ctx, offering.id, checked.currency, at=at,
                                           where=offering_field, offering=offering)
    given = product_doc.get("productCharacteristic")
    if action == "add" or given is not None:
        checked.characteristics = rules.check_characteristics(
            rules.spec_characteristics(ctx, offering), given or [],
            field=f"{where}.product", region=ctx.tenant.default_region,
            require=action == "add")
    if action == "modify" and checked.product is not None:
        checked.status = rules.check_status_change(checked.product, product_doc.get("status"),
                                                   where=f"{where}.product.status")
    if action == "delete" and checked.product is not None:
        end = inventory.commitment_end(ctx, product_id=checked.product.id)
        checked.early_termination = end is not None and end > at
    return checked


def _identifiers_free(ctx: Context, checked: Sequence[rules.CheckedItem]
                      ) -> dict[tuple[str, str], str]:
    """An add item's identifiers (MSISDN …) must not be held by a live product nor
    reserved by another open order (409 naming the characteristic); ``{(name, value):
    field}`` of the identifiers the order adds."""
    seen: dict[tuple[str, str], str] = {}
    wheres: dict[tuple[str, str], str] = {}
    for item in checked:
        if item.action != "add" or not item.characteristics:
            continue
        for char in item.characteristics:
            name = inventory.IDENTIFIERS.get(rules.squash(char["name"]))
            if name is None:
                continue
            where = f"{item.field}.product.productCharacteristic[{char['name']}]"
            key = (name, str(char["value"]))
            if key in seen:
                raise ValidationError(f"{where}: {key[1]} is also ordered by {seen[key]}",
                                      field=where)
            seen[key] = item.field
            wheres[key] = where
            holder = queries.open_holder(ctx, *key)
            if holder is not None:
                raise IdentifierInUse(f"{where}: {key[1]} is "
                                      f"{inventory.held_by(ctx, holder.product_id)}",
                                      field=where)
    return wheres


def reserve_identifiers(ctx: Context, order: ProductOrder,
                        wanted: dict[tuple[str, str], str]) -> None:
    """Reserve the identifiers an accepted order adds, from now until its product takes
    them over or the order ends: an open claim (``product_identifier``) whose holder is
    the order's id, so the one-open-claim index refuses a second open order adding the
    same identifier, even one accepted concurrently (409 naming the characteristic)."""
    for (name, value), where in wanted.items():
        try:
            with ctx.session.begin_nested():
                ctx.session.add(ProductIdentifier(tenant_id=ctx.tenant_id, name=name,
                                                  value=value, product_id=order.id,
                                                  valid_from=ctx.now))
                ctx.session.flush()
        except IntegrityError:
            raise IdentifierInUse(f"{where}: {value} was just taken by another product or "
                                  "open productOrder", field=where) from None


def _no_open_orders(ctx: Context, checked: Sequence[rules.CheckedItem]) -> None:
    """A product is changed by one open order at a time (409 naming the item); the
    products are locked, so two concurrent orders serialize here."""
    mine: dict[str, str] = {}
    for item in checked:
        if item.product is None or item.action not in ("modify", "delete"):
            continue
        if item.product.id in mine:
            raise ValidationError(f"{item.field}.product.id: {mine[item.product.id]} already "
                                  f"changes product {item.product.id}",
                                  field=f"{item.field}.product.id")
        mine[item.product.id] = item.field
    open_states = [s.value for s in OPEN_ORDER_STATES]
    for other in queries.open_items_on(ctx, mine, open_states):
        where = f"{mine[str(other.product_id)]}.product.id"
        raise ProductLocked(f"{where}: product {other.product_id} is being changed by open "
                            f"productOrder {other.order_id}; wait for it to finish or cancel "
                            "it", field=where)


def create_order(ctx: Context, *, data: ProductOrderCreate,
                 quote_id: str | None = None) -> ProductOrder:
    """Validate, price and accept a product order (state ``acknowledged``), with its
    item rows and fulfilment steps, in the caller's transaction. ``quote_id``: the
    accepted quote it comes from (``POST /api/v1/quotes/{id}/order``)."""
    body = data.doc()
    items: list[dict[str, Any]] = body["productOrderItem"]
    fulfilment = plan([GraphItem(str(i["id"]), tuple(
        Relation(str(r["id"]), str(r["relationshipType"]))
        for r in i.get("productOrderItemRelationship") or [])) for i in items],
        item_field=ITEM_FIELD)
    start = _requested(body, "requestedStartDate")
    completion = _requested(body, "requestedCompletionDate")
    if start is not None and completion is not None and completion < start:
        raise ValidationError("requestedCompletionDate: before requestedStartDate",
                              field="requestedCompletionDate")
    at = max(start, ctx.now) if start is not None else ctx.now
    order_account = (body.get("billingAccount") or {}).get("id")
    read: AccountsRead = {}  # billing accounts read once per order
    if order_account:
        rules.account_currency(ctx, order_account, where="billingAccount.id", read=read)
    first_account = order_account or next(
        ((i.get("billingAccount") or {}).get("id") for i in items
         if (i.get("billingAccount") or {}).get("id")), None)
    customer = rules.find_customer(ctx, body.get("relatedParty") or [], first_account,
                                   read=read)
    bundles = set(fulfilment.bundle_of.values())
    checked = [_check_item(ctx, body, index, item, customer, at=at,
                           in_bundle=item["id"] in fulfilment.bundle_of,
                           is_bundle=item["id"] in bundles, read=read)
               for index, item in enumerate(items)]
    _no_open_orders(ctx, checked)
    identifiers = _identifiers_free(ctx, checked)
    priced = price_items([PricedItem(c.item_id, c.action, c.prices,  # type: ignore[arg-type]
                                     c.quantity, c.early_termination) for c in checked],
                         item_field=ITEM_FIELD)
    item_prices = {p.item_id: p.to_tmf() for p in priced.items}
    rules.check_credit(ctx, checked, item_prices, read=read)
    for item, c in zip(items, checked, strict=True):
        item["state"] = OrderState.ACKNOWLEDGED.value
        item["quantity"] = c.quantity
        item["itemPrice"] = item_prices[c.item_id]
        item.pop("itemTotalPrice", None)
        if c.characteristics is not None:
            item["product"] = {**(item.get("product") or {}),
                               "productCharacteristic": c.characteristics}
    body["orderTotalPrice"] = priced.totals_to_tmf()
    body["state"] = OrderState.ACKNOWLEDGED.value
    body["orderDate"] = z(ctx.now)
    if quote_id is not None and not any(q.get("id") == quote_id for q in body.get("quote") or []):
        body["quote"] = [*(body.get("quote") or []), {"id": quote_id}]
    customer_ref = next((r for r in body.get("relatedParty") or []
                         if rules.squash(r.get("role") or "") == "customer"), None)
    future = start is not None and start > ctx.now
    row = ProductOrder(
        id=new_id(), tenant_id=ctx.tenant_id, state=OrderState.ACKNOWLEDGED.value,
        billing_account_id=first_account,
        customer_id=customer_ref["id"] if customer_ref else None, quote_id=quote_id,
        external_id=body.get("externalId"), order_date=ctx.now,
        requested_start_date=start, requested_completion_date=completion,
        provisioning_started=False, last_update=ctx.now, row_version=1, body=body)
    # the milestone is on the document before the first INSERT (no UPDATE of the body)
    add_milestone(ctx, row, "acknowledged",
                  "validated and accepted" + (f"; waits until {z(start)}"
                                              if future and start else ""))
    ctx.session.add(row)
    for c in checked:
        ctx.session.add(ProductOrderItem(
            tenant_id=ctx.tenant_id, order_id=row.id, item_id=c.item_id, position=c.index,
            action=c.action, state=OrderState.ACKNOWLEDGED.value,
            product_id=c.product.id if c.product is not None else None,
            offering_id=c.offering_id, quantity=c.quantity, billing_account_id=c.account_id,
            body={"policy": c.policy.value if c.policy else None,
                  "offeringName": c.offering_name, "offeringVersion": c.offering_version,
                  "planChange": c.plan_change, "status": c.status,
                  "earlyTermination": c.early_termination, "isBundle": c.is_bundle}))
    ctx.session.flush()  # the order and its items, before the reservations' savepoints
    reserve_identifiers(ctx, row, identifiers)
    orchestration.create_steps(ctx, row, fulfilment, not_before=start if future else None)
    record_change(ctx, api=ORDERING_API, resource_name="productOrder", resource_id=row.id,
                  change="create", before=None, after=row.body,
                  event_resource=render_order(ctx, row))
    return row


# -- read, patch, delete -----------------------------------------------------------------

def get_order(ctx: Context, *, order_id: str) -> ProductOrder:
    return queries.product_order(ctx, order_id)


def list_orders(ctx: Context, *, params: ListParams) -> tuple[list[ProductOrder], int]:
    return queries.list_orders(ctx, params)


def update_order(ctx: Context, *, order_id: str, patch: Any) -> ProductOrder:
    """Merge-patch the descriptive attributes of an open order (``note``, ``description``,
    ``priority``, ``category``, ``notificationContact``, ``externalId``); items, dates and
    states change through new orders and ``cancelProductOrder`` (422 naming the
    attribute)."""
    if not isinstance(patch, dict):
        raise ValidationError("a merge-patch body must be a JSON object", field="body")
    for key in patch:
        if key not in PATCHABLE:
            raise ValidationError(
                f"{key}: only {', '.join(sorted(PATCHABLE))} of an order can be patched",
                field=key)
    row = queries.product_order(ctx, order_id, lock=True)
    if OrderState(row.state) not in OPEN_ORDER_STATES:
        raise OrderNotChangeable(f"productOrder {row.id} is {row.state}: only an open order "
                                 "can be patched", field="state")
    current = {k: v for k, v in row.body.items() if k in PATCHABLE}
    merged = patched(current, patch, OrderPatch, readonly=frozenset()).doc()
    for note in merged.get("note") or []:
        note.setdefault("date", z(ctx.now))
        note.setdefault("author", ctx.actor)
    if merged == current:
        return row
    before = row.body
    body = {k: v for k, v in row.body.items() if k not in PATCHABLE}
    body.update(merged)
    row.body = body
    row.external_id = merged.get("externalId")
    publish(ctx, row, "update", before)
    return row


def delete_order(ctx: Context, *, order_id: str) -> None:
    """Remove a final order (completed, failed, partial, cancelled, rejected) and its
    rows; an open order is cancelled instead (409)."""
    row = queries.product_order(ctx, order_id, lock=True)
    if not ORDER_STATES.is_final(row.state):
        raise OrderNotChangeable(f"productOrder {row.id} is {row.state}: only a final order "
                                 "can be deleted; cancel an open one", field="state")
    before = row.body
    event = render_order(ctx, row)
    queries.delete_order(ctx, row.id)
    record_change(ctx, api=ORDERING_API, resource_name="productOrder", resource_id=order_id,
                  change="delete", before=before, after=None, event_resource=event)


# -- cancelProductOrder ------------------------------------------------------------------

def cancel_order(ctx: Context, *, data: CancelProductOrderCreate) -> CancelProductOrder:
    """Cancel an order whose provisioning has not started: the order and its items become
    ``cancelled``, its waiting steps are cancelled. Later, 409 ``order_not_cancellable``
    saying why."""
    body = data.doc()
    order_id = str(body["productOrder"]["id"])
    try:
        order = queries.product_order(ctx, order_id, lock=True)
    except NotFoundError:
        raise InvalidReference(f"productOrder.id: no productOrder {order_id!r}",
                               field="productOrder.id") from None
    if ORDER_STATES.is_final(order.state):
        raise OrderNotCancellable(f"productOrder.id: productOrder {order.id} is already "
                                  f"{order.state}", field="productOrder.id")
    if order.provisioning_started:
        raise OrderNotCancellable(
            f"productOrder.id: provisioning of productOrder {order.id} has started "
            f"(state {order.state}); it can no longer be cancelled — order the reverse "
            "change instead", field="productOrder.id")
    if not ORDER_STATES.can(order.state, OrderState.CANCELLED):
        raise OrderNotCancellable(f"productOrder.id: productOrder {order.id} is "
                                  f"{order.state} and cannot be cancelled",
                                  field="productOrder.id")
    reason = body.get("cancellationReason")
    for step in queries.steps_of(ctx, order.id):
        if step.state in (StepState.WAITING, StepState.READY):
            step.state = StepState.CANCELLED.value
            step.finished_at = ctx.now
    for item in queries.order_items(ctx, order.id):
        if ITEM_STATES.can(item.state, OrderState.CANCELLED):
            set_item_state(ctx, order, item, OrderState.CANCELLED)
    doc = dict(order.body)
    doc["cancellationDate"] = z(ctx.now)
    if reason:
        doc["cancellationReason"] = reason
    order.body = doc
    queries.release_reservations(ctx, order.id)
    set_order_state(ctx, order, OrderState.CANCELLED,
                    "cancelled" + (f": {reason}" if reason else ""))
    body["productOrder"] = {**body["productOrder"], "href": render_order(ctx, order)["href"]}
    body["state"] = CancelState.DONE.value
    body["effectiveCancellationDate"] = z(ctx.now)
    row = CancelProductOrder(tenant_id=ctx.tenant_id, order_id=order.id,
                             state=CancelState.DONE.value, requested_at=ctx.now, body=body)
    ctx.session.add(row)
    ctx.session.flush()
    record_change(ctx, api=ORDERING_API, resource_name="cancelProductOrder",
                  resource_id=row.id, change="create", before=None, after=body,
                  event_resource=render_cancel(ctx, row))
    return row


def get_cancel(ctx: Context, *, cancel_id: str) -> CancelProductOrder:
    return queries.cancel_request(ctx, cancel_id)


def list_cancels(ctx: Context, *, params: ListParams
                 ) -> tuple[list[CancelProductOrder], int]:
    return queries.list_cancel_requests(ctx, params)
