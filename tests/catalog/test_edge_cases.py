"""Edge cases found in review: numeric filters on exact decimals, bad inputs that must
answer 4xx (never 500), absurd magnitudes."""

from __future__ import annotations

from catalog_helpers import P, offering, post


def _names(client, tenant, query: str) -> list[str]:
    r = client.get(f"{P}/productOfferingPrice?{query}&fields=name", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return [x["name"] for x in r.json()]


def test_price_filters_and_sorting_compare_numbers(client, tenant):
    for name, value in (("p10", "10.00"), ("p9", 9), ("p012", "0.12")):
        post(client, tenant, "productOfferingPrice", {
            "name": name, "priceType": "oneTime", "price": {"unit": "EUR", "value": value}})
    assert sorted(_names(client, tenant, "price.value.gt=5")) == ["p10", "p9"]
    assert _names(client, tenant, "price.value=10") == ["p10"]
    assert _names(client, tenant, "price.value.lt=2") == ["p012"]
    assert _names(client, tenant, "sort=price.value") == ["p012", "p9", "p10"]
    assert _names(client, tenant, "sort=-price.value") == ["p10", "p9", "p012"]
    r = client.get(f"{P}/productOfferingPrice?price.value.gt=abc", headers=tenant.headers())
    assert r.status_code == 400 and r.json()["field"] == "price.value"


def test_bad_inputs_answer_4xx(client, tenant):
    o = offering(client, tenant)
    for version in (2, 2.5, "two"):
        r = client.post(f"/api/v1/catalog/productOffering/{o['id']}/version",
                        json={"version": version}, headers=tenant.headers())
        assert r.status_code == 422 and r.json()["field"] == "version", r.text
    r = client.get(f"/api/v1/catalog/productOffering/{o['id']}/eligibility"
                   "?at=2026-03-01T00:00:00", headers=tenant.headers())
    assert r.status_code == 400 and r.json()["field"] == "at"
    for value in ("1e400000", "1e18", "0." + "0" * 30 + "1"):
        r = client.post(f"{P}/productOfferingPrice", headers=tenant.headers(
            **{"Content-Type": "application/json"}), content=(
            '{"name": "x", "priceType": "oneTime", "price": {"unit": "EUR", "value": '
            + value + "}}").encode(), )
        assert r.status_code == 422 and r.json()["field"] == "price.value", r.text


def test_no_cycles_and_no_dangling_references(client, tenant):
    a = offering(client, tenant)
    b = post(client, tenant, "productOffering", {
        "name": "B", "isBundle": True, "bundledProductOffering": [{"id": a["id"]}]})
    r = client.patch(f"{P}/productOffering/{a['id']}", headers=tenant.headers(
        **{"Content-Type": "application/merge-patch+json"}), json={
        "isBundle": True, "bundledProductOffering": [{"id": b["id"]}]})
    assert r.status_code == 422 and r.json()["field"] == "bundledProductOffering[0].id"
    assert r.json()["code"] == "bundle_cycle"

    c1 = post(client, tenant, "category", {"name": "c1"})
    c2 = post(client, tenant, "category", {"name": "c2", "parentId": c1["id"]})
    r = client.patch(f"{P}/category/{c1['id']}", headers=tenant.headers(
        **{"Content-Type": "application/merge-patch+json"}),
        json={"parentId": c2["id"], "isRoot": False})
    assert r.status_code == 422 and r.json()["field"] == "parentId"
    assert r.json()["code"] == "category_cycle"
    r = client.delete(f"{P}/category/{c1['id']}", headers=tenant.headers())
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["field"]) == ("still_referenced", "id")

    base = post(client, tenant, "productOfferingPrice", {
        "name": "m", "priceType": "recurring", "price": {"unit": "EUR", "value": "10"}})
    post(client, tenant, "productOfferingPrice", {
        "name": "d", "priceType": "discount", "percentage": 10,
        "popRelationship": [{"id": base["id"], "relationshipType": "discounts"}]})
    assert client.delete(f"{P}/productOfferingPrice/{base['id']}",
                         headers=tenant.headers()).status_code == 409


def test_new_version_discount_points_at_the_new_base_price(client, tenant):
    base = post(client, tenant, "productOfferingPrice", {
        "name": "monthly", "priceType": "recurring", "price": {"unit": "EUR", "value": "10"}})
    discount = post(client, tenant, "productOfferingPrice", {
        "name": "promo", "priceType": "discount", "percentage": 50,
        "popRelationship": [{"id": base["id"], "relationshipType": "discounts"}]})
    o = offering(client, tenant, prices=[discount["id"], base["id"]])
    r = client.post(f"/api/v1/catalog/productOffering/{o['id']}/version", json={},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    new_ids = [p["id"] for p in r.json()["productOfferingPrice"]]
    assert base["id"] not in new_ids and discount["id"] not in new_ids
    prices = {p["name"]: p for p in (client.get(f"{P}/productOfferingPrice/{i}",
                                                headers=tenant.headers()).json()
                                     for i in new_ids)}
    assert prices["promo"]["popRelationship"][0]["id"] == prices["monthly"]["id"]


def test_active_price_accepts_the_same_value_written_differently(client, tenant):
    pop = post(client, tenant, "productOfferingPrice", {
        "name": "fee", "priceType": "oneTime", "price": {"unit": "EUR", "value": "10.00"},
        "lifecycleStatus": "Active"})
    merge = tenant.headers(**{"Content-Type": "application/merge-patch+json"})
    same = client.patch(f"{P}/productOfferingPrice/{pop['id']}", headers=merge,
                        json={"price": {"unit": "EUR", "value": 10.0}})
    assert same.status_code == 200, same.text
    other = client.patch(f"{P}/productOfferingPrice/{pop['id']}", headers=merge,
                         json={"price": {"unit": "EUR", "value": 11}})
    assert other.status_code == 409
