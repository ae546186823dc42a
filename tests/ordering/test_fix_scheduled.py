"""A plan change that takes effect later (a downgrade at the end of the billing period)
is not visible before then: its fulfilment step waits (``not_before``, business time), the
order and item are ``pending`` with an ``itemScheduled`` milestone, and the inventory
changes only when the tenant's clock has passed the boundary. ``update_product`` refuses
an ``effective`` in the future."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openbss.core.errors import ValidationError
from openbss.core.queries import scoped
from openbss.ordering import inventory
from openbss.ordering.models import FulfilmentStep
from ordering.test_inventory_changes import context  # type: ignore[import-not-found]
from ordering.test_orders import (  # type: ignore[import-not-found]
    INV,
    MERGE,
    PO,
    T0,
    Shop,
    get,
    post,
    work,
)
from ordering.test_orders import sandbox as sandbox

BOUNDARY = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # end of March in Paris (UTC+2)


def _paris_shop(client, tenant) -> Shop:  # type: ignore[no-untyped-def]
    shop = Shop(client, tenant)
    r = client.patch(f"/tmf-api/accountManagement/v4/billingAccount/{shop.account['id']}",
                     json={"billStructure": {"cycleSpecification": {
                         "frequency": "monthly", "anchorDay": 1, "alignment": "calendar",
                         "timeZone": "Europe/Paris"}}},
                     headers=tenant.headers("admin", **MERGE))
    assert r.status_code == 200, r.text
    return shop


def _large_line(client, tenant, shop: Shop) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    order = post(client, tenant, PO, shop.order(shop.line_item(offering=shop.mobile_l)))
    work(tenant)
    assert get(client, tenant, f"{PO}/{order['id']}")["state"] == "completed"
    return client.get(INV, params={"productCharacteristic.value": "+33612345678"},  # type: ignore[no-any-return]
                      headers=tenant.headers("read_only")).json()[0]


def _versions(tenant, account_id: str, end: datetime) -> list[tuple[datetime, datetime, str]]:  # type: ignore[no-untyped-def]
    with context(tenant) as ctx:
        found = inventory.in_force(ctx, start=T0, end=end, billing_account_id=account_id)
    return [(i.start, i.end, i.price_version) for f in found for i in f.intervals]


def _downgrade(client, tenant, shop: Shop, product: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return post(client, tenant, PO, shop.order({
        "id": "1", "action": "modify", "product": {"id": product["id"]},
        "productOffering": {"id": shop.mobile["id"]}}))


def test_a_downgrade_waits_for_the_end_of_the_period(client, sandbox):  # type: ignore[no-untyped-def]
    shop = _paris_shop(client, sandbox)
    product = _large_line(client, sandbox, shop)
    large, small = shop.mobile_l["id"], shop.mobile["id"]
    order = _downgrade(client, sandbox, shop, product)
    work(sandbox)
    waiting = get(client, sandbox, f"{PO}/{order['id']}")
    assert waiting["state"] == "pending"
    assert waiting["productOrderItem"][0]["state"] == "pending"
    assert waiting["milestone"][-1]["name"] == "itemScheduled"
    assert "2026-03-31T22:00:00Z" in waiting["milestone"][-1]["message"]
    with context(sandbox) as ctx:
        [step] = ctx.session.scalars(scoped(ctx.tenant_id, FulfilmentStep).where(
            FulfilmentStep.order_id == order["id"])).all()
        assert step.not_before is not None
        assert step.not_before.replace(tzinfo=UTC) == BOUNDARY
        assert step.state == "ready"
    # before the boundary: the product shows the old plan; in force: the old version only
    assert get(client, sandbox, f"{INV}/{product['id']}")["productOffering"]["id"] == large
    assert _versions(sandbox, shop.account["id"], datetime(2026, 4, 5, tzinfo=UTC)) == [
        (T0, datetime(2026, 4, 5, tzinfo=UTC), large)]
    r = client.post("/api/v1/testClock/advance", json={"days": 29}, headers=sandbox.headers())
    assert r.status_code == 200, r.text
    assert work(sandbox) == 0  # 03-31 09:00 UTC: still March in Paris
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "pending"
    r = client.post("/api/v1/testClock/advance", json={"days": 1}, headers=sandbox.headers())
    assert r.status_code == 200, r.text
    assert work(sandbox) >= 1  # 04-01 09:00 UTC: the boundary has passed
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed", done["milestone"]
    assert done["productOrderItem"][0]["state"] == "completed"
    after = get(client, sandbox, f"{INV}/{product['id']}")
    assert after["productOffering"]["id"] == small
    history = get(client, sandbox, f"/api/v1/products/{product['id']}/history")
    plan = [h for h in history if h["change"] == "plan_changed"]
    assert [h["at"] for h in plan] == ["2026-03-31T22:00:00Z"]
    assert plan[0]["productOrder"]["id"] == order["id"]
    end = datetime(2026, 4, 5, tzinfo=UTC)
    assert _versions(sandbox, shop.account["id"], end) == [
        (T0, BOUNDARY, large), (BOUNDARY, end, small)]


def test_a_scheduled_downgrade_can_be_cancelled_until_it_applies(client, sandbox):  # type: ignore[no-untyped-def]
    shop = _paris_shop(client, sandbox)
    product = _large_line(client, sandbox, shop)
    order = _downgrade(client, sandbox, shop, product)
    work(sandbox)
    r = client.post("/tmf-api/productOrderingManagement/v4/cancelProductOrder",
                    json={"productOrder": {"id": order["id"]}},
                    headers=sandbox.headers("sales_agent"))
    assert r.status_code == 201, r.text
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "cancelled"
    client.post("/api/v1/testClock/advance", json={"days": 31}, headers=sandbox.headers())
    work(sandbox)
    assert get(client, sandbox, f"{INV}/{product['id']}")["productOffering"]["id"] == \
        shop.mobile_l["id"]


def test_update_product_refuses_an_effective_date_in_the_future(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    product = _large_line(client, sandbox, shop)
    with context(sandbox) as ctx, pytest.raises(ValidationError) as caught:
        inventory.update_product(ctx, product_id=product["id"],
                                 patch={"status": "suspended"},
                                 effective=datetime(2026, 3, 3, tzinfo=UTC))
    assert caught.value.status == 422 and caught.value.field == "effective"
    assert get(client, sandbox, f"{INV}/{product['id']}")["status"] == "active"


def test_a_termination_at_the_end_of_the_period_waits_for_the_terminations_pass(  # type: ignore[no-untyped-def]
        client, sandbox, monkeypatch):
    from openbss.core import worker
    from openbss.ordering import orchestration

    shop = _paris_shop(client, sandbox)
    monthly = shop.offering("Mobile S", "9.99", productOfferingTerm=[
        {"name": "notice", "terminationPolicy": "endOfPeriod"}])
    order = post(client, sandbox, PO, shop.order(shop.line_item(offering=monthly)))
    work(sandbox)
    product = client.get(INV, params={"productCharacteristic.value": "+33612345678"},
                         headers=sandbox.headers("read_only")).json()[0]
    ending = post(client, sandbox, PO, shop.order(
        {"id": "1", "action": "delete", "product": {"id": product["id"]}}))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{ending['id']}")["state"] == "completed"
    waiting = get(client, sandbox, f"{INV}/{product['id']}")
    assert waiting["status"] == "pendingTerminate"
    assert waiting["terminationDate"] == "2026-03-31T22:00:00Z"
    end = datetime(2026, 4, 5, tzinfo=UTC)
    assert _versions(sandbox, shop.account["id"], end) == [(T0, end, monthly["id"])]
    monkeypatch.setattr(worker, "PERIODIC", {})
    orchestration.register_worker_pass()
    client.post("/api/v1/testClock/advance", json={"days": 30}, headers=sandbox.headers())
    worker.run_periodic()
    assert get(client, sandbox, f"{INV}/{product['id']}")["status"] == "terminated"
    assert _versions(sandbox, shop.account["id"], end) == [(T0, BOUNDARY, monthly["id"])]
    del order
