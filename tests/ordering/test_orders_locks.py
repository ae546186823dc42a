"""Concurrent writers of orders on PostgreSQL: the second waits for the row lock, then
checks what the first left (SQLite has one writer at a time)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.models import Tenant
from openbss.core.queries import get_owned
from openbss.ordering import orders
from openbss.ordering.models import ProductOrder
from openbss.ordering.schemas import ProductOrderCreate
from ordering.test_orders import (  # type: ignore[import-not-found]
    CANCEL,
    PO,
    T0,
    Shop,
    _live_line,
    post,
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks are PostgreSQL's; SQLite has one writer at a time")


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="FR")


def _in_thread(call: Any) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        r = call()
        result["status"], result["body"] = r.status_code, r.json()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_two_concurrent_orders_on_one_product_one_wins(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    product = _live_line(client, sandbox, shop)
    body = shop.order({"id": "1", "action": "modify",
                       "product": {"id": product["id"], "status": "suspended"}})
    with unit_of_work() as session:  # the first order is being accepted, not committed yet
        tenant = session.get(Tenant, sandbox.id)
        assert tenant is not None
        first = orders.create_order(system_context(session, tenant),
                                    data=ProductOrderCreate.model_validate(body))
        thread, result = _in_thread(lambda: client.post(
            PO, json=body, headers=sandbox.headers("sales_agent")))
        time.sleep(0.5)
        assert thread.is_alive(), result  # the second waits for the product's row lock
        first_id = first.id
    thread.join(10)
    assert result["status"] == 409, result
    assert result["body"]["code"] == "product_in_open_order"
    assert first_id in result["body"]["message"]


def test_a_cancel_waits_for_the_worker_claim_and_sees_provisioning_started(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    with unit_of_work() as session:  # the worker claims the order's first step
        row = get_owned(session, ProductOrder, sandbox.id, order["id"], "productOrder",
                        lock=True)
        thread, result = _in_thread(lambda: client.post(
            CANCEL, json={"productOrder": {"id": order["id"]}},
            headers=sandbox.headers("sales_agent")))
        time.sleep(0.5)
        assert thread.is_alive(), result
        row.provisioning_started = True
    thread.join(10)
    assert result["status"] == 409, result
    assert result["body"]["code"] == "order_not_cancellable"
    assert "provisioning" in result["body"]["message"]
