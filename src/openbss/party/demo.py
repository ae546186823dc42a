"""Demo data of the party context: two consumers (Germany, United Kingdom) and a
business with a parent billing account and two child accounts, one paid by the parent.

Idempotent: each demo party is recognised by its ``externalReference`` (type
``openbss-demo``) and nothing is created twice.
"""

from __future__ import annotations

from typing import Any

from openbss.core.context import Context
from openbss.party import accounts, customers, parties, queries, schemas
from openbss.party.models import Account, Customer, Party

DEMO_REF = "openbss-demo"


def _existing(ctx: Context, key: str) -> Party | None:
    for row in queries.parties(ctx):
        for ref in row.body.get("externalReference") or []:
            if ref.get("externalReferenceType") == DEMO_REF and ref.get("name") == key:
                return row
    return None


def _customer(ctx: Context, party: Party, name: str) -> Customer:
    row = queries.customer_of_party(ctx, party.id)
    if row is not None:
        return row
    ref = {"id": party.id, "@referredType": parties.TYPE_NAMES[party.kind]}
    return customers.create_customer(ctx, data=schemas.Customer.model_validate(
        {"name": name, "status": "active", "engagedParty": ref}))


def _account(ctx: Context, body: dict[str, Any]) -> Account:
    row = queries.account_named(ctx, body["name"])
    if row is not None:
        return row
    return accounts.create_account(ctx, kind="billingAccount",
                                   data=schemas.Account.model_validate(body))


def _party(ctx: Context, key: str, kind: str, body: dict[str, Any]) -> tuple[Party, bool]:
    found = _existing(ctx, key)
    if found is not None:
        return found, False
    body["externalReference"] = [{"externalReferenceType": DEMO_REF, "name": key}]
    model: schemas.Individual | schemas.Organization = (
        schemas.Individual.model_validate(body) if kind == "individual"
        else schemas.Organization.model_validate(body))
    return parties.create_party(ctx, kind=kind, data=model), True


def _cycle(tz: str, locale: str, media: str) -> dict[str, Any]:
    return {"cycleSpecification": {"frequency": "monthly", "anchorDay": 1,
                                   "alignment": "calendar", "timeZone": tz},
            "presentationMedia": [{"name": media}], "locale": locale}


def load(ctx: Context) -> list[str]:
    """Create this context's demo data unless it exists; return summary lines."""
    lines: list[str] = []
    consumers = [
        ("de-consumer", "Lena", "Schneider", "Europe/Berlin", "de-DE", "EUR", {
            "contactMedium": [
                {"mediumType": "email", "preferred": True,
                 "characteristic": {"emailAddress": "lena.schneider@example.de"}},
                {"mediumType": "mobile", "characteristic": {"phoneNumber": "0151 23456789",
                                                            "country": "DE"}},
                {"mediumType": "postalAddress", "characteristic": {
                    "street1": "Torstraße 12", "city": "Berlin", "postCode": "10119",
                    "country": "DE", "stateOrProvince": "BE"}}],
            "individualIdentification": [{"identificationType": "passport",
                                          "identificationId": "C01X00T47",
                                          "issuingAuthority": "DE"}]}),
        ("gb-consumer", "Oliver", "Bennett", "Europe/London", "en-GB", "GBP", {
            "contactMedium": [
                {"mediumType": "email", "preferred": True,
                 "characteristic": {"emailAddress": "oliver.bennett@example.co.uk"}},
                {"mediumType": "mobile", "characteristic": {"phoneNumber": "020 7946 0958",
                                                            "country": "GB"}},
                {"mediumType": "postalAddress", "characteristic": {
                    "street1": "221B Baker Street", "city": "London", "postCode": "NW1 6XE",
                    "country": "GB", "stateOrProvince": "GB-WSM"}}],
            "individualIdentification": [{"identificationType": "passport",
                                          "identificationId": "533401372",
                                          "issuingAuthority": "GB"}]}),
    ]
    for key, given, family, tz, locale, currency, extra in consumers:
        person, created = _party(ctx, key, "individual",
                                 {"givenName": given, "familyName": family,
                                  "status": "validated", **extra})
        customer = _customer(ctx, person, f"{given} {family}")
        _account(ctx, {
            "name": f"{given} {family} — mobile", "currency": currency,
            "accountType": "consumer",
            "relatedParty": [{"id": customer.id, "@referredType": "Customer",
                              "role": "owner"}],
            "billStructure": _cycle(tz, locale, "email"),
            "paymentTerms": {"dueDays": 14}})
        lines.append(f"party: consumer {given} {family} "
                     + ("created" if created else "ready"))

    org, created = _party(ctx, "de-business", "organization", {
        "tradingName": "Nordwind Logistik GmbH", "name": "Nordwind Logistik GmbH",
        "isLegalEntity": True, "organizationType": "company", "status": "validated",
        "organizationIdentification": [{"identificationType": "VAT",
                                        "identificationId": "DE136695976",
                                        "issuingAuthority": "DE"}],
        "contactMedium": [
            {"mediumType": "email", "characteristic": {"emailAddress": "billing@nordwind.example"}},
            {"mediumType": "phone", "characteristic": {"phoneNumber": "+49 40 30051000"}},
            {"mediumType": "postalAddress", "characteristic": {
                "street1": "Am Sandtorkai 50", "city": "Hamburg", "postCode": "20457",
                "country": "DE", "stateOrProvince": "HH"}}]})
    customer = _customer(ctx, org, "Nordwind Logistik GmbH")
    owner = [{"id": customer.id, "@referredType": "Customer", "role": "owner"}]
    parent = _account(ctx, {
        "name": "Nordwind Logistik — headquarters", "currency": "EUR",
        "accountType": "business", "relatedParty": owner,
        "billStructure": _cycle("Europe/Berlin", "de-DE", "pdf"),
        "paymentTerms": {"dueDays": 30}, "creditLimit": {"unit": "EUR", "value": 25000},
        "taxIdentification": {"identificationId": "DE136695976"}})
    for name, paid in (("Nordwind Logistik — Hamburg depot", True),
                       ("Nordwind Logistik — Munich depot", False)):
        _account(ctx, {
            "name": name, "currency": "EUR", "accountType": "business",
            "relatedParty": owner, "paidByParent": paid,
            "accountRelationship": [{"relationshipType": "parent",
                                     "account": {"id": parent.id}}],
            "billStructure": _cycle("Europe/Berlin", "de-DE", "pdf"),
            "paymentTerms": {"dueDays": 30}})
    lines.append("party: business Nordwind Logistik GmbH with a parent and two child "
                 "accounts " + ("created" if created else "ready"))
    return lines
