"""``/api/v1/rating/tariffs``: tariffs built without CSV (PUT by name), listed, read,
deleted; conflicts between a tenant's tariffs; errors naming the path; roles; another
tenant's tariffs are invisible and a stranger's PUT of the same name is its own."""

from __future__ import annotations

from typing import Any

T = "/api/v1/rating/tariffs"

DOC: dict[str, Any] = {
    "currency": "EUR",
    "destinations": {"DST_DE": ["49"], "DST_DE_MOBILE": ["4915", "4916"]},
    "rates": {"RT_1": [{"connectFee": "0.1", "rate": "0.2", "rateUnit": "60",
                        "rateIncrement": "60", "groupIntervalStart": "0"}]},
    "destinationRates": {"DR_DE": [{"destinationId": "DST_DE", "ratesId": "RT_1",
                                    "roundingMethod": "*up", "roundingDecimals": 4}]},
    "ratingPlans": {"RP_DE": [{"destinationRatesId": "DR_DE", "timingId": "*any",
                               "weight": "10"}]},
    "ratingProfiles": [{"tenant": "t", "category": "call", "subject": "*any",
                        "activationTime": "2014-01-01T00:00:00Z", "ratingPlanId": "RP_DE"}],
}


def _put(client, tenant, name: str, doc: dict[str, Any], role: str = "admin"):  # type: ignore[no-untyped-def]
    return client.put(f"{T}/{name}", json=doc, headers=tenant.headers(role))


def test_put_list_get_replace_delete(client, tenant):  # type: ignore[no-untyped-def]
    r = _put(client, tenant, "de-retail", DOC)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "de-retail" and created["currency"] == "EUR"
    assert created["source"] == "json" and created["version"] == 1
    assert created["counts"]["Destinations.csv"] == 3
    assert created["counts"]["RatingPlans.csv"] == 1
    assert created["tariff"]["rates"]["RT_1"][0]["rate"] == "0.2"
    listing = client.get(T, headers=tenant.headers("read_only"))
    assert listing.status_code == 200
    assert [t["name"] for t in listing.json()] == ["de-retail"]
    assert "tariff" not in listing.json()[0]
    assert listing.headers["X-Total-Count"] == "1"
    one = client.get(f"{T}/{created['id']}", headers=tenant.headers("partner"))
    assert one.status_code == 200 and one.json()["tariff"] == created["tariff"]
    # replace: same id, new version, the new content
    changed = {**DOC, "rates": {"RT_1": [{**DOC["rates"]["RT_1"][0], "rate": "0.25"}]}}
    r = _put(client, tenant, "de-retail", changed)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == created["id"] and r.json()["version"] == 2
    assert r.json()["tariff"]["rates"]["RT_1"][0]["rate"] == "0.25"
    audit = client.get("/api/v1/audit", headers=tenant.headers()).json()
    assert sorted((a["seq"], a["action"]) for a in audit
                  if a["resourceType"] == "tariff" and a["resourceId"] == created["id"])[
        -2:] == [(min(a["seq"] for a in audit if a["resourceType"] == "tariff"), "create"),
                 (max(a["seq"] for a in audit if a["resourceType"] == "tariff"), "update")]
    assert client.delete(f"{T}/{created['id']}", headers=tenant.headers()).status_code == 204
    assert client.get(f"{T}/{created['id']}", headers=tenant.headers()).status_code == 404
    assert client.get(T, headers=tenant.headers()).json() == []


def test_bad_documents_name_the_path(client, tenant):  # type: ignore[no-untyped-def]
    bad_increment = {**DOC, "rates": {"RT_1": [{**DOC["rates"]["RT_1"][0],
                                                "rateIncrement": "abc"}]}}
    r = _put(client, tenant, "x", bad_increment)
    assert r.status_code == 422
    assert r.json()["field"] == "rates[RT_1][0].rateIncrement"
    r = _put(client, tenant, "x", {**DOC, "surprise": 1})
    assert r.status_code == 422 and r.json()["field"] == "surprise"
    r = _put(client, tenant, "bad name!", DOC)
    assert r.status_code == 422 and r.json()["field"] == "name"
    missing_plan = {**DOC, "ratingProfiles": [{**DOC["ratingProfiles"][0],
                                               "ratingPlanId": "RP_NOPE"}]}
    r = _put(client, tenant, "x", missing_plan)
    assert r.status_code == 422 and "ratingProfiles" in r.json()["field"]
    r = client.put(f"{T}/x", content=b"[1]", headers=tenant.headers(
        **{"Content-Type": "application/json"}))
    assert r.status_code == 422
    assert client.get(T, headers=tenant.headers()).json() == []


def test_a_tenants_tariffs_must_merge(client, tenant):  # type: ignore[no-untyped-def]
    assert _put(client, tenant, "a", DOC).status_code == 201
    other = {"destinations": {"DST_DE": ["33"]}}  # the same id, another meaning
    r = _put(client, tenant, "b", other)
    assert r.status_code == 422
    assert r.json()["code"] == "tariff_conflict"
    assert r.json()["field"] == "destinations[DST_DE]"
    # an identical definition is fine, and so is a new id
    assert _put(client, tenant, "b", {"destinations": {"DST_DE": ["49"],
                                                       "DST_FR": ["33"]}}).status_code == 201
    assert [t["name"] for t in client.get(T, headers=tenant.headers()).json()] == ["a", "b"]


def test_roles(client, tenant):  # type: ignore[no-untyped-def]
    for role in ("read_only", "partner", "sales_agent", "care_agent", "finance", "auditor"):
        assert _put(client, tenant, "r", DOC, role=role).status_code == 403, role
    assert _put(client, tenant, "r", DOC, role="catalog_manager").status_code == 201
    tariff_id = client.get(T, headers=tenant.headers()).json()[0]["id"]
    assert client.delete(f"{T}/{tariff_id}",
                         headers=tenant.headers("billing_ops")).status_code == 403
    for role in ("read_only", "partner", "auditor", "finance"):
        assert client.get(T, headers=tenant.headers(role)).status_code == 200, role


def test_other_tenants_tariffs_are_invisible(client, tenant, other_tenant):  # type: ignore[no-untyped-def]
    mine = _put(client, tenant, "shared-name", DOC).json()
    h = other_tenant.headers()
    assert client.get(f"{T}/{mine['id']}", headers=h).status_code == 404
    assert client.delete(f"{T}/{mine['id']}", headers=h).status_code == 404
    assert client.get(T, headers=h).json() == []
    # the stranger's PUT of the same name makes the stranger's own tariff
    theirs = _put(client, other_tenant, "shared-name", {"destinations": {"X": ["1"]}})
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]
    again = client.get(f"{T}/{mine['id']}", headers=tenant.headers()).json()
    assert again["tariff"] == mine["tariff"] and again["version"] == 1
