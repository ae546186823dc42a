"""``openbss demo``'s orders: they load after the party and catalog demo, every order but
the future-dated one is final when the demo returns, the expected products, statuses and
charges exist, and a second load changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from openbss.core.db import unit_of_work
from openbss.demo import load_demo
from openbss.ordering import demo
from openbss.ordering.models import Product, ProductCharge, ProductHistory, ProductOrder, Quote
from openbss.ordering.orchestration import run_due_steps

PO = "/tmf-api/productOrderingManagement/v4/productOrder"
INV = "/tmf-api/productInventory/v4/product"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _counts(tenant_id: str) -> tuple[int, ...]:
    with unit_of_work() as s:
        return tuple(s.scalar(select(func.count()).select_from(model).where(
            model.tenant_id == tenant_id)) or 0
            for model in (ProductOrder, Product, ProductHistory, ProductCharge, Quote))


def test_the_demo_places_its_orders_once(client, make_tenant, tmf_schema):  # type: ignore[no-untyped-def]
    tenant = make_tenant(region="DE")
    lines = load_demo(tenant.name)
    assert sum(line.startswith("order demo-") for line in lines) == 9
    first = _counts(tenant.id)
    # 9 orders + the quote's + the payments demo's dunning: the overdue headquarters'
    # active line and the Hamburg line it pays for are suspended (docs/payments.md "Demo")
    assert first[0] == 12 and first[3] == 1 and first[4] == 1
    dunning = [o for o in client.get(PO, params={"limit": 100},
                                     headers=tenant.headers("read_only")).json()
               if str(o.get("externalId", "")).startswith("dunning-")]
    assert [i["product"]["status"] for o in dunning for i in o["productOrderItem"]] == [
        "suspended", "suspended"]

    orders = client.get(PO, params={"limit": 100},
                        headers=tenant.headers("read_only")).json()
    states = {o.get("externalId"): o["state"] for o in orders}
    assert states.pop("demo-nordwind-future") == "acknowledged"
    assert set(states.values()) == {"completed"}, states
    for order in orders:
        tmf_schema("TMF622-ProductOrdering-v4.0.0.swagger.json", "ProductOrder", order)

    def products(**params: str) -> list[dict]:  # type: ignore[type-arg]
        r = client.get(INV, params=params, headers=tenant.headers("read_only"))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    [lena_line] = products(**{"productCharacteristic.value": demo.LENA_MSISDN})
    assert lena_line["status"] == "active"
    assert lena_line["productOffering"]["name"] == "Mobile L"  # the plan change applied
    suspended = products(**{"productCharacteristic.value": demo.NORDWIND_MSISDNS[1]})
    assert [p["status"] for p in suspended] == ["suspended"]
    assert products(**{"productCharacteristic.value": demo.FUTURE_MSISDN}) == []
    fibres = [p for p in products() if p["productOffering"]["name"] == "Fibre 300"]
    assert sorted(p["status"] for p in fibres) == ["active", "terminated"]
    [fibre_order] = [o for o in orders if o.get("externalId") == "demo-lena-fibre"]
    install = [p for p in fibre_order["productOrderItem"][0]["itemPrice"]
               if p["priceType"] == "oneTime"]
    assert [Decimal(str(p["price"]["taxIncludedAmount"]["value"])) for p in install] == [
        Decimal("49.00")]  # the installation, once
    for product in products():
        tmf_schema("TMF637-ProductInventory-v4.0.0.swagger.json", "Product", product)

    with unit_of_work() as s:
        [fee] = s.scalars(select(ProductCharge).where(ProductCharge.tenant_id == tenant.id))
        assert (fee.kind, fee.amount, fee.currency) == (
            "earlyTerminationFee", Decimal("150.00"), "EUR")
        quote = s.scalars(select(Quote).where(Quote.tenant_id == tenant.id)).one()
        assert quote.state == "accepted" and quote.product_order_id is not None

    again = load_demo(tenant.name)
    assert all(line.endswith(("(ready)", "already loaded", "ready"))
               for line in again if line.startswith(("order", "quote", "catalog"))), again
    assert _counts(tenant.id) == first


def _work(tenant_id: str) -> int:
    total = 0
    for _ in range(10):
        with unit_of_work() as session:
            done = run_due_steps(session, tenant_id=tenant_id)
        total += done
        if not done:
            return total
    return total


def test_the_future_dated_order_starts_on_its_date(client, make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    load_demo(tenant.name)

    def future() -> dict:  # type: ignore[type-arg]
        r = client.get(PO, params={"externalId": "demo-nordwind-future"},
                       headers=tenant.headers("read_only"))
        [order] = r.json()
        return order  # type: ignore[no-any-return]

    # placed at the end of the demo's timeline (its clock moved through two months from
    # T0), to start 30 days later
    now = client.get("/api/v1/testClock", headers=tenant.headers()).json()["now"]
    end = datetime.fromisoformat(now.replace("Z", "+00:00"))
    assert end > T0 + timedelta(days=59)
    start = (end + timedelta(days=demo.FUTURE_DAYS)).replace(microsecond=0)
    assert future()["requestedStartDate"] == start.isoformat().replace("+00:00", "Z")
    for days, state in ((demo.FUTURE_DAYS - 1, "acknowledged"), (1, "completed")):
        r = client.post("/api/v1/testClock/advance", json={"days": days},
                        headers=tenant.headers())
        assert r.status_code == 200, r.text
        _work(tenant.id)
        assert future()["state"] == state
    [line] = client.get(INV, params={"productCharacteristic.value": demo.FUTURE_MSISDN},
                        headers=tenant.headers("read_only")).json()
    assert (line["status"], line["startDate"]) == ("active", future()["requestedStartDate"])
