"""The role matrix, enforced: EVERY route of the app called with EVERY role.

``ROUTES`` names the route family and the access of each route (the policy itself is the
table in ``openbss.core.permissions``). A route added without an entry here fails
:func:`test_every_route_has_a_matrix_entry`, so nobody can add a route without deciding
who may call it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openbss.app import TMF_APIS
from openbss.core.auth import ROLES
from openbss.core.permissions import (
    API_FAMILIES,
    API_READERS,
    FAMILIES,
    MATRIX,
    MATRIX_TABLE,
    PERSONAL_DATA_ROLES,
    Requires,
    _parse,
    matrix_markdown,
    may_read_api,
    may_see_personal_data,
    roles_for,
)
from route_walk import api_routes

PUBLIC = {"/health", "/ready", "/metrics", "/oauth/token",
          "/callbacks/tmf641/{tenant}/{secret}",  # the OSS's: its URL secret is the credential
          "/callbacks/payments/{gateway}/{tenant}"}  # the gateway's signature is
PARTY = "/tmf-api/partyManagement/v4"
CUSTOMER = "/tmf-api/customerManagement/v4"
ACCOUNT = "/tmf-api/accountManagement/v4"
CATALOG = "/tmf-api/productCatalogManagement/v4"
BILL = "/tmf-api/customerBillManagement/v4"
PAY = "/tmf-api/paymentManagement/v4"

# (method, route path) -> (family, access); hubs: ("hubs", access, api)
Rule = tuple[str, ...]


def _crud(base: str, family: str, *, patch: bool = True) -> dict[tuple[str, str], Rule]:
    rules: dict[tuple[str, str], Rule] = {
        ("POST", base): (family, "write"),
        ("GET", base): (family, "read"),
        ("GET", base + "/{id}"): (family, "read"),
        ("DELETE", base + "/{id}"): (family, "delete"),
    }
    if patch:
        rules["PATCH", base + "/{id}"] = (family, "write")
    return rules


ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/audit"): ("audit", "read"),
    ("GET", "/api/v1/testClock"): ("testClock", "read"),
    ("POST", "/api/v1/testClock/advance"): ("testClock", "write"),
    ("GET", "/api/v1/eventDeliveries"): ("eventDeliveries", "read"),
    ("GET", "/api/v1/eventDeliveries/{id}"): ("eventDeliveries", "read"),
    ("POST", "/api/v1/eventDeliveries/{id}/retry"): ("eventDeliveries", "write"),
    **_crud(f"{PARTY}/individual", "party"),
    **_crud(f"{PARTY}/organization", "party"),
    **_crud(f"{CUSTOMER}/customer", "customer"),
    **_crud(f"{ACCOUNT}/billingAccount", "account"),
    **_crud(f"{ACCOUNT}/partyAccount", "account"),
    ("GET", "/api/v1/parties/{id}/personal-data"): ("personalData", "read"),
    ("POST", "/api/v1/parties/{id}/anonymize"): ("personalData", "delete"),
    **{rule: access for kind in ("catalog", "category", "productSpecification",
                                 "productOffering", "productOfferingPrice")
       for rule, access in _crud(f"{CATALOG}/{kind}", "catalog").items()},
    **_crud(f"{CATALOG}/importJob", "catalog", patch=False),
    **_crud(f"{CATALOG}/exportJob", "catalog", patch=False),
    ("GET", f"{CATALOG}/exportJob/{{id}}/content"): ("catalog", "read"),
    ("POST", "/api/v1/catalog/productOffering/{id}/version"): ("catalog", "write"),
    ("GET", "/api/v1/catalog/productOffering/{id}/prices"): ("catalog", "read"),
    ("GET", "/api/v1/catalog/productOffering/{id}/eligibility"): ("catalog", "read"),
    ("POST", "/api/v1/pricing/preview"): ("pricing", "read"),
    **_crud("/tmf-api/productInventory/v4/product", "product"),
    ("GET", "/api/v1/products/{id}/history"): ("product", "read"),
    ("GET", "/api/v1/products/{id}/charges"): ("product", "read"),
    ("GET", "/api/v1/settings/provisioning"): ("settings", "read"),
    ("PATCH", "/api/v1/settings/provisioning"): ("settings", "write"),
    ("GET", "/api/v1/provisioning/tmf641/listener"): ("settings", "read"),
    ("POST", "/api/v1/provisioning/tmf641/listener"): ("settings", "write"),
    **_crud("/tmf-api/productOrderingManagement/v4/productOrder", "productOrder"),
    ("POST", "/tmf-api/productOrderingManagement/v4/cancelProductOrder"): ("productOrder",
                                                                          "write"),
    ("GET", "/tmf-api/productOrderingManagement/v4/cancelProductOrder"): ("productOrder",
                                                                         "read"),
    ("GET", "/tmf-api/productOrderingManagement/v4/cancelProductOrder/{id}"): (
        "productOrder", "read"),
    **_crud("/tmf-api/quoteManagement/v4/quote", "quote"),
    ("POST", "/api/v1/quotes/{id}/order"): ("quote", "write"),
    ("GET", "/api/v1/rating/tariffs"): ("rating", "read"),
    ("GET", "/api/v1/rating/tariffs/{id}"): ("rating", "read"),
    ("PUT", "/api/v1/rating/tariffs/{name}"): ("rating", "write"),
    ("DELETE", "/api/v1/rating/tariffs/{id}"): ("rating", "delete"),
    ("POST", "/api/v1/rating/cost"): ("rating", "read"),
    **_crud("/tmf-api/usageManagement/v4/usage", "usage"),
    **_crud("/tmf-api/usageManagement/v4/usageSpecification", "usage"),
    ("POST", "/api/v1/usage/bulk"): ("usage", "write"),
    ("GET", "/api/v1/usage/rejects"): ("usage", "read"),
    ("POST", "/api/v1/usage/rejects/reprocess"): ("usage", "write"),
    ("GET", "/api/v1/settings/usage"): ("settings", "read"),
    ("PATCH", "/api/v1/settings/usage"): ("settings", "write"),
    ("GET", f"{BILL}/customerBill"): ("billing", "read"),
    ("GET", f"{BILL}/customerBill/{{id}}"): ("billing", "read"),
    ("PATCH", f"{BILL}/customerBill/{{id}}"): ("billing", "write"),
    ("GET", f"{BILL}/appliedCustomerBillingRate"): ("billing", "read"),
    ("GET", f"{BILL}/appliedCustomerBillingRate/{{id}}"): ("billing", "read"),
    ("POST", f"{BILL}/customerBillOnDemand"): ("billing", "read"),
    ("POST", "/api/v1/customerBills/{id}/creditNotes"): ("billing", "write"),
    ("GET", "/api/v1/customerBills/{id}/document"): ("billing", "read"),
    ("POST", "/api/v1/billingAccounts/{id}/charges"): ("billing", "write"),
    ("GET", "/api/v1/billingAccounts/{id}/charges"): ("billing", "read"),
    ("DELETE", "/api/v1/billingAccounts/{id}/charges/{charge_id}"): ("billing", "delete"),
    ("POST", "/api/v1/billRuns"): ("billing", "write"),
    ("GET", "/api/v1/billRuns"): ("billing", "read"),
    ("GET", "/api/v1/billRuns/{id}"): ("billing", "read"),
    ("GET", "/api/v1/settings/billing"): ("settings", "read"),
    ("PATCH", "/api/v1/settings/billing"): ("settings", "write"),
    ("GET", "/api/v1/settings/billingDocument"): ("settings", "read"),
    ("PATCH", "/api/v1/settings/billingDocument"): ("settings", "write"),
    **{rule: access for kind in ("payment", "refund")
       for rule, access in _crud(f"{PAY}/{kind}", "payment").items()
       if rule[0] in ("POST", "GET")},
    **_crud("/tmf-api/paymentMethods/v4/paymentMethod", "payment"),
    ("POST", "/api/v1/payments/{id}/allocations"): ("payment", "write"),
    ("POST", "/api/v1/payments/{id}/reversal"): ("payment", "write"),
    ("POST", "/api/v1/payments/{id}/chargeback"): ("payment", "write"),
    ("POST", "/api/v1/customerBills/{id}/writeOff"): ("payment", "write"),
    ("POST", "/api/v1/payments/sepaCollections"): ("payment", "write"),
    ("GET", "/api/v1/payments/sepaCollections"): ("payment", "read"),
    ("GET", "/api/v1/payments/sepaCollections/{id}"): ("payment", "read"),
    ("GET", "/api/v1/payments/sepaCollections/{id}/file"): ("payment", "read"),
    ("POST", "/api/v1/payments/bankStatements"): ("payment", "write"),
    ("GET", "/api/v1/payments/bankStatements"): ("payment", "read"),
    ("GET", "/api/v1/payments/bankStatements/{id}"): ("payment", "read"),
    ("GET", "/api/v1/payments/statementEntries"): ("payment", "read"),
    ("GET", "/api/v1/payments/statementEntries/{id}"): ("payment", "read"),
    ("POST", "/api/v1/payments/statementEntries/{id}/match"): ("payment", "write"),
    ("GET", "/api/v1/settings/payments"): ("settings", "read"),
    ("PATCH", "/api/v1/settings/payments"): ("settings", "write"),
    ("GET", "/api/v1/ledger/accounts"): ("ledger", "read"),
    ("POST", "/api/v1/ledger/accounts"): ("ledger", "write"),
    ("PATCH", "/api/v1/ledger/accounts/{code}"): ("ledger", "write"),
    ("GET", "/api/v1/ledger/journalEntries"): ("ledger", "read"),
    ("GET", "/api/v1/ledger/journalEntries/{id}"): ("ledger", "read"),
    ("GET", "/api/v1/ledger/trialBalance"): ("ledger", "read"),
    ("GET", "/api/v1/ledger/receivables"): ("ledger", "read"),
    ("GET", "/api/v1/ledger/export"): ("ledger", "read"),
    ("GET", "/api/v1/reconciliation"): ("ledger", "read"),
    **_crud("/api/v1/dunning/policies", "dunning"),
    **_crud("/api/v1/dunning/holds", "dunning", patch=False),
    ("POST", "/api/v1/dunning/runs"): ("dunning", "write"),
    ("GET", "/api/v1/dunning/cases"): ("dunning", "read"),
    ("GET", "/api/v1/dunning/cases/{id}"): ("dunning", "read"),
    ("GET", "/api/v1/dunning/handovers"): ("dunning", "read"),
    ("GET", "/api/v1/reports/aging"): ("dunning", "read"),
    ("GET", "/api/v1/settings/ledger"): ("settings", "read"),
    ("PATCH", "/api/v1/settings/ledger"): ("settings", "write"),
    **{rule: access for api, prefix in TMF_APIS for rule, access in {
        ("POST", f"{prefix}/hub"): ("hubs", "write", api),
        ("DELETE", f"{prefix}/hub/{{id}}"): ("hubs", "delete", api),
    }.items()},
}


def expected_roles(rule: Rule) -> frozenset[str]:
    if rule[0] == "hubs":
        _, access, api = rule
        # registering a listener needs the hubs access AND read on the API's family
        return roles_for("hubs", access) & roles_for(API_FAMILIES[api], "read")
    family, access = rule
    return roles_for(family, access)


def _endpoints(app) -> set[tuple[str, str]]:
    return {(method, r.path) for r in api_routes(app) if r.path not in PUBLIC
            for method in r.methods}


def test_every_route_has_a_matrix_entry(app):
    endpoints = _endpoints(app)
    assert sorted(endpoints - set(ROUTES)) == [], "routes without a ROUTES entry"
    assert sorted(set(ROUTES) - endpoints) == [], "ROUTES entries for routes that are gone"


def test_every_route_takes_its_roles_from_the_table(app):
    """No route lists roles of its own: each check was built from the matrix."""
    for route in api_routes(app):
        if route.path in PUBLIC:
            continue
        checks = [d.call for d in route.dependant.dependencies if isinstance(d.call, Requires)]
        assert len(checks) == 1, route.path
        for method in route.methods:
            rule = ROUTES[method, route.path]
            assert checks[0].roles == expected_roles(rule), (method, route.path)
            if rule[0] != "hubs":
                assert (checks[0].family, checks[0].access) == rule, (method, route.path)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_with_every_role(client, app, tenant, role):
    """403 for each role the matrix refuses; anything but 401/403 (and never a 5xx) for
    each role it allows. Ids do not exist, so allowed calls change nothing (404/422)."""
    wrong = []
    for method, path in sorted(_endpoints(app)):
        allowed = role in expected_roles(ROUTES[method, path])
        url = re.sub(r"\{[^}]+\}", "no-such-id", path)
        content_type = "application/merge-patch+json" if method == "PATCH" else \
            "application/json"
        r = client.request(method, url, content=b"{}" if method in ("POST", "PATCH") else None,
                           headers=tenant.headers(role, **{"Content-Type": content_type}))
        refused = r.status_code == 403 and r.json().get("code") == "forbidden"
        if r.status_code >= 500 or r.status_code == 401 or refused == allowed:
            wrong.append(f"{method} {path}: {'allowed' if allowed else 'refused'} by the "
                         f"matrix, answered {r.status_code} {r.text[:120]}")
    assert wrong == [], f"role {role}:\n" + "\n".join(wrong)


def test_a_refusal_names_the_family_and_the_allowed_roles(client, tenant):
    r = client.delete(f"{ACCOUNT}/billingAccount/x", headers=tenant.headers("billing_ops"))
    assert r.status_code == 403
    assert r.json()["message"] == ("role 'billing_ops' may not delete account; allowed: "
                                   "admin, care_agent")


# --- the policy the issue asks for, stated independently of the table ------------------

@pytest.mark.parametrize("family", ["party", "customer", "account"])
def test_destructive_operations_need_admin_or_the_owning_role(family):
    assert roles_for(family, "delete") == {"admin", "care_agent"}
    assert roles_for("personalData", "delete") == {"admin", "care_agent"}


def test_deleting_real_accounts_customers_and_parties(client, tenant):
    """sales_agent and billing_ops may create these but not delete them; care_agent may."""
    h = tenant.headers("sales_agent")
    person = client.post(f"{PARTY}/individual", json={"givenName": "Del", "familyName": "Ete"},
                         headers=h).json()
    ref = {"id": person["id"], "@referredType": "Individual"}
    customer = client.post(f"{CUSTOMER}/customer", json={"name": "Del", "engagedParty": ref},
                           headers=h)
    account = client.post(f"{ACCOUNT}/billingAccount", headers=tenant.headers("billing_ops"),
                          json={"name": "Del", "currency": "EUR", "relatedParty": [ref]})
    assert customer.status_code == 201 and account.status_code == 201, (customer.text,
                                                                         account.text)
    urls = [f"{ACCOUNT}/billingAccount/{account.json()['id']}",
            f"{CUSTOMER}/customer/{customer.json()['id']}",
            f"{PARTY}/individual/{person['id']}"]
    for url in urls:
        for role in ("sales_agent", "billing_ops", "finance", "read_only"):
            assert client.delete(url, headers=tenant.headers(role)).status_code == 403, role
        assert client.get(url, headers=tenant.headers()).status_code == 200
    for url in urls:  # the account and the customer first: they refer to the person
        r = client.delete(url, headers=tenant.headers("care_agent"))
        assert r.status_code == 204, (url, r.text)
        assert client.get(url, headers=tenant.headers()).status_code == 404


def test_personal_data_is_masked_for_the_roles_that_do_not_need_it():
    for role in ("read_only", "finance", "partner", "catalog_manager"):
        assert not may_see_personal_data(role), role
    for role in ("admin", "sales_agent", "care_agent"):
        assert may_see_personal_data(role), role
    assert set(PERSONAL_DATA_ROLES) <= set(ROLES)


def test_api_readers_follow_the_families():
    assert not may_read_api("catalog_manager", "partyManagement")
    assert not may_read_api("partner", "customerManagement")
    assert may_read_api("finance", "accountManagement")
    assert may_read_api("partner", "productCatalogManagement")
    assert not may_read_api("sales_agent", "noSuchApi")
    assert may_read_api("admin", "noSuchApi")
    for api, family in API_FAMILIES.items():
        assert API_READERS[api] == MATRIX[family]["read"]
    assert {api for api, _ in TMF_APIS} == set(API_FAMILIES)


def test_requires_hub_narrows_the_hubs_access_to_readers_of_the_api():
    assert Requires.hub("partyManagement").roles == roles_for("hubs", "write") & MATRIX[
        "party"]["read"]
    assert "catalog_manager" not in Requires.hub("partyManagement").roles
    assert "catalog_manager" in Requires.hub("productCatalogManagement").roles
    assert "partner" not in Requires.hub("productCatalogManagement").roles


def _table_with(role: str | None = None, family: str = "", cell: str = "",
                drop_last_row: bool = False) -> str:
    header, *rows = [line.split() for line in MATRIX_TABLE.strip().splitlines()]
    for row in rows:
        if row[0] == role:
            row[header.index(family)] = cell
    if drop_last_row:
        rows = rows[:-1]
    return "\n".join(" ".join(row) for row in [header, *rows])


def test_the_table_refuses_what_it_cannot_mean():
    assert _parse(_table_with()) == MATRIX
    with pytest.raises(ValueError, match="access 'w' is not defined"):
        _parse(_table_with("admin", "personalData", "rwd"))
    with pytest.raises(ValueError, match="personal data without read"):
        _parse(_table_with("read_only", "party", "p"))
    with pytest.raises(ValueError, match="rows must be the roles"):
        _parse(_table_with(drop_last_row=True))
    with pytest.raises(ValueError, match="admin must have every access"):
        _parse(_table_with("admin", "audit", "-"))
    with pytest.raises(ValueError, match="no access"):
        Requires.to("audit", "write")


def test_docs_security_md_shows_the_table():
    doc = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    block = re.search(r"<!-- matrix:start -->\n(.*?)<!-- matrix:end -->", doc, re.S)
    assert block is not None, "docs/security.md lost its matrix markers"
    assert block.group(1) == matrix_markdown(), (
        "docs/security.md disagrees with openbss.core.permissions; regenerate the block "
        "with: .venv/bin/python -m openbss.core.permissions")
    for family in FAMILIES:
        assert family in block.group(1)
