"""Catalog imports are idempotent by the file's keys: the same file twice changes nothing,
a changed file updates In-design items in place and gives Active items a new version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from catalog_helpers import P
from sqlalchemy import func, select
from typer.testing import CliRunner

from openbss.catalog import demo, exporter, importer
from openbss.catalog.models import ProductOffering, ProductOfferingPrice
from openbss.cli import app
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import ValidationError
from openbss.core.models import Tenant

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog-mobile.yaml"

DRAFT = """
format: openbss-catalog/1
productOffering:
  - key: draft
    name: Draft plan
    description: first text
    productOfferingPrice:
      - {key: draft-fee, name: Draft fee, priceType: recurring, price: {unit: EUR, value: "5"}}
"""

ACTIVE = """
format: openbss-catalog/1
productOffering:
  - key: live
    name: Live plan
    lifecycleStatus: Active
    productOfferingPrice:
      - {key: live-fee, name: Live fee, priceType: recurring,
         price: {unit: EUR, value: "9.99"}}
"""


def _import(tenant_id: str, text: str) -> dict[str, dict[str, int]]:
    with unit_of_work() as s:
        ctx = system_context(s, s.get(Tenant, tenant_id), actor="test")
        return importer.import_catalog(ctx, data=importer.parse(text))


def _total(counts: dict[str, dict[str, int]], outcome: str) -> int:
    return sum(c[outcome] for c in counts.values())


def _count(model, tenant_id: str) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model).where(
            model.tenant_id == tenant_id)) or 0


def test_the_tour_import_on_the_demo_tenant_changes_nothing(tenant):
    with unit_of_work() as s:
        demo.load(system_context(s, s.get(Tenant, tenant.id), actor="test"))
    offerings, prices = _count(ProductOffering, tenant.id), _count(ProductOfferingPrice, tenant.id)
    counts = _import(tenant.id, EXAMPLE.read_text())
    assert _total(counts, "unchanged") > 0
    assert _total(counts, "created") == _total(counts, "updated") == 0
    assert _total(counts, "newVersion") == 0
    assert (_count(ProductOffering, tenant.id), _count(ProductOfferingPrice, tenant.id)) \
        == (offerings, prices)


def test_same_file_twice_and_own_export_change_nothing(make_tenant):
    a = make_tenant()
    first = _import(a.id, EXAMPLE.read_text())
    assert first["productOffering"]["created"] == 5
    again = _import(a.id, EXAMPLE.read_text())
    assert _total(again, "unchanged") == _total(first, "created")
    assert _total(again, "created") + _total(again, "updated") + _total(again, "newVersion") == 0
    with unit_of_work() as s:
        exported = exporter.export_catalog(system_context(s, s.get(Tenant, a.id), actor="t"))
    own = _import(a.id, importer.dump(exported, "yaml"))
    assert _total(own, "unchanged") == _total(first, "created")
    assert _total(own, "created") == 0
    assert _count(ProductOffering, a.id) == 5


def test_a_changed_in_design_item_is_updated_in_place(client, tenant):
    created = _import(tenant.id, DRAFT)
    assert created["productOffering"]["created"] == 1
    changed = DRAFT.replace("first text", "second text").replace('value: "5"', 'value: "6"')
    counts = _import(tenant.id, changed)
    assert counts["productOffering"]["updated"] == 1  # same id, new description
    offerings = client.get(f"{P}/productOffering?name=Draft plan",
                           headers=tenant.headers()).json()
    assert len(offerings) == 1
    assert offerings[0]["description"] == "second text"
    prices = client.get(f"{P}/productOfferingPrice", headers=tenant.headers()).json()
    assert [p["price"]["value"] for p in prices] == [6]
    assert counts["productOfferingPrice"]["updated"] == 1


def test_only_the_changed_fields_decide(client, tenant):
    _import(tenant.id, DRAFT)
    counts = _import(tenant.id, DRAFT.replace("first text", "other"))
    assert counts["productOffering"] == {"created": 0, "updated": 1, "newVersion": 0,
                                         "unchanged": 0}
    assert counts["productOfferingPrice"]["unchanged"] == 1


def test_a_changed_active_item_gets_a_new_version(client, tenant):
    _import(tenant.id, ACTIVE)
    [old] = client.get(f"{P}/productOffering?name=Live plan", headers=tenant.headers()).json()
    counts = _import(tenant.id, ACTIVE.replace('"9.99"', '"10.99"'))
    assert counts["productOfferingPrice"]["newVersion"] == 1
    assert counts["productOffering"]["newVersion"] == 1  # it now points at the new price
    rows = client.get(f"{P}/productOffering?name=Live plan&sort=version",
                      headers=tenant.headers()).json()
    assert [(r["version"], r["lifecycleStatus"]) for r in rows] == [("1.0", "Active"),
                                                                     ("2.0", "Active")]
    assert rows[0]["id"] == old["id"]  # the old version is untouched (grandfathering)
    assert rows[0]["productOfferingPrice"] == old["productOfferingPrice"]
    new_price = client.get(f"{P}/productOfferingPrice/{rows[1]['productOfferingPrice'][0]['id']}",
                           headers=tenant.headers()).json()
    assert str(new_price["price"]["value"]) == "10.99"
    # the changed file again: nothing more
    again = _import(tenant.id, ACTIVE.replace('"9.99"', '"10.99"'))
    assert _total(again, "unchanged") == 2 and _total(again, "newVersion") == 0
    # and the export of both versions re-imports as it is
    with unit_of_work() as s:
        exported = exporter.export_catalog(
            system_context(s, s.get(Tenant, tenant.id), actor="t"))
    keys = sorted(o["key"] for o in exported["productOffering"])
    assert keys == ["live", "live@1.0"]
    own = _import(tenant.id, importer.dump(exported, "json"))
    assert _total(own, "created") + _total(own, "newVersion") + _total(own, "updated") == 0


def test_retiring_through_the_file_updates_the_active_row(client, tenant):
    _import(tenant.id, ACTIVE)
    counts = _import(tenant.id, ACTIVE.replace("lifecycleStatus: Active",
                                               "lifecycleStatus: Retired"))
    assert counts["productOffering"]["updated"] == 1
    rows = client.get(f"{P}/productOffering?name=Live plan", headers=tenant.headers()).json()
    assert [r["lifecycleStatus"] for r in rows] == ["Retired"]


def test_a_higher_version_in_the_file_is_used(client, tenant):
    _import(tenant.id, ACTIVE)
    doc = yaml.safe_load(ACTIVE)
    doc["productOffering"][0]["version"] = "1.5"
    counts = _import(tenant.id, yaml.safe_dump(doc))
    assert counts["productOffering"]["newVersion"] == 1
    rows = client.get(f"{P}/productOffering?name=Live plan&sort=version",
                      headers=tenant.headers()).json()
    assert [r["version"] for r in rows] == ["1.0", "1.5"]


def test_the_import_job_is_idempotent_too(client, tenant):
    body = {"content": ACTIVE}
    first = client.post(f"{P}/importJob", json=body, headers=tenant.headers())
    assert first.status_code == 201, first.text
    second = client.post(f"{P}/importJob", json=body, headers=tenant.headers())
    assert second.json()["status"] == "Succeeded"
    assert second.json()["result"]["productOffering"]["unchanged"] == 1
    assert _count(ProductOffering, tenant.id) == 1


def test_the_cli_says_what_it_did(tenant, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(ACTIVE)
    runner = CliRunner()
    r = runner.invoke(app, ["catalog", "import", str(path), "--tenant", tenant.name])
    assert r.exit_code == 0, r.output
    assert "created: 2, updated: 0, new version: 0, unchanged: 0" in r.output
    r = runner.invoke(app, ["catalog", "import", str(path), "--tenant", tenant.name])
    assert "created: 0, updated: 0, new version: 0, unchanged: 2" in r.output
    path.write_text(ACTIVE.replace('"9.99"', '"10.99"'))
    r = runner.invoke(app, ["catalog", "import", str(path), "--tenant", tenant.name])
    assert "new version: 2" in r.output
    assert "productOffering new version 1" in r.output
    binary = tmp_path / "c.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\xd0\xff")
    r = runner.invoke(app, ["catalog", "import", str(binary), "--tenant", tenant.name])
    assert r.exit_code == 1 and "is not UTF-8 text" in r.output, r.output


def test_keys_longer_than_the_column_are_refused_by_path(tenant):
    with pytest.raises(ValidationError) as exc:
        _import(tenant.id, ACTIVE.replace("key: live\n", f"key: {'k' * 201}\n"))
    assert exc.value.field == "productOffering[0].key"
