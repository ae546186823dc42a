"""End to end: product orders provisioned through the ``tmf641`` adapter against the fake
OSS, run by the orchestration worker pass (``run_due_steps``): completion driven by the
OSS's notifications, a one-item failure compensated by a deleting service order, and a
slow OSS whose timed-out order is found again by its ``externalId``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from openbss.ordering import orchestration
from ordering.fake_oss import FakeOss
from ordering.test_orders import PO, T0, Shop, get, post, work  # type: ignore[import-not-found]
from ordering.test_orders_orchestration import (  # type: ignore[import-not-found]
    _fibre,
    _items,
    _products,
)

SPEC = "TMF641-ServiceOrdering-v4.0.0.swagger.json"
PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def oss(monkeypatch) -> Iterator[FakeOss]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(orchestration, "_backoff", lambda attempts: 0.0)
    fake = FakeOss().start()
    yield fake
    fake.stop()


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="FR")


def use_oss(client, tenant, oss: FakeOss, **settings: Any) -> None:  # type: ignore[no-untyped-def]
    r = client.patch("/api/v1/settings/provisioning", headers=tenant.headers(**PATCH),
                     json={"adapter": "tmf641", "baseUrl": oss.base_url, **settings})
    assert r.status_code == 200, r.text


def fibre_order(client, tenant, oss: FakeOss) -> tuple[Shop, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A fibre bundle and a mobile line ordered through the OSS, the worker run: the
    shop and the order as it ended."""
    use_oss(client, tenant, oss)
    shop = Shop(client, tenant)
    order = post(client, tenant, PO, _fibre(shop))
    work(tenant)
    return shop, get(client, tenant, f"{PO}/{order['id']}")


def by_spec(oss: FakeOss) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for body in oss.posted_orders():
        for item in body["serviceOrderItem"]:
            name = item["service"].get("serviceSpecification", {}).get("name", "?")
            out.setdefault(name, []).append(item)
    return out


def test_an_order_completes_through_the_oss_notifications(client, sandbox, oss, tmf_schema):  # type: ignore[no-untyped-def]
    oss.steps_to_complete = 5  # the OSS takes its time: the worker's polls see progress
    use_oss(client, sandbox, oss, pollSeconds=3600)  # no poll due: only events wake steps
    r = client.post("/api/v1/provisioning/tmf641/listener", headers=sandbox.headers())
    assert r.status_code == 201, r.text
    callback = urlsplit(oss.hubs[r.json()["id"]]["callback"]).path
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item("1")))
    work(sandbox)
    running = get(client, sandbox, f"{PO}/{order['id']}")
    assert running["state"] == "inProgress"
    [sent] = oss.posted_orders()
    tmf_schema(SPEC, "ServiceOrder_Create", sent)
    assert sent["externalId"].startswith(order["id"])
    assert sent["serviceOrderItem"][0]["service"]["serviceCharacteristic"] == [
        {"name": "MSISDN", "value": "+33612345678"}]
    assert work(sandbox) == 0  # nothing due until the OSS says something
    [so_id] = oss.orders
    oss.set_state(so_id, "completed")
    assert client.post(callback, json={
        "eventType": "ServiceOrderStateChangeEvent",
        "event": {"serviceOrder": {"id": so_id, "state": "completed"}}}).status_code == 204
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed", done["milestone"]
    products = _products(client, sandbox, shop)
    assert products["Mobile M"]["status"] == "active"
    assert len(oss.posted_orders()) == 1


def test_a_bundle_completes_against_the_oss(client, sandbox, oss, tmf_schema):  # type: ignore[no-untyped-def]
    shop, done = fibre_order(client, sandbox, oss)
    assert done["state"] == "completed", done["milestone"]
    for body in oss.posted_orders():
        tmf_schema(SPEC, "ServiceOrder_Create", body)
    assert sorted(by_spec(oss)) == ["Fibre bundle", "Fibre line", "Mobile M", "Router"]
    assert len(oss.orders) == 4  # one service order per item, none twice
    assert {p["status"] for p in _products(client, sandbox, shop).values()} == {"active"}


def test_one_failed_item_compensates_what_the_bundle_provisioned(client, sandbox, oss,
                                                                 tmf_schema):  # type: ignore[no-untyped-def]
    oss.fail_when = lambda item: item["service"].get("serviceSpecification", {}).get(
        "name") == "Fibre line" and item["action"] == "add"
    shop, done = fibre_order(client, sandbox, oss)
    assert done["state"] == "partial", done["milestone"]
    assert _items(done) == {"b": "cancelled", "r": "cancelled", "l": "failed",
                            "m": "completed"}
    router_add = next(o for o in oss.orders.values()
                      if o["serviceOrderItem"][0]["service"]["serviceSpecification"]["name"]
                      == "Router" and o["serviceOrderItem"][0]["action"] == "add")
    router_service = router_add["serviceOrderItem"][0]["service"]["id"]
    deletes = [body for body in oss.posted_orders()
               if body["serviceOrderItem"][0]["action"] == "delete"]
    assert len(deletes) == 1
    tmf_schema(SPEC, "ServiceOrder_Create", deletes[0])
    assert deletes[0]["serviceOrderItem"][0]["service"]["id"] == router_service
    assert deletes[0]["externalId"].endswith("compensate")
    products = _products(client, sandbox, shop)
    assert products["Router"]["status"] == "terminated"
    assert products["Mobile M"]["status"] == "active"
    assert "Fibre line" not in products


def test_a_slow_oss_is_retried_and_orders_once(client, sandbox, oss):  # type: ignore[no-untyped-def]
    use_oss(client, sandbox, oss, timeoutSeconds=0.3)
    oss.delay_next_posts, oss.delay_seconds = 1, 0.8
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item("1")))
    work(sandbox, rounds=1)  # the POST times out: retry scheduled
    waiting = get(client, sandbox, f"{PO}/{order['id']}")
    assert "retryScheduled" in [m["name"] for m in waiting["milestone"]]
    import time

    time.sleep(0.7)  # the OSS finished the slow POST (and kept the order)
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed", done["milestone"]
    assert len(oss.posted_orders()) == 1 and len(oss.orders) == 1


def test_an_oss_crash_after_accepting_is_recovered_by_the_externalid_lookup(  # type: ignore[no-untyped-def]
        client, sandbox, oss):
    use_oss(client, sandbox, oss)
    oss.crash_after_accepting = True
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item("1")))
    work(sandbox, rounds=1)
    oss.wait_stopped()
    work(sandbox, rounds=1)  # the OSS is down: another retry
    oss.start()
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed", done["milestone"]
    assert len(oss.posted_orders()) == 1 and len(oss.orders) == 1
