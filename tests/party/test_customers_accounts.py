"""TMF629 customers and TMF666 billing/party accounts through HTTP: lifecycles,
hierarchy, extension fields, the balance read model and the close hooks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from openbss.core.db import unit_of_work
from openbss.core.models import AuditEntry, OutboxEvent
from openbss.core.money import Money
from openbss.party import hooks as party_hooks

CUSTOMER = "/tmf-api/customerManagement/v4/customer"
BA = "/tmf-api/accountManagement/v4/billingAccount"
PA = "/tmf-api/accountManagement/v4/partyAccount"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _events(tenant_id: str, prefix: str) -> list[str]:
    with unit_of_work() as s:
        return [e for e in s.scalars(select(OutboxEvent.event_type).where(
            OutboxEvent.tenant_id == tenant_id).order_by(OutboxEvent.event_time,
                                                         OutboxEvent.created_at))
                if e.startswith(prefix)]


def _actions(tenant_id: str, resource_id: str) -> list[str]:
    with unit_of_work() as s:
        return list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.tenant_id == tenant_id, AuditEntry.resource_id == resource_id
        ).order_by(AuditEntry.seq)))


def test_customer_lifecycle_is_guarded(client, tenant, tmf, make_individual, make_account):
    person = make_individual(tenant)
    account = make_account(tenant, person)
    body = {
        "name": "Erika Mustermann",
        "engagedParty": {"id": person["id"], "@referredType": "Individual"},
        "account": [{"id": account["id"], "name": "Home"}],
        "contactMedium": [{"mediumType": "phone",
                           "characteristic": {"phoneNumber": "+49 30 901820"}}],
        "creditProfile": [{"creditProfileDate": "2026-01-01T00:00:00Z", "creditScore": 720,
                           "creditRiskRating": 2,
                           "creditLimit": {"unit": "EUR", "value": 500},
                           "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}}],
        "characteristic": [{"name": "segment", "value": "consumer"}],
        "agreement": [{"id": "agr-1", "name": "Terms 2026"}],
    }
    r = client.post(CUSTOMER, json=body, headers=tenant.headers("sales_agent"))
    assert r.status_code == 201, r.text
    customer = r.json()
    tmf("TMF629", "Customer", customer)
    assert customer["status"] == "initialized"
    assert customer["engagedParty"]["href"].endswith(f"/individual/{person['id']}")
    assert customer["account"][0]["@referredType"] == "BillingAccount"
    assert customer["contactMedium"][0]["characteristic"]["phoneNumber"] == "+4930901820"
    cid = customer["id"]
    url = f"{CUSTOMER}/{cid}"
    h = tenant.headers("care_agent", **MERGE)
    r = client.patch(url, json={"status": "active"}, headers=h)
    assert r.status_code == 409
    assert "'initialized'" in r.json()["message"] and "'active'" in r.json()["message"]
    for status in ("validated", "active"):
        r = client.patch(url, json={"status": status}, headers=h)
        assert r.status_code == 200, r.text
        tmf("TMF629", "Customer", r.json())
    r = client.patch(url, json={"statusReason": "checked"}, headers=h)
    assert r.status_code == 200
    r = client.patch(url, json={"engagedParty": {"id": "someone-else"}}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "engagedParty.id"
    r = client.delete(url, headers=tenant.headers("care_agent"))
    assert r.status_code == 409  # active
    r = client.patch(url, json={"status": "closed"}, headers=h)
    assert r.status_code == 200
    r = client.patch(url, json={"status": "active"}, headers=h)
    assert r.status_code == 409 and "final state" in r.json()["message"]
    r = client.get(f"{CUSTOMER}?status=closed&engagedParty.id={person['id']}",
                   headers=tenant.headers("read_only"))
    assert [c["id"] for c in r.json()] == [cid]
    tmf("TMF629", "Customer", r.json())
    r = client.get(f"{CUSTOMER}?name=MUSTER", headers=tenant.headers("read_only"))
    assert [c["id"] for c in r.json()] == [cid]
    r = client.delete(url, headers=tenant.headers("care_agent"))
    assert r.status_code == 409 and account["id"] in r.json()["message"]
    assert client.delete(f"{BA}/{account['id']}", headers=tenant.headers()).status_code == 204
    assert client.delete(url, headers=tenant.headers("care_agent")).status_code == 204
    assert _actions(tenant.id, cid) == ["create", "state", "state", "update", "state",
                                        "delete"]
    assert _events(tenant.id, "Customer") == [
        "CustomerCreateEvent", "CustomerStateChangeEvent", "CustomerStateChangeEvent",
        "CustomerAttributeValueChangeEvent", "CustomerStateChangeEvent",
        "CustomerDeleteEvent"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x"}, "engagedParty"),
    ({"name": "x", "engagedParty": {"id": "missing", "@referredType": "Individual"}},
     "engagedParty.id"),
    ({"name": "x", "engagedParty": {"id": "P", "@referredType": "Individual"},
      "status": "closed"}, "status"),
    ({"name": "x", "engagedParty": {"id": "P", "@referredType": "Individual"},
      "account": [{"id": "nope", "name": "n"}]}, "account[0].id"),
    ({"name": "x", "engagedParty": {"id": "P", "@referredType": "Individual"},
      "creditProfile": [{"creditProfileDate": "2026-01-01T00:00:00Z", "validFor": {},
                         "creditLimit": {"unit": "XXY", "value": 1}}]},
     "creditProfile[0].creditLimit.unit"),
    ({"name": "x", "engagedParty": {"id": "P", "@referredType": "Individual"},
      "contactMedium": [{"mediumType": "email", "characteristic": {"emailAddress": "@"}}]},
     "contactMedium[0].characteristic.emailAddress"),
])
def test_invalid_customers(client, tenant, make_individual, body, field):
    person = make_individual(tenant)
    if "engagedParty" in body and body["engagedParty"]["id"] == "P":
        body = {**body, "engagedParty": {**body["engagedParty"], "id": person["id"]}}
    r = client.post(CUSTOMER, json=body, headers=tenant.headers("sales_agent"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_billing_account_extensions_hierarchy_and_balance(client, tenant, tmf,
                                                          make_organization, make_customer):
    org = make_organization(tenant)
    customer = make_customer(tenant, org)
    h = tenant.headers("billing_ops")
    parent_body = {
        "name": "Nordwind HQ",
        "accountType": "business",
        "currency": "EUR",
        "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "owner"}],
        "billStructure": {
            "cycleSpecification": {"frequency": "monthly", "anchorDay": 31,
                                   "alignment": "calendar", "timeZone": "Europe/Berlin"},
            "presentationMedia": [{"name": "email"}, {"name": "pdf"}],
            "format": {"name": "detailed"},
            "locale": "de-DE",
        },
        "paymentTerms": {"dueDays": 30},
        "creditLimit": {"unit": "EUR", "value": 10000.5},
        "taxIdentification": {"identificationId": "DE 136 695 976", "issuingAuthority": "DE"},
        "taxExemption": [{"issuingJurisdiction": "US-CA", "reason": "reseller"}],
        "contact": [{"contactType": "billing", "contactName": "Accounts payable",
                     "contactMedium": [{"mediumType": "email", "characteristic": {
                         "emailAddress": "ap@nordwind.example"}}]}],
        "paymentPlan": [{"numberOfPayments": 2, "totalAmount": {"unit": "EUR", "value": 99}}],
    }
    r = client.post(BA, json=parent_body, headers=h)
    assert r.status_code == 201, r.text
    parent = r.json()
    tmf("TMF666", "BillingAccount", parent)
    assert parent["state"] == "active" and parent["paidByParent"] is False
    assert parent["paymentTerms"] == {"name": "net 30", "dueDays": 30}
    assert parent["billStructure"]["cycleSpecification"]["name"] == "monthly calendar"
    assert parent["billStructure"]["cycleSpecification"]["isRef"] is False
    assert parent["taxIdentification"]["identificationId"] == "DE136695976"
    assert parent["creditLimit"] == {"unit": "EUR", "value": 10000.5}
    assert parent["accountBalance"][0]["amount"] == {"unit": "EUR", "value": 0}
    assert parent["relatedParty"][0]["href"].endswith(f"/customer/{customer['id']}")

    def child(name: str, **extra: object) -> dict:
        body = {"name": name, "currency": "EUR",
                "relatedParty": [{"id": org["id"], "@referredType": "Organization"}],
                "accountRelationship": [{"relationshipType": "parent",
                                         "account": {"id": parent["id"]}}], **extra}
        r = client.post(BA, json=body, headers=h)
        assert r.status_code == 201, r.text
        tmf("TMF666", "BillingAccount", r.json())
        return r.json()

    paid = child("Branch Hamburg", paidByParent=True)
    own = child("Branch Munich")
    assert paid["paidByParent"] is True and own["paidByParent"] is False
    assert paid["accountRelationship"][0]["account"]["name"] == "Nordwind HQ"
    r = client.get(f"{BA}/{parent['id']}", headers=tenant.headers("finance"))
    rels = r.json()["accountRelationship"]
    assert [(x["relationshipType"], x["account"]["id"]) for x in rels] == [
        ("child", paid["id"]), ("child", own["id"])]
    tmf("TMF666", "BillingAccount", r.json())
    r = client.get(f"{BA}?parentId={parent['id']}&paidByParent=true", headers=h)
    assert [a["id"] for a in r.json()] == [paid["id"]]
    tmf("TMF666", "BillingAccount", r.json())

    # a cycle is refused; so is a parent in another currency for a paid child
    r = client.patch(f"{BA}/{parent['id']}", headers=tenant.headers("billing_ops", **MERGE),
                     json={"accountRelationship": [{"relationshipType": "parent",
                                                    "account": {"id": paid["id"]}}]})
    assert r.status_code == 422 and "cycle" in r.json()["message"]
    assert r.json()["field"] == "accountRelationship[0].account.id"
    r = client.post(BA, headers=h, json={
        "name": "USD child", "currency": "USD", "paidByParent": True,
        "relatedParty": [{"id": org["id"], "@referredType": "Organization"}],
        "accountRelationship": [{"relationshipType": "parent", "account": {"id": parent["id"]}}]})
    assert r.status_code == 422 and r.json()["field"] == "paidByParent"

    # closing: children first; the parent then closes; closed is final
    r = client.patch(f"{BA}/{parent['id']}", json={"state": "closed"},
                     headers=tenant.headers("billing_ops", **MERGE))
    assert r.status_code == 409 and "child accounts" in r.json()["message"]
    for acc in (paid, own):
        r = client.patch(f"{BA}/{acc['id']}", json={"state": "closed"},
                         headers=tenant.headers("billing_ops", **MERGE))
        assert r.status_code == 200, r.text
    r = client.patch(f"{BA}/{parent['id']}", json={"state": "closed"},
                     headers=tenant.headers("billing_ops", **MERGE))
    assert r.status_code == 200
    r = client.patch(f"{BA}/{parent['id']}", json={"state": "active"},
                     headers=tenant.headers("billing_ops", **MERGE))
    assert r.status_code == 409 and "'closed'" in r.json()["message"]
    assert _events(tenant.id, "BillingAccount") == [
        "BillingAccountCreateEvent"] * 3 + ["BillingAccountStateChangeEvent"] * 3
    assert _actions(tenant.id, parent["id"]) == ["create", "state"]


@pytest.mark.parametrize(("extra", "field"), [
    ({"currency": "EURO"}, "currency"),
    ({"currency": "XYZ"}, "currency"),
    ({"creditLimit": {"unit": "USD", "value": 1}}, "creditLimit.unit"),
    ({"relatedParty": []}, "relatedParty"),
    ({"relatedParty": [{"id": "x", "@referredType": "PartnerThing"}]}, "relatedParty"),
    ({"relatedParty": [{"id": "missing", "@referredType": "Individual"}]},
     "relatedParty[0].id"),
    ({"paidByParent": True}, "paidByParent"),
    ({"accountRelationship": [{"relationshipType": "parent", "account": {"id": "nope"}}]},
     "accountRelationship[0].account.id"),
    ({"billStructure": {"cycleSpecification": {"timeZone": "Mars/Olympus"}}},
     "billStructure.cycleSpecification.timeZone"),
    ({"billStructure": {"cycleSpecification": {"anchorDay": 32}}},
     "billStructure.cycleSpecification.anchorDay"),
    ({"billStructure": {"cycleSpecification": {"frequency": "hourly"}}},
     "billStructure.cycleSpecification.frequency"),
    ({"billStructure": {"presentationMedia": [{"name": ""}]}},
     "billStructure.presentationMedia[0].name"),
    ({"billStructure": {"locale": "xx-QQ-nonsense"}}, "billStructure.locale"),
    ({"paymentTerms": {"dueDays": -1}}, "paymentTerms.dueDays"),
    ({"taxIdentification": {"identificationId": "DE136695970"}},
     "taxIdentification.identificationId"),
    ({"taxExemption": [{"issuingJurisdiction": "Narnia"}]},
     "taxExemption[0].issuingJurisdiction"),
    ({"accountBalance": "lots"}, "accountBalance"),
    ({"state": "closed"}, "state"),
    ({"contact": [{"contactType": "billing", "contactMedium": [
        {"mediumType": "phone", "characteristic": {"phoneNumber": "1"}}]}]},
     "contact[0].contactMedium[0].characteristic.phoneNumber"),
])
def test_invalid_billing_accounts(client, tenant, make_individual, extra, field):
    person = make_individual(tenant)
    body = {"name": "Home", "currency": "EUR",
            "relatedParty": [{"id": person["id"], "@referredType": "Individual"}], **extra}
    r = client.post(BA, json=body, headers=tenant.headers("billing_ops"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.json()


def test_close_and_delete_refused_by_hooks(client, tenant, make_account):
    account = make_account(tenant)
    url = f"{BA}/{account['id']}"

    def owes(ctx, acc):
        return Money(Decimal("12.50"), acc.currency) if acc.id == account["id"] else None

    def subscriptions(ctx, acc):
        return "1 active subscription" if acc.id == account["id"] else None

    party_hooks.register_balance_provider(owes)
    party_hooks.register_close_check(subscriptions)
    try:
        r = client.get(url, headers=tenant.headers())
        assert r.json()["accountBalance"][0]["amount"] == {"unit": "EUR", "value": 12.5}
        r = client.patch(url, json={"state": "closed"}, headers=tenant.headers(**MERGE))
        assert r.status_code == 409
        assert "open balance of 12.50 EUR" in r.json()["message"]
        assert "1 active subscription" in r.json()["message"]
        assert client.delete(url, headers=tenant.headers()).status_code == 409
    finally:
        party_hooks.unregister_hook(owes)
        party_hooks.unregister_hook(subscriptions)
    r = client.patch(url, json={"state": "suspended"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 200
    r = client.patch(url, json={"currency": "USD"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 409 and r.json()["field"] == "currency"
    r = client.patch(url, json={"state": "closed"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 200


def test_party_account_and_roles(client, tenant, tmf, make_account):
    account = make_account(tenant, kind="partyAccount")
    tmf("TMF666", "PartyAccount", account)
    assert account["@type"] == "PartyAccount"
    assert client.get(f"{BA}/{account['id']}", headers=tenant.headers()).status_code == 404
    r = client.get(f"{PA}?state=active", headers=tenant.headers("read_only"))
    assert [a["id"] for a in r.json()] == [account["id"]]
    r = client.patch(f"{PA}/{account['id']}", json={"description": "x"},
                     headers=tenant.headers("finance", **MERGE))
    assert r.status_code == 403
    r = client.patch(f"{PA}/{account['id']}", json={"description": "x"},
                     headers=tenant.headers("billing_ops", **MERGE))
    assert r.status_code == 200 and r.json()["description"] == "x"
    assert _events(tenant.id, "PartyAccount") == ["PartyAccountCreateEvent",
                                                  "PartyAccountAttributeValueChangeEvent"]
    assert client.delete(f"{PA}/{account['id']}", headers=tenant.headers()).status_code == 204


def test_hub_listener_gets_party_events(client, tenant):
    r = client.post("/tmf-api/partyManagement/v4/hub",
                    json={"callback": "http://127.0.0.1:1/cb",
                          "query": "eventType=IndividualCreateEvent"},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    client.post("/tmf-api/partyManagement/v4/individual",
                json={"givenName": "Hub", "familyName": "Test"}, headers=tenant.headers())
    from openbss.core.models import EventDelivery

    with unit_of_work() as s:
        deliveries = s.scalars(select(EventDelivery).where(
            EventDelivery.tenant_id == tenant.id)).all()
        assert len(deliveries) == 1
        event = s.get(OutboxEvent, deliveries[0].event_id)
        assert event.event_type == "IndividualCreateEvent"
        from openbss.core.events import event_payload  # stored sealed: personal data

        assert event_payload(s, event)["event"]["individual"]["givenName"] == "Hub"


def test_a_closed_customer_cannot_be_changed(client, tenant, make_customer):
    customer = make_customer(tenant)
    url = f"/tmf-api/customerManagement/v4/customer/{customer['id']}"
    merge = tenant.headers(**{"Content-Type": "application/merge-patch+json"})
    assert client.patch(url, json={"status": "closed"}, headers=merge).status_code == 200
    r = client.patch(url, json={"name": "Reopened"}, headers=merge)
    assert r.status_code == 409 and r.json()["field"] == "status"
