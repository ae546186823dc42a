"""The party context's business rules answer with their own error codes (every 409
naming its field), statuses follow the state machines of openbss.party.states, balances
are Money, and every change counts in row_version."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from openbss.core.db import unit_of_work
from openbss.core.errors import CurrencyMismatchError
from openbss.core.money import Money
from openbss.party import hooks
from openbss.party.errors import PartyReferenced
from openbss.party.models import Account, Customer, Party
from openbss.party.states import (
    ACCOUNT_STATES,
    CUSTOMER_STATES,
    INDIVIDUAL_STATES,
    ORGANIZATION_STATES,
    AccountState,
)

PARTY = "/tmf-api/partyManagement/v4"
CUSTOMER = "/tmf-api/customerManagement/v4/customer"
BA = "/tmf-api/accountManagement/v4/billingAccount"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _error(r: Any, status: int, code: str, field: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert (body["code"], body["field"]) == (code, field), body
    return body


def test_customer_rules_have_their_own_codes(client, tenant, make_customer, make_account):
    customer = make_customer(tenant)
    url = f"{CUSTOMER}/{customer['id']}"
    h = tenant.headers("care_agent", **MERGE)
    body = _error(client.patch(url, json={"status": "active"}, headers=h),
                  409, "invalid_transition", "status")
    assert body["details"] == [{"field": "status", "from": "initialized", "to": "active",
                                "allowed": ["closed", "validated"]}]
    _error(client.patch(url, json={"status": "archived"}, headers=h), 422, "invalid_value",
           "status")
    for status in ("validated", "active"):
        assert client.patch(url, json={"status": status}, headers=h).status_code == 200
    _error(client.delete(url, headers=tenant.headers("care_agent")), 409,
           "customer_not_deletable", "status")
    account = make_account(tenant, customer | {"@type": "Customer"})
    owes = _owing(account["id"], "EUR", "3.20")
    hooks.register_balance_provider(owes)
    try:
        body = _error(client.patch(url, json={"status": "closed"}, headers=h), 409,
                      "customer_not_closable", "status")
        assert body["details"] == [{"field": "status", "reason": f"billing account "
                                    f"{account['id']} has an open balance of 3.20 EUR"}]
    finally:
        hooks.unregister_hook(owes)
    assert client.patch(url, json={"status": "closed"}, headers=h).status_code == 200
    _error(client.patch(url, json={"name": "New name"}, headers=h), 409, "customer_closed",
           "status")
    body = _error(client.delete(url, headers=tenant.headers("care_agent")), 409,
                  "customer_has_accounts", "account")
    assert body["details"] == [{"field": "account", "id": account["id"]}]


def _owing(account_id: str, currency: str, amount: str) -> Any:
    def owes(ctx: Any, acc: Account) -> Money | None:
        return Money(Decimal(amount), currency) if acc.id == account_id else None
    return owes


def test_account_rules_have_their_own_codes(client, tenant, make_individual, make_account):
    person = make_individual(tenant)
    h = tenant.headers("billing_ops", **MERGE)
    owner = [{"id": person["id"], "@referredType": "Individual"}]
    r = client.post(BA, json={"name": "x", "state": "closed", "relatedParty": owner},
                    headers=tenant.headers("billing_ops"))
    _error(r, 422, "created_final", "state")
    r = client.post(BA, json={"name": "x", "relatedParty": [
        {"id": "nobody", "@referredType": "Individual"}]}, headers=tenant.headers("billing_ops"))
    _error(r, 422, "unknown_reference", "relatedParty[0].id")
    parent = make_account(tenant, person)
    child = make_account(tenant, person, accountRelationship=[
        {"relationshipType": "parent", "account": {"id": parent["id"]}}])
    url = f"{BA}/{parent['id']}"
    _error(client.patch(url, json={"currency": "USD"}, headers=h), 409,
           "currency_immutable", "currency")
    body = _error(client.delete(url, headers=tenant.headers()), 409, "account_has_children",
                  "id")
    assert body["details"] == [{"field": "id", "child": child["id"]}]
    body = _error(client.patch(url, json={"state": "closed"}, headers=h), 409,
                  "account_not_closable", "state")
    assert child["id"] in body["details"][0]["reason"]
    owes = _owing(child["id"], "EUR", "0.01")
    hooks.register_balance_provider(owes)
    try:
        body = _error(client.delete(f"{BA}/{child['id']}", headers=tenant.headers()), 409,
                      "account_not_deletable", "id")
        assert "0.01 EUR" in body["details"][0]["reason"]
        got = client.get(f"{BA}/{child['id']}", headers=tenant.headers("read_only")).json()
        assert got["accountBalance"][0]["amount"] == {"unit": "EUR", "value": 0.01}
    finally:
        hooks.unregister_hook(owes)
    assert client.patch(f"{BA}/{child['id']}", json={"state": "closed"},
                        headers=h).status_code == 200
    assert client.patch(url, json={"state": "closed"}, headers=h).status_code == 200
    _error(client.patch(url, json={"state": "active"}, headers=h), 409,
           "invalid_transition", "state")
    _error(client.patch(url, json={"name": "renamed"}, headers=h), 409, "account_closed",
           "state")


def test_party_rules_have_their_own_codes(client, tenant, make_individual, make_customer):
    person = make_individual(tenant)
    url = f"{PARTY}/individual/{person['id']}"
    h = tenant.headers("care_agent", **MERGE)
    assert client.patch(url, json={"status": "deceaded"}, headers=h).status_code == 200
    body = _error(client.patch(url, json={"status": "validated"}, headers=h), 409,
                  "invalid_transition", "status")
    assert body["details"][0]["allowed"] == []
    customer = make_customer(tenant, person)
    body = _error(client.delete(url, headers=tenant.headers()), 409, "party_referenced",
                  "id")
    assert {"field": "id", "referencedBy": f"customer {customer['id']}"} in body["details"]

    other = make_individual(tenant)
    erase = f"/api/v1/parties/{other['id']}/anonymize"
    assert client.post(erase, headers=tenant.headers()).status_code == 200
    _error(client.post(erase, headers=tenant.headers()), 409, "party_already_anonymized",
           "id")
    _error(client.patch(f"{PARTY}/individual/{other['id']}", json={"givenName": "Back"},
                        headers=h), 409, "party_anonymized", "anonymized")


def test_erasure_blockers_are_listed(client, tenant, make_individual):
    person = make_individual(tenant)

    def dispute(ctx: Any, party: Party) -> str | None:
        return "an open dispute" if party.id == person["id"] else None

    hooks.register_erasure_check(dispute)
    try:
        r = client.post(f"/api/v1/parties/{person['id']}/anonymize", headers=tenant.headers())
        body = _error(r, 409, "party_not_erasable", "id")
        assert body["details"] == [{"field": "id", "reason": "an open dispute"}]
    finally:
        hooks.unregister_hook(dispute)


def test_every_409_names_its_field() -> None:
    err = PartyReferenced("individual x is referenced", field="id")
    assert (err.status, err.code, err.field) == (409, "party_referenced", "id")


def test_state_machines() -> None:
    assert ACCOUNT_STATES.allowed("closed") == frozenset()
    assert ACCOUNT_STATES.allowed("suspended") == {AccountState.ACTIVE, AccountState.CLOSED}
    assert CUSTOMER_STATES.can("validated", "active")
    assert not CUSTOMER_STATES.can("active", "validated")
    assert INDIVIDUAL_STATES.is_final("deceaded") and ORGANIZATION_STATES.is_final("closed")
    assert INDIVIDUAL_STATES.can("validated", "initialized")
    assert "SUSPENDED --> ACTIVE" in ACCOUNT_STATES.diagram()


def _account(currency: str = "EUR") -> Any:
    return SimpleNamespace(id="a1", currency=currency)


def test_the_balance_is_money_in_the_account_currency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "_balance_providers", [])  # only this test's providers
    def first(ctx: Any, acc: Any) -> Money:
        return Money("0.10000000000000000001", "EUR")

    def second(ctx: Any, acc: Any) -> Money:
        return Money("2", "EUR")

    for fn in (first, second):
        hooks.register_balance_provider(fn)
    try:
        total = hooks.account_balance(None, _account())  # type: ignore[arg-type]
        assert total == Money("2.10000000000000000001", "EUR")
        assert isinstance(total.amount, Decimal)
        with pytest.raises(CurrencyMismatchError) as exc:
            hooks.account_balance(None, _account("USD"))  # type: ignore[arg-type]
        assert exc.value.field == "accountBalance"
    finally:
        for fn in (first, second):
            hooks.unregister_hook(fn)
    assert hooks.account_balance(None, _account()) == Money(0, "EUR")  # type: ignore[arg-type]


def test_a_balance_provider_must_answer_money(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "_balance_providers", [])  # only this test's provider
    def bare(ctx: Any, acc: Any) -> Decimal:
        return Decimal(5)

    hooks.register_balance_provider(bare)  # type: ignore[arg-type]
    try:
        with pytest.raises(TypeError, match="Money"):
            hooks.account_balance(None, _account())  # type: ignore[arg-type]
    finally:
        hooks.unregister_hook(bare)


def test_changes_count_in_row_version(client, tenant, make_customer,
                                      make_account):
    customer = make_customer(tenant)
    account = make_account(tenant)
    h = tenant.headers("care_agent", **MERGE)
    assert client.patch(f"{CUSTOMER}/{customer['id']}", json={"status": "validated"},
                        headers=h).status_code == 200
    assert client.patch(f"{CUSTOMER}/{customer['id']}", json={"status": "validated"},
                        headers=h).status_code == 200  # no change, no count
    assert client.patch(f"{BA}/{account['id']}", json={"name": "Renamed"},
                        headers=tenant.headers("billing_ops", **MERGE)).status_code == 200
    with unit_of_work() as session:
        assert session.scalar(select(Customer.row_version)
                              .where(Customer.id == customer["id"])) == 2
        assert session.scalar(select(Account.row_version)
                              .where(Account.id == account["id"])) == 2
        party_id = customer["engagedParty"]["id"]
        assert session.scalar(select(Party.row_version).where(Party.id == party_id)) == 1


def test_docs_show_the_state_machines_and_every_error_code() -> None:
    from pathlib import Path

    from openbss.core.errors import OpenBSSError
    from openbss.party import errors

    doc = (Path(__file__).resolve().parents[2] / "docs" / "party.md").read_text()
    for machine in (INDIVIDUAL_STATES, ORGANIZATION_STATES, CUSTOMER_STATES, ACCOUNT_STATES):
        assert f"```mermaid\n{machine.diagram()}\n```" in doc, machine.resource
    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, OpenBSSError)
             and cls.__module__ == errors.__name__ and not cls.__name__.startswith("_")}
    assert len(codes) == 15
    missing = [c for c in sorted(codes) if f"| `{c}` |" not in doc]
    assert not missing, missing
