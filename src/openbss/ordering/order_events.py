"""The record of a product order: milestones, state changes of the order and its items,
and their TMF622 events (audit + outbox), shared by the order use cases
(:mod:`openbss.ordering.orders`) and the orchestration
(:mod:`openbss.ordering.orchestration`).

Every state change and milestone is appended to the order's ``milestone`` list (an
extension of the TMF622 document: ``name``, ``date`` in business time, ``state`` of the
order after it, ``message``, and the ``productOrderItem`` it concerns) and published:
``ProductOrderStateChangeEvent`` for a state change, ``ProductOrderAttributeValueChangeEvent``
for a milestone, ``ProductOrderInformationRequiredEvent`` when the order waits for
information.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openbss.core import audit, events
from openbss.core.context import Context
from openbss.core.resources import record_change, render
from openbss.ordering.models import (
    ITEM_STATES,
    ORDER_STATES,
    CancelProductOrder,
    OrderState,
    ProductOrder,
    ProductOrderItem,
)
from openbss.ordering.paths import CANCEL_ORDER_PATH, ORDERING_API, PRODUCT_ORDER_PATH


def z(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def render_order(ctx: Context, row: ProductOrder) -> dict[str, Any]:
    return render(ctx.base_url, PRODUCT_ORDER_PATH, row.id, row.body)


def render_cancel(ctx: Context, row: CancelProductOrder) -> dict[str, Any]:
    return render(ctx.base_url, CANCEL_ORDER_PATH, row.id, row.body)


def add_milestone(ctx: Context, row: ProductOrder, name: str, message: str, *,
                  item_id: str | None = None) -> None:
    """Append a milestone to the order (the caller records the change)."""
    entry: dict[str, Any] = {"name": name, "date": z(ctx.now), "state": row.state,
                             "message": message}
    if item_id is not None:
        entry["productOrderItem"] = {"id": item_id}
    body = dict(row.body)
    body["milestone"] = [*body.get("milestone", []), entry]
    row.body = body


def publish(ctx: Context, row: ProductOrder, change: str, before: dict[str, Any] | None,
            *, event: str | None = None) -> None:
    """Audit + TMF event of an order change (``event`` overrides the event type, e.g.
    ``ProductOrderInformationRequiredEvent``)."""
    row.last_update = ctx.now
    row.row_version += 1
    if event is None:
        record_change(ctx, api=ORDERING_API, resource_name="productOrder",
                      resource_id=row.id, change=change,  # type: ignore[arg-type]
                      before=before, after=row.body, event_resource=render_order(ctx, row))
        return
    audit.record(ctx, action="update", resource_type="productOrder", resource_id=row.id,
                 before=before, after=row.body)
    events.publish(ctx, api=ORDERING_API, event_type=event, resource_name="productOrder",
                   resource=render_order(ctx, row))


def set_order_state(ctx: Context, row: ProductOrder, state: OrderState, message: str) -> None:
    """Move the order through :data:`ORDER_STATES`, with a milestone and the
    ``ProductOrderStateChangeEvent``."""
    new = ORDER_STATES.check(row.state, state, resource_id=row.id)
    if new == row.state:
        return
    before = row.body
    row.state = new.value
    body = dict(row.body)
    body["state"] = new.value
    if ORDER_STATES.is_final(new):
        row.completion_date = ctx.now
        body["completionDate"] = z(ctx.now)
    row.body = body
    add_milestone(ctx, row, new.value, message)
    publish(ctx, row, "state", before)


def set_item_state(ctx: Context, order: ProductOrder, item: ProductOrderItem,
                   state: OrderState) -> None:
    """The item's row and its entry in the order document (no event of its own: the
    caller records the order change)."""
    new = ITEM_STATES.check(item.state, state, resource_id=f"{order.id}/{item.item_id}")
    item.state = new.value
    body = dict(order.body)
    items = [dict(i) for i in body["productOrderItem"]]
    items[item.position]["state"] = new.value
    body["productOrderItem"] = items
    order.body = body
