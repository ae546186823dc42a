"""Helpers of the usage API tests: a tenant's priced mobile line, a call record."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openbss.core import jsonx

USAGE = "/tmf-api/usageManagement/v4/usage"
SPEC = "/tmf-api/usageManagement/v4/usageSpecification"
SWAGGER = "TMF635-UsageManagement-v4.0.0.swagger.json"
CATALOG = "/tmf-api/productCatalogManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
MSISDN = "+4915112345678"


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def line(client, tenant, msisdn: str = "0151 12345678", *,  # type: ignore[no-untyped-def]
         included_minutes: int | None = 10, price: str = "0.10") -> dict[str, Any]:
    """An account with one active mobile line (MSISDN) on an offering that prices voice
    per minute (``price`` EUR, ``included_minutes`` per month included)."""
    pop: dict[str, Any] = {"name": "Voice", "priceType": "usage", "usageType": "voice",
                           "unitOfMeasure": {"amount": 1, "units": "minute"},
                           "price": {"unit": "EUR", "value": Decimal(price)},
                           "lifecycleStatus": "Active"}
    if included_minutes is not None:
        pop["includedQuantity"] = {"amount": included_minutes, "units": "minute"}
    pop = _ok(client.post(f"{CATALOG}/productOfferingPrice", content=jsonx.dumps(pop),
                          headers=tenant.headers(**{"Content-Type": "application/json"})))
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
