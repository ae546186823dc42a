"""``openbss demo``'s orders: they load after the party and catalog demo, every order but
the future-dated one is final when the demo returns, the expected products, statuses and
charges exist, and a second load changes nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.models import Tenant
from openbss.demo import load_demo
from openbss.ordering import demo
from openbss.ordering.models import Product, ProductCharge, ProductHistory, ProductOrder, Quote

PO = "/tmf-api/productOrderingManagement/v4/productOrder"
INV = "/tmf-api/productInventory/v4/product"


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
    assert first[0] == 10 and first[3] == 1 and first[4] == 1  # 9 orders + the quote's

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


def test_the_future_dated_order_starts_on_its_date(make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant(region="DE")
    load_demo(tenant.name)
    with unit_of_work() as s:
        ctx = system_context(s, s.get(Tenant, tenant.id), actor="test")
        row = s.scalars(select(ProductOrder).where(
            ProductOrder.tenant_id == tenant.id,
            ProductOrder.external_id == "demo-nordwind-future")).one()
        assert row.requested_start_date is not None
        assert row.requested_start_date > ctx.now
