"""TMF620 resources through HTTP: CRUD, TMF630 conventions, schema, errors, events."""

from __future__ import annotations

from catalog_helpers import P, active_offering, assert_tmf, offering, patch, post, price
from sqlalchemy import select

from openbss.core.db import unit_of_work
from openbss.core.models import AuditEntry, OutboxEvent

KINDS = ["catalog", "category", "productSpecification", "productOffering",
         "productOfferingPrice"]
MINIMAL = {
    "catalog": {"name": "Consumer"},
    "category": {"name": "Plans"},
    "productSpecification": {"name": "Mobile line"},
    "productOffering": {"name": "Mobile M"},
    "productOfferingPrice": {"name": "Fee", "priceType": "recurring"},
}


def test_crud_of_every_resource_follows_tmf630(client, tenant):
    h = tenant.headers()
    for kind in KINDS:
        r = client.post(f"{P}/{kind}", json=MINIMAL[kind], headers=h)
        assert r.status_code == 201, r.text
        created = r.json()
        assert r.headers["Location"] == created["href"]
        assert created["href"].endswith(f"{P}/{kind}/{created['id']}")
        for attr in ("id", "href", "lastUpdate", "lifecycleStatus", "name", "version",
                     "@type"):
            assert attr in created, (kind, attr)
        assert created["lifecycleStatus"] == "In design"
        assert_tmf(kind, created)
        one = client.get(created["href"].replace("http://testserver", ""), headers=h)
        assert one.status_code == 200 and one.json() == created
        listing = client.get(f"{P}/{kind}", headers=h)
        assert listing.headers["X-Total-Count"] == "1"
        assert listing.headers["X-Result-Count"] == "1"
        assert_tmf(kind, listing.json())
        for query in (f"id={created['id']}", f"name={created['name']}",
                      'lastUpdate="' + created["lastUpdate"] + '"',
                      "lifecycleStatus=In design", "lifecycleStatus=in_design",
                      "version=1.0"):
            r = client.get(f"{P}/{kind}?{query}", headers=h)
            assert r.status_code == 200, r.text
            assert [x["id"] for x in r.json()] == [created["id"]], (kind, query)
        r = client.get(f"{P}/{kind}?fields=href", headers=h)
        assert set(r.json()[0]) == {"id", "href", "@type"}
        renamed = patch(client, tenant, kind, created["id"], {"name": "Renamed"})
        assert renamed["name"] == "Renamed"
        assert client.delete(f"{P}/{kind}/{created['id']}", headers=h).status_code == 204
        assert client.get(f"{P}/{kind}/{created['id']}", headers=h).status_code == 404
        assert client.delete(f"{P}/{kind}/{created['id']}", headers=h).status_code == 404


def test_ctk_payloads_are_accepted(client, tenant):
    spec = post(client, tenant, "productSpecification", {"name": "Cisco Firepower NGFW"})
    po = post(client, tenant, "productOffering", {
        "name": "aProductOffering",
        "productSpecification": {
            "id": "9881", "version": "1.1", "name": "Robotics999",
            "href": "https://mycsp.com:8080/tmf-api/productCatalogManagement/v4/"
                    "productSpecification/9881",
            "@referredType": "DeviceSpecification"}})
    assert isinstance(po["productSpecification"], dict)
    pop = post(client, tenant, "productOfferingPrice", {
        "name": "Recurring Charge for Business Firewall", "isBundle": False,
        "priceType": "recurring"})
    assert pop["priceType"] == "recurring"
    r = client.get(f"{P}/productOfferingPrice?priceType=recurring", headers=tenant.headers())
    assert [x["id"] for x in r.json()] == [pop["id"]]
    r = client.patch(f"{P}/productOffering/{po['id']}", json={"name": "anotherProductOffering"},
                     headers=tenant.headers(**{"Content-Type": "application/json"}))
    assert r.status_code == 200 and r.json()["name"] == "anotherProductOffering"
    assert client.delete(f"{P}/productOffering/{po['id']}",
                         headers=tenant.headers()).status_code == 204
    assert client.get(f"{P}/productSpecification/279edf2b-0130-4c8f-8277-f81daa05d87d",
                      headers=tenant.headers()).status_code == 404
    assert spec["lifecycleStatus"] == "In design"


def test_unknown_fields_and_bad_values_are_422_naming_the_field(client, tenant):
    cases = [
        ("productOffering", {"name": "x", "colour": "red"}, "colour"),
        ("productOffering", {"name": "x", "lifecycleStatus": "Launched"}, "lifecycleStatus"),
        ("productOfferingPrice", {"name": "x", "priceType": "sometimes"}, "priceType"),
        ("productOfferingPrice", {"name": "x", "priceType": "recurring",
                                  "price": {"unit": "EURO", "value": 1}}, "price.unit"),
        ("productOfferingPrice", {"name": "x", "priceType": "recurring",
                                  "price": {"unit": "XYZ", "value": 1}}, "price.unit"),
        ("productOfferingPrice", {"name": "x", "priceType": "usage", "chargeModel": {
            "type": "graduated", "tiers": [{"upTo": "10", "unitPrice": "1"},
                                           {"upTo": "5", "unitPrice": "1"},
                                           {"upTo": None, "unitPrice": "1"}]},
            "price": {"unit": "EUR"}}, "chargeModel.tiers[1].upTo"),
        ("productOfferingPrice", {"name": "x", "priceType": "usage", "chargeModel": {
            "type": "standard", "unitPrice": "1", "colour": 1}, "price": {"unit": "EUR"}},
         "chargeModel.colour"),
        ("productOfferingPrice", {"name": "x", "priceType": "usage", "chargeModel": {
            "type": "standard", "unitPrice": "1"}}, "price.unit"),
        ("productOfferingPrice", {"name": "x", "priceType": "recurring",
                                  "taxCategory": "luxury"}, "taxCategory"),
        ("productOfferingPrice", {"name": "x", "priceType": "oneTime",
                                  "billingTiming": "inArrears"}, "billingTiming"),
        ("productOffering", {"name": "x", "productOfferingPrice": [{"id": "nope"}]},
         "productOfferingPrice[0].id"),
        ("productOffering", {"name": "x", "validFor": {
            "startDateTime": "2026-02-01T00:00:00Z", "endDateTime": "2026-01-01T00:00:00Z"}},
         "validFor"),
        ("productOffering", {"name": "x", "eligibility": {"countries": ["ZZ"]}},
         "eligibility.countries[0]"),
        ("productSpecification", {"name": "x", "productSpecCharacteristic": [
            {"name": "speed", "valueType": "number", "productSpecCharacteristicValue": [
                {"valueFrom": 10, "valueTo": 1}]}]},
         "productSpecCharacteristic[0].productSpecCharacteristicValue[0]"),
    ]
    for kind, body, field in cases:
        r = client.post(f"{P}/{kind}", json=body, headers=tenant.headers())
        assert r.status_code == 422, (body, r.text)
        error = r.json()
        assert error["field"] == field, (body, error)
        assert error["@type"] == "Error" and error["status"] == "422"
    assert client.get(f"{P}/productOffering", headers=tenant.headers()).json() == []


def test_unknown_filter_and_bad_query_are_400(client, tenant):
    r = client.get(f"{P}/productOffering?colour=red", headers=tenant.headers())
    assert r.status_code == 400 and r.json()["field"] == "colour"
    r = client.get(f"{P}/productOffering?lifecycleStatus=Launched", headers=tenant.headers())
    assert r.status_code == 400


def test_exact_decimals_in_and_out(client, tenant):
    raw = ('{"name": "per MB", "priceType": "usage", "unitOfMeasure": {"amount": 1, '
           '"units": "MB"}, "price": {"unit": "EUR", "value": 0.000123456789012345678}}')
    r = client.post(f"{P}/productOfferingPrice", content=raw,
                    headers=tenant.headers(**{"Content-Type": "application/json"}))
    assert r.status_code == 201, r.text
    assert '"value":0.000123456789012345678' in r.text
    r = client.get(f"{P}/productOfferingPrice/{r.json()['id']}", headers=tenant.headers())
    assert '"value":0.000123456789012345678' in r.text
    pop = price(client, tenant, price={"unit": "EUR", "value": "9.12345678"})
    assert pop["price"]["value"] == 9.12345678
    r = client.get(f"{P}/productOfferingPrice?price.value=9.12345678", headers=tenant.headers())
    assert [x["id"] for x in r.json()] == [pop["id"]]


def test_roles_read_only_cannot_write(client, tenant):
    r = client.post(f"{P}/catalog", json={"name": "x"}, headers=tenant.headers("read_only"))
    assert r.status_code == 403
    post(client, tenant, "catalog", {"name": "x"}, role="catalog_manager")
    r = client.get(f"{P}/catalog", headers=tenant.headers("read_only"))
    assert r.status_code == 200


def test_events_and_audit_rows(client, tenant):
    off = active_offering(client, tenant)
    patch(client, tenant, "productOffering", off["id"], {"lifecycleStatus": "Retired"})
    spec = post(client, tenant, "productSpecification", {"name": "Line"})
    patch(client, tenant, "productSpecification", spec["id"], {"description": "d"})
    client.delete(f"{P}/productSpecification/{spec['id']}", headers=tenant.headers())
    with unit_of_work() as s:
        types = list(s.scalars(select(OutboxEvent.event_type).where(
            OutboxEvent.tenant_id == tenant.id).order_by(OutboxEvent.created_at)))
        audits = list(s.scalars(select(AuditEntry.resource_type).where(
            AuditEntry.tenant_id == tenant.id)))
    assert types == [
        "ProductOfferingPriceCreateEvent", "ProductOfferingCreateEvent",
        "ProductOfferingPriceStateChangeEvent", "ProductOfferingStateChangeEvent",
        "ProductSpecificationCreateEvent", "ProductSpecificationAttributeValueChangeEvent",
        "ProductSpecificationDeleteEvent"]
    assert audits.count("productOffering") == 2 and audits.count("productSpecification") == 3


def test_bundles(client, tenant):
    a = active_offering(client, tenant, name="Mobile S")
    b = offering(client, tenant, name="TV")
    bundle = {"name": "Quad play", "isBundle": True, "bundledProductOffering": [
        {"id": a["id"], "bundledProductOfferingOption": {
            "numberRelOfferLowerLimit": 1, "numberRelOfferUpperLimit": 4}},
        {"id": b["id"]}]}
    created = post(client, tenant, "productOffering", bundle)
    assert_tmf("productOffering", created)
    assert created["bundledProductOffering"][0]["name"] == "Mobile S"
    r = client.patch(f"{P}/productOffering/{created['id']}", json={"lifecycleStatus": "Active"},
                     headers=tenant.headers())
    assert r.status_code == 409 and r.json()["field"] == "bundledProductOffering[1].id"
    bad = [
        ({**bundle, "bundledProductOffering": [{"id": "missing"}]},
         "bundledProductOffering[0].id"),
        ({**bundle, "bundledProductOffering": [{"id": a["id"], "bundledProductOfferingOption": {
            "numberRelOfferLowerLimit": 3, "numberRelOfferUpperLimit": 1}}]},
         "bundledProductOffering[0].bundledProductOfferingOption.numberRelOfferUpperLimit"),
        ({"name": "x", "isBundle": True}, "bundledProductOffering"),
        ({"name": "x", "bundledProductOffering": [{"id": a["id"]}]}, "isBundle"),
    ]
    for body, field in bad:
        r = client.post(f"{P}/productOffering", json=body, headers=tenant.headers())
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    # a component in use cannot be deleted
    r = client.delete(f"{P}/productOffering/{b['id']}", headers=tenant.headers())
    assert r.status_code == 409
