"""Data protection through HTTP: the personal-data export and the anonymisation
round trip, refusals while balances or products are open, masking by role."""

from __future__ import annotations

from sqlalchemy import select

from openbss.core.db import unit_of_work
from openbss.core.models import AuditEntry, OutboxEvent
from openbss.core.money import Money
from openbss.party import hooks as party_hooks
from openbss.party.models import Party, PartySearchKey

PARTY = "/tmf-api/partyManagement/v4"
BA = "/tmf-api/accountManagement/v4/billingAccount"
CUSTOMER = "/tmf-api/customerManagement/v4/customer"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _person_with_holdings(client, tenant, make_individual, make_customer):
    person = make_individual(tenant)
    customer = make_customer(tenant, person, contactMedium=[
        {"mediumType": "email", "characteristic": {"emailAddress": "erika@example.de"}}])
    account = client.post(BA, headers=tenant.headers("billing_ops"), json={
        "name": "Erika's mobile", "currency": "EUR",
        "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "owner"}],
        "contact": [{"contactType": "primary", "contactName": "Erika Mustermann",
                     "contactMedium": [{"mediumType": "email", "characteristic": {
                         "emailAddress": "erika@example.de"}}]}],
        "taxIdentification": {"identificationId": "DE136695976"},
    }).json()
    return person, customer, account


def test_export_then_anonymize_round_trip(client, tenant, tmf, make_individual,
                                         make_customer, make_organization):
    person, customer, account = _person_with_holdings(client, tenant, make_individual,
                                                      make_customer)
    # an organization's account where the person is only a contact
    org = make_organization(tenant)
    business = client.post(BA, headers=tenant.headers("billing_ops"), json={
        "name": "Nordwind", "currency": "EUR",
        "relatedParty": [{"id": org["id"], "@referredType": "Organization"}],
        "contact": [
            {"contactType": "technical", "contactName": "Erika",
             "relatedParty": {"id": person["id"], "@referredType": "Individual"}},
            {"contactType": "billing", "contactName": "Accounts payable"}],
    }).json()
    pid = person["id"]

    r = client.get(f"/api/v1/parties/{pid}/personal-data", headers=tenant.headers("care_agent"))
    assert r.status_code == 200, r.text
    export = r.json()
    assert export["party"]["individualIdentification"][0]["identificationId"] == "C01X00T47"
    tmf("TMF632", "Individual", export["party"])
    assert [c["id"] for c in export["customer"]] == [customer["id"]]
    assert {a["id"] for a in export["account"]} == {account["id"], business["id"]}
    history = {(h["resourceType"], h["action"]) for h in export["contactHistory"]}
    assert {("individual", "create"), ("customer", "create"),
            ("billingAccount", "create")} <= history
    created = next(h for h in export["contactHistory"] if h["resourceType"] == "individual")
    assert created["after"]["individualIdentification"][0]["identificationId"] == "C01X00T47"
    # the auditor sees masked identifiers; other roles may not export
    r = client.get(f"/api/v1/parties/{pid}/personal-data", headers=tenant.headers("auditor"))
    assert r.json()["party"]["individualIdentification"][0]["identificationId"] == "*****0T47"
    for role in ("sales_agent", "read_only", "partner"):
        r = client.get(f"/api/v1/parties/{pid}/personal-data", headers=tenant.headers(role))
        assert r.status_code == 403, role

    # refused while an account has an open balance or active product
    def blocker(ctx, acc):
        return "2 active products" if acc.id == account["id"] else None

    party_hooks.register_close_check(blocker)
    try:
        r = client.post(f"/api/v1/parties/{pid}/anonymize", headers=tenant.headers("care_agent"))
        assert r.status_code == 409 and "2 active products" in r.json()["message"]
    finally:
        party_hooks.unregister_hook(blocker)
    r = client.post(f"/api/v1/parties/{pid}/anonymize", headers=tenant.headers("sales_agent"))
    assert r.status_code == 403

    r = client.post(f"/api/v1/parties/{pid}/anonymize", headers=tenant.headers("care_agent"))
    assert r.status_code == 200, r.text
    assert r.json()["identificationsErased"] is True
    assert set(r.json()["account"]) == {account["id"], business["id"]}

    after = client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers()).json()
    tmf("TMF632", "Individual", after)
    assert after["givenName"] == after["familyName"] == "Anonymized"
    assert after["anonymized"] is True
    for gone in ("contactMedium", "individualIdentification", "birthDate"):
        assert gone not in after
    cust = client.get(f"{CUSTOMER}/{customer['id']}", headers=tenant.headers()).json()
    tmf("TMF629", "Customer", cust)
    assert cust["name"] == "Anonymized customer" and "contactMedium" not in cust
    assert cust["engagedParty"] == {**customer["engagedParty"], "name": "Anonymized"}
    acc = client.get(f"{BA}/{account['id']}", headers=tenant.headers()).json()
    tmf("TMF666", "BillingAccount", acc)
    assert "contact" not in acc and "Erika" not in str(acc)
    assert acc["currency"] == "EUR" and acc["taxIdentification"]["identificationId"] \
        == "DE136695976" and acc["id"] == account["id"]
    biz = client.get(f"{BA}/{business['id']}", headers=tenant.headers()).json()
    assert biz["name"] == "Nordwind"
    assert [c["contactType"] for c in biz["contact"]] == ["billing"]

    # nothing left to find, nothing left to change, nothing to do twice
    for query in ("email=erika.mustermann@example.de", "phone=%2B4915123456789",
                  "identification=C01X00T47", "name=erika"):
        r = client.get(f"{PARTY}/individual?{query}", headers=tenant.headers())
        assert r.json() == [], query
    with unit_of_work() as s:
        assert s.scalars(select(PartySearchKey).where(PartySearchKey.party_id == pid)).all() == []
        row = s.get(Party, pid)
        assert "Mustermann" not in str(row.body) and row.country is None
        actions = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.tenant_id == tenant.id, AuditEntry.action == "anonymize")))
        assert len(actions) == 4  # individual, customer, two accounts
        anon_audit = s.scalars(select(AuditEntry).where(
            AuditEntry.resource_id == pid, AuditEntry.action == "anonymize")).one()
        assert "Erika" not in str(anon_audit.before) and "Erika" not in str(anon_audit.after)
        events = list(s.scalars(select(OutboxEvent.event_type).where(
            OutboxEvent.tenant_id == tenant.id)))
        assert "IndividualAttributeValueChangeEvent" in events
    r = client.patch(f"{PARTY}/individual/{pid}", json={"givenName": "Erika"},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 409
    r = client.post(f"/api/v1/parties/{pid}/anonymize", headers=tenant.headers("care_agent"))
    assert r.status_code == 409
    export = client.get(f"/api/v1/parties/{pid}/personal-data",
                        headers=tenant.headers("care_agent")).json()
    assert export["party"]["givenName"] == "Anonymized"
    # the audit log itself is append-only and still verifies
    r = client.get("/api/v1/audit?action=personalDataExport", headers=tenant.headers("auditor"))
    assert r.headers["X-Total-Count"] == "3"


def test_anonymize_refused_for_organizations_and_open_balances(client, tenant,
                                                               make_organization,
                                                               make_individual, make_account):
    org = make_organization(tenant)
    r = client.post(f"/api/v1/parties/{org['id']}/anonymize", headers=tenant.headers())
    assert r.status_code == 422
    person = make_individual(tenant)
    account = make_account(tenant, person)

    def owes(ctx, acc):
        return Money(5, "EUR") if acc.id == account["id"] else None

    party_hooks.register_balance_provider(owes)
    try:
        r = client.post(f"/api/v1/parties/{person['id']}/anonymize", headers=tenant.headers())
        assert r.status_code == 409 and "open balance of 5 EUR" in r.json()["message"]
    finally:
        party_hooks.unregister_hook(owes)
    r = client.get("/api/v1/parties/nope/personal-data", headers=tenant.headers())
    assert r.status_code == 404


def test_anonymize_shreds_the_audit_log_and_past_events(client, tenant, make_individual,
                                                         make_customer):
    from typer.testing import CliRunner

    from openbss.cli import app as cli

    person, customer, account = _person_with_holdings(client, tenant, make_individual,
                                                      make_customer)
    # readable while the person exists: auditors see what was written
    rows = client.get(f"/api/v1/audit?resourceId={customer['id']}",
                      headers=tenant.headers("auditor")).json()
    assert "erika@example.de" in str(rows[0]["after"])
    # ... but the database holds only ciphertext
    with unit_of_work() as session:
        stored = session.scalars(select(AuditEntry.after).where(
            AuditEntry.tenant_id == tenant.id, AuditEntry.resource_id == customer["id"])).all()
    assert stored and all("erika" not in str(s) and "@encrypted" in str(s) for s in stored)

    r = client.post(f"/api/v1/parties/{person['id']}/anonymize",
                    headers=tenant.headers("care_agent"))
    assert r.status_code == 200, r.text
    for resource_id in (person["id"], customer["id"], account["id"]):
        history = client.get(f"/api/v1/audit?resourceId={resource_id}",
                             headers=tenant.headers("auditor")).json()
        assert "erika" not in str(history).lower() and "Mustermann" not in str(history)
        before_erasure = [h for h in history if h["action"] != "anonymize"]
        assert any(h["after"] == {"@erased": True} for h in before_erasure)
    # the chain still verifies: shredding changes no stored row
    result = CliRunner().invoke(cli, ["audit", "verify", "--tenant", tenant.name])
    assert result.exit_code == 0, result.output
    # past events no longer carry the person's data
    with unit_of_work() as session:
        payloads = session.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.tenant_id == tenant.id)).all()
    assert payloads and "erika" not in str(payloads).lower()
    assert "Mustermann" not in str(payloads)


def test_masked_numbers_cannot_be_moved_or_merged(client, tenant, make_individual):
    person = make_individual(tenant, individualIdentification=[
        {"identificationId": "AB123456", "identificationType": "passport",
         "issuingAuthority": "DE"},
        {"identificationId": "CD123456", "identificationType": "passport",
         "issuingAuthority": "DE"}])
    url = f"{PARTY}/individual/{person['id']}"
    seen = client.get(url, headers=tenant.headers("sales_agent")).json()
    masked = seen["individualIdentification"]
    assert all("*" in i["identificationId"] for i in masked)
    # moving a masked number under another type would reveal it: refused
    moved = [{**masked[0], "identificationType": "VAT", "issuingAuthority": "US"}]
    r = client.patch(url, json={"individualIdentification": moved},
                     headers=tenant.headers("sales_agent", **MERGE))
    assert r.status_code == 422
    # sending both identical masks back keeps both numbers
    r = client.patch(url, json={"individualIdentification": masked},
                     headers=tenant.headers("sales_agent", **MERGE))
    assert r.status_code == 200, r.text
    full = client.get(url, headers=tenant.headers("care_agent")).json()
    assert sorted(i["identificationId"] for i in full["individualIdentification"]) == \
        ["AB123456", "CD123456"]


def test_anonymising_a_mentioned_person_leaves_others_records_alone(
        client, tenant, make_individual, make_customer):
    owner = make_individual(tenant, givenName="Otto")
    spouse = make_individual(tenant, givenName="Sina")
    customer = make_customer(tenant, owner, relatedParty=[
        {"id": spouse["id"], "@referredType": "Individual", "role": "spouse"}],
        contactMedium=[{"mediumType": "email",
                        "characteristic": {"emailAddress": "otto@example.de"}}])
    r = client.post(f"/api/v1/parties/{spouse['id']}/anonymize",
                    headers=tenant.headers("care_agent"))
    assert r.status_code == 200, r.text
    after = client.get(f"{CUSTOMER}/{customer['id']}", headers=tenant.headers()).json()
    assert after["contactMedium"][0]["characteristic"]["emailAddress"] == "otto@example.de"
    assert "Sina" not in str(after)
    history = client.get(f"/api/v1/audit?resourceId={customer['id']}",
                         headers=tenant.headers("auditor")).json()
    assert not any(h["after"] == {"@erased": True} for h in history)


def test_name_search_is_literal(client, tenant, make_individual):
    make_individual(tenant)
    for query in ("_", "%25"):
        r = client.get(f"{BA}?name={query}", headers=tenant.headers())
        assert r.status_code == 200 and r.json() == []
        r = client.get(f"{CUSTOMER}?name={query}", headers=tenant.headers())
        assert r.status_code == 200 and r.json() == []
