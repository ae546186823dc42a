"""TMF648 quotes through HTTP: prices against hand-computed examples, every state
transition and refusal, expiry on a test clock, items frozen once approved, quote ->
product order, events, swagger validation of responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openbss.core.db import unit_of_work
from openbss.ordering.models import QUOTE_STATES

Q = "/tmf-api/quoteManagement/v4/quote"
PO = "/tmf-api/productOrderingManagement/v4/productOrder"
CAT = "/tmf-api/productCatalogManagement/v4"
SWAGGER = "TMF648-QuoteManagement-v4.0.0.swagger.json"
ORDER_SWAGGER = "TMF622-ProductOrdering-v4.0.0.swagger.json"
MERGE = {"Content-Type": "application/merge-patch+json"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="FR")


def post(client, tenant, path: str, body: Any, status: int = 201,  # type: ignore[no-untyped-def]
         role: str = "sales_agent", **headers: str) -> dict[str, Any]:
    r = client.post(path, json=body, headers=tenant.headers(role, **headers))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def patch(client, tenant, quote_id: str, body: dict[str, Any], status: int = 200,  # type: ignore[no-untyped-def]
          role: str = "sales_agent") -> dict[str, Any]:
    r = client.patch(f"{Q}/{quote_id}", json=body, headers=tenant.headers(role, **MERGE))
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


class Shop:
    """An offering priced in EUR and USD (a monthly seat price with "-20 % for 3 months",
    an activation fee), one priced only in USD, a French customer with a EUR and a USD
    billing account."""

    def __init__(self, client, tenant) -> None:  # type: ignore[no-untyped-def]
        self.client, self.tenant = client, tenant
        eur_month = self.price("Team monthly", "recurring", "19.99", "EUR")
        eur_fee = self.price("Team activation", "oneTime", "49.00", "EUR")
        promo = post(client, tenant, f"{CAT}/productOfferingPrice", {
            "name": "Welcome -20%", "priceType": "discount", "lifecycleStatus": "Active",
            "percentage": "20", "applicationDuration": 3, "popRelationship": [{"id": eur_month}]},
            role="admin")["id"]
        usd_month = self.price("Team monthly", "recurring", "24.00", "USD")
        usd_fee = self.price("Team activation", "oneTime", "59.00", "USD")
        self.team = self.offering("Team", [eur_month, eur_fee, promo, usd_month, usd_fee])
        self.us_only = self.offering("US only", [self.price("US", "recurring", "5.00", "USD")])
        self.person = post(client, tenant, "/tmf-api/partyManagement/v4/individual", {
            "givenName": "Claire", "familyName": "Martin"}, role="admin")
        self.eur = self.account("EUR")
        self.usd = self.account("USD")

    def price(self, name: str, kind: str, value: str, currency: str) -> str:
        return str(post(self.client, self.tenant, f"{CAT}/productOfferingPrice", {
            "name": name, "priceType": kind, "lifecycleStatus": "Active",
            "price": {"unit": currency, "value": value}}, role="admin")["id"])

    def offering(self, name: str, prices: list[str]) -> dict[str, Any]:
        return post(self.client, self.tenant, f"{CAT}/productOffering", {
            "name": name, "lifecycleStatus": "Active",
            "productOfferingPrice": [{"id": p} for p in prices]}, role="admin")

    def account(self, currency: str) -> dict[str, Any]:
        return post(self.client, self.tenant, "/tmf-api/accountManagement/v4/billingAccount", {
            "name": f"Claire {currency}", "currency": currency,
            "relatedParty": [{"id": self.person["id"], "@referredType": "Individual",
                              "role": "owner"}]}, role="admin")

    def quote(self, *items: dict[str, Any], account: dict[str, Any] | None = None,
              **extra: Any) -> dict[str, Any]:
        return {"billingAccount": [{"id": (account or self.eur)["id"]}],
                "relatedParty": [{"id": self.person["id"], "@referredType": "Individual",
                                  "role": "Customer"}],
                "quoteItem": list(items) or [self.item()], **extra}

    def item(self, item_id: str = "1", quantity: int = 3,
             offering: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": item_id, "action": "add", "quantity": quantity,
                "productOffering": {"id": (offering or self.team)["id"]}, **extra}


def lines(item: dict[str, Any]) -> dict[str, Any]:
    return {p["priceType"]: p for p in item["quoteItemPrice"]}


def totals(quote: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(t["priceType"], t["price"]["dutyFreeAmount"]["unit"]):
            t["price"]["dutyFreeAmount"]["value"] for t in quote["quoteTotalPrice"]}


# -- prices ------------------------------------------------------------------------------

def test_a_quote_is_priced_from_the_catalog_in_the_accounts_currency(client, sandbox,  # type: ignore[no-untyped-def]
                                                                    tmf_schema):
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote())
    tmf_schema(SWAGGER, "Quote", quote)
    assert quote["state"] == "inProgress" and quote["quoteDate"] == "2026-03-02T09:00:00Z"
    assert quote["validFor"] == {"startDateTime": "2026-03-02T09:00:00Z",
                                 "endDateTime": "2026-04-01T09:00:00Z"}  # 30 days
    assert quote["expectedQuoteCompletionDate"] == "2026-04-01T09:00:00Z"
    [item] = quote["quoteItem"]
    assert item["state"] == "inProgress"
    by_type = lines(item)
    # 3 x 19.99 = 59.97; -20 % = 11.994 -> 11.99 (half-up at the minor unit); net 47.98
    recurring = by_type["recurring"]
    assert recurring["recurringChargePeriod"] == "month"
    assert recurring["price"]["dutyFreeAmount"] == {"unit": "EUR", "value": 47.98}
    [discount] = recurring["priceAlteration"]
    assert discount["applicationDuration"] == 3
    assert discount["price"]["percentage"] == 20
    assert discount["price"]["dutyFreeAmount"] == {"unit": "EUR", "value": -11.99}
    # 3 x 49.00, the discount alters the monthly price only
    assert by_type["oneTime"]["price"]["dutyFreeAmount"] == {"unit": "EUR", "value": 147}
    assert "priceAlteration" not in by_type["oneTime"]
    assert totals(quote) == {("recurring", "EUR"): 47.98, ("oneTime", "EUR"): 147}
    # no tax yet (billing's seam): duty free == tax included, no rate
    assert recurring["price"]["taxIncludedAmount"] == {"unit": "EUR", "value": 47.98}
    assert "taxRate" not in recurring["price"]
    # the same offering for the USD account: the USD prices, no EUR discount
    usd = post(client, sandbox, Q, shop.quote(account=shop.usd))
    assert totals(usd) == {("recurring", "USD"): 72, ("oneTime", "USD"): 177}
    assert "priceAlteration" not in lines(usd["quoteItem"][0])["recurring"]


def test_a_client_cannot_set_prices(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    fake = [{"priceType": "recurring", "price": {"dutyFreeAmount": {"unit": "EUR", "value": 0}}}]
    quote = post(client, sandbox, Q, shop.quote(shop.item(quoteItemPrice=fake),
                                                quoteTotalPrice=fake))
    assert totals(quote) == {("recurring", "EUR"): 47.98, ("oneTime", "EUR"): 147}
    err = patch(client, sandbox, quote["id"], {"quoteTotalPrice": fake}, 422)
    assert err["field"] == "quoteTotalPrice"
    # sending the items back with made-up prices: recomputed, nothing changes
    items = [{**quote["quoteItem"][0], "quoteItemPrice": fake}]
    again = patch(client, sandbox, quote["id"], {"quoteItem": items})
    assert again["quoteItem"][0]["quoteItemPrice"] == quote["quoteItem"][0]["quoteItemPrice"]


def test_prices_follow_every_item_change(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote())
    changed = patch(client, sandbox, quote["id"], {"quoteItem": [shop.item(quantity=1)]})
    # 19.99 - 20 % (3.998 -> 4.00) = 15.99; one activation fee
    assert totals(changed) == {("recurring", "EUR"): 15.99, ("oneTime", "EUR"): 49}
    two = patch(client, sandbox, quote["id"], {"quoteItem": [
        shop.item(quantity=1), shop.item("2", quantity=2)]})
    # 2 x 19.99 = 39.98, -20 % = 7.996 -> 8.00: 31.98; + 15.99 = 47.97
    assert totals(two) == {("recurring", "EUR"): 47.97, ("oneTime", "EUR"): 147}
    # the billing account changes the currency: every price again, in USD
    usd = patch(client, sandbox, quote["id"], {"billingAccount": [{"id": shop.usd["id"]}]})
    assert totals(usd) == {("recurring", "USD"): 72, ("oneTime", "USD"): 177}
    got = client.get(Q, params={"billingAccount.id": shop.usd["id"]},
                     headers=sandbox.headers("read_only")).json()
    assert [q["id"] for q in got] == [quote["id"]]


def test_an_offering_without_a_price_in_the_accounts_currency_is_refused(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    r = client.post(Q, json=shop.quote(shop.item(), shop.item("2", offering=shop.us_only)),
                    headers=sandbox.headers("sales_agent"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "quoteItem[1].productOffering.id"
    assert "EUR" in r.json()["message"]
    # one billing account (one currency) per quote
    body = shop.quote()
    body["billingAccount"] = [{"id": shop.eur["id"]}, {"id": shop.usd["id"]}]
    r = client.post(Q, json=body, headers=sandbox.headers("sales_agent"))
    assert r.status_code == 422 and r.json()["field"].startswith("billingAccount"), r.text


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b.pop("billingAccount"), "billingAccount"),
    (lambda b: b.update(billingAccount=[{"id": "nope"}]), "billingAccount[0].id"),
    (lambda b: b["quoteItem"][0].update(productOffering={"id": "nope"}),
     "quoteItem[0].productOffering.id"),
    (lambda b: b["quoteItem"][0].pop("productOffering"), "quoteItem[0].productOffering.id"),
    (lambda b: b["quoteItem"][0].update(quantity=0), "quoteItem[0].quantity"),
    (lambda b: b["quoteItem"][0].update(action="upgrade"), "quoteItem[0].action"),
    (lambda b: b["quoteItem"][0].update(action="modify"), "quoteItem[0].product.id"),
    (lambda b: b["quoteItem"][0].update(product={"id": "nope"}, action="delete"),
     "quoteItem[0].product.id"),
    (lambda b: b["quoteItem"][0].update(
        quoteItemRelationship=[{"id": "9", "relationshipType": "reliesOn"}]),
     "quoteItem[0].quoteItemRelationship[0].id"),
    (lambda b: b.update(state="accepted"), "state"),
    (lambda b: b.update(validFor={"endDateTime": "2026-03-01T00:00:00Z"}),
     "validFor.endDateTime"),
    (lambda b: b.update(colour="red"), "colour"),
])
def test_bad_input_is_a_422_naming_the_field(client, sandbox, change, field):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    body = shop.quote()
    change(body)
    r = client.post(Q, json=body, headers=sandbox.headers("sales_agent"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.text


# -- states ------------------------------------------------------------------------------

def test_the_happy_path_and_every_refused_transition(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    for state in ("inProgress", "pending", "approved", "accepted", "rejected", "cancelled"):
        for target in ("inProgress", "pending", "approved", "accepted", "rejected",
                       "cancelled"):
            quote = post(client, sandbox, Q, shop.quote())
            path = {"inProgress": [], "pending": ["pending"],
                    "approved": ["pending", "approved"],
                    "accepted": ["pending", "approved", "accepted"],
                    "rejected": ["pending", "rejected"], "cancelled": ["cancelled"]}[state]
            for step in path:
                patch(client, sandbox, quote["id"], {"state": step})
            allowed = QUOTE_STATES.can(state, target)
            r = client.patch(f"{Q}/{quote['id']}", json={"state": target},
                             headers=sandbox.headers("sales_agent", **MERGE))
            assert r.status_code == (200 if allowed else 409), (state, target, r.text)
            if allowed:
                body = r.json()
                tmf_schema(SWAGGER, "Quote", body)
                assert body["state"] == target
                assert {i["state"] for i in body["quoteItem"]} == {target}
                final = QUOTE_STATES.is_final(target)
                assert ("effectiveQuoteCompletionDate" in body) == final
            else:
                assert r.json()["code"] == "invalid_transition"
    err = patch(client, sandbox, quote["id"], {"state": "done"}, 422)
    assert err["field"] == "state"


def test_items_are_frozen_once_approved(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote())
    patch(client, sandbox, quote["id"], {"state": "pending"})
    pending = patch(client, sandbox, quote["id"], {"quoteItem": [shop.item(quantity=1)]})
    assert totals(pending)[("recurring", "EUR")] == 15.99  # still changeable while pending
    approved = patch(client, sandbox, quote["id"], {"state": "approved"})
    for change, field in [({"quoteItem": [shop.item(quantity=2)]}, "quoteItem"),
                          ({"billingAccount": [{"id": shop.usd["id"]}]}, "billingAccount"),
                          ({"validFor": {"endDateTime": "2027-01-01T00:00:00Z"}}, "validFor")]:
        err = patch(client, sandbox, quote["id"], change, 409)
        assert (err["code"], err["field"]) == ("quote_frozen", field)
    # the same items sent back, descriptive attributes and notes still change
    same = patch(client, sandbox, quote["id"], {"quoteItem": approved["quoteItem"],
                                                "validFor": approved["validFor"],
                                                "description": "for the team",
                                                "note": [{"text": "call back"}]})
    assert same["description"] == "for the team"
    assert same["note"][0]["date"] == "2026-03-02T09:00:00Z"
    assert same["quoteItem"] == approved["quoteItem"]


def test_an_expired_quote_cannot_be_accepted(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote())
    patch(client, sandbox, quote["id"], {"state": "pending"})
    patch(client, sandbox, quote["id"], {"state": "approved"})
    r = client.post("/api/v1/testClock/advance", json={"days": 30},
                    headers=sandbox.headers())
    assert r.status_code == 200, r.text
    err = patch(client, sandbox, quote["id"], {"state": "accepted"}, 409)
    assert (err["code"], err["field"]) == ("quote_expired", "validFor.endDateTime")
    assert "2026-04-01T09:00:00Z" in err["message"]
    # one that is still valid (a longer validFor) is accepted on the same clock
    longer = post(client, sandbox, Q, shop.quote(
        validFor={"endDateTime": "2026-06-01T00:00:00Z"}))
    assert longer["validFor"]["startDateTime"] == "2026-04-01T09:00:00Z"
    for state in ("pending", "approved", "accepted"):
        done = patch(client, sandbox, longer["id"], {"state": state})
    assert done["effectiveQuoteCompletionDate"] == "2026-04-01T09:00:00Z"
    # an expired quote can still be rejected or cancelled
    assert patch(client, sandbox, quote["id"], {"state": "rejected"})["state"] == "rejected"


# -- quote -> order ----------------------------------------------------------------------

def accepted(client, sandbox, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    quote = post(client, sandbox, Q, body)
    for state in ("pending", "approved", "accepted"):
        quote = patch(client, sandbox, quote["id"], {"state": state})
    return quote


def test_an_accepted_quote_becomes_a_product_order(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote(shop.item(), shop.item(
        "2", quantity=1, quoteItemRelationship=[{"id": "1", "relationshipType": "reliesOn"}])))
    err = post(client, sandbox, f"/api/v1/quotes/{quote['id']}/order", None, 409)
    assert (err["code"], err["field"]) == ("quote_not_orderable", "state")
    quote = accepted(client, sandbox, shop.quote(shop.item(), shop.item(
        "2", quantity=1, quoteItemRelationship=[{"id": "1", "relationshipType": "reliesOn"}])))
    order = post(client, sandbox, f"/api/v1/quotes/{quote['id']}/order",
                 {"externalId": "crm-42"}, **{"Idempotency-Key": "order-quote-1"})
    tmf_schema(ORDER_SWAGGER, "ProductOrder", order)
    assert order["state"] == "acknowledged" and order["externalId"] == "crm-42"
    assert order["quote"] == [{"id": quote["id"], "href": quote["href"],
                               "@referredType": "Quote"}]
    assert [i["quoteItem"]["id"] for i in order["productOrderItem"]] == ["1", "2"]
    assert {i["quoteItem"]["quoteId"] for i in order["productOrderItem"]} == {quote["id"]}
    assert order["productOrderItem"][1]["productOrderItemRelationship"] == [
        {"id": "1", "relationshipType": "reliesOn"}]
    # the order's prices are the quote's (same catalog, same clock)
    assert order["orderTotalPrice"] == quote["quoteTotalPrice"]
    # the quote records the order
    got = client.get(f"{Q}/{quote['id']}", headers=sandbox.headers("read_only")).json()
    tmf_schema(SWAGGER, "Quote", got)
    assert got["productOrder"]["id"] == order["id"]
    # replaying the same Idempotency-Key answers the same order
    again = post(client, sandbox, f"/api/v1/quotes/{quote['id']}/order",
                 {"externalId": "crm-42"}, **{"Idempotency-Key": "order-quote-1"})
    assert again["id"] == order["id"]
    # a second order (another key) is refused, naming the first
    err = post(client, sandbox, f"/api/v1/quotes/{quote['id']}/order", None, 409)
    assert err["code"] == "quote_already_ordered" and order["id"] in err["message"]
    orders = client.get(PO, headers=sandbox.headers("read_only")).json()
    assert [o["id"] for o in orders] == [order["id"]]
    # an ordered quote stays
    r = client.delete(f"{Q}/{quote['id']}", headers=sandbox.headers("sales_agent"))
    assert r.status_code == 409 and r.json()["code"] == "quote_not_deletable", r.text


def test_a_quote_order_is_validated_like_any_order(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = accepted(client, sandbox, shop.quote())
    # the account is closed between acceptance and order
    r = client.patch(f"/tmf-api/accountManagement/v4/billingAccount/{shop.eur['id']}",
                     json={"state": "closed"}, headers=sandbox.headers("admin", **MERGE))
    assert r.status_code == 200, r.text
    err = post(client, sandbox, f"/api/v1/quotes/{quote['id']}/order", None, 422)
    assert err["field"] == "billingAccount.id"
    got = client.get(f"{Q}/{quote['id']}", headers=sandbox.headers("read_only")).json()
    assert "productOrder" not in got  # nothing recorded, it can be ordered later
    err = post(client, sandbox, f"/api/v1/quotes/{quote['id']}/order", {"priority": 1}, 422)
    assert err["field"] == "priority"


# -- delete, events, roles, isolation ------------------------------------------------------

def test_events_of_a_quote(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote())
    patch(client, sandbox, quote["id"], {"quoteItem": [shop.item(quantity=1)]})
    patch(client, sandbox, quote["id"], {"state": "pending"})
    patch(client, sandbox, quote["id"], {"state": "pending"})  # no transition, no event
    r = client.delete(f"{Q}/{quote['id']}", headers=sandbox.headers("sales_agent"))
    assert r.status_code == 204, r.text
    assert client.get(f"{Q}/{quote['id']}", headers=sandbox.headers()).status_code == 404
    from openbss.core.models import OutboxEvent
    from openbss.core.queries import scoped

    with unit_of_work() as session:
        rows = session.scalars(scoped(sandbox.id, OutboxEvent)
                               .order_by(OutboxEvent.created_at, OutboxEvent.id)).all()
        mine = [e.event_type for e in rows if e.resource_id == quote["id"]]
    assert mine == ["QuoteCreateEvent", "QuoteAttributeValueChangeEvent",
                    "QuoteStateChangeEvent", "QuoteDeleteEvent"]


def test_roles_and_other_tenants(client, sandbox, make_tenant):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    quote = post(client, sandbox, Q, shop.quote())
    assert client.get(f"{Q}/{quote['id']}", headers=sandbox.headers("finance")).status_code \
        == 200
    for role in ("read_only", "billing_ops", "partner", "catalog_manager"):
        r = client.post(Q, json=shop.quote(), headers=sandbox.headers(role))
        assert r.status_code == 403, (role, r.text)
        r = client.patch(f"{Q}/{quote['id']}", json={"state": "pending"},
                         headers=sandbox.headers(role, **MERGE))
        assert r.status_code == 403, (role, r.text)
        r = client.post(f"/api/v1/quotes/{quote['id']}/order",
                        headers=sandbox.headers(role))
        assert r.status_code == 403, (role, r.text)
    r = client.delete(f"{Q}/{quote['id']}", headers=sandbox.headers("care_agent"))
    assert r.status_code == 403, r.text
    other = make_tenant()
    for method, path in [("get", f"{Q}/{quote['id']}"), ("patch", f"{Q}/{quote['id']}"),
                         ("delete", f"{Q}/{quote['id']}"),
                         ("post", f"/api/v1/quotes/{quote['id']}/order")]:
        kwargs: dict[str, Any] = {"json": {"state": "pending"}} if method == "patch" else {}
        r = client.request(method, path, headers=other.headers("admin", **MERGE), **kwargs)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get(Q, headers=other.headers()).json() == []
    # another tenant's billing account and offering are unknown here
    r = client.post(Q, json=shop.quote(), headers=other.headers("admin"))
    assert r.status_code == 422 and r.json()["field"] == "billingAccount[0].id", r.text


def test_the_docs_show_the_quote_state_machine() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ordering.md").read_text()
    assert f"```mermaid\n{QUOTE_STATES.diagram()}\n```" in doc


def test_plan_changes_and_terminations_are_quoted(client, sandbox):  # type: ignore[no-untyped-def]
    shop = Shop(client, sandbox)
    small = shop.offering("Small", [shop.price("Small monthly", "recurring", "9.50", "EUR"),
                                    shop.price("Small activation", "oneTime", "5.00", "EUR")])
    product = post(client, sandbox, "/tmf-api/productInventory/v4/product", {
        "status": "active", "productOffering": {"id": shop.team["id"]}, "quantity": 2,
        "billingAccount": {"id": shop.eur["id"]}}, role="admin")
    quote = post(client, sandbox, Q, shop.quote(
        {"id": "1", "action": "modify", "product": {"id": product["id"]},
         "productOffering": {"id": small["id"]}},
        {"id": "2", "action": "noChange"}))
    change, same = quote["quoteItem"]
    # a plan change pays the new plan's recurring price, for the product's quantity (2),
    # and no activation fee again: 2 x 9.50
    assert change["quantity"] == 2
    assert [(p["priceType"], p["price"]["dutyFreeAmount"]["value"])
            for p in change["quoteItemPrice"]] == [("recurring", 19)]
    assert same["quoteItemPrice"] == []
    assert totals(quote) == {("recurring", "EUR"): 19}
    # a termination without commitment costs nothing
    stop = post(client, sandbox, Q, shop.quote(
        {"id": "1", "action": "delete", "product": {"id": product["id"]}}))
    assert stop["quoteItem"][0]["quoteItemPrice"] == [] and stop["quoteTotalPrice"] == []
    # the product must be the quote's account's
    r = client.post(Q, json=shop.quote({"id": "1", "action": "modify",
                                        "product": {"id": product["id"]}}, account=shop.usd),
                    headers=sandbox.headers("sales_agent"))
    assert r.status_code == 422 and r.json()["field"] == "quoteItem[0].product.id", r.text
