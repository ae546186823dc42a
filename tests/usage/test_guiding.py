"""Guiding one record: the product that held the identifier at the record's time — a
number that moved from one customer to another is charged to whoever held it then —
and the reasons when nobody (in force) held it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from usage_helpers import MERGE, USAGE, _ok, call, line

from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.usage.guiding import GuideCache, Guided, NotGuided, guide

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
MSISDN = "+4915112345678"


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def test_a_number_that_moved_is_charged_to_whoever_held_it_then(client, sandbox):  # type: ignore[no-untyped-def]
    first = line(client, sandbox)  # holds the number from 09:00; the clock is at 10:00
    _ok(client.patch(f"/tmf-api/productInventory/v4/product/{first['product']['id']}",
                     json={"status": "terminated"}, headers=sandbox.headers(**MERGE)), 200)
    second = line(client, sandbox)  # the number again, from 10:00, another customer
    for record_id, date, holder in (("m1", "2026-01-10T09:30:00Z", first),
                                    ("m2", "2026-01-10T10:30:00Z", second)):
        usage = _ok(client.post(USAGE, json=call(record_id, date=date),
                                headers=sandbox.headers()))
        assert usage["status"] == "rated", usage.get("rejectReason")
        parties = {p["role"]: p["id"] for p in usage["relatedParty"]}
        assert parties == {"billingAccount": holder["account"]["id"],
                           "customer": holder["person"]["id"]}
        assert usage["ratedProductUsage"][0]["productRef"]["id"] == holder["product"]["id"]
    before = _ok(client.post(USAGE, json=call("m0", date="2026-01-10T08:59:59Z"),
                             headers=sandbox.headers()))
    assert before["rejectReason"]["code"] == "unknown_identifier"


def test_guide_answers_the_product_or_why_not(client, sandbox):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox)
    _ok(client.patch(f"/tmf-api/productInventory/v4/product/{setup['product']['id']}",
                     json={"status": "suspended"}, headers=sandbox.headers(**MERGE)), 200)
    with unit_of_work() as session:
        ctx = system_context(session, load_tenant(session, sandbox.id), actor="test")
        cache = GuideCache()
        found = guide(ctx, identifier_name="msisdn", identifier_value=MSISDN,
                      at=T0 + timedelta(minutes=30), cache=cache)
        assert isinstance(found, Guided)
        assert found.product_id == setup["product"]["id"]
        assert found.billing_account_id == setup["account"]["id"]
        assert found.price_version == setup["offering"]["id"]
        assert found.bundle_id is None
        assert found.party is not None and found.party["id"] == setup["person"]["id"]
        assert "name" not in found.party  # a person's name is personal data
        assert cache.parties and cache.bundles  # read once per request
        suspended = guide(ctx, identifier_name="msisdn", identifier_value=MSISDN,
                          at=T0 + timedelta(hours=1, seconds=1))
        assert isinstance(suspended, NotGuided) and suspended.reason == "product_inactive"
        unknown = guide(ctx, identifier_name="msisdn", identifier_value="+4915199999999",
                        at=T0 + timedelta(minutes=30))
        assert isinstance(unknown, NotGuided) and unknown.reason == "unknown_identifier"
        assert "+4915199999999" in unknown.detail
