"""The orchestration of product orders with a scripted provisioning adapter (registered
in ``provisioning.ADAPTERS`` for the test): dependent items, failure of one item with
compensation under each failure policy, retries with backoff, an OSS asking for
information, and restart safety (a worker killed between submit and result)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from openbss.core import clock
from openbss.core.db import unit_of_work
from openbss.core.models import OutboxEvent
from openbss.core.queries import scoped, scoped_update
from openbss.ordering import inventory, orchestration, provisioning
from openbss.ordering.models import FulfilmentStep
from openbss.ordering.provisioning import (
    Outcome,
    ProvisioningRequest,
    ProvisioningResult,
    ProvisioningUnavailable,
)
from ordering.test_orders import INV, PO, T0, Shop, get, post, work  # type: ignore[import-not-found]


class Killed(BaseException):
    """The worker process dies (not an Exception: nothing in the worker catches it)."""


@dataclass
class Scripted:
    """A network side that answers per offering name: a list of answers consumed in turn
    (``"ok"``, ``"fail"``, ``"down"``, ``"held"``, ``"kill"``); what it provisioned, by
    external id (re-sends of one id act once)."""

    plan: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (action, item, extid)
    acted: dict[str, str] = field(default_factory=dict)  # external id -> action

    def _answer(self, request: ProvisioningRequest) -> ProvisioningResult:
        name = (request.product.get("productOffering") or {}).get("name", "")
        script = self.plan.get(f"{request.action}:{name}") or self.plan.get(name) or []
        answer = script.pop(0) if script else "ok"
        self.calls.append((request.action, request.item_id, request.external_id))
        if answer == "down":
            raise ProvisioningUnavailable("connection refused")
        if answer == "fail":
            return ProvisioningResult(Outcome.FAILED, external_ref=f"so-{request.external_id}",
                                      message="no port free on the DSLAM")
        if answer == "held":
            return ProvisioningResult(Outcome.IN_PROGRESS, external_ref=f"so-{request.external_id}",
                                      external_state="held", retry_after=0.0,
                                      message="appointment needed")
        self.acted.setdefault(request.external_id, request.action)
        if answer == "kill":
            raise Killed()
        return ProvisioningResult(Outcome.COMPLETED, external_ref=f"so-{request.external_id}")

    def submit(self, request: ProvisioningRequest) -> ProvisioningResult:
        return self._answer(request)

    def poll(self, request: ProvisioningRequest, external_ref: str) -> ProvisioningResult:
        return self._answer(request)


@pytest.fixture
def oss(monkeypatch) -> Scripted:  # type: ignore[no-untyped-def]
    adapter = Scripted()
    monkeypatch.setitem(provisioning.ADAPTERS, "immediate", lambda settings: adapter)
    monkeypatch.setattr(orchestration, "_backoff", lambda attempts: 0.0)
    return adapter


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="FR")


def _fibre(shop: Shop, *, policy: str | None = None) -> dict[str, Any]:
    """A bundle (item b) of a router (r) and a line (l) that relies on the router, and a
    stand-alone mobile line (m)."""
    bundle = shop.fibre
    if policy:
        bundle = shop.offering("Fibre bundle " + policy, "0.00", prodSpecCharValueUse=[
            {"name": "failurePolicy", "productSpecCharacteristicValue": [{"value": policy}]}])
    return shop.order(
        {"id": "b", "action": "add", "productOffering": {"id": bundle["id"]},
         "productOrderItemRelationship": [{"id": "r", "relationshipType": "bundles"},
                                          {"id": "l", "relationshipType": "bundles"}]},
        {"id": "r", "action": "add", "productOffering": {"id": shop.router["id"]}},
        {"id": "l", "action": "add", "productOffering": {"id": shop.line["id"]},
         "productOrderItemRelationship": [{"id": "r", "relationshipType": "reliesOn"}]},
        shop.line_item("m"))


def _items(order: dict[str, Any]) -> dict[str, str]:
    return {i["id"]: i["state"] for i in order["productOrderItem"]}


def _products(client, tenant, shop: Shop) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows = client.get(INV, params={"billingAccount.id": shop.account["id"]},
                      headers=tenant.headers()).json()
    return {p["productOffering"]["name"]: p for p in rows}


def test_dependent_items_wait_and_the_bundle_links_its_components(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, _fibre(shop))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed", done["milestone"]
    provisioned = [item for action, item, _ in oss.calls]
    assert provisioned.index("r") < provisioned.index("l") < provisioned.index("b")
    products = _products(client, sandbox, shop)
    bundle = products["Fibre bundle"]
    assert bundle["isBundle"] is True
    assert {r["product"]["id"] for r in bundle["productRelationship"]} == {
        products["Router"]["id"], products["Fibre line"]["id"]}


def test_a_failed_bundle_item_compensates_the_completed_ones(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Fibre line"] = ["fail"]
    order = post(client, sandbox, PO, _fibre(shop))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    # the router was provisioned, then undone; the bundle never started; the mobile line
    # is not in the bundle and stays
    assert done["state"] == "partial", done["milestone"]
    assert _items(done) == {"b": "cancelled", "r": "cancelled", "l": "failed",
                            "m": "completed"}
    compensations = [(a, i) for a, i, _ in oss.calls if a == "compensate"]
    assert compensations == [("compensate", "r")]
    products = _products(client, sandbox, shop)
    assert products["Router"]["status"] == "terminated"  # inventory shows no router
    assert products["Mobile M"]["status"] == "active"
    assert "Fibre line" not in products and "Fibre bundle" not in products
    names = [m["name"] for m in done["milestone"]]
    assert names.index("itemFailed") < names.index("compensating") < names.index(
        "itemCompensated") < names.index("partial")
    failed = next(m for m in done["milestone"] if m["name"] == "itemFailed")
    assert "no port free" in failed["message"]


def test_partial_allowed_keeps_what_completed(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Fibre line"] = ["fail"]
    order = post(client, sandbox, PO, _fibre(shop, policy="partial_allowed"))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "partial"
    assert _items(done)["r"] == "completed"
    assert not [c for c in oss.calls if c[0] == "compensate"]
    assert _products(client, sandbox, shop)["Router"]["status"] == "active"


def test_one_failed_stand_alone_item_fails_the_order(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Mobile M"] = ["fail"]
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "failed" and _items(done) == {"1": "failed"}
    assert _products(client, sandbox, shop) == {}
    # the MSISDN was never claimed: it can be ordered again
    post(client, sandbox, PO, shop.order(shop.line_item()))


def test_unavailable_network_is_retried_then_gives_up(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Mobile M"] = ["down", "down"]
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed"
    assert [m["name"] for m in done["milestone"]].count("retryScheduled") == 2
    assert len({extid for _, _, extid in oss.calls}) == 1  # one idempotency key throughout

    from openbss.core import tenant_settings
    from openbss.core.context import system_context
    from openbss.core.models import Tenant
    from openbss.ordering.provisioning import ProvisioningSettings

    with unit_of_work() as session:
        tenant = session.get(Tenant, sandbox.id)
        assert tenant is not None
        tenant_settings.update(system_context(session, tenant), "provisioning",
                               ProvisioningSettings, {"maxAttempts": 3})
    oss.plan["Mobile M"] = ["down"] * 5
    order = post(client, sandbox, PO, shop.order(shop.line_item(msisdn="+33612345679")))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "failed"
    assert "after 3 attempts" in done["milestone"][-2]["message"]


def test_backoff_is_exponential_and_bounded():
    backoff = orchestration._backoff
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(30) == orchestration.MAX_BACKOFF_SECONDS


def test_an_oss_holding_the_order_asks_for_information(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Mobile M"] = ["held"]
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    with unit_of_work() as session:
        orchestration.run_due_steps(session, tenant_id=sandbox.id)
    held = get(client, sandbox, f"{PO}/{order['id']}")
    assert held["state"] == "held"
    assert held["milestone"][-1]["name"] == "informationRequired"
    with unit_of_work() as session:
        types = session.scalars(scoped(sandbox.id, OutboxEvent.event_type, of=[OutboxEvent])
                                .where(OutboxEvent.resource_id == order["id"])).all()
    assert "ProductOrderInformationRequiredEvent" in types
    work(sandbox)  # the next poll answers completed
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed"
    states = [m["state"] for m in done["milestone"] if m["name"] in ("inProgress", "held")]
    assert states == ["inProgress", "held", "inProgress"]


def _expire_leases(tenant) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        session.execute(scoped_update(tenant.id, FulfilmentStep).values(
            due_at=clock.utcnow() - timedelta(seconds=1)))


def test_a_worker_killed_between_submit_and_result_loses_and_repeats_nothing(  # type: ignore[no-untyped-def]
        client, sandbox, oss):
    shop = Shop(client, sandbox)
    oss.plan["Mobile M"] = ["kill"]
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    with pytest.raises(Killed), unit_of_work() as session:
        orchestration.run_due_steps(session, tenant_id=sandbox.id)
    # the claim was committed: provisioning had started, the step is leased
    running = get(client, sandbox, f"{PO}/{order['id']}")
    assert running["state"] == "inProgress"
    assert work(sandbox) == 0  # the lease has not run out: nobody asks twice meanwhile
    _expire_leases(sandbox)
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed"
    # asked twice with the same key, acted once; one product
    assert [extid for _, _, extid in oss.calls] == [oss.calls[0][2]] * 2
    assert len(oss.acted) == 1
    assert len(_products(client, sandbox, shop)) == 1
    _expire_leases(sandbox)
    assert work(sandbox) == 0  # done steps are never run again


def test_running_one_step_twice_applies_it_once(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    post(client, sandbox, PO, shop.order(shop.line_item()))
    with unit_of_work() as session:
        ids = session.scalars(scoped(sandbox.id, FulfilmentStep.id, of=[FulfilmentStep])).all()
    assert len(ids) == 1
    runs: list[Callable[[], int]] = [
        lambda: orchestration.run_step(session, sandbox.id, ids[0]) for _ in range(2)]
    with unit_of_work() as session:
        assert [run() for run in runs] == [1, 0]
    assert len(oss.calls) == 1
    assert len(_products(client, sandbox, shop)) == 1


def test_no_change_items_complete_without_the_network(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order({"id": "1", "action": "noChange"}))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "completed"
    assert oss.calls == []


def test_the_worker_loop_runs_the_registered_pass(monkeypatch):  # type: ignore[no-untyped-def]
    from openbss.core import worker

    seen: list[str] = []
    monkeypatch.setattr(worker, "PERIODIC", {})
    orchestration.register_worker_pass(lambda name, fn: seen.append(name))
    assert seen == ["ordering.fulfilment", "ordering.terminations"]
    orchestration.register_worker_pass()
    assert worker.PERIODIC["ordering.fulfilment"] is orchestration.worker_pass
    assert worker.PERIODIC["ordering.terminations"] is inventory.terminations_pass

    def broken() -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(worker, "PERIODIC", {})
    worker.register_periodic("broken", broken)
    worker.register_periodic("two", lambda: 2)
    assert worker.run_periodic() == 2  # a failing pass does not stop the others


def test_the_worker_thread_completes_an_order_within_seconds(client, sandbox):  # type: ignore[no-untyped-def]
    """What ``openbss serve`` runs (OPENBSS_RUN_WORKER=1): the worker thread with the
    fulfilment pass registered, and the default immediate adapter."""
    import time

    from openbss.core import worker

    shop = Shop(client, sandbox)
    orchestration.register_worker_pass()
    thread, stop = worker.start_in_thread()
    try:
        start = time.monotonic()
        order = post(client, sandbox, PO, shop.order(shop.line_item()))
        state = order["state"]
        while state != "completed" and time.monotonic() - start < 10:
            time.sleep(0.05)
            state = get(client, sandbox, f"{PO}/{order['id']}")["state"]
        assert state == "completed"
        assert time.monotonic() - start < 5
    finally:
        stop.set()
        thread.join(timeout=10)
    listed = client.get(PO, params={"state": "completed", "billingAccount.id":
                                    shop.account["id"]}, headers=sandbox.headers()).json()
    assert [o["id"] for o in listed] == [order["id"]]


def test_a_compensation_the_network_refuses_is_recorded(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Fibre line"] = ["fail"]
    oss.plan["compensate:Router"] = ["fail"]
    order = post(client, sandbox, PO, _fibre(shop))
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "partial"
    failed = [m for m in done["milestone"] if m["name"] == "compensationFailed"]
    assert [m["productOrderItem"]["id"] for m in failed] == ["r"]
    assert _items(done)["r"] == "completed"  # still provisioned: inventory keeps it
    assert _products(client, sandbox, shop)["Router"]["status"] == "active"
