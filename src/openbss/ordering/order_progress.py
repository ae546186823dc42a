"""What the end of a fulfilment step does to its order: an item failed (its dependents
cancelled), waiting steps released, information required from the OSS, compensation
done, and the order's final state by the offerings' failure policies when every step is
final (compensating a failed bundle first). Called by
:mod:`openbss.ordering.orchestration` inside the step's transaction."""

from __future__ import annotations

from openbss.core import clock
from openbss.core.context import Context
from openbss.ordering import order_events as record
from openbss.ordering import queries
from openbss.ordering.graph import (
    FailurePolicy,
    outcome,
)
from openbss.ordering.models import (
    ITEM_STATES,
    STEP_STATES,
    FulfilmentStep,
    OrderState,
    ProductOrder,
    ProductOrderItem,
    StepState,
)
from openbss.ordering.provisioning import ProvisioningResult
from openbss.ordering.steps import (
    _FINAL_STEP,
    COMPENSATE,
    PROVISION,
    _positions,
    external_id,
    order_plan,
)


def milestone(ctx: Context, order: ProductOrder, name: str, message: str, *,
              item_id: str | None = None) -> None:
    """Append a milestone to the order and publish the order's attribute-change event."""
    before = order.body
    record.add_milestone(ctx, order, name, message, item_id=item_id)
    record.publish(ctx, order, "update", before)


def _information(ctx: Context, order: ProductOrder, item: ProductOrderItem,
                 result: ProvisioningResult) -> None:
    """An OSS order ``held``/``pending`` waits for information: the order follows and
    ``ProductOrderInformationRequiredEvent`` says what is missing."""
    wanted = {"held": OrderState.HELD, "pending": OrderState.PENDING}.get(
        (result.external_state or "").lower())
    if wanted is None:
        if order.state in (OrderState.HELD, OrderState.PENDING):
            record.set_order_state(ctx, order, OrderState.IN_PROGRESS, "information received")
        return
    if order.state == wanted:
        return
    record.set_order_state(ctx, order, wanted,
                           f"item {item.item_id}: {result.message or 'information required'}")
    before = order.body
    record.add_milestone(ctx, order, "informationRequired",
                         f"item {item.item_id}: {result.message or 'the OSS needs information'}",
                         item_id=item.item_id)
    record.publish(ctx, order, "update", before,
                   event="ProductOrderInformationRequiredEvent")


def _step_failed(ctx: Context, order: ProductOrder, item: ProductOrderItem,
                 step: FulfilmentStep, message: str) -> None:
    step.state = STEP_STATES.check(step.state, StepState.FAILED).value
    step.finished_at = ctx.now
    step.last_error = message[:4000]
    if ITEM_STATES.can(item.state, OrderState.FAILED):
        record.set_item_state(ctx, order, item, OrderState.FAILED)
    before = order.body
    record.add_milestone(ctx, order, "itemFailed", f"item {item.item_id}: {message}",
                         item_id=item.item_id)
    # items that wait for it, directly or not, can never start
    fulfilment = order_plan(order)
    blocked = fulfilment.blocked_by([item.item_id])
    items = {i.item_id: i for i in queries.order_items(ctx, order.id)}
    for other in queries.steps_of(ctx, order.id):
        if other.kind == PROVISION and other.item_id in blocked and \
                StepState(other.state) not in _FINAL_STEP:
            other.state = STEP_STATES.check(other.state, StepState.CANCELLED).value
            other.finished_at = ctx.now
            blocked_item = items[other.item_id]
            if ITEM_STATES.can(blocked_item.state, OrderState.CANCELLED):
                record.set_item_state(ctx, order, blocked_item, OrderState.CANCELLED)
            record.add_milestone(ctx, order, "itemCancelled",
                                 f"item {other.item_id}: not started, item {item.item_id} "
                                 "it waits for failed", item_id=other.item_id)
    record.publish(ctx, order, "update", before)
    _finish(ctx, order)


def _release(ctx: Context, order: ProductOrder) -> None:
    """Waiting steps whose prerequisites are all done become ready."""
    steps = queries.steps_of(ctx, order.id)
    done = {s.item_id for s in steps if s.kind == PROVISION and s.state == StepState.DONE}
    finished = {s.item_id for s in steps if s.kind == COMPENSATE and
                StepState(s.state) in _FINAL_STEP}
    for step in steps:
        if step.state != StepState.WAITING:
            continue
        ready = set(step.waits_for) <= (done if step.kind == PROVISION else finished)
        if ready:
            step.state = STEP_STATES.check(step.state, StepState.READY).value
            step.due_at = clock.utcnow()


def _policies(ctx: Context, order: ProductOrder) -> dict[str, FailurePolicy]:
    policies: dict[str, FailurePolicy] = {}
    for item in queries.order_items(ctx, order.id):
        raw = item.body.get("policy")
        if raw:
            policies[item.item_id] = FailurePolicy(raw)
    return policies


def _finish(ctx: Context, order: ProductOrder) -> None:
    """When every provision step is final: compensate what a failed bundle completed,
    then give the order its final state."""
    steps = queries.steps_of(ctx, order.id)
    provision = [s for s in steps if s.kind == PROVISION]
    compensate = [s for s in steps if s.kind == COMPENSATE]
    if any(StepState(s.state) not in _FINAL_STEP for s in steps):
        return
    fulfilment = order_plan(order)
    by_item = {s.item_id: s for s in provision}
    compensated = {s.item_id for s in compensate}
    states = {item_id: ("completed" if by_item[item_id].state == StepState.DONE
                        or item_id in compensated else "failed")
              for item_id in fulfilment.order}
    result = outcome(fulfilment, states, _policies(ctx, order))
    if result.compensate and not compensate:
        positions = _positions(order)
        previous: list[str] = []
        for item_id in result.compensate:  # dependents first: each waits for the one before
            ctx.session.add(FulfilmentStep(
                tenant_id=ctx.tenant_id, order_id=order.id, item_id=item_id, kind=COMPENSATE,
                state=(StepState.WAITING if previous else StepState.READY).value,
                waits_for=previous, due_at=clock.utcnow(), not_before=None, attempts=0,
                external_id=external_id(order.id, positions[item_id], COMPENSATE)))
            previous = [item_id]
        before = order.body
        record.add_milestone(ctx, order, "compensating",
                             f"bundle {', '.join(result.failed_bundles)} failed "
                             f"(all_or_nothing): undoing items {', '.join(result.compensate)}")
        record.publish(ctx, order, "update", before)
        return
    failed = [s.item_id for s in provision if s.state != StepState.DONE]
    message = {"completed": "every item completed",
               "partial": f"items {', '.join(failed)} failed; the others completed",
               "failed": "no item completed"}[result.state.value]
    record.set_order_state(ctx, order, OrderState(result.state.value), message)
    queries.release_reservations(ctx, order.id)  # what its failed items would have added


def _compensation_done(ctx: Context, order: ProductOrder, item: ProductOrderItem,
                       step: FulfilmentStep, *, ok: bool, message: str) -> None:
    step.state = STEP_STATES.check(step.state, StepState.DONE if ok else StepState.FAILED
                                   ).value
    step.finished_at = ctx.now
    before = order.body
    if ok:
        if ITEM_STATES.can(item.state, OrderState.CANCELLED):
            record.set_item_state(ctx, order, item, OrderState.CANCELLED)
        record.add_milestone(ctx, order, "itemCompensated",
                             f"item {item.item_id}: undone" + (f" ({message})" if message
                                                              else ""), item_id=item.item_id)
    else:
        step.last_error = message[:4000]
        record.add_milestone(ctx, order, "compensationFailed",
                             f"item {item.item_id}: could not be undone: {message}",
                             item_id=item.item_id)
    record.publish(ctx, order, "update", before)
    _release(ctx, order)
    _finish(ctx, order)
