"""The catalog's error types: each business rule answers its own stable ``code`` and names
its ``field``; the lifecycle is one state machine per kind; jobs have no PATCH."""

from __future__ import annotations

import pytest
from catalog_helpers import P, active_offering, offering, patch, price

from openbss.catalog import errors, importer
from openbss.catalog.lifecycle import LIFECYCLE, JobStatus, LifecycleStatus, canonical_status
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import OpenBSSError
from openbss.core.models import Tenant
from openbss.core.states import InvalidTransitionError

MERGE = {"Content-Type": "application/merge-patch+json"}


def _error(r, status: int, code: str, field: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert (body["code"], body.get("field")) == (code, field), body
    return body


def test_one_lifecycle_per_kind_with_tmf_spellings():
    assert [s.value for s in LifecycleStatus] == ["In design", "Active", "Retired", "Obsolete"]
    for spelling in ("in_design", "In Design", "IN-DESIGN", "indesign"):
        assert canonical_status(spelling) is LifecycleStatus.IN_DESIGN
    with pytest.raises(ValueError, match="In design, Active, Retired, Obsolete"):
        canonical_status("draft")
    for kind, machine in LIFECYCLE.items():
        assert machine.resource == kind
        assert machine.allowed("In design") == {LifecycleStatus.ACTIVE}
        assert machine.allowed("Active") == {LifecycleStatus.RETIRED}
        assert machine.is_final("Obsolete")
        with pytest.raises(InvalidTransitionError) as caught:
            machine.check("Retired", "Active", resource_id="x1")
        assert caught.value.field == "lifecycleStatus" and f"{kind} x1" in caught.value.message
    diagram = LIFECYCLE["productOffering"].diagram()
    assert 'state "In design" as IN_DESIGN' in diagram and "ACTIVE --> RETIRED" in diagram
    assert [s.value for s in JobStatus] == ["Running", "Succeeded", "Failed"]


def test_price_rules_name_their_field(client, tenant):
    r = client.post(f"{P}/productOfferingPrice", headers=tenant.headers(), json={
        "name": "x", "priceType": "recurring", "percentage": 5})
    _error(r, 422, "not_applicable", "percentage")
    r = client.post(f"{P}/productOfferingPrice", headers=tenant.headers(), json={
        "name": "x", "priceType": "oneTime", "price": {"value": "5"}})
    _error(r, 422, "currency_required", "price.unit")
    r = client.post(f"{P}/productOfferingPrice", headers=tenant.headers(), json={
        "name": "x", "priceType": "sometimes"})
    body = _error(r, 422, "invalid_value", "priceType")
    assert "oneTime, recurring, usage, discount, penalty" in body["message"]


def test_frozen_resources_cannot_be_deleted_and_referenced_ones_neither(client, tenant):
    off = active_offering(client, tenant)
    pop_id = off["productOfferingPrice"][0]["id"]
    r = client.delete(f"{P}/productOfferingPrice/{pop_id}", headers=tenant.headers())
    _error(r, 409, "not_deletable", "lifecycleStatus")
    draft_price = price(client, tenant, name="draft fee")
    offering(client, tenant, [draft_price["id"]], name="uses it")
    r = client.delete(f"{P}/productOfferingPrice/{draft_price['id']}", headers=tenant.headers())
    body = _error(r, 409, "still_referenced", "id")
    assert "productOffering" in body["message"]


def test_a_bundle_waits_for_its_components(client, tenant):
    component = offering(client, tenant, name="component")
    bundle = offering(client, tenant, name="bundle", isBundle=True,
                      bundledProductOffering=[{"id": component["id"]}])
    r = client.patch(f"{P}/productOffering/{bundle['id']}", headers=tenant.headers(**MERGE),
                     json={"lifecycleStatus": "Active"})
    _error(r, 409, "bundle_component_not_active", "bundledProductOffering[0].id")
    patch(client, tenant, "productOffering", component["id"], {"lifecycleStatus": "Active"})
    assert patch(client, tenant, "productOffering", bundle["id"],
                 {"lifecycleStatus": "Active"})["lifecycleStatus"] == "Active"


def test_a_new_version_must_be_higher(client, tenant):
    off = active_offering(client, tenant)
    url = f"/api/v1/catalog/productOffering/{off['id']}/version"
    r = client.post(url, json={"version": "1.0"}, headers=tenant.headers())
    body = _error(r, 409, "version_not_higher", "version")
    assert "highest 1.0" in body["message"]
    r = client.post(url, json={"version": "2.0", "comment": "x"}, headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "comment"
    r = client.post(url, json={"validFor": {"startDateTime": "2026-01-01T00:00:00"}},
                    headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "validFor.startDateTime"
    r = client.post(url, json={"version": "3.1",
                               "validFor": {"startDateTime": "2027-01-01T00:00:00Z"}},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["lifecycleStatus"]) == ("3.1", "In design")
    assert r.json()["validFor"] == {"startDateTime": "2027-01-01T00:00:00Z"}


@pytest.mark.parametrize(("text", "error", "field"), [
    ("productSpecification: [{key: a, name: A}, {key: a, name: B}]",
     errors.ImportKeyConflict, "productSpecification[1].key"),
    ("productOffering: [{name: x, category: [{key: nope}]}]",
     errors.ImportKeyConflict, "productOffering[0].category[0].key"),
    ("prices: []", errors.InvalidCatalogFile, "prices"),
    ("format: other/2", errors.InvalidCatalogFile, "format"),
    ("productOffering: [{name: x, isBundle: true, bundledProductOffering: [{id: nope}]}]",
     errors.UnknownReference, "productOffering[0].bundledProductOffering[0].id"),
])
def test_import_errors_keep_their_type_and_name_the_path(tenant, text, error, field):
    with pytest.raises(OpenBSSError) as caught, unit_of_work() as s:
        ctx = system_context(s, s.get(Tenant, tenant.id), actor="test")
        importer.import_catalog(ctx, data=importer.parse(text))
    assert type(caught.value) is error and caught.value.field == field


def test_an_import_job_that_fails_records_why(client, tenant):
    r = client.post(f"{P}/importJob", headers=tenant.headers(), json={
        "content": "productSpecification: [{key: a, name: A}, {key: a, name: B}]"})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == JobStatus.FAILED and "duplicate" in job["errorLog"]
    listed = client.get(f"{P}/importJob?status=Failed", headers=tenant.headers()).json()
    assert [j["id"] for j in listed] == [job["id"]]
    # jobs are created, listed, read and deleted — never patched
    r = client.patch(f"{P}/importJob/{job['id']}", headers=tenant.headers(**MERGE),
                     json={"status": "Succeeded"})
    assert r.status_code == 405
    r = client.post(f"{P}/importJob", headers=tenant.headers(), json={
        "url": "https://example.com/catalog.yaml"})
    _error(r, 422, "import_source_unreadable", "url")
    assert client.delete(f"{P}/importJob/{job['id']}", headers=tenant.headers()).status_code \
        == 204
    assert client.get(f"{P}/exportJob/{job['id']}", headers=tenant.headers()).status_code \
        == 404
