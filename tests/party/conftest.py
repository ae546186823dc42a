"""Helpers of the party tests: validation against the official TMF v4 Swagger schemas
and small factories that create resources through HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tmf_schema import assert_valid

SPEC_FILES = {
    "TMF632": "TMF632-PartyManagement-v4.0.0.swagger.json",
    "TMF629": "TMF629-CustomerManagement-v4.0.0.swagger.json",
    "TMF666": "TMF666-AccountManagement-v4.0.0.swagger.json",
}
PARTY = "/tmf-api/partyManagement/v4"
CUSTOMER = "/tmf-api/customerManagement/v4/customer"
ACCOUNTS = "/tmf-api/accountManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}


def assert_tmf(spec: str, definition: str, doc: Any) -> None:
    """Fail with every schema error of ``doc`` against ``spec``'s ``definition``."""
    assert_valid(SPEC_FILES[spec], definition, doc)


@pytest.fixture
def tmf() -> Callable[[str, str, Any], None]:
    return assert_tmf


def individual_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "givenName": "Erika",
        "familyName": "Mustermann",
        "birthDate": "1984-08-12",
        "contactMedium": [
            {"mediumType": "email", "preferred": True,
             "characteristic": {"emailAddress": "Erika.Mustermann@example.de"}},
            {"mediumType": "mobile",
             "characteristic": {"phoneNumber": "0151 23456789", "country": "DE"}},
            {"mediumType": "postalAddress",
             "characteristic": {"street1": "Heidestraße 17", "city": "Köln",
                                "postCode": "51147", "country": "DEU",
                                "stateOrProvince": "NW"}},
        ],
        "individualIdentification": [
            {"identificationType": "passport", "identificationId": "C01X00T47",
             "issuingAuthority": "DE"},
        ],
    }
    body.update(extra)
    return body


@pytest.fixture
def make_individual(client) -> Callable[..., dict[str, Any]]:  # type: ignore[no-untyped-def]
    def make(tenant: Any, **extra: Any) -> dict[str, Any]:
        r = client.post(f"{PARTY}/individual", json=individual_body(**extra),
                        headers=tenant.headers("care_agent"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]
    return make


@pytest.fixture
def make_organization(client) -> Callable[..., dict[str, Any]]:  # type: ignore[no-untyped-def]
    def make(tenant: Any, **extra: Any) -> dict[str, Any]:
        body = {"tradingName": "Nordwind Logistik GmbH", "isLegalEntity": True,
                "organizationIdentification": [
                    {"identificationType": "VAT", "identificationId": "DE136695976",
                     "issuingAuthority": "DE"}],
                **extra}
        r = client.post(f"{PARTY}/organization", json=body,
                        headers=tenant.headers("sales_agent"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]
    return make


@pytest.fixture
def make_customer(client, make_individual):  # type: ignore[no-untyped-def]
    def make(tenant: Any, party: dict[str, Any] | None = None,
             **extra: Any) -> dict[str, Any]:
        party = party or make_individual(tenant)
        body = {"name": party.get("tradingName") or party["givenName"],
                "engagedParty": {"id": party["id"], "@referredType": party["@type"]},
                **extra}
        r = client.post(CUSTOMER, json=body, headers=tenant.headers("sales_agent"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]
    return make


@pytest.fixture
def make_account(client, make_individual):  # type: ignore[no-untyped-def]
    def make(tenant: Any, owner: dict[str, Any] | None = None, kind: str = "billingAccount",
             **extra: Any) -> dict[str, Any]:
        owner = owner or make_individual(tenant)
        body = {"name": "Home", "currency": "EUR",
                "relatedParty": [{"id": owner["id"], "@referredType": owner["@type"],
                                  "role": "owner"}],
                **extra}
        r = client.post(f"{ACCOUNTS}/{kind}", json=body, headers=tenant.headers("billing_ops"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]
    return make
