"""Who hears what: hub listeners belong to the key that registered them, receive only
what that key's current role may read (masked as a GET would mask it), and personal
event payloads are encrypted at rest."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

from openbss.core import audit, events
from openbss.core.config import get_settings
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.events import SIGNATURE_HEADER, event_payload, verify_signature
from openbss.core.models import ApiKey, HubSubscription, OutboxEvent, Tenant
from openbss.core.permissions import may_see_personal_data
from webhook_peer import Peer, peer
from webhook_peer import deliver as _deliver
from webhook_peer import deliveries as _deliveries

PARTY = "/tmf-api/partyManagement/v4"
MASK = "***"


def mask_contacts(resource: dict[str, Any], role: str) -> dict[str, Any]:
    """A stand-in for the party context's masking: contact details and birth date."""
    if may_see_personal_data(role):
        return resource
    for medium in resource.get("contactMedium") or []:
        characteristic = medium.get("characteristic") or {}
        for key in ("emailAddress", "phoneNumber"):
            if key in characteristic:
                characteristic[key] = MASK
    resource.pop("birthDate", None)
    return resource


@pytest.fixture
def party_filter(monkeypatch):
    """The party context's own view filter when it registers one, else the stand-in."""
    if "individual" not in events.VIEW_FILTERS:
        monkeypatch.setitem(events.VIEW_FILTERS, "individual", mask_contacts)
    return events.VIEW_FILTERS["individual"]


def _person(client, tenant, *, email: str | None = None,
            birth: str | None = None) -> tuple[dict[str, Any], str, str]:
    email = email or f"ada.{uuid.uuid4().hex[:10]}@example.org"
    national = f"0151 {uuid.uuid4().int % 10**8:08d}"
    body: dict[str, Any] = {
        "givenName": "Ada", "familyName": "Lovelace",
        "contactMedium": [
            {"mediumType": "email", "characteristic": {"emailAddress": email}},
            {"mediumType": "mobile",
             "characteristic": {"phoneNumber": national, "country": "DE"}}]}
    if birth:
        body["birthDate"] = birth
    r = client.post(f"{PARTY}/individual", json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json(), email, "+49" + national.replace(" ", "")[1:]


def _listen(client, tenant, role: str, target: Peer, query: str | None = None) -> dict:
    body: dict[str, Any] = {"callback": target.url}
    if query:
        body["query"] = query
    r = client.post(f"{PARTY}/hub", json=body, headers=tenant.headers(role))
    assert r.status_code == 201, r.text
    return r.json()




def _key_id(tenant, role: str) -> str:
    return tenant.keys[role].split("_")[1]


def _individuals(target: Peer) -> list[dict[str, Any]]:
    return [json.loads(body)["event"]["individual"] for _, _, body in target.received]


def test_a_role_that_may_not_read_an_api_cannot_listen_to_it(client, tenant):
    for api in ("partyManagement", "customerManagement", "accountManagement"):
        r = client.post(f"/tmf-api/{api}/v4/hub", json={"callback": "http://127.0.0.1:1/x"},
                        headers=tenant.headers("catalog_manager"))
        assert r.status_code == 403, (api, r.text)
        assert r.json()["@type"] == "Error" and r.json()["status"] == "403"
    with unit_of_work() as session:
        assert session.scalars(select(HubSubscription).where(
            HubSubscription.tenant_id == tenant.id)).all() == []
    r = client.post("/tmf-api/productCatalogManagement/v4/hub",
                    json={"callback": "http://127.0.0.1:1/x"},
                    headers=tenant.headers("catalog_manager"))
    assert r.status_code == 201


def test_listeners_remember_the_key_that_registered_them(client, tenant):
    hub = client.post(f"{PARTY}/hub", json={"callback": "http://127.0.0.1:1/x"},
                      headers=tenant.headers("finance")).json()
    with unit_of_work() as session:
        sub = session.get(HubSubscription, hub["id"])
        key = session.get(ApiKey, sub.owner_key_id)
        assert key.prefix == _key_id(tenant, "finance") and key.role == "finance"


def test_a_finance_listener_gets_personal_data_masked(client, tenant, party_filter):
    with peer() as admin_peer, peer() as finance_peer:
        _listen(client, tenant, "admin", admin_peer, "eventType=IndividualCreateEvent")
        hub = _listen(client, tenant, "finance", finance_peer,
                      "eventType=IndividualCreateEvent")
        person, email, phone = _person(client, tenant)
        assert _deliver() >= 2  # (deliveries of other tests may be due too)
    [clear] = _individuals(admin_peer)
    assert clear["id"] == person["id"]
    assert email in json.dumps(clear) and phone in json.dumps(clear)
    [(_, headers, body)] = finance_peer.received
    assert verify_signature(hub["secret"], headers[SIGNATURE_HEADER.lower()], body)
    masked = json.loads(body)["event"]["individual"]
    assert masked["id"] == person["id"] and masked["givenName"] == "Ada"
    assert email.encode() not in body and phone.encode() not in body
    assert phone[3:].encode() not in body
    # exactly what a GET by the same role shows
    as_get = client.get(f"{PARTY}/individual/{person['id']}",
                        headers=tenant.headers("finance")).json()
    assert masked.get("contactMedium") == as_get.get("contactMedium") or \
        party_filter is mask_contacts  # the stand-in is not the party's own masking
    assert masked.get("birthDate") == as_get.get("birthDate")


def test_a_personal_resource_without_a_view_filter_is_reduced_to_its_stub(
        client, tenant, monkeypatch):
    monkeypatch.delitem(events.VIEW_FILTERS, "individual", raising=False)
    with peer() as admin_peer, peer() as finance_peer:
        _listen(client, tenant, "admin", admin_peer)
        _listen(client, tenant, "finance", finance_peer)
        person, email, _ = _person(client, tenant)
        _deliver()
    [stub] = _individuals(finance_peer)
    assert stub == {"id": person["id"], "href": person["href"], "@type": "Individual",
                    "@masked": True}
    assert email in json.dumps(_individuals(admin_peer))


def test_hub_queries_match_the_owners_view_so_they_cannot_probe_masked_fields(
        client, tenant, monkeypatch):
    monkeypatch.setitem(events.VIEW_FILTERS, "individual", mask_contacts)
    with peer() as admin_peer, peer() as finance_peer:
        query = "eventType=IndividualCreateEvent&event.individual.birthDate=1815-12-10"
        _listen(client, tenant, "admin", admin_peer, query)
        _listen(client, tenant, "finance", finance_peer, query)
        _person(client, tenant, birth="1815-12-10")
        _deliver()
    assert len(admin_peer.received) == 1
    assert finance_peer.received == []  # finance cannot see birth dates, so no match


def test_revoking_the_owners_key_stops_its_listener(client, tenant, party_filter):
    with peer() as target:
        _listen(client, tenant, "finance", target)
        _person(client, tenant)  # queued while the key was valid
        with unit_of_work() as session:
            from openbss.core.service import revoke_api_key

            t = session.get(Tenant, tenant.id)
            revoke_api_key(system_context(session, t), key_id=_key_id(tenant, "finance"))
        _person(client, tenant)  # after the revocation: nothing is queued
        _deliver()
        assert target.received == []
    [d] = _deliveries(tenant.id)
    assert d.status == "dead" and d.attempts == 0
    assert d.last_error == "not sent: the API key that registered this listener was revoked"
    shown = client.get(f"/api/v1/eventDeliveries/{d.id}", headers=tenant.headers()).json()
    assert shown["lastError"] == d.last_error and shown["attempt"] == []


def test_the_owners_current_role_counts(client, tenant, party_filter):
    with peer() as target:
        _listen(client, tenant, "finance", target)
        _person(client, tenant)
        with unit_of_work() as session:
            session.execute(update(ApiKey).where(
                ApiKey.prefix == _key_id(tenant, "finance")).values(role="catalog_manager"))
        _deliver()
        assert target.received == []
    [d] = _deliveries(tenant.id)
    assert d.status == "dead"
    assert d.last_error == ("not sent: the role 'catalog_manager' of the key that registered "
                            "this listener may not read the partyManagement API")


def test_a_role_raised_after_registration_sees_data_in_clear(client, tenant, party_filter):
    with peer() as target:
        _listen(client, tenant, "finance", target)
        _, email, _ = _person(client, tenant)
        with unit_of_work() as session:
            session.execute(update(ApiKey).where(
                ApiKey.prefix == _key_id(tenant, "finance")).values(role="care_agent"))
        _deliver()
    assert email in json.dumps(_individuals(target))


def test_listeners_without_an_owner_get_the_read_only_view(client, tenant, party_filter):
    with peer() as target:
        with unit_of_work() as session:  # as registered before owners were recorded
            session.add(HubSubscription(tenant_id=tenant.id, api="partyManagement",
                                        callback=target.url, secret="s" * 24))
        person, email, phone = _person(client, tenant)
        _deliver()
    [(_, _, body)] = target.received
    assert json.loads(body)["event"]["individual"]["id"] == person["id"]
    assert email.encode() not in body and phone.encode() not in body


def _stored_texts(tenant_id: str) -> list[str]:
    """Every column of the event tables of a tenant, as the database stores them: read
    from the SQLite file itself with sqlite3, or from the PostgreSQL tables."""
    url = get_settings().database_url
    tables = {
        "outbox_event": "tenant_id = :t",
        "event_delivery": "tenant_id = :t",
        "hub_subscription": "tenant_id = :t",
        "delivery_attempt": "delivery_id IN (SELECT id FROM event_delivery "
                            "WHERE tenant_id = :t)",
    }
    texts: list[str] = []
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert path
        with sqlite3.connect(path) as raw:
            for table, where in tables.items():
                rows = raw.execute(f"SELECT * FROM {table} WHERE "
                                   + where.replace(":t", "?"), (tenant_id,)).fetchall()
                texts += [str(value) for row in rows for value in row]
    else:
        with unit_of_work() as session:
            for table, where in tables.items():
                rows = session.execute(text(f"SELECT CAST(t AS text) FROM {table} t "
                                            f"WHERE {where}"), {"t": tenant_id}).all()
                texts += [str(row[0]) for row in rows]
    return texts


def test_personal_event_payloads_are_encrypted_at_rest(client, tenant, party_filter):
    with peer() as target:
        _listen(client, tenant, "admin", target)
        person, email, phone = _person(client, tenant)
        patched = client.patch(f"{PARTY}/individual/{person['id']}",
                               json={"familyName": "King"},
                               headers=tenant.headers(
                                   **{"Content-Type": "application/merge-patch+json"}))
        assert patched.status_code == 200, patched.text
        _deliver()
    stored = _stored_texts(tenant.id)
    assert any("@encrypted" in value for value in stored)
    for secret in (email, phone, phone[3:], "Lovelace"):
        assert not any(secret in value for value in stored), secret
    with unit_of_work() as session:
        rows = list(session.scalars(select(OutboxEvent).where(
            OutboxEvent.tenant_id == tenant.id).order_by(OutboxEvent.created_at)))
        assert [r.event_type for r in rows] == ["IndividualCreateEvent",
                                                "IndividualAttributeValueChangeEvent"]
        opened = event_payload(session, rows[0])["event"]["individual"]
        assert opened["id"] == person["id"] and email in json.dumps(opened)
        assert rows[0].payload["event"]["individual"]["id"] == person["id"]  # stub in clear
    # the listener got it in clear (admin), decrypted by the worker
    assert [i["familyName"] for i in _individuals(target)] == ["Lovelace", "King"]


def test_shredded_events_are_delivered_as_an_erased_stub(client, tenant, party_filter):
    with peer() as target:
        _listen(client, tenant, "admin", target)
        person, email, _ = _person(client, tenant)
        with unit_of_work() as session:
            ctx = system_context(session, session.get(Tenant, tenant.id))
            assert audit.shred(ctx, resources=[("individual", person["id"])]) == 1
        with unit_of_work() as session:
            row = session.scalars(select(OutboxEvent).where(
                OutboxEvent.tenant_id == tenant.id)).one()
            assert event_payload(session, row)["event"]["individual"] == {
                "id": person["id"], "href": person["href"], "@type": "Individual",
                "@erased": True}
        _deliver()
    [(_, _, body)] = target.received
    assert json.loads(body)["event"]["individual"]["@erased"] is True
    assert email.encode() not in body


def test_an_anonymised_persons_pending_events_carry_the_redacted_form(client, tenant,
                                                                      party_filter):
    with peer() as target:
        _listen(client, tenant, "admin", target, "eventType=IndividualCreateEvent")
        person, email, _ = _person(client, tenant)
        r = client.post(f"/api/v1/parties/{person['id']}/anonymize", headers=tenant.headers())
        assert r.status_code == 200, r.text
        _deliver()
    [(_, _, body)] = target.received
    assert json.loads(body)["event"]["individual"] == {
        "id": person["id"], "href": person["href"], "@type": "Individual", "anonymized": True}
    assert email.encode() not in body


def test_listener_secrets_never_appear_in_audit_rows_or_delivery_views(client, make_tenant):
    sandbox = make_tenant(sandbox=True)
    chosen = "my-own-signing-secret-" + uuid.uuid4().hex
    with peer(answers=[(500, {})]) as target:
        made = client.post("/tmf-api/event/v4/hub",
                           json={"callback": target.url, "secret": chosen},
                           headers=sandbox.headers())
        generated = client.post("/tmf-api/event/v4/hub", json={"callback": target.url},
                                headers=sandbox.headers()).json()["secret"]
        assert made.json()["secret"] == chosen  # shown once, to the registrant
        client.post("/api/v1/testClock/advance", json={"days": 1},
                    headers=sandbox.headers()).raise_for_status()
        _deliver()
        signatures = [h[SIGNATURE_HEADER.lower()] for _, h, _ in target.received]
        client.delete(f"/tmf-api/event/v4/hub/{made.json()['id']}",
                      headers=sandbox.headers()).raise_for_status()
    assert len(signatures) == 2
    seen = [client.get("/api/v1/audit?limit=100", headers=sandbox.headers("auditor")).text]
    listing = client.get("/api/v1/eventDeliveries", headers=sandbox.headers("auditor"))
    seen.append(listing.text)
    seen += [client.get(f"/api/v1/eventDeliveries/{row['id']}",
                        headers=sandbox.headers("auditor")).text for row in listing.json()]
    with unit_of_work() as session:
        seen += [str(value) for row in session.execute(text(
            "SELECT before, after FROM audit_entry WHERE tenant_id = :t"),
            {"t": sandbox.id}).all() for value in row]
    for secret in (chosen, generated, *signatures):
        assert not any(secret in page for page in seen), secret
    assert "hub" in seen[0]  # the audit rows are there, without their secrets


def test_the_service_refuses_listeners_on_apis_the_role_may_not_read(tenant):
    """Defence in depth: the check holds for any caller of the service, not only the
    route's role guard."""
    from openbss.core.errors import PermissionDeniedError

    with unit_of_work() as session:
        ctx = system_context(session, session.get(Tenant, tenant.id))
        ctx.role = "catalog_manager"
        with pytest.raises(PermissionDeniedError):
            events.register_listener(ctx, api="partyManagement",
                                     callback="http://127.0.0.1:1/x", query=None, secret=None)
        ctx.role = "finance"
        sub = events.register_listener(ctx, api="partyManagement",
                                       callback="http://127.0.0.1:1/x", query=None, secret=None)
        assert sub.owner_key_id is None  # no key behind a system context


def test_a_listener_registered_mid_transaction_or_elsewhere_gets_the_next_events(tenant):
    """Whether an API has listeners is asked once per transaction (an order's fulfilment
    publishes several events): a listener registered in the same transaction, or by another
    one that committed before the next transaction, still gets the events after it."""
    from openbss.core.models import EventDelivery

    def deliveries_of(session, event_id):  # type: ignore[no-untyped-def]
        return session.scalars(select(EventDelivery.subscription_id).where(
            EventDelivery.event_id == event_id)).all()

    api, other_api = "productOrderingManagement", "customerBillManagement"
    with unit_of_work() as session:
        ctx = system_context(session, session.get(Tenant, tenant.id))
        before = events.publish(ctx, api=api, event_type="ProductOrderCreateEvent",
                                resource_name="productOrder", resource={"id": "o1"})
        sub = events.register_listener(ctx, api=api, callback="http://127.0.0.1:1/x",
                                       query=None, secret=None)
        after = events.publish(ctx, api=api, event_type="ProductOrderCreateEvent",
                               resource_name="productOrder", resource={"id": "o2"})
        assert deliveries_of(session, before.id) == []
        assert deliveries_of(session, after.id) == [sub.id]
        quiet = events.publish(ctx, api=other_api, event_type="CustomerBillCreateEvent",
                               resource_name="customerBill", resource={"id": "b1"})
        assert deliveries_of(session, quiet.id) == []
        session.commit()
        with unit_of_work() as elsewhere:  # another transaction registers on other_api
            other = events.register_listener(
                system_context(elsewhere, elsewhere.get(Tenant, tenant.id)), api=other_api,
                callback="http://127.0.0.1:1/y", query=None, secret=None)
            other_id = other.id
        ctx = system_context(session, session.get(Tenant, tenant.id))
        later = events.publish(ctx, api=other_api, event_type="CustomerBillCreateEvent",
                               resource_name="customerBill", resource={"id": "b2"})
        assert deliveries_of(session, later.id) == [other_id]
