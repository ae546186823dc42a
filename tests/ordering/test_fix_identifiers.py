"""Identifiers (MSISDN …) that an open order adds are reserved from its POST: a second
open order adding the same identifier is refused at once with 409 naming
``productOrderItem[i].product.productCharacteristic[MSISDN]``, not only at completion. The
reservation passes to the product when the item completes and ends with the order
(cancelled, failed, partial)."""

from __future__ import annotations

from typing import Any

from openbss.core.queries import scoped
from openbss.ordering.models import ProductIdentifier
from ordering.test_inventory_changes import context  # type: ignore[import-not-found]
from ordering.test_orders import (  # type: ignore[import-not-found]
    CANCEL,
    INV,
    PO,
    Shop,
    get,
    post,
    work,
)
from ordering.test_orders import sandbox as sandbox
from ordering.test_orders_orchestration import oss as oss  # type: ignore[import-not-found]

NUMBER = "+33612345678"
FIELD = "productOrderItem[1].product.productCharacteristic[MSISDN]"


def _claims(tenant) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with context(tenant) as ctx:
        rows = ctx.session.scalars(scoped(ctx.tenant_id, ProductIdentifier).where(
            ProductIdentifier.value == NUMBER).order_by(ProductIdentifier.id)).all()
        return [(r.product_id, r.valid_to and r.valid_to.isoformat()) for r in rows]


def _two_items(shop: Shop, msisdn: str) -> dict[str, Any]:
    return shop.order(shop.line_item("1", msisdn="+33699999999", offering=shop.router),
                      shop.line_item("2", msisdn=msisdn))


def test_a_second_open_order_adding_the_same_msisdn_is_refused_at_post(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    first = post(client, sandbox, PO, shop.order(shop.line_item(msisdn=NUMBER)))
    # the same number in its national spelling, as the second item of another order
    r = client.post(PO, json=_two_items(shop, "06 12 34 56 78"),
                    headers=sandbox.headers("sales_agent"))
    assert r.status_code == 409, r.text
    error = r.json()
    assert error["field"] == FIELD
    assert first["id"] in error["message"] and "open productOrder" in error["message"]
    assert client.get(PO, headers=sandbox.headers("read_only")).json()[0]["id"] == first["id"]
    # a product brought over directly cannot take the reserved number either
    r = client.post(INV, json={"status": "active", "productCharacteristic": [
        {"name": "MSISDN", "value": NUMBER}]}, headers=sandbox.headers())
    assert r.status_code == 409 and first["id"] in r.json()["message"], r.text
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{first['id']}")["state"] == "completed"
    [product] = client.get(INV, params={"productCharacteristic.value": NUMBER},
                           headers=sandbox.headers("read_only")).json()
    assert _claims(sandbox) == [(product["id"], None)]  # the reservation became the claim
    r = client.post(PO, json=_two_items(shop, NUMBER), headers=sandbox.headers("sales_agent"))
    assert r.status_code == 409 and r.json()["field"] == FIELD
    assert product["id"] in r.json()["message"]


def test_a_cancelled_order_frees_its_numbers(client, sandbox, other_tenant):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    first = post(client, sandbox, PO, shop.order(shop.line_item(msisdn=NUMBER)))
    assert _claims(sandbox) == [(first["id"], None)]
    # another tenant's orders are not affected by this tenant's reservation
    theirs = Shop(client, other_tenant)
    post(client, other_tenant, PO, theirs.order(theirs.line_item(msisdn=NUMBER)))
    r = client.post(CANCEL, json={"productOrder": {"id": first["id"]}},
                    headers=sandbox.headers("sales_agent"))
    assert r.status_code == 201, r.text
    assert _claims(sandbox) == []
    second = post(client, sandbox, PO, shop.order(shop.line_item(msisdn=NUMBER)))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{second['id']}")["state"] == "completed"


def test_a_failed_order_releases_its_reservation(client, sandbox, oss):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    oss.plan["Mobile M"] = ["fail"]
    order = post(client, sandbox, PO, shop.order(shop.line_item(msisdn=NUMBER)))
    assert _claims(sandbox) == [(order["id"], None)]
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "failed", done["milestone"]
    assert _claims(sandbox) == []
    again = post(client, sandbox, PO, shop.order(shop.line_item(msisdn=NUMBER)))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{again['id']}")["state"] == "completed"
