"""Orchestration of accepted product orders: fulfilment steps, run by the worker.

(The worker pass is being added; see :func:`create_steps`.)
"""

from __future__ import annotations

from datetime import datetime

from openbss.core import clock
from openbss.core.context import Context
from openbss.ordering.graph import FulfilmentPlan
from openbss.ordering.models import FulfilmentStep, ProductOrder, StepState

PROVISION = "provision"
COMPENSATE = "compensate"


def external_id(order_id: str, position: int, kind: str) -> str:
    """The idempotency key of a step's provisioning request (stable across re-sends)."""
    return f"{order_id}-{position}-{kind}"


def create_steps(ctx: Context, order: ProductOrder, fulfilment: FulfilmentPlan, *,
                 not_before: datetime | None) -> list[FulfilmentStep]:
    """One ``provision`` step per item, in the order's transaction: ``ready`` when it
    waits for no other item, ``waiting`` otherwise; a future requested start date is the
    steps' ``not_before`` (business time)."""
    positions = {item["id"]: index for index, item in enumerate(order.body["productOrderItem"])}
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
