"""Catalog files: import (all-or-nothing, error paths), export round trip, jobs, demo, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_helpers import P, assert_tmf
from sqlalchemy import func, select
from typer.testing import CliRunner

from openbss.catalog import demo, exporter, importer
from openbss.catalog.models import ProductOffering
from openbss.cli import app
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import ValidationError
from openbss.core.models import Tenant

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog-mobile.yaml"


def _ctx(session, tenant_id):
    return system_context(session, session.get(Tenant, tenant_id), actor="test")


def _offerings(tenant_id) -> int:
    with unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(ProductOffering).where(
            ProductOffering.tenant_id == tenant_id)) or 0


def test_demo_loads_three_catalogs_and_is_idempotent(client, tenant):
    with unit_of_work() as s:
        lines = demo.load(_ctx(s, tenant.id))
    assert len(lines) == 3 and all("offerings" in line for line in lines)
    count = _offerings(tenant.id)
    assert count >= 9
    with unit_of_work() as s:
        again = demo.load(_ctx(s, tenant.id))
    assert all("already loaded" in line for line in again)
    assert _offerings(tenant.id) == count
    r = client.get(f"{P}/productOffering?lifecycleStatus=Active&limit=100",
                   headers=tenant.headers())
    assert int(r.headers["X-Total-Count"]) == count
    assert_tmf("productOffering", r.json())
    pops = client.get(f"{P}/productOfferingPrice?limit=100", headers=tenant.headers()).json()
    assert_tmf("productOfferingPrice", pops)
    assert {p["lifecycleStatus"] for p in pops} == {"Active"}


def test_export_reimports_identically(make_tenant):
    a, b = make_tenant(), make_tenant()
    with unit_of_work() as s:
        demo.load(_ctx(s, a.id))
    with unit_of_work() as s:
        exported = exporter.export_catalog(_ctx(s, a.id))
    for fmt in ("yaml", "json"):
        target = make_tenant()
        text = importer.dump(exported, fmt)
        with unit_of_work() as s:
            importer.import_catalog(_ctx(s, target.id), data=importer.parse(text))
        with unit_of_work() as s:
            again = exporter.export_catalog(_ctx(s, target.id))
        assert again == exported, fmt
    assert b.id != a.id


BAD = """
format: openbss-catalog/1
productOffering:
  - {key: ok-1, name: OK 1, productOfferingPrice: [{name: fee, priceType: oneTime,
     price: {unit: EUR, value: "1"}}]}
  - {key: ok-2, name: OK 2}
  - key: broken
    name: Broken
    productOfferingPrice:
      - name: usage
        priceType: usage
        price: {unit: EUR}
        chargeModel:
          type: graduated
          tiers: [{upTo: "10", unitPrice: "1"}, {upTo: "10", unitPrice: "2"},
                  {upTo: null, unitPrice: "3"}]
"""


def test_a_bad_file_changes_nothing_and_names_the_path(tenant):
    with pytest.raises(ValidationError) as caught, unit_of_work() as s:
        importer.import_catalog(_ctx(s, tenant.id), data=importer.parse(BAD))
    assert caught.value.field == \
        "productOffering[2].productOfferingPrice[0].chargeModel.tiers[1].upTo"
    assert caught.value.message.startswith(
        "productOffering[2].productOfferingPrice[0].chargeModel.tiers[1].upTo")
    assert _offerings(tenant.id) == 0


@pytest.mark.parametrize(("text", "field"), [
    ("productOffering: [{name: x, productSpecification: {key: nope}}]",
     "productOffering[0].productSpecification.key"),
    ("productOffering: [{name: x, isBundle: true, bundledProductOffering: [{key: nope}]}]",
     "productOffering[0].bundledProductOffering[0].key"),
    ("category: [{key: a, name: A, parentId: nope}]", "category[0].parentId"),
    ("offerings: []", "offerings"),
    ("productOffering: [{key: a, name: A}, {key: a, name: B}]", "productOffering[1].key"),
    ("format: other/2", "format"),
    ("a: [b", "file"),
])
def test_file_errors_name_the_path(tenant, text, field):
    with pytest.raises(ValidationError) as caught, unit_of_work() as s:
        importer.import_catalog(_ctx(s, tenant.id), data=importer.parse(text))
    assert caught.value.field == field


def test_import_and_export_jobs(client, tenant, tmp_path, monkeypatch):
    h = tenant.headers()
    r = client.post(f"{P}/importJob", json={"content": BAD}, headers=h)
    assert r.status_code == 201, r.text
    failed = r.json()
    assert failed["status"] == "Failed" and "tiers[1].upTo" in failed["errorLog"]
    assert_tmf("importJob", failed)
    assert _offerings(tenant.id) == 0
    ok = client.post(f"{P}/importJob", json={"content": EXAMPLE.read_text()}, headers=h).json()
    assert ok["status"] == "Succeeded", ok
    assert _offerings(tenant.id) > 0
    from openbss.core.config import get_settings

    monkeypatch.setattr(get_settings(), "catalog_import_dir", str(tmp_path))
    (tmp_path / "c.yaml").write_text("category: [{name: From file}]")
    job = client.post(f"{P}/importJob", json={"url": (tmp_path / "c.yaml").as_uri()},
                      headers=h).json()
    assert job["status"] == "Succeeded", job
    r = client.post(f"{P}/importJob", json={"url": "file:///etc/passwd"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "url"
    (tmp_path / "c.bin").write_bytes(b"\x7fELF\x02\x01\xd0\xff")
    r = client.post(f"{P}/importJob", json={"url": (tmp_path / "c.bin").as_uri()}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "url", r.text
    assert "not UTF-8" in r.json()["message"]
    r = client.post(f"{P}/importJob", json={"url": "https://example.com/c.yaml"}, headers=h)
    assert r.status_code == 422
    r = client.post(f"{P}/exportJob", json={"contentType": "application/json"}, headers=h)
    assert r.status_code == 201
    export = r.json()
    assert export["status"] == "Succeeded"
    assert_tmf("exportJob", export)
    content = client.get(export["url"].replace("http://testserver", ""), headers=h)
    assert content.status_code == 200 and '"productOffering"' in content.text
    listing = client.get(f"{P}/importJob", headers=h)
    assert listing.headers["X-Total-Count"] == "3"
    assert client.get(f"{P}/exportJob/{job['id']}", headers=h).status_code == 404
    assert client.delete(f"{P}/importJob/{job['id']}", headers=h).status_code == 204


def test_cli_import_and_export(tenant, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "import", str(EXAMPLE), "--tenant", tenant.name])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["catalog", "export", "--tenant", tenant.name,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"format": "openbss-catalog/1"' in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = runner.invoke(app, ["catalog", "import", str(bad), "--tenant", tenant.name])
    assert result.exit_code != 0


def test_export_reimports_cross_references(client, make_tenant):
    """A spec bundling a spec, and a discount in one offering relating to the price of
    another offering that sorts after it, still re-import."""
    source = make_tenant()
    h = source.headers()

    def post(kind, body):
        r = client.post(f"{P}/{kind}", json=body, headers=h)
        assert r.status_code == 201, r.text
        return r.json()

    inner = post("productSpecification", {"name": "Z inner"})
    post("productSpecification", {"name": "A outer", "isBundle": True,
                                  "bundledProductSpecification": [{"id": inner["id"]}]})
    fee = post("productOfferingPrice", {"name": "b-fee", "priceType": "recurring",
                                        "price": {"unit": "EUR", "value": "10"}})
    promo = post("productOfferingPrice", {
        "name": "a-promo", "priceType": "discount", "percentage": 20,
        "popRelationship": [{"id": fee["id"], "relationshipType": "discounts"}]})
    post("productOffering", {"name": "Beta", "productOfferingPrice": [{"id": fee["id"]}]})
    post("productOffering", {"name": "Alpha", "productOfferingPrice": [{"id": promo["id"]}]})
    with unit_of_work() as s:
        exported = exporter.export_catalog(_ctx(s, source.id))
    target = make_tenant()
    with unit_of_work() as s:
        importer.import_catalog(_ctx(s, target.id), data=importer.parse(importer.dump(exported,
                                                                                   "yaml")))
    with unit_of_work() as s:
        assert exporter.export_catalog(_ctx(s, target.id)) == exported
