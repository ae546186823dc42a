"""Fulfilment steps of an accepted product order: one ``provision`` step per item (and
``compensate`` steps when a failed bundle is undone), their idempotency keys, the order's
dependency plan, and the provisioning request a step sends. The worker pass that runs them
is :mod:`openbss.ordering.orchestration`."""

from __future__ import annotations

from datetime import datetime

from openbss.core import clock
from openbss.core.context import Context
from openbss.ordering import queries
from openbss.ordering.graph import (
    FulfilmentPlan,
    GraphItem,
    Relation,
    plan,
)
from openbss.ordering.models import (
    FulfilmentStep,
    OrderState,
    ProductOrder,
    ProductOrderItem,
    ProductStatus,
    StepState,
)
from openbss.ordering.provisioning import (
    Action,
    ProvisioningRequest,
)

PROVISION = "provision"
COMPENSATE = "compensate"
_FINAL_STEP = frozenset({StepState.DONE, StepState.FAILED, StepState.CANCELLED})
_OPEN_ORDER = frozenset({OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.PENDING,
                         OrderState.HELD})


def external_id(order_id: str, position: int, kind: str) -> str:
    """The idempotency key of a step's provisioning request (stable across re-sends)."""
    return f"{order_id}-{position}-{kind}"


def create_steps(ctx: Context, order: ProductOrder, fulfilment: FulfilmentPlan, *,
                 not_before: datetime | None) -> list[FulfilmentStep]:
    """One ``provision`` step per item, in the order's transaction: ``ready`` when it
    waits for no other item, ``waiting`` otherwise; a future requested start date is the
    steps' ``not_before`` (business time)."""
    positions = _positions(order)
    steps = []
    for item_id in fulfilment.order:
        waits = sorted(fulfilment.prerequisites[item_id], key=positions.__getitem__)
        step = FulfilmentStep(
            tenant_id=ctx.tenant_id, order_id=order.id, item_id=item_id, kind=PROVISION,
            state=(StepState.WAITING if waits else StepState.READY).value, waits_for=waits,
            due_at=clock.utcnow(), not_before=not_before, attempts=0,
            external_id=external_id(order.id, positions[item_id], PROVISION))
        ctx.session.add(step)
        steps.append(step)
    return steps


def _positions(order: ProductOrder) -> dict[str, int]:
    return {item["id"]: index for index, item in enumerate(order.body["productOrderItem"])}


def order_plan(order: ProductOrder) -> FulfilmentPlan:
    return plan([GraphItem(str(i["id"]), tuple(
        Relation(str(r["id"]), str(r["relationshipType"]))
        for r in i.get("productOrderItemRelationship") or []))
        for i in order.body["productOrderItem"]])


def _request(ctx: Context, order: ProductOrder, item: ProductOrderItem,
             step: FulfilmentStep) -> ProvisioningRequest:
    doc = order.body["productOrderItem"][item.position]
    product = dict(doc.get("product") or {})
    if item.offering_id:
        product["productOffering"] = {"id": item.offering_id,
                                      "name": item.body.get("offeringName")}
    if item.product_id:
        product["id"] = item.product_id
    action: Action
    if step.kind == COMPENSATE:
        action = "compensate"
    elif item.action == "modify" and item.body.get("status") == ProductStatus.SUSPENDED:
        action = "suspend"
    elif item.action == "modify" and item.body.get("status") == ProductStatus.ACTIVE:
        action = "resume"
    else:
        action = "delete" if item.action == "delete" else \
            "modify" if item.action in ("modify", "noChange") else "add"
    previous = None
    if step.kind == COMPENSATE:
        previous = next((s.external_ref for s in queries.steps_of(ctx, order.id)
                         if s.kind == PROVISION and s.item_id == item.item_id), None)
    return ProvisioningRequest(tenant_id=ctx.tenant_id, order_id=order.id,
                               item_id=item.item_id, action=action, product=product,
                               external_id=step.external_id, previous_ref=previous)
