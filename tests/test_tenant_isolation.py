"""Tenant isolation and declared roles for EVERY route of the app.

The test enumerates the application's routes, so a router added later is covered
automatically: a route with a path parameter needs an entry in FACTORIES (which
creates the resource in one tenant) or the test fails and names the route.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute

from openbss.core.permissions import Requires
from route_walk import api_routes

PUBLIC = {"/health", "/ready", "/metrics", "/oauth/token", "/openapi.json", "/docs",
          "/docs/oauth2-redirect", "/redoc",
          "/callbacks/tmf641/{tenant}/{secret}",  # its URL secret is the credential
          "/callbacks/payments/{gateway}/{tenant}"}  # the gateway's signature is


def _hub(api_prefix: str) -> Callable:
    def make(client, tenant) -> dict[str, str]:
        r = client.post(f"{api_prefix}/hub", json={"callback": "http://127.0.0.1:1/x"},
                        headers=tenant.headers())
        assert r.status_code == 201, r.text
        return {"id": r.json()["id"]}
    return make


def _delivery(client, tenant) -> dict[str, str]:
    """An event delivery owed to a listener of the tenant (its catalog hub, one event)."""
    from sqlalchemy import select

    from openbss.core.db import unit_of_work
    from openbss.core.models import EventDelivery

    api = "/tmf-api/productCatalogManagement/v4"
    client.post(f"{api}/hub", json={"callback": "http://127.0.0.1:1/x"},
                headers=tenant.headers()).raise_for_status()
    client.post(f"{api}/category", json={"name": "c"},
                headers=tenant.headers()).raise_for_status()
    with unit_of_work() as session:
        delivery_id = session.scalars(select(EventDelivery.id).where(
            EventDelivery.tenant_id == tenant.id)).first()
    assert delivery_id is not None
    return {"id": delivery_id}


def _product(client, tenant) -> dict[str, str]:
    """A product of the tenant (created, so it can also be deleted)."""
    r = client.post("/tmf-api/productInventory/v4/product", json={"status": "created"},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _product_order(client, tenant) -> dict[str, str]:
    """An open product order of the tenant (one noChange item: nothing to validate)."""
    r = client.post("/tmf-api/productOrderingManagement/v4/productOrder",
                    json={"productOrderItem": [{"id": "1", "action": "noChange"}]},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _cancel_request(client, tenant) -> dict[str, str]:
    r = client.post("/tmf-api/productOrderingManagement/v4/cancelProductOrder",
                    json={"productOrder": _product_order(client, tenant)},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _quote(client, tenant) -> dict[str, str]:
    """A quote of the tenant (one noChange item on a billing account of the tenant)."""
    account = FACTORIES["/tmf-api/accountManagement/v4/billingAccount/{id}"](client, tenant)
    r = client.post("/tmf-api/quoteManagement/v4/quote", json={
        "billingAccount": [account], "quoteItem": [{"id": "1", "action": "noChange"}]},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _bill(client, tenant) -> dict[str, str]:
    """An issued invoice of the tenant (one line, through the issuing use case)."""
    from billing.issue_helpers import flat_vat, input_for, issue, line

    account = FACTORIES["/tmf-api/accountManagement/v4/billingAccount/{id}"](client, tenant)
    with flat_vat():
        [bill] = issue(tenant, [(input_for(account["id"]), [line(account["id"], "10.00")])])
    return {"id": bill["invoice_id"], "line": bill["lines"][0]["id"]}


def _charge(client, tenant) -> dict[str, str]:
    """A manual charge on a billing account of the tenant."""
    account = FACTORIES["/tmf-api/accountManagement/v4/billingAccount/{id}"](client, tenant)
    r = client.post(f"/api/v1/billingAccounts/{account['id']}/charges", json={
        "kind": "charge", "amount": {"unit": "EUR", "value": 5}, "name": "fee"},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": account["id"], "charge_id": r.json()["id"]}


def _bill_run(client, tenant) -> dict[str, str]:
    """A dry bill run of the tenant over one account."""
    account = FACTORIES["/tmf-api/accountManagement/v4/billingAccount/{id}"](client, tenant)
    r = client.post("/api/v1/billRuns", json={
        "asOf": "2026-03-01T00:00:00Z", "billingAccounts": [account["id"]], "dryRun": True},
        headers=tenant.headers())
    assert r.status_code == 202, r.text
    return {"id": r.json()["id"]}


PAY = "/tmf-api/paymentManagement/v4"
BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
METHODS = "/tmf-api/paymentMethods/v4/paymentMethod"


def _account_id(client, tenant) -> str:
    return FACTORIES["/tmf-api/accountManagement/v4/billingAccount/{id}"](client, tenant)["id"]


def _payment(client, tenant) -> dict[str, str]:
    """A manual payment of the tenant, kept as unapplied credit."""
    r = client.post(f"{PAY}/payment", json={
        "account": {"id": _account_id(client, tenant)},
        "totalAmount": {"unit": "EUR", "value": 20}}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _refund(client, tenant) -> dict[str, str]:
    r = client.post(f"{PAY}/refund", json={"payment": _payment(client, tenant),
                                           "totalAmount": {"unit": "EUR", "value": 5}},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _method(client, tenant) -> dict[str, str]:
    r = client.post(METHODS, json={"@type": "cash", "name": "cash at the shop",
                                   "account": [{"id": _account_id(client, tenant)}]},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _collection(client, tenant) -> dict[str, str]:
    """A SEPA collection of the tenant: a mandate, an issued bill, the export."""
    from datetime import date, timedelta

    bill = _bill(client, tenant)
    account = client.get(f"{BILLS}/{bill['id']}", headers=tenant.headers()).json()[
        "billingAccount"]["id"]
    r = client.post(METHODS, json={
        "@type": "directDebit", "name": "SEPA", "account": [{"id": account}],
        "accountNumber": "DE02120300000000202051", "owner": "Erika Mustermann",
        "signatureDate": "2026-01-02T00:00:00Z"}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/payments/sepaCollections", json={
        "collectionDate": (date.today() + timedelta(days=3)).isoformat()},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _statement(client, tenant) -> dict[str, str]:
    """An imported camt.053 with one unmatched credit."""
    from datetime import UTC, date, datetime
    from decimal import Decimal
    from uuid import uuid4

    from openbss.payments import bank

    ref = uuid4().hex[:16]
    content = bank.write(message="camt.053", message_id=f"M{ref}",
                         created_at=datetime.now(UTC), account_iban="DE89370400440532013000",
                         currency="EUR", movements=[bank.BankMovement(
                             Decimal("12.34"), "EUR", "transfer", date.today(), ref,
                             debtor_name="Nobody Known", remittance=("thanks",))])
    r = client.post("/api/v1/payments/bankStatements", content=content,
                    headers=tenant.headers(**{"Content-Type": "application/xml"}))
    assert r.status_code == 201, r.text
    doc = r.json()
    return {"id": doc["bankStatement"]["id"], "entry": doc["entryDetails"][0]["id"]}


def _journal_entry(client, tenant) -> dict[str, str]:
    bill = _bill(client, tenant)
    r = client.get("/api/v1/ledger/journalEntries", params={"sourceId": bill["id"]},
                   headers=tenant.headers())
    assert r.status_code == 200 and r.json(), r.text
    return {"id": r.json()[0]["id"]}


def _dunning_policy(client, tenant) -> dict[str, str]:
    from uuid import uuid4

    r = client.post("/api/v1/dunning/policies", json={
        "name": f"p-{uuid4().hex[:8]}", "steps": [{"days": 5, "action": "reminder"}]},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _hold(client, tenant) -> dict[str, str]:
    r = client.post("/api/v1/dunning/holds", json={
        "kind": "paymentPlan", "billingAccount": {"id": _account_id(client, tenant)}},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _dunning_case(client, tenant) -> dict[str, str]:
    """An overdue bill (due 2026-03-15) and a dunning run after it."""
    _bill(client, tenant)
    r = client.post("/api/v1/dunning/runs", json={"asOf": "2026-03-20"},
                    headers=tenant.headers())
    assert r.status_code == 200, r.text
    cases = client.get("/api/v1/dunning/cases", headers=tenant.headers()).json()
    return {"id": cases[0]["id"]}


# route path template -> factory(client, tenant) returning the path parameters
FACTORIES: dict[str, Callable] = {
    f"{PAY}/payment/{{id}}": _payment,
    f"{PAY}/refund/{{id}}": _refund,
    "/api/v1/payments/{id}/allocations": _payment,
    "/api/v1/payments/{id}/reversal": _payment,
    "/api/v1/payments/{id}/chargeback": _payment,
    "/api/v1/customerBills/{id}/writeOff": lambda c, t: _bill(c, t),
    f"{METHODS}/{{id}}": _method,
    "/api/v1/payments/sepaCollections/{id}": _collection,
    "/api/v1/payments/sepaCollections/{id}/file": _collection,
    "/api/v1/payments/bankStatements/{id}": lambda c, t: {"id": _statement(c, t)["id"]},
    "/api/v1/payments/statementEntries/{id}": lambda c, t: {"id": _statement(c, t)["entry"]},
    "/api/v1/payments/statementEntries/{id}/match": lambda c, t: {
        "id": _statement(c, t)["entry"]},
    "/api/v1/ledger/accounts/{code}": lambda c, t: {"code": "1000"},
    "/api/v1/ledger/journalEntries/{id}": _journal_entry,
    "/api/v1/dunning/policies/{id}": _dunning_policy,
    "/api/v1/dunning/holds/{id}": _hold,
    "/api/v1/dunning/cases/{id}": _dunning_case,
    "/tmf-api/paymentManagement/v4/hub/{id}": _hub(PAY),
    "/tmf-api/paymentMethods/v4/hub/{id}": _hub("/tmf-api/paymentMethods/v4"),
    "/tmf-api/event/v4/hub/{id}": _hub("/tmf-api/event/v4"),
    "/api/v1/eventDeliveries/{id}": lambda c, t: _delivery(c, t),
    "/api/v1/eventDeliveries/{id}/retry": lambda c, t: _delivery(c, t),
    # --- party (TMF632, TMF629, TMF666, data protection) ---
    "/tmf-api/partyManagement/v4/hub/{id}": _hub("/tmf-api/partyManagement/v4"),
    "/tmf-api/customerManagement/v4/hub/{id}": _hub("/tmf-api/customerManagement/v4"),
    "/tmf-api/accountManagement/v4/hub/{id}": _hub("/tmf-api/accountManagement/v4"),
    "/tmf-api/partyManagement/v4/individual/{id}": lambda c, t: {"id": c.post(
        "/tmf-api/partyManagement/v4/individual", json={"givenName": "I", "familyName": "So"},
        headers=t.headers()).json()["id"]},
    "/tmf-api/partyManagement/v4/organization/{id}": lambda c, t: {"id": c.post(
        "/tmf-api/partyManagement/v4/organization", json={"tradingName": "Iso Ltd"},
        headers=t.headers()).json()["id"]},
    "/api/v1/parties/{id}/personal-data": lambda c, t: FACTORIES[
        "/tmf-api/partyManagement/v4/individual/{id}"](c, t),
    "/api/v1/parties/{id}/anonymize": lambda c, t: FACTORIES[
        "/tmf-api/partyManagement/v4/individual/{id}"](c, t),
    "/tmf-api/customerManagement/v4/customer/{id}": lambda c, t: {"id": c.post(
        "/tmf-api/customerManagement/v4/customer", headers=t.headers(), json={
            "name": "Iso", "engagedParty": {"@referredType": "Individual", **FACTORIES[
                "/tmf-api/partyManagement/v4/individual/{id}"](c, t)}}).json()["id"]},
    **{f"/tmf-api/accountManagement/v4/{kind}/{{id}}": (
        lambda kind: lambda c, t: {"id": c.post(
            f"/tmf-api/accountManagement/v4/{kind}", headers=t.headers(), json={
                "name": "Iso", "currency": "EUR", "relatedParty": [{
                    "@referredType": "Individual", **FACTORIES[
                        "/tmf-api/partyManagement/v4/individual/{id}"](c, t)}]}).json()["id"]}
    )(kind) for kind in ("billingAccount", "partyAccount")},
    # --- catalog (TMF620, pricing) ---
    **{path: (lambda c, t, k=kind, b=body: {"id": c.post(
        f"/tmf-api/productCatalogManagement/v4/{k}", json=b, headers=t.headers()).json()["id"]})
       for path, kind, body in [
           *[(f"/tmf-api/productCatalogManagement/v4/{k}/{{id}}", k, {"name": "x"})
             for k in ("catalog", "category", "productSpecification", "productOffering")],
           ("/tmf-api/productCatalogManagement/v4/productOfferingPrice/{id}",
            "productOfferingPrice", {"name": "p", "priceType": "oneTime"}),
           ("/tmf-api/productCatalogManagement/v4/importJob/{id}", "importJob",
            {"content": "{}"}),
           ("/tmf-api/productCatalogManagement/v4/exportJob/{id}", "exportJob", {}),
           ("/tmf-api/productCatalogManagement/v4/exportJob/{id}/content", "exportJob", {}),
           *[(f"/api/v1/catalog/productOffering/{{id}}/{action}", "productOffering",
              {"name": "x"}) for action in ("version", "prices", "eligibility")]]},
    "/tmf-api/productCatalogManagement/v4/hub/{id}": _hub(
        "/tmf-api/productCatalogManagement/v4"),
    # --- ordering (TMF637) ---
    "/tmf-api/productInventory/v4/product/{id}": lambda c, t: _product(c, t),
    "/api/v1/products/{id}/history": lambda c, t: _product(c, t),
    "/api/v1/products/{id}/charges": lambda c, t: _product(c, t),
    "/tmf-api/productInventory/v4/hub/{id}": _hub("/tmf-api/productInventory/v4"),
    # --- ordering (TMF622) ---
    "/tmf-api/productOrderingManagement/v4/productOrder/{id}": _product_order,
    "/tmf-api/productOrderingManagement/v4/cancelProductOrder/{id}": _cancel_request,
    "/tmf-api/productOrderingManagement/v4/hub/{id}": _hub(
        "/tmf-api/productOrderingManagement/v4"),
    # --- ordering (TMF648) ---
    "/tmf-api/quoteManagement/v4/quote/{id}": lambda c, t: _quote(c, t),
    "/api/v1/quotes/{id}/order": lambda c, t: _quote(c, t),
    "/tmf-api/quoteManagement/v4/hub/{id}": _hub("/tmf-api/quoteManagement/v4"),
    # --- rating ---
    "/api/v1/rating/tariffs/{id}": lambda c, t: {"id": c.put(
        "/api/v1/rating/tariffs/iso", json={"destinations": {"D": ["49"]}},
        headers=t.headers()).json()["id"]},
    "/api/v1/rating/tariffs/{name}": lambda c, t: {"name": c.put(
        "/api/v1/rating/tariffs/iso", json={"destinations": {"D": ["49"]}},
        headers=t.headers()).json()["name"]},
    # --- usage (TMF635) ---
    "/tmf-api/usageManagement/v4/usage/{id}": lambda c, t: {"id": c.post(
        "/tmf-api/usageManagement/v4/usage", json={
            "usageDate": "2026-01-10T09:30:00Z", "usageType": "voice",
            "usageCharacteristic": [{"name": "msisdn", "value": "+4915112345678"},
                                    {"name": "duration", "value": 60}]},
        headers=t.headers()).json()["id"]},
    "/tmf-api/usageManagement/v4/usageSpecification/{id}": lambda c, t: {"id": c.post(
        "/tmf-api/usageManagement/v4/usageSpecification", json={"name": "voice"},
        headers=t.headers()).json()["id"]},
    "/tmf-api/usageManagement/v4/hub/{id}": _hub("/tmf-api/usageManagement/v4"),
    # --- billing (TMF678, /api/v1 billing routes) ---
    "/tmf-api/customerBillManagement/v4/customerBill/{id}": lambda c, t: _bill(c, t),
    "/api/v1/customerBills/{id}/creditNotes": lambda c, t: _bill(c, t),
    "/api/v1/customerBills/{id}/document": lambda c, t: _bill(c, t),
    "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate/{id}": lambda c, t: {
        "id": _bill(c, t)["line"]},
    "/api/v1/billingAccounts/{id}/charges": lambda c, t: {"id": FACTORIES[
        "/tmf-api/accountManagement/v4/billingAccount/{id}"](c, t)["id"]},
    "/api/v1/billingAccounts/{id}/charges/{charge_id}": lambda c, t: _charge(c, t),
    "/api/v1/billRuns/{id}": lambda c, t: _bill_run(c, t),
    "/tmf-api/customerBillManagement/v4/hub/{id}": _hub("/tmf-api/customerBillManagement/v4"),
}
# Routes whose parameter is a name in the caller's own tenant, not another tenant's id: a
# stranger's PUT creates the stranger's tariff of that name (tests/rating/test_api.py
# proves the owner's is untouched).
# The ledger's account codes are the same in every tenant's default chart: a stranger's
# PATCH of 1000 renames the stranger's own account (tests/ledger prove the owner's stays).
TENANT_NAMED = {("PUT", "/api/v1/rating/tariffs/{name}"),
                ("PATCH", "/api/v1/ledger/accounts/{code}")}


def _api_routes(app) -> list[APIRoute]:
    # not app.routes: FastAPI 0.16x keeps included routers there, not their routes
    return api_routes(app)


def _requires(route: APIRoute) -> Requires | None:
    for dep in route.dependant.dependencies:
        if isinstance(dep.call, Requires):
            return dep.call
    return None


def test_every_non_public_route_declares_roles(app):
    missing = [f"{sorted(r.methods)} {r.path}" for r in _api_routes(app)
               if r.path not in PUBLIC and _requires(r) is None]
    assert missing == [], f"routes without Depends(Requires(...)): {missing}"


def test_every_non_public_route_answers_401_without_a_token(client, app):
    for route in _api_routes(app):
        if route.path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in route.methods:
            r = client.request(method, path, json={})
            assert r.status_code == 401, f"{method} {route.path} -> {r.status_code}"


def test_every_route_with_an_id_hides_other_tenants_resources(client, app, make_tenant):
    owner, stranger = make_tenant(), make_tenant()
    with_params = [r for r in _api_routes(app) if "{" in r.path and r.path not in PUBLIC]
    uncovered = [r.path for r in with_params if r.path not in FACTORIES]
    assert uncovered == [], f"add an isolation factory for: {uncovered}"
    for route in with_params:
        for method in sorted(route.methods):
            if (method, route.path) in TENANT_NAMED:
                continue
            params = FACTORIES[route.path](client, owner)
            path = route.path.format(**params)
            content_type = "application/merge-patch+json" if method == "PATCH" else \
                "application/json"
            headers = stranger.headers(**{"Content-Type": content_type})
            r = client.request(method, path, json={}, headers=headers)
            assert r.status_code == 404, f"{method} {route.path} -> {r.status_code} {r.text}"
            # and the owner still sees it (the 404 above was isolation, not absence)
            if method == "GET":
                assert client.get(path, headers=owner.headers()).status_code == 200


@pytest.mark.parametrize("role", ["read_only", "partner"])
def test_low_privilege_roles_cannot_mutate_kernel_resources(client, tenant, role):
    r = client.post("/api/v1/testClock/advance", json={"days": 1}, headers=tenant.headers(role))
    assert r.status_code == 403


GARBAGE = [b"", b"{", b"null", b"[]", b'"text"', b"123", b'{"id": {"$ne": 1}}',
           b'{"name": "' + b"x" * 10000 + b'"}', b'{"a": ' * 50 + b"1" + b"}" * 50]


def test_no_route_answers_500_to_garbage(client, app, tenant):
    """Whatever a client sends, a route answers 2xx/4xx, never a 500."""
    for route in _api_routes(app):
        if route.path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "does-not-exist", route.path)
        for method in route.methods:
            for body in GARBAGE if method in ("POST", "PATCH", "PUT") else [b""]:
                r = client.request(method, path + "?limit=abc&offset=-1&fields=%00", content=body,
                                   headers=tenant.headers(**{"Content-Type": "application/json"}))
                assert r.status_code < 500, f"{method} {route.path} {body[:40]!r} -> {r.text}"
