"""Orchestration of accepted product orders: fulfilment steps, run by the worker.

An accepted order is decomposed (:func:`openbss.ordering.graph.plan`) into one
:class:`~openbss.ordering.models.FulfilmentStep` row per item, in the order's transaction
(:func:`create_steps`): ``ready`` when the item waits for nothing, ``waiting`` for its
prerequisites otherwise (``bundles``: a bundle waits for its components; ``reliesOn``),
and ``not_before`` the requested start date when it lies in the future (business time).

The worker pass :func:`run_due_steps` takes the due steps (``ready``, or ``running``
whose lease or poll time has come; ``due_at`` <= real now; ``not_before`` <= the tenant's
business now; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and runs each in three short
transactions, so no lock is held while the network side is asked (an adapter that asks
nobody, ``immediate``, and a ``noChange`` item run in one):

1. **claim** (order row locked, then the step): the step becomes ``running`` with a lease,
   the order ``inProgress`` and ``provisioning_started`` (from then on a cancel is refused),
   the item ``inProgress``;
2. **ask** the tenant's provisioner (``provisioning`` settings group): ``submit`` (or
   ``poll`` with the OSS reference) — idempotent by the step's ``external_id``;
3. **apply** (order and step locked again): ``completed`` -> the inventory
   (``create_product`` / ``update_product`` with the order item, effective at the plan-change
   or termination date the inventory rules give), the item ``completed``, its dependents
   ``ready``; ``inProgress`` -> poll later (``held``/``pending`` on the OSS side puts the
   order ``held``/``pending`` and publishes ``ProductOrderInformationRequiredEvent``);
   :class:`~openbss.ordering.provisioning.ProvisioningUnavailable` -> retry with
   exponential backoff up to ``maxAttempts``, then ``failed``; ``failed`` -> the item fails,
   items waiting for it are cancelled.

When every provision step is final, :func:`openbss.ordering.graph.outcome` with the
offerings' failure policies (a ``prodSpecCharValueUse`` named ``failurePolicy``; default
``all_or_nothing``) gives the order's state; the completed items of a failed bundle are
compensated first (``compensate`` steps, dependents first: their products are terminated
or restored, the items ``cancelled``), so inventory never shows what the network does not
have. A crash at any point leaves rows that the next pass resumes: a claimed step whose
lease ran out is asked again with the same ``external_id``; the inventory change and the
step's ``done`` are one transaction, so nothing is applied twice.

A plan change that takes effect later (a downgrade at the end of the billing period) is
not claimed until then: :func:`_schedule` sets the step's ``not_before`` to that instant
and puts the item and the order ``pending`` (``itemScheduled`` milestone).

This module is the worker pass (claim, ask, apply); beside it: :mod:`~openbss.ordering.
steps` (step planning, re-exported here), :mod:`~openbss.ordering.order_progress` (what a
finished step does to its order) and :mod:`~openbss.ordering.fulfilment_inventory` (what
a completed item does to the inventory).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session

from openbss.core import clock, tenant_settings
from openbss.core.context import Context, system_context
from openbss.core.errors import NotFoundError, OpenBSSError
from openbss.core.models import Tenant
from openbss.core.service import list_tenants
from openbss.ordering import inventory, queries
from openbss.ordering import order_events as record
from openbss.ordering.fulfilment_inventory import _apply_inventory, _undo_inventory
from openbss.ordering.models import (
    STEP_STATES,
    FulfilmentStep,
    OrderState,
    ProductOrder,
    ProductOrderItem,
    StepState,
)
from openbss.ordering.order_events import z
from openbss.ordering.order_progress import (
    _compensation_done,
    _finish,
    _information,
    _release,
    _step_failed,
    milestone,
)
from openbss.ordering.provisioning import (
    ImmediateProvisioner,
    Outcome,
    Provisioner,
    ProvisioningRequest,
    ProvisioningResult,
    ProvisioningSettings,
    ProvisioningUnavailable,
    provisioner_for,
)
from openbss.ordering.steps import (
    _FINAL_STEP,
    _OPEN_ORDER,
    COMPENSATE,
    PROVISION,
    _request,
    create_steps,
    external_id,
    order_plan,
)

__all__ = ["COMPENSATE", "LEASE_SECONDS", "MAX_BACKOFF_SECONDS", "PROVISION",
           "SQLITE_YIELD_SECONDS", "create_steps", "external_id", "order_plan",
           "register_worker_pass", "run_due_steps", "run_step", "worker_pass"]

log = structlog.get_logger("openbss.orchestration")
#: Seconds a claimed step is leased to one worker beyond the provisioning timeout; a
#: worker that dies leaves the step to be asked again (same external_id) after it.
LEASE_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 300.0
#: Pause after each step on SQLite (see :func:`run_due_steps`).
SQLITE_YIELD_SECONDS = 0.01

# -- the worker pass -----------------------------------------------------------------------

def run_due_steps(session: Session, *, limit: int = 100, tenant_id: str | None = None) -> int:
    """Run up to ``limit`` due steps of every tenant (or of ``tenant_id`` only), each in
    its own short transactions committed on ``session``; the number of steps that made
    progress."""
    done = 0
    real_now = clock.utcnow()
    due: list[tuple[Tenant, str]] = []
    for tenant in list_tenants(session):
        if tenant_id is not None and tenant.id != tenant_id:
            continue
        ctx = system_context(session, tenant, actor="worker")
        ids = queries.due_step_ids(ctx, states=[StepState.READY.value,
                                                StepState.RUNNING.value],
                                   real_now=real_now, business_now=ctx.now,
                                   limit=limit - len(due))
        due.extend((tenant, step_id) for step_id in ids)
        if len(due) >= limit:
            break
    session.commit()
    single_writer = session.get_bind().dialect.name == "sqlite"
    for tenant, step_id in due:
        try:
            done += run_step(session, tenant.id, step_id)
        except Exception:
            session.rollback()
            log.exception("fulfilment_step_failed", step_id=step_id)
        if single_writer:
            # SQLite has one writer: leave a gap after each step so the API's writers,
            # waiting in SQLite's busy handler, are not starved by the next step
            time.sleep(SQLITE_YIELD_SECONDS)
    return done


def _context(session: Session, tenant_id: str) -> Context:
    from openbss.core.context import load_tenant

    tenant = load_tenant(session, tenant_id)
    if tenant is None:
        raise NotFoundError(f"tenant {tenant_id!r} not found")
    return system_context(session, tenant, actor="worker")


def _skip_locked(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _locked(ctx: Context, step_id: str, *, wait: bool) -> tuple[ProductOrder, FulfilmentStep
                                                                 ] | None:
    """The step's order, then the step, both locked: the order first, as a cancel does,
    so the two never wait for each other. Claiming (``wait`` False) skips a step another
    worker holds (``SKIP LOCKED`` on PostgreSQL)."""
    peek = _find_step(ctx, step_id)
    if peek is None:
        return None
    order = queries.product_order(ctx, peek.order_id, lock=True)
    skip = not wait and _skip_locked(ctx.session)
    step = queries.claim_step(ctx, step_id, skip_locked=skip)
    return (order, step) if step is not None else None


def _open(session: Session, tenant_id: str, step_id: str, *, wait: bool
          ) -> tuple[Context, ProductOrder, FulfilmentStep] | None:
    """A fresh context (business now) and the step with its order, locked; None (the
    transaction ended) when the step is gone or another worker holds it."""
    ctx = _context(session, tenant_id)
    found = _locked(ctx, step_id, wait=wait)
    if found is None:
        session.rollback()
        return None
    return ctx, *found


def _find_step(ctx: Context, step_id: str) -> FulfilmentStep | None:
    from openbss.core.queries import find_owned

    return find_owned(ctx.session, FulfilmentStep, ctx.tenant_id, step_id)


def _item(ctx: Context, order: ProductOrder, item_id: str) -> ProductOrderItem:
    return next(i for i in queries.order_items(ctx, order.id) if i.item_id == item_id)


def run_step(session: Session, tenant_id: str, step_id: str) -> int:
    """Claim, ask, apply one step (see the module docstring); 1 if it made progress."""
    # 1. claim
    found = _open(session, tenant_id, step_id, wait=False)
    if found is None:
        return 0
    ctx, order, step = found
    real_now = clock.utcnow()
    if StepState(step.state) in _FINAL_STEP or (step.due_at and step.due_at > real_now) \
            or (step.not_before and step.not_before > ctx.now) \
            or OrderState(order.state) not in _OPEN_ORDER:
        session.rollback()
        return 0
    settings = tenant_settings.read(ctx, "provisioning", ProvisioningSettings)
    item = _item(ctx, order, step.item_id)
    if step.state == StepState.READY and step.kind == PROVISION and _schedule(
            ctx, order, item, step):
        session.commit()  # a change that applies later waits, provisioning not started
        return 1
    poll_ref = step.external_ref if step.state == StepState.RUNNING else None
    if step.state == StepState.READY:
        step.state = STEP_STATES.check(step.state, StepState.RUNNING).value
        step.attempts += 1
        step.started_at = step.started_at or ctx.now
        if step.kind == PROVISION:
            if not order.provisioning_started:
                order.provisioning_started = True
            if order.state == OrderState.ACKNOWLEDGED or (
                    order.state == OrderState.PENDING and item.state == OrderState.PENDING):
                record.set_order_state(ctx, order, OrderState.IN_PROGRESS,
                                       "provisioning started")
            if item.state in (OrderState.ACKNOWLEDGED, OrderState.PENDING):
                record.set_item_state(ctx, order, item, OrderState.IN_PROGRESS)
                milestone(ctx, order, "itemStarted",
                          f"item {item.item_id}: {item.action} sent to provisioning "
                          f"({settings.adapter})", item_id=item.item_id)
    step.due_at = real_now + timedelta(seconds=settings.timeout_seconds + LEASE_SECONDS)
    attempts = step.attempts
    request = _request(ctx, order, item, step)
    no_change = item.action == "noChange" and step.kind == PROVISION
    local = no_change
    provisioner: Provisioner | None = None
    if not no_change:
        try:
            provisioner = provisioner_for(settings)
        except Exception:  # an unknown adapter: retried (the settings may be fixed), then failed
            log.exception("provisioner_unavailable", adapter=settings.adapter)
        # an adapter that asks nobody (immediate) runs inside the claim's transaction
        local = isinstance(provisioner, ImmediateProvisioner)
    if not local:
        session.commit()  # 2. ask with no transaction open and no lock held
    result, error = _ask(provisioner, request, poll_ref, step_id, no_change=no_change)
    if not local:  # 3. apply
        found = _open(session, tenant_id, step_id, wait=True)
        if found is None:
            return 0
        ctx, order, step = found
        if step.state != StepState.RUNNING or step.attempts != attempts:
            session.rollback()  # another worker took over after the lease ran out
            return 0
        item = _item(ctx, order, step.item_id)
    if result is None:
        _unavailable(ctx, order, item, step, settings, error)
    else:
        _apply(ctx, order, item, step, result, settings)
    session.commit()
    return 1


def _schedule(ctx: Context, order: ProductOrder, item: ProductOrderItem,
              step: FulfilmentStep) -> bool:
    """A plan change that takes effect later (a downgrade at the end of the billing
    period) waits for that instant: the step's ``not_before`` becomes it (business time),
    the item and the order ``pending`` with an ``itemScheduled`` milestone; True then.
    Nothing is provisioned or changed in the inventory before, and until then the order
    can still be cancelled."""
    if item.action != "modify" or not item.body.get("planChange") or not item.offering_id \
            or item.body.get("effective") or item.product_id is None:
        return False
    try:
        at = inventory.plan_change_effective(ctx, product_id=item.product_id,
                                             offering_id=item.offering_id)
    except OpenBSSError:
        return False  # the apply step fails the item with the reason
    if at <= ctx.now:
        return False
    item.body = {**item.body, "effective": z(at)}
    step.not_before = at
    if order.state == OrderState.ACKNOWLEDGED:
        record.set_order_state(ctx, order, OrderState.PENDING,
                               f"item {item.item_id}: scheduled for {z(at)}")
    if item.state == OrderState.ACKNOWLEDGED:
        record.set_item_state(ctx, order, item, OrderState.PENDING)
    milestone(ctx, order, "itemScheduled",
              f"item {item.item_id}: the plan change to {item.offering_id} "
              f"applies at {z(at)} (end of the billing period)",
              item_id=item.item_id)
    return True


def _ask(provisioner: Provisioner | None, request: ProvisioningRequest, poll_ref: str | None,
         step_id: str, *, no_change: bool) -> tuple[ProvisioningResult | None, str]:
    """The adapter's answer, or None and the error that makes the step retry."""
    if no_change:
        return ProvisioningResult(Outcome.COMPLETED, message="noChange: nothing to do"), ""
    if provisioner is None:
        return None, "no provisioning adapter for the tenant's settings"
    try:
        if poll_ref:
            return provisioner.poll(request, poll_ref), ""
        return provisioner.submit(request), ""
    except ProvisioningUnavailable as exc:
        return None, str(exc) or type(exc).__name__
    except Exception as exc:  # an adapter bug must not stop the queue: retried, then failed
        log.exception("provisioner_error", step_id=step_id)
        return None, f"{type(exc).__name__}: {exc}"


def _backoff(attempts: int) -> float:
    return float(min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def _unavailable(ctx: Context, order: ProductOrder, item: ProductOrderItem,
                 step: FulfilmentStep, settings: ProvisioningSettings, error: str) -> None:
    step.last_error = error[:4000]
    if step.attempts >= settings.max_attempts:
        message = f"provisioning unavailable after {step.attempts} attempts: {error}"
        if step.kind == COMPENSATE:
            _compensation_done(ctx, order, item, step, ok=False, message=message)
        else:
            _step_failed(ctx, order, item, step, message)
        return
    delay = _backoff(step.attempts)
    step.state = STEP_STATES.check(step.state, StepState.READY).value
    step.due_at = clock.utcnow() + timedelta(seconds=delay)
    milestone(ctx, order, "retryScheduled",
              f"item {item.item_id}: provisioning unavailable ({error}); attempt "
              f"{step.attempts + 1} of {settings.max_attempts} in {delay:g} s",
              item_id=item.item_id)


def _apply(ctx: Context, order: ProductOrder, item: ProductOrderItem, step: FulfilmentStep,
           result: ProvisioningResult, settings: ProvisioningSettings) -> None:
    step.external_ref = result.external_ref or step.external_ref
    step.external_state = result.external_state
    if result.outcome == Outcome.IN_PROGRESS:
        step.due_at = clock.utcnow() + timedelta(
            seconds=settings.poll_seconds if result.retry_after is None
            else result.retry_after)
        _information(ctx, order, item, result)
        return
    if result.outcome == Outcome.FAILED:
        if step.kind == COMPENSATE:
            _compensation_done(ctx, order, item, step, ok=False, message=result.message)
        else:
            _step_failed(ctx, order, item, step, result.message or "provisioning failed")
        return
    if order.state in (OrderState.HELD, OrderState.PENDING):
        record.set_order_state(ctx, order, OrderState.IN_PROGRESS, "information received")
    if step.kind == COMPENSATE:
        try:
            with ctx.session.begin_nested():
                _undo_inventory(ctx, order, item)
        except OpenBSSError as exc:
            _compensation_done(ctx, order, item, step, ok=False, message=exc.message)
            return
        _compensation_done(ctx, order, item, step, ok=True, message=result.message)
        return
    try:
        with ctx.session.begin_nested():
            note = _apply_inventory(ctx, order, item)
    except OpenBSSError as exc:
        _step_failed(ctx, order, item, step, f"inventory refused the change: {exc.message}")
        return
    step.state = STEP_STATES.check(step.state, StepState.DONE).value
    step.finished_at = ctx.now
    record.set_item_state(ctx, order, item, OrderState.COMPLETED)
    milestone(ctx, order, "itemCompleted",
              f"item {item.item_id}: {item.action} completed"
              + (f" ({note})" if note else "")
              + (f"; {result.message}" if result.message else ""),
              item_id=item.item_id)
    _release(ctx, order)
    _finish(ctx, order)


# -- the worker hook -----------------------------------------------------------------------

def worker_pass(limit: int = 100) -> int:
    """One pass for the worker loop: due fulfilment steps of every tenant."""
    from openbss.core.db import unit_of_work

    with unit_of_work() as session:
        return run_due_steps(session, limit=limit)


def register_worker_pass(register: Callable[[str, Callable[[], int]], None] | None = None
                         ) -> None:
    """Register the ordering passes with the worker loop (``openbss worker`` and the
    worker thread of ``openbss serve``): :func:`worker_pass` (due fulfilment steps) and
    :func:`openbss.ordering.inventory.terminations_pass` (``pendingTerminate`` products
    whose terminationDate has come)."""
    if register is None:
        from openbss.core.worker import register_periodic

        register = register_periodic
    register("ordering.fulfilment", worker_pass)
    register("ordering.terminations", inventory.terminations_pass)
