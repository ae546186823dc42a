"""TMF622 product orders through HTTP: validation (every rule a 422 naming item and
attribute), prices, states, the worker pass (run here directly), cancellation before and
after provisioning starts, future-dated orders on a test clock, modify/delete."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from openbss.core.db import unit_of_work
from openbss.ordering.orchestration import run_due_steps

PO = "/tmf-api/productOrderingManagement/v4/productOrder"
CANCEL = "/tmf-api/productOrderingManagement/v4/cancelProductOrder"
INV = "/tmf-api/productInventory/v4/product"
CAT = "/tmf-api/productCatalogManagement/v4"
SWAGGER = "TMF622-ProductOrdering-v4.0.0.swagger.json"
MERGE = {"Content-Type": "application/merge-patch+json"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="FR")


def work(tenant, rounds: int = 10) -> int:  # type: ignore[no-untyped-def]
    """Run the worker pass for ``tenant`` until nothing is due (at most ``rounds``)."""
    total = 0
    for _ in range(rounds):
        with unit_of_work() as session:
            done = run_due_steps(session, limit=100, tenant_id=tenant.id)
        total += done
        if not done:
            break
    return total


def post(client, tenant, path: str, body: dict[str, Any], status: int = 201,  # type: ignore[no-untyped-def]
         role: str = "sales_agent") -> dict[str, Any]:
    r = client.post(path, json=body, headers=tenant.headers(role))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def get(client, tenant, path: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get(path, headers=tenant.headers("read_only"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


class Shop:
    """A small catalog (a mobile line with a required MSISDN and a data allowance out of
    10/50 GB, a router, a fibre bundle), a French customer and her billing account."""

    def __init__(self, client, tenant, *, credit: str | None = None,  # type: ignore[no-untyped-def]
                 country: str = "FR") -> None:
        self.client, self.tenant = client, tenant
        spec = post(client, tenant, f"{CAT}/productSpecification", {
            "name": "Mobile line", "lifecycleStatus": "Active",
            "productSpecCharacteristic": [
                {"name": "MSISDN", "valueType": "msisdn", "minCardinality": 1,
                 "maxCardinality": 1},
                {"name": "Data allowance", "valueType": "number",
                 "productSpecCharacteristicValue": [{"value": 10}, {"value": 50}]},
                {"name": "Speed", "valueType": "number",
                 "productSpecCharacteristicValue": [{"valueFrom": 1, "valueTo": 1000}]}]},
            role="admin")
        self.mobile = self.offering("Mobile M", "19.99", spec=spec["id"], one_time="10.00",
                                    eligibility={"customerTypes": ["individual"],
                                                 "countries": ["FR", "BE"]})
        self.mobile_l = self.offering("Mobile L", "34.99", spec=spec["id"])
        self.router = self.offering("Router", "3.00")
        self.line = self.offering("Fibre line", "30.00")
        self.fibre = self.offering("Fibre bundle", "0.00")
        self.person = post(client, tenant, "/tmf-api/partyManagement/v4/individual", {
            "givenName": "Claire", "familyName": "Martin", "contactMedium": [
                {"mediumType": "postalAddress", "characteristic": {
                    "street1": "1 rue de Rivoli", "city": "Paris", "postCode": "75001",
                    "country": country}}]}, role="admin")
        self.account = self.billing_account(credit=credit)

    def offering(self, name: str, monthly: str, *, spec: str | None = None,
                 one_time: str | None = None, currency: str = "EUR",
                 **extra: Any) -> dict[str, Any]:
        prices = [post(self.client, self.tenant, f"{CAT}/productOfferingPrice", {
            "name": f"{name} monthly", "priceType": "recurring", "lifecycleStatus": "Active",
            "price": {"unit": currency, "value": monthly}}, role="admin")["id"]]
        if one_time:
            prices.append(post(self.client, self.tenant, f"{CAT}/productOfferingPrice", {
                "name": f"{name} activation", "priceType": "oneTime",
                "lifecycleStatus": "Active", "price": {"unit": currency, "value": one_time}},
                role="admin")["id"])
        body: dict[str, Any] = {"name": name, "lifecycleStatus": "Active",
                                "productOfferingPrice": [{"id": p} for p in prices], **extra}
        if spec:
            body["productSpecification"] = {"id": spec}
        return post(self.client, self.tenant, f"{CAT}/productOffering", body, role="admin")

    def billing_account(self, *, credit: str | None = None, currency: str = "EUR",
                        state: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Claire home", "currency": currency,
            "relatedParty": [{"id": self.person["id"], "@referredType": "Individual",
                              "role": "owner"}]}
        if credit:
            body["creditLimit"] = {"unit": currency, "value": credit}
        if state:
            body["state"] = state
        return post(self.client, self.tenant, "/tmf-api/accountManagement/v4/billingAccount",
                    body, role="admin")

    def line_item(self, item_id: str = "1", msisdn: str = "+33612345678",
                  offering: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": item_id, "action": "add",
                "productOffering": {"id": (offering or self.mobile)["id"]},
                "product": {"productCharacteristic": [{"name": "MSISDN", "value": msisdn}]},
                **extra}

    def order(self, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"billingAccount": {"id": self.account["id"]},
                "relatedParty": [{"id": self.person["id"], "@referredType": "Individual",
                                  "role": "Customer"}],
                "productOrderItem": list(items), **extra}


def fail(client, tenant, body: dict[str, Any], status: int = 422) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(PO, json=body, headers=tenant.headers("sales_agent"))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


# -- acceptance, prices, completion ---------------------------------------------------------

def test_an_order_is_priced_acknowledged_and_completed_by_the_worker(client, sandbox,  # type: ignore[no-untyped-def]
                                                                    tmf_schema):
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item(msisdn="06 12 34 56 78")))
    tmf_schema(SWAGGER, "ProductOrder", order)
    assert order["state"] == "acknowledged"
    assert order["orderDate"] == "2026-03-02T09:00:00Z"
    item = order["productOrderItem"][0]
    assert item["state"] == "acknowledged"
    # the national number is stored in E.164 (the tenant's region is FR)
    assert item["product"]["productCharacteristic"][0]["value"] == "+33612345678"
    totals = {(t["priceType"], t.get("recurringChargePeriod")):
              Decimal(str(t["price"]["taxIncludedAmount"]["value"]))
              for t in order["orderTotalPrice"]}
    assert totals == {("recurring", "month"): Decimal("19.99"),
                      ("oneTime", None): Decimal("10.00")}
    assert [m["name"] for m in order["milestone"]] == ["acknowledged"]

    assert work(sandbox) >= 1
    done = get(client, sandbox, f"{PO}/{order['id']}")
    tmf_schema(SWAGGER, "ProductOrder", done)
    assert done["state"] == "completed"
    assert done["completionDate"] == "2026-03-02T09:00:00Z"  # business time
    assert done["productOrderItem"][0]["state"] == "completed"
    names = [m["name"] for m in done["milestone"]]
    assert names == ["acknowledged", "inProgress", "itemStarted", "itemCompleted", "completed"]
    products = client.get(INV, params={"billingAccount.id": shop.account["id"]},
                          headers=sandbox.headers("read_only")).json()
    assert len(products) == 1
    product = products[0]
    assert product["status"] == "active" and product["startDate"] == "2026-03-02T09:00:00Z"
    assert product["productOffering"]["id"] == shop.mobile["id"]
    assert product["productOrderItem"][0] == {
        "orderItemId": "1", "productOrderId": order["id"], "orderItemAction": "add",
        "@referredType": "ProductOrderItem"}
    # one-time charges belong to the order; the product keeps its recurring price
    assert [p["priceType"] for p in product["productPrice"]] == ["recurring"]
    assert work(sandbox) == 0  # nothing left, nothing done twice


def test_events_of_an_order(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    work(sandbox)
    from openbss.core.models import OutboxEvent
    from openbss.core.queries import scoped

    with unit_of_work() as session:
        rows = session.scalars(scoped(sandbox.id, OutboxEvent)
                               .order_by(OutboxEvent.created_at, OutboxEvent.id)).all()
        mine = [e.event_type for e in rows if e.resource_id == order["id"]]
        every = [e.event_type for e in rows]
    assert mine[0] == "ProductOrderCreateEvent"
    assert mine.count("ProductOrderStateChangeEvent") == 2  # inProgress, completed
    assert "ProductOrderAttributeValueChangeEvent" in mine  # the item milestones
    assert "ProductCreateEvent" in every


# -- validation ---------------------------------------------------------------------------

def test_every_validation_rule_names_the_item_and_attribute(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    item = shop.line_item
    # required characteristic missing
    body = shop.order(item(), item("2", product={"productCharacteristic": []}))
    err = fail(client, sandbox, body)
    assert err["code"] == "characteristic_missing"
    assert err["field"] == "productOrderItem[1].product.productCharacteristic[MSISDN]"
    # TMF622 references with required attributes beyond id (found by the fuzz test)
    err = fail(client, sandbox, shop.order(shop.line_item(
        productOfferingQualificationItem={"id": "q1"})))
    assert err["field"] == "productOrderItem[0].productOfferingQualificationItem." \
                           "productOfferingQualificationId"
    err = fail(client, sandbox, shop.order(shop.line_item(quoteItem={"id": "1"})))
    assert err["field"] == "productOrderItem[0].quoteItem.quoteId"
    # an MSISDN that is no phone number
    err = fail(client, sandbox, shop.order(item(msisdn="12")))
    assert (err["code"], err["field"]) == (
        "characteristic_invalid", "productOrderItem[0].product.productCharacteristic[MSISDN]")
    # a value outside the allowed values, and outside a range
    chars = [{"name": "MSISDN", "value": "+33612345678"}, {"name": "Data allowance", "value": 20}]
    err = fail(client, sandbox, shop.order(item(product={"productCharacteristic": chars})))
    assert err["field"] == "productOrderItem[0].product.productCharacteristic[Data allowance]"
    assert "10" in err["message"] and "50" in err["message"]
    chars[1] = {"name": "Speed", "value": 2000}
    err = fail(client, sandbox, shop.order(item(product={"productCharacteristic": chars})))
    assert err["field"] == "productOrderItem[0].product.productCharacteristic[Speed]"
    chars[1] = {"name": "Data allowance", "value": "50"}  # allowed values compare as numbers
    post(client, sandbox, PO, shop.order(item(product={"productCharacteristic": chars})))


def test_offering_must_be_orderable(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    draft = post(client, sandbox, f"{CAT}/productOffering",
                 {"name": "Draft", "lifecycleStatus": "In design"}, role="admin")
    err = fail(client, sandbox, shop.order(shop.line_item(), shop.line_item(
        "2", offering=draft, msisdn="+33612345679")))
    assert (err["code"], err["field"]) == ("offering_not_orderable",
                                           "productOrderItem[1].productOffering.id")
    expired = post(client, sandbox, f"{CAT}/productOffering", {
        "name": "Old", "lifecycleStatus": "Active",
        "validFor": {"startDateTime": "2025-01-01T00:00:00Z",
                     "endDateTime": "2026-01-01T00:00:00Z"}}, role="admin")
    err = fail(client, sandbox, shop.order({"id": "a", "action": "add",
                                            "productOffering": {"id": expired["id"]}}))
    assert (err["code"], err["field"]) == ("offering_not_orderable",
                                           "productOrderItem[0].productOffering.id")
    err = fail(client, sandbox, shop.order({"id": "a", "action": "add",
                                            "productOffering": {"id": "nope"}}))
    assert (err["code"], err["field"]) == ("invalid_reference",
                                           "productOrderItem[0].productOffering.id")


def test_customer_eligibility(client, sandbox):  # type: ignore[no-untyped-def]
    german = Shop(client, sandbox, country="DE")
    err = fail(client, sandbox, german.order(german.line_item()))
    assert (err["code"], err["field"]) == ("not_eligible",
                                           "productOrderItem[0].productOffering.id")
    assert "DE" in err["message"]
    # Mobile L has no rules: anyone may buy it
    post(client, sandbox, PO, german.order(german.line_item(offering=german.mobile_l)))


def test_billing_accounts_must_be_open_and_the_tenants(client, sandbox, other_tenant):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    body = shop.order(shop.line_item())
    body["billingAccount"] = {"id": "missing"}
    err = fail(client, sandbox, body)
    assert (err["code"], err["field"]) == ("invalid_reference", "billingAccount.id")
    foreign = Shop(client, other_tenant)
    body = shop.order(shop.line_item(billingAccount={"id": foreign.account["id"]}))
    err = fail(client, sandbox, body)
    assert err["field"] == "productOrderItem[0].billingAccount.id"
    closed = shop.billing_account()
    r = client.patch(f"/tmf-api/accountManagement/v4/billingAccount/{closed['id']}",
                     json={"state": "closed"}, headers=sandbox.headers("admin", **MERGE))
    assert r.status_code == 200, r.text
    err = fail(client, sandbox, shop.order(shop.line_item(billingAccount={"id": closed["id"]})))
    assert err["field"] == "productOrderItem[0].billingAccount.id"
    assert "closed" in err["message"]
    body = shop.order(shop.line_item())
    del body["billingAccount"]
    err = fail(client, sandbox, body)
    assert err["field"] == "productOrderItem[0].billingAccount"


def test_no_price_in_the_account_currency(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    chf = shop.billing_account(currency="CHF")
    err = fail(client, sandbox, shop.order(shop.line_item(billingAccount={"id": chf["id"]})))
    assert err["field"] == "productOrderItem[0].productOffering.id"
    assert "CHF" in err["message"] and "EUR" in err["message"]


def test_credit_limit_counts_the_order_and_the_active_products(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox, credit="45.00")
    post(client, sandbox, PO, shop.order(shop.line_item()))  # 19.99 a month
    work(sandbox)
    # 19.99 active + 19.99 ordered = 39.98 <= 45
    post(client, sandbox, PO, shop.order(shop.line_item(msisdn="+33612345679")))
    work(sandbox)
    # 39.98 active + 19.99 = 59.97 > 45
    err = fail(client, sandbox, shop.order(shop.line_item(msisdn="+33612345670")))
    assert (err["code"], err["field"]) == ("credit_limit_exceeded", "billingAccount.id")
    assert "59.97" in err["message"] and "45" in err["message"]


def test_bad_shapes_are_422_naming_the_field(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    assert fail(client, sandbox, {"productOrderItem": []})["field"] == "productOrderItem"
    err = fail(client, sandbox, shop.order({"id": "1", "action": "upgrade"}))
    assert err["field"] == "productOrderItem[0].action"
    err = fail(client, sandbox, shop.order({"id": "1", "action": "add", "quantity": 0}))
    assert err["field"] == "productOrderItem[0].quantity"
    err = fail(client, sandbox, shop.order(shop.line_item(), shop.line_item(
        "2", msisdn="+33612345679", productOrderItemRelationship=[
            {"id": "9", "relationshipType": "reliesOn"}])))
    assert err["field"] == "productOrderItem[1].productOrderItemRelationship[0].id"
    err = fail(client, sandbox, shop.order(shop.line_item(), shop.line_item("1")))
    assert err["field"] == "productOrderItem[1].id"
    err = fail(client, sandbox, shop.order({"id": "1", "action": "modify"}))
    assert err["field"] == "productOrderItem[0].product.id"
    err = fail(client, sandbox, shop.order({"id": "1", "action": "add"}))
    assert err["field"] == "productOrderItem[0].productOffering.id"
    err = fail(client, sandbox, shop.order(shop.line_item(), shop.line_item(
        "2", msisdn="0612345678")))
    assert err["field"] == "productOrderItem[1].product.productCharacteristic[MSISDN]"


# -- modify, delete, open orders ----------------------------------------------------------

def _live_line(client, tenant, shop: Shop, msisdn: str = "+33612345678") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    order = post(client, tenant, PO, shop.order(shop.line_item(msisdn=msisdn)))
    work(tenant)
    assert get(client, tenant, f"{PO}/{order['id']}")["state"] == "completed"
    products = client.get(INV, params={"productCharacteristic.value": msisdn},
                          headers=tenant.headers("read_only")).json()
    return products[0]  # type: ignore[no-any-return]


def test_plan_change_suspend_resume_and_terminate(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    product = _live_line(client, sandbox, shop)
    ref = {"id": product["id"]}
    change = post(client, sandbox, PO, shop.order({
        "id": "1", "action": "modify", "product": ref,
        "productOffering": {"id": shop.mobile_l["id"]}}))
    assert [p["priceType"] for p in change["productOrderItem"][0]["itemPrice"]] == ["recurring"]
    work(sandbox)
    after = get(client, sandbox, f"{INV}/{product['id']}")
    assert after["productOffering"]["id"] == shop.mobile_l["id"]  # an upgrade: now
    # a product named after its plan follows the plan (one named by the customer would not)
    assert product["name"] == product["productOffering"]["name"]
    assert after["name"] == shop.mobile_l["name"]
    for status in ("suspended", "active"):
        post(client, sandbox, PO, shop.order({"id": "1", "action": "modify",
                                              "product": {**ref, "status": status}}))
        work(sandbox)
        assert get(client, sandbox, f"{INV}/{product['id']}")["status"] == status
    err = fail(client, sandbox, shop.order({"id": "1", "action": "modify",
                                            "product": {**ref, "status": "terminated"}}))
    assert err["field"] == "productOrderItem[0].product.status"
    end = post(client, sandbox, PO, shop.order({"id": "1", "action": "delete", "product": ref}))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{end['id']}")["state"] == "completed"
    assert get(client, sandbox, f"{INV}/{product['id']}")["status"] == "terminated"
    err = fail(client, sandbox, shop.order({"id": "1", "action": "delete", "product": ref}))
    assert (err["code"], err["field"]) == ("invalid_reference", "productOrderItem[0].product.id")


def test_modify_of_a_missing_or_foreign_product(client, sandbox, other_tenant):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    err = fail(client, sandbox, shop.order({"id": "1", "action": "delete",
                                            "product": {"id": "nope"}}))
    assert (err["code"], err["field"]) == ("invalid_reference", "productOrderItem[0].product.id")
    theirs = _live_line(client, other_tenant, Shop(client, other_tenant))
    err = fail(client, sandbox, shop.order({"id": "1", "action": "delete",
                                            "product": {"id": theirs["id"]}}))
    assert err["field"] == "productOrderItem[0].product.id"
    mine = _live_line(client, sandbox, shop)
    other_account = shop.billing_account()
    err = fail(client, sandbox, shop.order({"id": "1", "action": "delete",
                                            "billingAccount": {"id": other_account["id"]},
                                            "product": {"id": mine["id"]}}))
    assert err["field"] == "productOrderItem[0].product.id"
    assert "another billing account" in err["message"]


def test_two_open_orders_on_one_product_conflict(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    product = _live_line(client, sandbox, shop)
    body = shop.order({"id": "1", "action": "modify",
                       "product": {"id": product["id"], "status": "suspended"}})
    first = post(client, sandbox, PO, body)
    err = fail(client, sandbox, body, status=409)
    assert (err["code"], err["field"]) == ("product_in_open_order",
                                           "productOrderItem[0].product.id")
    assert first["id"] in err["message"]
    work(sandbox)
    post(client, sandbox, PO, shop.order({"id": "1", "action": "modify",
                                          "product": {"id": product["id"], "status": "active"}}))


def test_an_msisdn_held_by_a_live_product_cannot_be_ordered(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    _live_line(client, sandbox, shop)
    err = fail(client, sandbox, shop.order(shop.line_item()), status=409)
    assert err["field"] == "productOrderItem[0].product.productCharacteristic[MSISDN]"


# -- cancel, patch, delete -----------------------------------------------------------------

def test_cancel_before_provisioning_starts(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    cancel = post(client, sandbox, CANCEL, {"productOrder": {"id": order["id"]},
                                            "cancellationReason": "changed my mind"})
    tmf_schema(SWAGGER, "CancelProductOrder", cancel)
    assert cancel["state"] == "done"
    got = get(client, sandbox, f"{PO}/{order['id']}")
    assert got["state"] == "cancelled" and got["cancellationReason"] == "changed my mind"
    assert got["productOrderItem"][0]["state"] == "cancelled"
    assert work(sandbox) == 0  # its steps were cancelled: nothing is provisioned
    assert client.get(INV, params={"billingAccount.id": shop.account["id"]},
                      headers=sandbox.headers()).json() == []
    assert get(client, sandbox, f"{CANCEL}/{cancel['id']}") == cancel
    listed = client.get(CANCEL, params={"productOrder.id": order["id"]},
                        headers=sandbox.headers("read_only")).json()
    assert [c["id"] for c in listed] == [cancel["id"]]


def test_cancel_after_provisioning_started_is_refused(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    work(sandbox)
    r = client.post(CANCEL, json={"productOrder": {"id": order["id"]}},
                    headers=sandbox.headers("sales_agent"))
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "order_not_cancellable"
    assert "completed" in r.json()["message"]
    r = client.post(CANCEL, json={"productOrder": {"id": "nope"}},
                    headers=sandbox.headers("sales_agent"))
    assert (r.status_code, r.json()["field"]) == (422, "productOrder.id")


def test_patch_notes_of_an_open_order_and_delete_a_final_one(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item()))
    url = f"{PO}/{order['id']}"
    r = client.patch(url, json={"note": [{"text": "call before delivery"}], "priority": "1"},
                     headers=sandbox.headers("sales_agent", **MERGE))
    assert r.status_code == 200, r.text
    assert r.json()["note"][0]["text"] == "call before delivery"
    assert r.json()["note"][0]["date"] == "2026-03-02T09:00:00Z"
    r = client.patch(url, json={"productOrderItem": []},
                     headers=sandbox.headers("sales_agent", **MERGE))
    assert (r.status_code, r.json()["field"]) == (422, "productOrderItem")
    r = client.delete(url, headers=sandbox.headers("admin"))
    assert (r.status_code, r.json()["code"]) == (409, "order_not_changeable")
    work(sandbox)
    r = client.patch(url, json={"priority": "2"}, headers=sandbox.headers("sales_agent", **MERGE))
    assert r.status_code == 409
    assert client.delete(url, headers=sandbox.headers("sales_agent")).status_code == 403
    assert client.delete(url, headers=sandbox.headers("admin")).status_code == 204
    assert client.get(url, headers=sandbox.headers()).status_code == 404


# -- the business clock ------------------------------------------------------------------------

def test_a_future_dated_order_waits_for_the_test_clock(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    order = post(client, sandbox, PO, shop.order(shop.line_item(),
                                                 requestedStartDate="2026-03-10T00:00:00Z"))
    assert "waits until 2026-03-10T00:00:00Z" in order["milestone"][0]["message"]
    assert work(sandbox) == 0
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "acknowledged"
    r = client.post("/api/v1/testClock/advance", json={"days": 7},
                    headers=sandbox.headers())
    assert r.status_code == 200, r.text
    assert work(sandbox) == 0  # 03-09 09:00: not yet
    r = client.post("/api/v1/testClock/advance", json={"days": 1},
                    headers=sandbox.headers())
    assert work(sandbox) >= 1  # 03-10 09:00: the start date has come
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed" and done["completionDate"] == "2026-03-10T09:00:00Z"
    product = client.get(INV, params={"billingAccount.id": shop.account["id"]},
                         headers=sandbox.headers()).json()[0]
    assert product["startDate"] == "2026-03-10T09:00:00Z"


def test_roles_and_tenants(client, sandbox, other_tenant):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    body = shop.order(shop.line_item())
    for role in ("read_only", "finance", "partner", "catalog_manager"):
        assert client.post(PO, json=body, headers=sandbox.headers(role)).status_code == 403
    order = post(client, sandbox, PO, body, role="care_agent")
    assert client.get(f"{PO}/{order['id']}",
                      headers=other_tenant.headers()).status_code == 404
    assert client.get(PO, headers=other_tenant.headers()).json() == []
    r = client.post(CANCEL, json={"productOrder": {"id": order["id"]}},
                    headers=other_tenant.headers())
    assert (r.status_code, r.json()["field"]) == (422, "productOrder.id")
    assert client.get(PO, headers=sandbox.headers("partner")).status_code == 403


def test_an_unknown_customer_is_named(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    body = shop.order(shop.line_item())
    body["relatedParty"] = [{"id": "x", "@referredType": "Individual", "role": "payer"},
                            {"id": "ghost", "@referredType": "Customer", "role": "customer"}]
    err = fail(client, sandbox, body)
    assert (err["code"], err["field"]) == ("invalid_reference", "relatedParty[1].id")


def test_a_characteristic_change_keeps_the_others(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    chars = [{"name": "MSISDN", "value": "+33612345678"}, {"name": "Data allowance", "value": 10}]
    order = post(client, sandbox, PO, shop.order(shop.line_item(
        product={"productCharacteristic": chars})))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "completed"
    product = client.get(INV, params={"billingAccount.id": shop.account["id"]},
                         headers=sandbox.headers()).json()[0]
    change = {"id": "1", "action": "modify", "product": {
        "id": product["id"], "productCharacteristic": [{"name": "Data allowance", "value": 50}]}}
    bad = {**change, "product": {**change["product"], "productCharacteristic": [
        {"name": "Data allowance", "value": 70}]}}
    assert fail(client, sandbox, shop.order(bad))["field"] == \
        "productOrderItem[0].product.productCharacteristic[Data allowance]"
    post(client, sandbox, PO, shop.order(change))
    work(sandbox)
    after = get(client, sandbox, f"{INV}/{product['id']}")
    assert {c["name"]: c["value"] for c in after["productCharacteristic"]} == {
        "MSISDN": "+33612345678", "Data allowance": 50}
    history = get(client, sandbox, f"/api/v1/products/{product['id']}/history")
    assert history[-1]["productOrder"]["orderItemId"] == "1"


def test_an_order_from_a_quote_references_it(client, sandbox):  # type: ignore[no-untyped-def]
    from openbss.core.context import system_context
    from openbss.core.models import Tenant
    from openbss.ordering import orders
    from openbss.ordering.schemas import ProductOrderCreate

    shop = Shop(client, sandbox)
    with unit_of_work() as session:
        tenant = session.get(Tenant, sandbox.id)
        assert tenant is not None
        ctx = system_context(session, tenant)
        row = orders.create_order(ctx, data=ProductOrderCreate.model_validate(
            shop.order(shop.line_item())), quote_id="q-1")
        assert row.quote_id == "q-1" and row.body["quote"] == [{"id": "q-1"}]
        order_id = row.id
    assert get(client, sandbox, f"{PO}/{order_id}")["quote"] == [{"id": "q-1"}]


def test_the_docs_show_the_state_machines_as_they_are():
    from pathlib import Path

    from openbss.ordering.models import ITEM_STATES, ORDER_STATES, STEP_STATES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ordering.md").read_text()
    for machine in (ORDER_STATES, ITEM_STATES, STEP_STATES):
        assert f"```mermaid\n{machine.diagram()}\n```" in doc, machine.resource


def test_a_downgrade_takes_effect_at_the_end_of_the_billing_period(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    r = client.patch(f"/tmf-api/accountManagement/v4/billingAccount/{shop.account['id']}",
                     json={"billStructure": {"cycleSpecification": {
                         "frequency": "monthly", "anchorDay": 1, "alignment": "calendar",
                         "timeZone": "Europe/Paris"}}},
                     headers=sandbox.headers("admin", **MERGE))
    assert r.status_code == 200, r.text
    product = _live_line(client, sandbox, shop)
    order = post(client, sandbox, PO, shop.order({
        "id": "1", "action": "modify", "product": {"id": product["id"]},
        "productOffering": {"id": shop.mobile_l["id"]}}))
    work(sandbox)  # an upgrade (34.99 > 19.99): now
    assert "effective" not in get(client, sandbox, f"{PO}/{order['id']}")["milestone"][-2][
        "message"]
    order = post(client, sandbox, PO, shop.order({
        "id": "1", "action": "modify", "product": {"id": product["id"]},
        "productOffering": {"id": shop.mobile["id"]}}))
    work(sandbox)
    # a downgrade: at the end of March in Paris (UTC+2 from 29 March); it waits until then
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "pending"
    client.post("/api/v1/testClock/advance", json={"days": 31}, headers=sandbox.headers())
    work(sandbox)
    done = get(client, sandbox, f"{PO}/{order['id']}")
    assert done["state"] == "completed"
    assert "effective 2026-03-31T22:00:00Z" in done["milestone"][-2]["message"]
    history = get(client, sandbox, f"/api/v1/products/{product['id']}/history")
    plan = [h for h in history if h["change"] == "plan_changed"]
    assert plan[-1]["at"] == "2026-03-31T22:00:00Z"
    assert plan[-1]["productOrder"]["id"] == order["id"]


def test_a_termination_on_a_requested_date_is_pending_until_then(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    product = _live_line(client, sandbox, shop)
    order = post(client, sandbox, PO, shop.order(
        {"id": "1", "action": "delete", "product": {"id": product["id"]}},
        requestedCompletionDate="2026-04-30T22:00:00Z"))
    work(sandbox)
    assert get(client, sandbox, f"{PO}/{order['id']}")["state"] == "completed"
    after = get(client, sandbox, f"{INV}/{product['id']}")
    assert after["status"] == "pendingTerminate"
    assert after["terminationDate"] == "2026-04-30T22:00:00Z"
