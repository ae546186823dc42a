"""TMF632 individuals and organizations through HTTP: CRUD, validation errors naming
the field, search, masking and encryption of identifiers, audit rows and events."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openbss.core.db import unit_of_work
from openbss.core.models import AuditEntry, OutboxEvent
from openbss.party.models import Party, PartySearchKey

PARTY = "/tmf-api/partyManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _audit(tenant_id: str, resource_id: str) -> list[tuple[str, str]]:
    with unit_of_work() as s:
        rows = s.scalars(select(AuditEntry).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.resource_id == resource_id
        ).order_by(AuditEntry.seq))
        return [(r.action, r.resource_type) for r in rows]


def _events(tenant_id: str) -> list[str]:
    with unit_of_work() as s:
        return list(s.scalars(select(OutboxEvent.event_type).where(
            OutboxEvent.tenant_id == tenant_id).order_by(OutboxEvent.event_time,
                                                         OutboxEvent.created_at)))


def test_individual_crud_is_tmf_valid_audited_and_evented(client, tenant, tmf,
                                                          make_individual):
    created = make_individual(tenant)
    tmf("TMF632", "Individual", created)
    assert created["@type"] == "Individual"
    assert created["href"] == f"http://testserver{PARTY}/individual/{created['id']}"
    media = created["contactMedium"]
    assert media[0]["characteristic"]["emailAddress"] == "Erika.Mustermann@example.de"
    assert media[1]["characteristic"]["phoneNumber"] == "+4915123456789"
    assert media[2]["characteristic"]["country"] == "DE"
    assert media[2]["characteristic"]["stateOrProvince"] == "DE-NW"
    pid = created["id"]

    r = client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers("read_only"))
    assert r.status_code == 200
    tmf("TMF632", "Individual", r.json())

    r = client.patch(f"{PARTY}/individual/{pid}", json={"maritalStatus": "married"},
                     headers=tenant.headers("care_agent", **MERGE))
    assert r.status_code == 200, r.text
    assert r.json()["maritalStatus"] == "married"
    tmf("TMF632", "Individual", r.json())
    r = client.patch(f"{PARTY}/individual/{pid}", json={"status": "validated"},
                     headers=tenant.headers("care_agent"))  # application/json accepted too
    assert r.status_code == 200 and r.json()["status"] == "validated"

    r = client.get(f"{PARTY}/individual?fields=givenName", headers=tenant.headers())
    assert r.status_code == 200
    assert r.json() == [{"id": pid, "href": created["href"], "@type": "Individual",
                         "givenName": "Erika"}]
    assert r.headers["X-Total-Count"] == "1"

    r = client.delete(f"{PARTY}/individual/{pid}", headers=tenant.headers("care_agent"))
    assert r.status_code == 204
    assert client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers()).status_code == 404
    assert _audit(tenant.id, pid) == [("create", "individual"), ("update", "individual"),
                                      ("state", "individual"), ("delete", "individual")]
    assert _events(tenant.id) == ["IndividualCreateEvent",
                                  "IndividualAttributeValueChangeEvent",
                                  "IndividualStateChangeEvent", "IndividualDeleteEvent"]


def test_organization_crud_with_vat_and_company_ids(client, tenant, tmf, make_organization):
    org = make_organization(tenant, organizationIdentification=[
        {"identificationType": "VAT", "identificationId": "de 136 695 976",
         "issuingAuthority": "DE"},
        {"identificationType": "companyRegistration", "identificationId": "732 829 320",
         "issuingAuthority": "FR"},
    ])
    tmf("TMF632", "Organization", org)
    ids = [i["identificationId"] for i in org["organizationIdentification"]]
    assert ids == ["DE136695976", "732829320"]  # compact; companies are not masked
    oid = org["id"]
    r = client.patch(f"{PARTY}/organization/{oid}", json={"status": "closed"},
                     headers=tenant.headers("sales_agent", **MERGE))
    assert r.status_code == 200
    r = client.patch(f"{PARTY}/organization/{oid}", json={"status": "validated"},
                     headers=tenant.headers("sales_agent", **MERGE))
    assert r.status_code == 409
    assert "'closed'" in r.json()["message"] and "'validated'" in r.json()["message"]
    assert client.delete(f"{PARTY}/organization/{oid}",
                         headers=tenant.headers()).status_code == 204
    assert _events(tenant.id) == ["OrganizationCreateEvent", "OrganizationStateChangeEvent",
                                  "OrganizationDeleteEvent"]
    assert [a for a, _ in _audit(tenant.id, oid)] == ["create", "state", "delete"]
    # an individual id is not an organization
    ind = client.post(f"{PARTY}/individual", json={"givenName": "A", "familyName": "B"},
                      headers=tenant.headers()).json()
    assert client.get(f"{PARTY}/organization/{ind['id']}",
                      headers=tenant.headers()).status_code == 404


@pytest.mark.parametrize(("path", "body", "field"), [
    ("individual", {"givenName": "A"}, "familyName"),
    ("individual", {"givenName": "A", "familyName": "B", "shoeSize": 44}, "shoeSize"),
    ("individual", {"givenName": "A", "familyName": "B", "contactMedium": [
        {"mediumType": "email", "characteristic": {"emailAddress": "a@example.com"}},
        {"mediumType": "phone", "characteristic": {"phoneNumber": "12"}}]},
     "contactMedium[1].characteristic.phoneNumber"),
    ("individual", {"givenName": "A", "familyName": "B", "contactMedium": [
        {"mediumType": "email", "characteristic": {"emailAddress": "not-an-address"}}]},
     "contactMedium[0].characteristic.emailAddress"),
    ("individual", {"givenName": "A", "familyName": "B", "contactMedium": [
        {"mediumType": "email", "characteristic": {}}]},
     "contactMedium[0].characteristic.emailAddress"),
    ("individual", {"givenName": "A", "familyName": "B", "contactMedium": [
        {"mediumType": "postalAddress", "characteristic": {"country": "Atlantis"}}]},
     "contactMedium[0].characteristic.country"),
    ("individual", {"givenName": "A", "familyName": "B", "contactMedium": [
        {"mediumType": "postalAddress",
         "characteristic": {"country": "US", "stateOrProvince": "ZZ"}}]},
     "contactMedium[0].characteristic.stateOrProvince"),
    ("individual", {"givenName": "A", "familyName": "B", "individualIdentification": [
        {"identificationType": "nationalId", "identificationId": "8112289875",
         "issuingAuthority": "SE"}]},
     "individualIdentification[0].identificationId"),
    ("individual", {"givenName": "A", "familyName": "B", "status": "sleeping"}, "status"),
    ("organization", {"isLegalEntity": True}, "tradingName"),
    ("organization", {"tradingName": "X", "organizationIdentification": [
        {"identificationType": "VAT", "identificationId": "DE136695970",
         "issuingAuthority": "DE"}]}, "organizationIdentification[0].identificationId"),
    ("organization", {"tradingName": "X", "organizationIdentification": [
        {"identificationType": "VAT", "identificationId": "12345"}]},
     "organizationIdentification[0].identificationId"),
    ("organization", {"tradingName": "X", "organizationIdentification": [
        {"identificationType": "companyRegistration", "identificationId": "732829321",
         "issuingAuthority": "FR"}]}, "organizationIdentification[0].identificationId"),
    ("organization", {"tradingName": "X", "relatedParty": [
        {"id": "nope", "@referredType": "Individual"}]}, "relatedParty[0].id"),
])
def test_invalid_parties_answer_422_naming_the_field(client, tenant, path, body, field):
    r = client.post(f"{PARTY}/{path}", json=body, headers=tenant.headers("care_agent"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.json()
    assert r.json()["@type"] == "Error"


def test_national_format_uses_country_then_tenant_region(client, make_tenant):
    uk = make_tenant(region="GB")
    body = {"givenName": "Oliver", "familyName": "Smith", "contactMedium": [
        {"mediumType": "phone", "characteristic": {"phoneNumber": "020 7946 0958"}},
        {"mediumType": "phone", "characteristic": {"phoneNumber": "(201) 555-0123",
                                                   "country": "US"}}]}
    r = client.post(f"{PARTY}/individual", json=body, headers=uk.headers())
    assert r.status_code == 201, r.text
    phones = [m["characteristic"]["phoneNumber"] for m in r.json()["contactMedium"]]
    assert phones == ["+442079460958", "+12015550123"]
    us = make_tenant(region="US")
    r = client.post(f"{PARTY}/individual", json=body, headers=us.headers())
    assert r.status_code == 422  # 020 … is not a US number
    assert r.json()["field"] == "contactMedium[0].characteristic.phoneNumber"


def test_search_by_name_email_phone_and_identification_with_paging(client, make_tenant,
                                                                   make_individual):
    tenant = make_tenant(region="DE")  # national numbers in searches are read as German
    a = make_individual(tenant)
    b = make_individual(tenant, givenName="Max", familyName="Mustermann", contactMedium=[
        {"mediumType": "email", "characteristic": {"emailAddress": "max@example.de"}},
        {"mediumType": "phone", "characteristic": {"phoneNumber": "+49 30 901820"}}],
        individualIdentification=[{"identificationType": "nationalId",
                                   "identificationId": "T22000129", "issuingAuthority": "DE"}])
    make_individual(tenant, givenName="Jane", familyName="Doe", contactMedium=[],
                    individualIdentification=[])
    h = tenant.headers("sales_agent")

    def ids(query: str) -> list[str]:
        r = client.get(f"{PARTY}/individual?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()]

    assert ids("name=musterMANN") == sorted([a["id"], b["id"]],
                                            key=lambda i: "erika" if i == a["id"] else "max")
    assert ids("name=musterMANN&limit=1&offset=1") == [b["id"]]
    r = client.get(f"{PARTY}/individual?name=mustermann&limit=1", headers=h)
    assert r.headers["X-Total-Count"] == "2" and r.headers["X-Result-Count"] == "1"
    assert ids("email=ERIKA.mustermann@example.de") == [a["id"]]
    assert ids("phone=030%20901820") == [b["id"]]
    assert ids("phone=%2B49-30-901820") == [b["id"]]
    assert ids("phone=+4915123456789") == [a["id"]]  # unencoded '+' arrives as a space
    assert ids("identification=T22000129") == [b["id"]]
    assert ids("identification=c01x00t47") == [a["id"]]
    assert ids("identification=nothing") == []
    assert ids("status=initialized&sort=-name") == ids("sort=-name")
    r = client.get(f"{PARTY}/individual?phone=abc", headers=h)
    assert r.status_code == 400 and r.json()["field"] == "phone"
    r = client.get(f"{PARTY}/individual?shoeSize=44", headers=h)
    assert r.status_code == 400


def test_identifiers_are_encrypted_at_rest_and_masked_by_role(client, tenant,
                                                              make_individual):
    person = make_individual(tenant)
    pid = person["id"]
    assert person["individualIdentification"][0]["identificationId"] == "C01X00T47"
    with unit_of_work() as s:
        raw = s.get(Party, pid).body["individualIdentification"][0]["identificationId"]
        keys = list(s.scalars(select(PartySearchKey.value).where(
            PartySearchKey.party_id == pid, PartySearchKey.key_type == "identification")))
        audit_after = s.scalars(select(AuditEntry.after).where(
            AuditEntry.resource_id == pid)).first()
        event = s.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.tenant_id == tenant.id)).first()
    assert raw.startswith("enc:v2:") and "C01X00T47" not in raw
    assert keys and all("C01X00T47" not in k for k in keys)
    assert "C01X00T47" not in str(audit_after)
    assert "C01X00T47" not in str(event)
    for role, expected in [("admin", "C01X00T47"), ("care_agent", "C01X00T47"),
                           ("sales_agent", "*****0T47"), ("auditor", "*****0T47"),
                           ("read_only", "*****0T47")]:
        r = client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers(role))
        assert r.json()["individualIdentification"][0]["identificationId"] == expected, role
    # a sales agent sending back the masked value keeps the real number
    masked = client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers("sales_agent"))
    r = client.patch(f"{PARTY}/individual/{pid}", headers=tenant.headers("sales_agent", **MERGE),
                     json={"individualIdentification":
                           masked.json()["individualIdentification"], "gender": "female"})
    assert r.status_code == 200, r.text
    r = client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers("care_agent"))
    assert r.json()["individualIdentification"][0]["identificationId"] == "C01X00T47"
    r = client.patch(f"{PARTY}/individual/{pid}", headers=tenant.headers("sales_agent", **MERGE),
                     json={"individualIdentification": [
                         {"identificationType": "passport", "identificationId": "****1234"}]})
    assert r.status_code == 422
    assert r.json()["field"] == "individualIdentification[0].identificationId"


def test_roles_patch_media_type_and_referenced_party(client, tenant, make_individual,
                                                     make_customer):
    body = {"givenName": "A", "familyName": "B"}
    for role in ("read_only", "partner", "auditor", "finance"):
        r = client.post(f"{PARTY}/individual", json=body, headers=tenant.headers(role))
        assert r.status_code == 403, role
    r = client.get(f"{PARTY}/individual", headers=tenant.headers("partner"))
    assert r.status_code == 403
    person = make_individual(tenant)
    r = client.patch(f"{PARTY}/individual/{person['id']}", content=b"givenName=x",
                     headers=tenant.headers(**{"Content-Type": "text/plain"}))
    assert r.status_code == 415
    r = client.patch(f"{PARTY}/individual/{person['id']}", json={"id": "other"},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 422 and r.json()["field"] == "id"
    r = client.patch(f"{PARTY}/individual/{person['id']}", json={"familyName": None},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 422 and r.json()["field"] == "familyName"
    r = client.patch(f"{PARTY}/individual/{person['id']}", json=[1],
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 422
    make_customer(tenant, person)
    r = client.delete(f"{PARTY}/individual/{person['id']}", headers=tenant.headers())
    assert r.status_code == 409 and "customer" in r.json()["message"]
    r = client.delete(f"{PARTY}/individual/{person['id']}", headers=tenant.headers("sales_agent"))
    assert r.status_code == 403
    r = client.patch(f"{PARTY}/individual/{person['id']}", json={"status": "deceaded"},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 200
    r = client.patch(f"{PARTY}/individual/{person['id']}", json={"status": "validated"},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 409


def test_idempotent_create(client, tenant):
    headers = tenant.headers("care_agent", **{"Idempotency-Key": "party-1"})
    body = {"givenName": "Idem", "familyName": "Potent"}
    first = client.post(f"{PARTY}/individual", json=body, headers=headers)
    second = client.post(f"{PARTY}/individual", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    r = client.get(f"{PARTY}/individual?name=potent", headers=tenant.headers())
    assert r.headers["X-Total-Count"] == "1"
