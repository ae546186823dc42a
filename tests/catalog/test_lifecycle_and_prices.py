"""Lifecycle, immutability, versions, orderability, eligibility, multi-currency prices and
the service contract used by the pricing preview."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from catalog_helpers import P, active_offering, assert_tmf, offering, patch, post, price

from openbss.catalog import errors, selling, service
from openbss.catalog.pricing import GraduatedChargeModel, StandardChargeModel
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import ConflictError, NotFoundError, ValidationError
from openbss.core.models import Tenant


def _ctx(session, tenant_id):
    return system_context(session, session.get(Tenant, tenant_id), actor="test")


def test_guarded_transitions_name_both_states(client, tenant):
    pop = price(client, tenant)
    off = offering(client, tenant, [pop["id"]])
    r = client.patch(f"{P}/productOffering/{off['id']}", json={"lifecycleStatus": "Retired"},
                     headers=tenant.headers())
    assert r.status_code == 409
    assert "'In design'" in r.json()["message"] and "'Retired'" in r.json()["message"]
    assert r.json()["code"] == "invalid_transition" and r.json()["field"] == "lifecycleStatus"
    assert r.json()["details"][0] == {"field": "lifecycleStatus", "from": "In design",
                                      "to": "Retired", "allowed": ["Active"]}
    active = patch(client, tenant, "productOffering", off["id"], {"lifecycleStatus": "active"})
    assert active["lifecycleStatus"] == "Active"
    # activating the offering activated its price
    got = client.get(f"{P}/productOfferingPrice/{pop['id']}", headers=tenant.headers()).json()
    assert got["lifecycleStatus"] == "Active"
    r = client.patch(f"{P}/productOffering/{off['id']}",
                     json={"lifecycleStatus": "In Design"}, headers=tenant.headers())
    assert r.status_code == 409
    patch(client, tenant, "productOffering", off["id"], {"lifecycleStatus": "RETIRED"})
    patch(client, tenant, "productOffering", off["id"], {"lifecycleStatus": "Obsolete"})
    r = client.patch(f"{P}/productOffering/{off['id']}", json={"lifecycleStatus": "Active"},
                     headers=tenant.headers())
    assert r.status_code == 409 and "final" in r.json()["message"]
    assert r.json()["code"] == "invalid_transition"


def test_an_unpriced_price_cannot_be_activated(client, tenant):
    pop = post(client, tenant, "productOfferingPrice", {"name": "x", "priceType": "recurring"})
    r = client.patch(f"{P}/productOfferingPrice/{pop['id']}", json={"lifecycleStatus": "Active"},
                     headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "price"
    assert r.json()["code"] == "price_missing"
    off = offering(client, tenant, [pop["id"]])
    r = client.patch(f"{P}/productOffering/{off['id']}", json={"lifecycleStatus": "Active"},
                     headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "productOfferingPrice[0].id"
    assert r.json()["code"] == "price_missing"


def test_active_offerings_and_prices_are_immutable(client, tenant):
    off = active_offering(client, tenant)
    pop_id = off["productOfferingPrice"][0]["id"]
    for kind, id_, body in [
        ("productOffering", off["id"], {"name": "Cheaper"}),
        ("productOffering", off["id"], {"validFor": {"startDateTime": "2020-01-01T00:00:00Z"}}),
        ("productOfferingPrice", pop_id, {"price": {"value": "1"}}),
    ]:
        r = client.patch(f"{P}/{kind}/{id_}", json=body, headers=tenant.headers())
        assert r.status_code == 409, r.text
        assert "new version" in r.json()["message"]
        assert r.json()["code"] == "not_editable"
    # ending the validity (retiring on a date) and the status reason may change
    ended = patch(client, tenant, "productOffering", off["id"], {
        "validFor": {"endDateTime": "2030-01-01T00:00:00Z"}, "statusReason": "replaced"})
    assert ended["validFor"]["endDateTime"] == "2030-01-01T00:00:00Z"
    for kind, id_ in (("productOffering", off["id"]), ("productOfferingPrice", pop_id)):
        r = client.delete(f"{P}/{kind}/{id_}", headers=tenant.headers())
        assert r.status_code == 409


def test_new_version_copies_and_grandfathers(client, tenant):
    off = active_offering(client, tenant, name="Fibre 300")
    r = client.post(f"/api/v1/catalog/productOffering/{off['id']}/version",
                    json={"validFor": {"startDateTime": "2027-01-01T00:00:00Z"}},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert_tmf("productOffering", v2)
    assert v2["id"] != off["id"] and v2["version"] == "2.0"
    assert v2["lifecycleStatus"] == "In design"
    new_pop = v2["productOfferingPrice"][0]["id"]
    assert new_pop != off["productOfferingPrice"][0]["id"]
    patch(client, tenant, "productOfferingPrice", new_pop, {"price": {"value": "27.00"}})
    old = client.get(f"{P}/productOfferingPrice/{off['productOfferingPrice'][0]['id']}",
                     headers=tenant.headers()).json()
    assert old["price"]["value"] == 25  # the version customers bought is untouched
    r = client.post(f"/api/v1/catalog/productOffering/{off['id']}/version",
                    json={"version": "1.5"}, headers=tenant.headers())
    assert r.status_code == 409 and r.json()["field"] == "version"
    r = client.get(f"{P}/productOffering?name=Fibre 300&sort=version", headers=tenant.headers())
    assert [o["version"] for o in r.json()] == ["1.0", "2.0"]


def test_orderability_eligibility_and_price_selection(client, tenant):
    eur = price(client, tenant)
    chf = price(client, tenant, name="fee CHF", price={"unit": "CHF", "value": "26.90"})
    promo = post(client, tenant, "productOfferingPrice", {
        "name": "-10%", "priceType": "discount", "percentage": "10", "applicationDuration": 3,
        "popRelationship": [{"id": eur["id"], "relationshipType": "discount"}]})
    off = offering(client, tenant, [eur["id"], chf["id"], promo["id"]], lifecycleStatus="Active",
                   validFor={"startDateTime": "2026-01-01T00:00:00Z",
                             "endDateTime": "2099-01-01T00:00:00Z"},
                   eligibility={"customerTypes": ["individual"], "countries": ["FR", "DE"]})
    draft = offering(client, tenant, name="draft")
    h = tenant.headers()
    r = client.get(f"/api/v1/catalog/productOffering/{off['id']}/prices?currency=CHF", headers=h)
    assert [p["id"] for p in r.json()] == [chf["id"], promo["id"]]
    r = client.get(f"/api/v1/catalog/productOffering/{off['id']}/prices?currency=USD", headers=h)
    assert r.status_code == 422 and "CHF, EUR" in r.json()["message"]
    assert r.json()["code"] == "no_price_in_currency" and r.json()["field"] == "currency"
    r = client.get(f"/api/v1/catalog/productOffering/{off['id']}/prices?currency=usd", headers=h)
    assert r.status_code == 422
    r = client.get(f"/api/v1/catalog/productOffering/{off['id']}/eligibility"
                   "?customerType=individual&country=FR", headers=h)
    assert r.json() == {"id": off["id"], "eligible": True, "orderable": True}
    r = client.get(f"/api/v1/catalog/productOffering/{off['id']}/eligibility"
                   "?customerType=organization&country=FR", headers=h)
    assert r.json()["eligible"] is False
    with unit_of_work() as s:
        ctx = _ctx(s, tenant.id)
        assert selling.is_orderable(ctx, offering_id=off["id"])
        assert not selling.is_orderable(ctx, offering_id=off["id"],
                                        at=datetime(2025, 6, 1, tzinfo=UTC))
        assert not selling.is_orderable(ctx, offering_id=draft["id"])
        with pytest.raises(ConflictError) as refused:
            selling.get_orderable_offering(ctx, offering_id=draft["id"])
        assert isinstance(refused.value, errors.OfferingNotActive)
        assert (refused.value.code, refused.value.field) == ("offering_not_active",
                                                             "lifecycleStatus")
        with pytest.raises(errors.OfferingNotValidAt):
            selling.get_orderable_offering(ctx, offering_id=off["id"],
                                           at=datetime(2025, 6, 1, tzinfo=UTC))
        assert not selling.check_eligibility(
            service.get_resource(ctx, kind="productOffering", resource_id=off["id"]),
            customer_type="individual", country="US")
        chosen = selling.select_prices(ctx, offering_id=off["id"], currency="EUR")
        assert [p.id for p in chosen] == [eur["id"], promo["id"]]
        assert chosen[0].amount == Decimal("25.00")
        # the offering row the caller has read is used, not read again; another
        # offering's row is not mistaken for it
        row = selling.get_orderable_offering(ctx, offering_id=off["id"])
        draft_row = service.get_resource(ctx, kind="productOffering", resource_id=draft["id"])
        from sqlalchemy import event

        from openbss.core.db import get_engine

        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(get_engine(), "before_cursor_execute", seen)
        try:
            given = selling.select_prices(ctx, offering_id=off["id"], currency="EUR",
                                          offering=row)
            reads = [q for q in statements if "FROM catalog_product_offering " in q]
            assert [p.id for p in given] == [p.id for p in chosen] and reads == []
            other = selling.select_prices(ctx, offering_id=off["id"], currency="EUR",
                                          offering=draft_row)
            assert [p.id for p in other] == [p.id for p in chosen]
        finally:
            event.remove(get_engine(), "before_cursor_execute", seen)


def test_charge_model_of_price_contract(client, tenant, other_tenant):
    graduated = post(client, tenant, "productOfferingPrice", {
        "name": "API calls", "priceType": "usage", "price": {"unit": "USD"},
        "unitOfMeasure": {"amount": 1, "units": "call"},
        "includedQuantity": {"amount": "1000", "units": "call"},
        "chargeModel": {"type": "graduated", "tiers": [
            {"upTo": "10", "unitPrice": "0.00000001"}, {"upTo": None, "unitPrice": "5"}]}})
    assert graduated["chargeModel"]["tiers"][1]["upTo"] is None
    assert graduated["includedQuantity"] == {"amount": "1000", "units": "call"}
    flat = price(client, tenant, price={"unit": "EUR", "value": "5.12345678"})
    empty = post(client, tenant, "productOfferingPrice", {"name": "x", "priceType": "usage"})
    with unit_of_work() as s:
        ctx = _ctx(s, tenant.id)
        model, currency = selling.charge_model_of_price(ctx, price_id=graduated["id"])
        assert isinstance(model, GraduatedChargeModel) and currency == "USD"
        assert model.tiers[0].unit_price == Decimal("0.00000001")
        model, currency = selling.charge_model_of_price(ctx, price_id=flat["id"])
        assert model == StandardChargeModel(unit_price=Decimal("5.12345678"))
        assert currency == "EUR"
        with pytest.raises(ValidationError) as caught:
            selling.charge_model_of_price(ctx, price_id=empty["id"])
        assert caught.value.field == "productOfferingPrice.id"
        assert caught.value.code == "not_chargeable"
    with unit_of_work() as s, pytest.raises(NotFoundError):
        selling.charge_model_of_price(_ctx(s, other_tenant.id), price_id=flat["id"])


def test_other_tenants_resources_are_invisible(client, tenant, other_tenant):
    off = active_offering(client, tenant)
    for path in (f"{P}/productOffering/{off['id']}",
                 f"/api/v1/catalog/productOffering/{off['id']}/prices?currency=EUR"):
        assert client.get(path, headers=other_tenant.headers()).status_code == 404
    # nor can they be referenced
    r = client.post(f"{P}/productOffering", json={
        "name": "x", "isBundle": True, "bundledProductOffering": [{"id": off["id"]}]},
        headers=other_tenant.headers())
    assert r.status_code == 422 and r.json()["code"] == "unknown_reference"
    assert r.json()["field"] == "bundledProductOffering[0].id"
    assert client.get(f"{P}/productOffering", headers=other_tenant.headers()).json() == []
