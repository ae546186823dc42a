"""TMF635 usage through HTTP: one record at a time (accepted, rejected, duplicate),
the rendered usage against the swagger, filters, corrections and deletion, the usage
specifications, and the tenant boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

USAGE = "/tmf-api/usageManagement/v4/usage"
SPEC = "/tmf-api/usageManagement/v4/usageSpecification"
SWAGGER = "TMF635-UsageManagement-v4.0.0.swagger.json"
CATALOG = "/tmf-api/productCatalogManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
MSISDN = "+4915112345678"


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def line(client, tenant, msisdn: str = "0151 12345678", *,  # type: ignore[no-untyped-def]
         included_minutes: int | None = 10, price: str = "0.10") -> dict[str, Any]:
    """An account with one active mobile line (MSISDN) on an offering that prices voice
    per minute (``price`` EUR, ``included_minutes`` per month included)."""
    pop: dict[str, Any] = {"name": "Voice", "priceType": "usage", "usageType": "voice",
                           "unitOfMeasure": {"amount": 1, "units": "minute"},
                           "price": {"unit": "EUR", "value": float(price)},
                           "lifecycleStatus": "Active"}
    if included_minutes is not None:
        pop["includedQuantity"] = {"amount": included_minutes, "units": "minute"}
    pop = _ok(client.post(f"{CATALOG}/productOfferingPrice", json=pop,
                          headers=tenant.headers()))
    offering = _ok(client.post(f"{CATALOG}/productOffering", headers=tenant.headers(), json={
        "name": "Mobile M", "lifecycleStatus": "Active",
        "productOfferingPrice": [{"id": pop["id"]}]}))
    person = _ok(client.post("/tmf-api/partyManagement/v4/individual",
                             json={"givenName": "Erika", "familyName": "Mustermann"},
                             headers=tenant.headers()))
    account = _ok(client.post(
        "/tmf-api/accountManagement/v4/billingAccount", headers=tenant.headers(), json={
            "name": "Home", "currency": "EUR",
            "relatedParty": [{"id": person["id"], "@referredType": "Individual",
                              "role": "owner"}]}))
    product = _ok(client.post("/tmf-api/productInventory/v4/product", headers=tenant.headers(),
                              json={"name": "Mobile M line", "status": "active",
                                    "billingAccount": {"id": account["id"]},
                                    "productOffering": {"id": offering["id"]},
                                    "productCharacteristic": [{"name": "MSISDN",
                                                               "value": msisdn}]}))
    _ok(client.post("/api/v1/testClock/advance", json={"hours": 1},
                    headers=tenant.headers()), 200)
    return {"account": account, "person": person, "product": product, "offering": offering,
            "price": pop}


def call(record_id: str, *, msisdn: str = MSISDN, duration: Any = 130,
         date: str = "2026-01-10T09:30:00Z", **chars: Any) -> dict[str, Any]:
    pairs = {"recordId": record_id, "msisdn": msisdn, "calledNumber": "+4930123456",
             "duration": duration, **chars}
    return {"usageDate": date, "usageType": "voice",
            "usageCharacteristic": [{"name": k, "value": v} for k, v in pairs.items()]}


def test_a_call_is_guided_rated_and_rendered_as_tmf635(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox, included_minutes=None)
    usage = _ok(client.post(USAGE, json=call("c-1"), headers=sandbox.headers("billing_ops")))
    tmf_schema(SWAGGER, "Usage", usage)
    assert usage["status"] == "rated", usage.get("rejectReason")
    assert usage["usageDate"] == "2026-01-10T09:30:00Z" and usage["usageType"] == "voice"
    parties = {p["role"]: p for p in usage["relatedParty"]}
    assert parties["billingAccount"]["id"] == setup["account"]["id"]
    assert parties["customer"]["id"] == setup["person"]["id"]
    assert parties["customer"]["@referredType"] == "Individual"
    [rated] = usage["ratedProductUsage"]
    assert rated["productRef"]["id"] == setup["product"]["id"]
    assert rated["usageRatingTag"] == "usage" and rated["isBilled"] is False
    # 130 s at 0.10 EUR per minute, at full precision (not rounded to cents)
    amount = Decimal(str(rated["taxExcludedRatingAmount"]["value"]))
    assert round(amount, 12) == Decimal("0.216666666667")
    assert rated["taxExcludedRatingAmount"]["unit"] == "EUR"
    assert rated["billingPeriod"] == {"startDateTime": "2026-01-01T00:00:00Z",
                                      "endDateTime": "2026-02-01T00:00:00Z"}
    got = _ok(client.get(f"{USAGE}/{usage['id']}", headers=sandbox.headers("read_only")), 200)
    assert got == usage
