"""Plan changes, terminations, commitments and early-termination fees of products (the use
cases the product order orchestration asks), and the worker pass that terminates products
whose terminationDate has come. Catalog and accounts through HTTP; the use cases through a
context of the tenant (business time from its test clock)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from openbss.core.context import Context, system_context
from openbss.core.db import unit_of_work
from openbss.core.models import Tenant
from openbss.ordering import inventory
from openbss.ordering.errors import InvalidReference

INV = "/tmf-api/productInventory/v4/product"
CAT = "/tmf-api/productCatalogManagement/v4"
SWAGGER = "TMF637-ProductInventory-v4.0.0.swagger.json"
MERGE = {"Content-Type": "application/merge-patch+json"}
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
BERLIN_MONTHLY = {"billStructure": {"cycleSpecification": {
    "frequency": "monthly", "anchorDay": 1, "alignment": "calendar",
    "timeZone": "Europe/Berlin"}}}


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


@contextmanager
def context(tenant) -> Iterator[Context]:  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        row = session.get(Tenant, tenant.id)
        assert row is not None
        yield system_context(session, row, actor="test")


def _account(client, tenant, currency: str = "EUR", **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    person = client.post("/tmf-api/partyManagement/v4/individual",
                         json={"givenName": "Erika", "familyName": "Mustermann"},
                         headers=tenant.headers()).json()
    r = client.post("/tmf-api/accountManagement/v4/billingAccount", json={
        "name": "Home", "currency": currency,
        "relatedParty": [{"id": person["id"], "@referredType": "Individual",
                          "role": "owner"}], **extra}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _price(client, tenant, price_type: str, value: str, currency: str = "EUR",  # type: ignore[no-untyped-def]
           **extra: Any) -> str:
    r = client.post(f"{CAT}/productOfferingPrice", json={
        "name": f"{price_type} {value}", "priceType": price_type, "lifecycleStatus": "Active",
        "price": {"unit": currency, "value": value}, **extra}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def _offering(client, tenant, name: str, prices: list[str], **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(f"{CAT}/productOffering", json={
        "name": name, "lifecycleStatus": "Active",
        "productOfferingPrice": [{"id": p} for p in prices], **extra},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _monthly(client, tenant, name: str, value: str, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return _offering(client, tenant, name, [_price(client, tenant, "recurring", value)],
                     **extra)


def _product(client, tenant, account: dict[str, Any], offering: dict[str, Any],  # type: ignore[no-untyped-def]
             **extra: Any) -> dict[str, Any]:
    r = client.post(INV, json={"name": offering["name"], "status": "active",
                               "billingAccount": {"id": account["id"]},
                               "productOffering": {"id": offering["id"]}, **extra},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _advance(client, tenant, **step: int) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/testClock/advance", json=step, headers=tenant.headers())
    assert r.status_code == 200, r.text


def test_upgrade_now_downgrade_at_the_end_of_the_account_billing_period(client, sandbox):  # type: ignore[no-untyped-def]
    small, large = _monthly(client, sandbox, "M", "20.00"), _monthly(client, sandbox, "L", "30.00")
    yearly = _offering(client, sandbox, "M yearly", [_price(
        client, sandbox, "recurring", "216.00", recurringChargePeriodType="year")])
    account = _account(client, sandbox, **BERLIN_MONTHLY)
    product = _product(client, sandbox, account, small)
    with context(sandbox) as ctx:
        assert ctx.now == T0
        upgrade = inventory.plan_change_effective(ctx, product_id=product["id"],
                                                  offering_id=large["id"])
        assert upgrade == T0
        # 216/year is 18/month: cheaper than 20/month, a downgrade; the Berlin month ends
        # at local midnight, 23:00 UTC in winter
        assert inventory.plan_change_effective(
            ctx, product_id=product["id"], offering_id=yearly["id"]) == \
            datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
        assert inventory.plan_change_effective(
            ctx, product_id=product["id"], offering_id=small["id"]) == T0  # same plan
    big = _product(client, sandbox, account, large)
    with context(sandbox) as ctx:
        assert inventory.plan_change_effective(ctx, product_id=big["id"],
                                               offering_id=small["id"]) == \
            datetime(2026, 1, 31, 23, 0, tzinfo=UTC)


def test_without_a_cycle_the_period_is_the_monthly_anniversary_of_the_start(client, sandbox):  # type: ignore[no-untyped-def]
    small, large = _monthly(client, sandbox, "M", "20.00"), _monthly(client, sandbox, "L", "30.00")
    account = _account(client, sandbox)  # no billStructure: party's default is none
    product = _product(client, sandbox, account, large, startDate="2025-11-25T08:00:00Z")
    with context(sandbox) as ctx:
        period = inventory.billing_period(ctx, product_id=product["id"])
        assert (period.start, period.end) == (datetime(2025, 12, 25, tzinfo=UTC),
                                              datetime(2026, 1, 25, tzinfo=UTC))
        assert inventory.plan_change_effective(ctx, product_id=product["id"],
                                               offering_id=small["id"]) == period.end


def test_the_offering_policy_overrides_the_price_comparison(client, sandbox):  # type: ignore[no-untyped-def]
    eager = _monthly(client, sandbox, "S now", "5.00", planChangePolicy="immediate")
    patient = _monthly(client, sandbox, "XL later", "99.00", planChangePolicy="endOfPeriod")
    assert eager["planChangePolicy"] == "immediate"
    middle = _monthly(client, sandbox, "M", "20.00")
    account = _account(client, sandbox, **BERLIN_MONTHLY)
    product = _product(client, sandbox, account, middle)
    with context(sandbox) as ctx:
        assert inventory.plan_change_effective(ctx, product_id=product["id"],
                                               offering_id=eager["id"]) == T0
        assert inventory.plan_change_effective(ctx, product_id=product["id"],
                                               offering_id=patient["id"]) == \
            datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    r = client.post(f"{CAT}/productOffering", json={"name": "x", "planChangePolicy": "never"},
                    headers=sandbox.headers())
    assert r.status_code == 422 and r.json()["field"] == "planChangePolicy"


def test_plan_change_to_an_unknown_offering_names_the_field(client, sandbox, other_tenant):  # type: ignore[no-untyped-def]
    small = _monthly(client, sandbox, "M", "20.00")
    foreign = _monthly(client, other_tenant, "L", "30.00")
    product = _product(client, sandbox, _account(client, sandbox), small)
    with context(sandbox) as ctx, pytest.raises(InvalidReference) as raised:
        inventory.plan_change_effective(ctx, product_id=product["id"],
                                        offering_id=foreign["id"])
    assert raised.value.field == "productOffering.id"


def test_termination_now_on_request_or_at_the_period_end(client, sandbox):  # type: ignore[no-untyped-def]
    plain = _monthly(client, sandbox, "M", "20.00")
    notice = _monthly(client, sandbox, "Fibre", "40.00", productOfferingTerm=[
        {"name": "notice", "terminationPolicy": "endOfPeriod"}])
    account = _account(client, sandbox, **BERLIN_MONTHLY)
    a, b = _product(client, sandbox, account, plain), _product(client, sandbox, account, notice)
    later = T0 + timedelta(days=3)
    with context(sandbox) as ctx:
        assert inventory.termination_effective(ctx, product_id=a["id"], requested=None) == T0
        assert inventory.termination_effective(ctx, product_id=a["id"], requested=later) == later
        assert inventory.termination_effective(  # a date in the past is now
            ctx, product_id=a["id"], requested=T0 - timedelta(days=3)) == T0
        assert inventory.termination_effective(ctx, product_id=b["id"], requested=None) == \
            datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
        assert inventory.termination_effective(ctx, product_id=b["id"], requested=later) == later


def test_commitment_and_the_early_termination_fee_from_a_penalty_price(  # type: ignore[no-untyped-def]
        client, sandbox, other_tenant, tmf_schema):
    penalty = _price(client, sandbox, "penalty", "49.995")
    contract = _offering(client, sandbox, "M 24", [
        _price(client, sandbox, "recurring", "20.00"), penalty,
        _price(client, sandbox, "penalty", "1000", currency="CHF")],
        productOfferingTerm=[{"name": "24 months", "duration": {"amount": 24,
                                                                  "units": "month"}}])
    account = _account(client, sandbox)
    product = _product(client, sandbox, account, contract, quantity=2)
    tmf_schema(SWAGGER, "Product", product)
    # the prices in force in the account's currency, from the catalog (no CHF penalty)
    assert [(p["priceType"], p["price"], p.get("recurringChargePeriod"))
            for p in product["productPrice"]] == [
        ("recurring", {"dutyFreeAmount": {"unit": "EUR", "value": 20.00}}, "month"),
        ("penalty", {"dutyFreeAmount": {"unit": "EUR", "value": 49.995}}, None)]
    assert product["productPrice"][1]["productOfferingPrice"]["id"] == penalty
    assert product["productTerm"] == [{
        "name": "24 months", "duration": {"amount": 24, "units": "month"},
        "validFor": {"startDateTime": "2026-01-10T09:00:00Z",
                     "endDateTime": "2028-01-10T09:00:00Z"}}]
    _advance(client, sandbox, days=30)
    with context(sandbox) as ctx:
        assert inventory.commitment_end(ctx, product_id=product["id"]) == \
            datetime(2028, 1, 10, 9, 0, tzinfo=UTC)
        charge = inventory.record_early_termination(
            ctx, product_id=product["id"], at=ctx.now, order_id="o1", order_item_id="1")
        assert charge is not None
        # 2 x 49.995 EUR = 99.99 exactly (the CHF penalty is not the account's currency)
        assert (charge.amount, charge.currency) == (Decimal("99.99"), "EUR")
        assert charge.price_id == penalty and charge.billed is False
        again = inventory.record_early_termination(
            ctx, product_id=product["id"], at=ctx.now, order_id="o1", order_item_id="1")
        assert again is not None and again.id == charge.id  # a retried step: one charge
        assert inventory.record_early_termination(  # the commitment is over by then
            ctx, product_id=product["id"], at=datetime(2028, 1, 10, 9, 0, tzinfo=UTC),
            order_id="o2", order_item_id="1") is None
        charge_id = charge.id
    r = client.get(f"/api/v1/products/{product['id']}/charges",
                   headers=sandbox.headers("read_only"))
    assert r.status_code == 200, r.text
    assert r.json() == [{
        "id": charge_id, "kind": "earlyTerminationFee",
        "amount": {"unit": "EUR", "value": 99.99}, "at": "2026-02-09T09:00:00Z",
        "billingAccount": {"id": account["id"]}, "productOfferingPrice": {"id": penalty},
        "productOrder": {"id": "o1", "orderItemId": "1"},
        "description": "early termination before 2028-01-10T09:00:00Z: penalty 49.995",
        "billed": False}]
    history = client.get(f"/api/v1/products/{product['id']}/history",
                         headers=sandbox.headers()).json()
    assert history[-1]["change"] == "chargeRecorded"
    assert history[-1]["after"]["charge"]["id"] == charge_id
    assert client.get(f"/api/v1/products/{product['id']}/charges",
                      headers=other_tenant.headers()).status_code == 404


def test_the_term_fee_applies_without_a_penalty_price_and_nothing_without_a_term(client, sandbox):  # type: ignore[no-untyped-def]
    term = _monthly(client, sandbox, "Fibre 12", "40.00", productOfferingTerm=[{
        "name": "12 months", "duration": {"amount": 1, "units": "year"},
        "earlyTerminationFee": {"unit": "EUR", "value": "150.00"}}])
    free = _monthly(client, sandbox, "M", "20.00")
    account = _account(client, sandbox)
    fibre = _product(client, sandbox, account, term)
    loose = _product(client, sandbox, account, free)
    assert "productTerm" not in loose
    given = _product(client, sandbox, account, free, productPrice=[])  # kept as given
    assert given["productPrice"] == []
    with context(sandbox) as ctx:
        charge = inventory.record_early_termination(ctx, product_id=fibre["id"], at=ctx.now,
                                                    order_id=None, order_item_id=None)
        assert charge is not None and charge.amount == Decimal("150.00")
        assert charge.price_id is None
        assert inventory.record_early_termination(ctx, product_id=loose["id"], at=ctx.now,
                                                  order_id=None, order_item_id=None) is None
    assert client.get(f"/api/v1/products/{loose['id']}/charges",
                      headers=sandbox.headers()).json() == []


def test_a_plan_change_keeps_the_longer_commitment(client, sandbox):  # type: ignore[no-untyped-def]
    long = _monthly(client, sandbox, "M 24", "20.00", productOfferingTerm=[
        {"name": "24 months", "duration": {"amount": 24, "units": "months"}}])
    short = _monthly(client, sandbox, "L 12", "30.00", productOfferingTerm=[
        {"name": "12 months", "duration": {"amount": 12, "units": "months"}}])
    product = _product(client, sandbox, _account(client, sandbox), short)
    assert product["productTerm"][0]["validFor"]["endDateTime"] == "2027-01-10T09:00:00Z"
    _advance(client, sandbox, days=31)
    with context(sandbox) as ctx:
        row = inventory.update_product(ctx, product_id=product["id"], patch={
            "productOffering": {"id": long["id"]}}, order_id="o1", order_item_id="1")
        assert row.body["productTerm"][0]["validFor"] == {
            "startDateTime": "2026-02-10T09:00:00Z", "endDateTime": "2028-02-10T09:00:00Z"}
        row = inventory.update_product(ctx, product_id=product["id"], patch={
            "productOffering": {"id": short["id"]}}, order_id="o2", order_item_id="1")
        # back to the 12-month plan: the 24-month commitment still holds
        assert row.body["productTerm"][0]["name"] == "24 months"


def test_pending_terminate_products_terminate_when_business_time_reaches_the_date(  # type: ignore[no-untyped-def]
        client, sandbox, other_tenant):
    offering = _monthly(client, sandbox, "M", "20.00")
    account = _account(client, sandbox)
    product = _product(client, sandbox, account, offering, productCharacteristic=[
        {"name": "MSISDN", "value": "+4915112345678"}])
    keep = _product(client, sandbox, account, offering)
    when = "2026-01-15T00:00:00Z"
    r = client.patch(f"{INV}/{product['id']}", headers=sandbox.headers(**MERGE),
                     json={"status": "pendingTerminate", "terminationDate": when})
    assert r.status_code == 200, r.text
    r = client.patch(f"{INV}/{keep['id']}", headers=sandbox.headers(**MERGE),
                     json={"status": "pendingTerminate"})  # no date: waits for an order
    assert r.status_code == 200, r.text
    # another tenant with a product due long ago is terminated by its own clock
    foreign = _product(client, other_tenant, _account(client, other_tenant),
                       _monthly(client, other_tenant, "X", "1.00"))
    r = client.patch(f"{INV}/{foreign['id']}", headers=other_tenant.headers(**MERGE),
                     json={"status": "pendingTerminate", "terminationDate": "2099-01-01T00:00:00Z"})
    assert r.status_code == 200
    with unit_of_work() as session:
        inventory.run_due_terminations(session)
    assert client.get(f"{INV}/{product['id']}", headers=sandbox.headers()).json()["status"] == \
        "pendingTerminate"
    _advance(client, sandbox, days=6)
    with unit_of_work() as session:
        assert inventory.run_due_terminations(session) >= 1
    with unit_of_work() as session:
        again = inventory.run_due_terminations(session)
    got = client.get(f"{INV}/{product['id']}", headers=sandbox.headers()).json()
    assert got["status"] == "terminated" and got["terminationDate"] == when
    assert client.get(f"{INV}/{keep['id']}", headers=sandbox.headers()).json()["status"] == \
        "pendingTerminate"
    assert client.get(f"{INV}/{foreign['id']}",
                      headers=other_tenant.headers()).json()["status"] == "pendingTerminate"
    history = client.get(f"/api/v1/products/{product['id']}/history",
                         headers=sandbox.headers()).json()
    assert history[-1]["change"] == "terminated" and history[-1]["at"] == when
    assert history[-1]["actor"] == "worker"
    with context(sandbox) as ctx:  # the number is free from the termination date on
        assert inventory.terminate_due(ctx) == 0
        found = inventory.in_force(ctx, start=T0, end=ctx.now, identifier="+4915112345678")
        assert [(i.start, i.end) for f in found for i in f.intervals] == [
            (T0, datetime(2026, 1, 15, tzinfo=UTC))]
    del again


def test_discounts_of_the_catalog_become_price_alterations(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    fee = _price(client, sandbox, "recurring", "34.99", taxIncluded=True)
    r = client.post(f"{CAT}/productOfferingPrice", json={
        "name": "Welcome -50%", "priceType": "discount", "lifecycleStatus": "Active",
        "percentage": "50", "applicationDuration": 3, "popRelationship": [{"id": fee}]},
        headers=sandbox.headers())
    assert r.status_code == 201, r.text
    promo = r.json()["id"]
    offering = _offering(client, sandbox, "Mobile L", [fee, promo])
    product = _product(client, sandbox, _account(client, sandbox), offering)
    tmf_schema(SWAGGER, "Product", product)
    [price] = product["productPrice"]
    assert price["price"] == {"taxIncludedAmount": {"unit": "EUR", "value": 34.99}}
    assert price["productPriceAlteration"] == [{
        "name": "Welcome -50%", "priceType": "discount", "price": {"percentage": 50},
        "productOfferingPrice": {"id": promo}, "applicationDuration": 3}]


def test_the_docs_show_the_product_state_machine() -> None:
    from pathlib import Path

    from openbss.ordering.models import PRODUCT_STATES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ordering.md").read_text()
    assert f"```mermaid\n{PRODUCT_STATES.diagram()}\n```" in doc


def test_a_product_without_an_account_changes_now_and_pays_no_fee(client, sandbox):  # type: ignore[no-untyped-def]
    long = _monthly(client, sandbox, "M 24", "20.00", productOfferingTerm=[
        {"name": "24 months", "duration": {"amount": 24, "units": "month"},
         "earlyTerminationFee": {"unit": "EUR", "value": "99"}}])
    cheap = _monthly(client, sandbox, "S", "5.00")
    r = client.post(INV, json={"status": "active", "productOffering": {"id": long["id"]}},
                    headers=sandbox.headers())
    assert r.status_code == 201, r.text
    product = r.json()
    assert "productPrice" not in product  # no account, no currency to choose prices in
    assert product["productTerm"][0]["validFor"]["endDateTime"] == "2028-01-10T09:00:00Z"
    with context(sandbox) as ctx:
        assert inventory.plan_change_effective(ctx, product_id=product["id"],
                                               offering_id=cheap["id"]) == T0
        assert inventory.record_early_termination(ctx, product_id=product["id"], at=ctx.now,
                                                  order_id=None, order_item_id=None) is None
        period = inventory.billing_period(ctx, product_id=product["id"])
        assert (period.start, period.end) == (datetime(2026, 1, 10, tzinfo=UTC),
                                              datetime(2026, 2, 10, tzinfo=UTC))


def test_the_terminations_pass_commits_its_work(client, sandbox):  # type: ignore[no-untyped-def]
    offering = _monthly(client, sandbox, "M", "20.00")
    product = _product(client, sandbox, _account(client, sandbox), offering)
    r = client.patch(f"{INV}/{product['id']}", headers=sandbox.headers(**MERGE),
                     json={"status": "pendingTerminate", "terminationDate": "2026-01-11T00:00:00Z"})
    assert r.status_code == 200, r.text
    _advance(client, sandbox, days=2)
    assert inventory.terminations_pass() >= 1
    got = client.get(f"{INV}/{product['id']}", headers=sandbox.headers()).json()
    assert got["status"] == "terminated" and got["terminationDate"] == "2026-01-11T00:00:00Z"
