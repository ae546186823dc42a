"""TMF666 v4 BillingAccount_Create needs only name and relatedParty: the currency comes from
the tenant; balances are exact; the demo tenant speaks German phone numbers."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from openbss.core import events
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.models import OutboxEvent, Tenant
from openbss.core.money import Money
from openbss.demo import load_demo
from openbss.party import hooks as party_hooks

PARTY = "/tmf-api/partyManagement/v4"
ACCOUNTS = "/tmf-api/accountManagement/v4"


def _minimal(owner_id: str) -> dict[str, object]:
    return {"name": "Minimal", "relatedParty": [
        {"id": owner_id, "@referredType": "Individual"}]}


def test_minimal_billing_account_takes_the_tenant_currency(client, make_tenant,
                                                           make_individual, tmf):
    for currency in ("EUR", "CHF"):
        tenant = make_tenant()
        with unit_of_work() as s:
            s.get(Tenant, tenant.id).default_currency = currency
        owner = make_individual(tenant)
        r = client.post(f"{ACCOUNTS}/billingAccount", json=_minimal(owner["id"]),
                        headers=tenant.headers())
        assert r.status_code == 201, r.text
        assert r.json()["currency"] == currency
        assert r.json()["accountBalance"][0]["amount"]["unit"] == currency
        tmf("TMF666", "BillingAccount", r.json())


def test_an_explicit_currency_extension_still_wins_and_cannot_be_removed(
        client, tenant, make_individual):
    owner = make_individual(tenant)
    r = client.post(f"{ACCOUNTS}/billingAccount", json={**_minimal(owner["id"]),
                                                       "currency": "GBP"},
                    headers=tenant.headers())
    assert r.status_code == 201 and r.json()["currency"] == "GBP"
    r = client.patch(f"{ACCOUNTS}/billingAccount/{r.json()['id']}", json={"currency": None},
                     headers=tenant.headers(**{"Content-Type": "application/merge-patch+json"}))
    assert r.status_code == 409 and r.json()["field"] == "currency"


def test_the_balance_is_exact_in_responses_and_events(client, tenant, make_individual):
    owner = make_individual(tenant)
    owed = Decimal("0.10000000000000000001")  # a float would print 0.1

    def provider(ctx, account):  # type: ignore[no-untyped-def]
        return Money(owed, account.currency) if ctx.tenant_id == tenant.id else None

    party_hooks.register_balance_provider(provider)
    try:
        r = client.post(f"{ACCOUNTS}/billingAccount", json=_minimal(owner["id"]),
                        headers=tenant.headers())
        assert r.status_code == 201, r.text
        assert '"value":0.10000000000000000001' in r.text.replace(" ", "")
        got = client.get(f"{ACCOUNTS}/billingAccount/{r.json()['id']}", headers=tenant.headers())
        assert '"value":0.10000000000000000001' in got.text.replace(" ", "")
        with unit_of_work() as s:
            event = s.scalars(select(OutboxEvent).where(
                OutboxEvent.tenant_id == tenant.id,
                OutboxEvent.event_type == "BillingAccountCreateEvent")).first()
            assert event is not None
            payload = events.event_payload(s, event)  # personal payloads are sealed at rest
        balance = payload["event"]["billingAccount"]["accountBalance"][0]["amount"]["value"]
        assert balance == owed and isinstance(balance, Decimal)
    finally:
        party_hooks._balance_providers.remove(provider)


def test_demo_sets_a_fresh_tenant_to_german_numbers_and_euros(client, make_tenant):
    tenant = make_tenant(region="US")
    lines = load_demo(tenant.name)
    assert any("phone region DE, currency EUR" in line for line in lines)
    with unit_of_work() as s:
        row = s.get(Tenant, tenant.id)
        assert (row.default_region, row.default_currency) == ("DE", "EUR")
    # the national format of a demo number finds its person
    r = client.get(f"{PARTY}/individual", params={"phone": "0151 23456789"},
                   headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert [p["familyName"] for p in r.json()] == ["Schneider"]
    assert all("phone region" not in line for line in load_demo(tenant.name))


def test_demo_keeps_the_region_of_a_tenant_that_has_parties(client, make_tenant,
                                                             make_individual):
    tenant = make_tenant(region="FR")
    make_individual(tenant)
    load_demo(tenant.name)
    with unit_of_work() as s:
        assert s.get(Tenant, tenant.id).default_region == "FR"
        ctx = system_context(s, s.get(Tenant, tenant.id))
        assert ctx.tenant.default_currency == "EUR"
