"""Manual one-off charges and credits on a billing account
(``/api/v1/billingAccounts/{id}/charges``): billing_ops may add them, sales agents may not;
the account's currency only; deleted only while unbilled; hostile bodies name the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.issue_helpers import (  # type: ignore[import-not-found]
    billing_account,
    flat_vat,
    input_for,
    issue,
    line,
)
from openbss.billing.book import LineKind


def _path(acc: str) -> str:
    return f"/api/v1/billingAccounts/{acc}/charges"


def _post(client, tenant, acc: str, body: dict[str, Any], status: int = 201,  # type: ignore[no-untyped-def]
          role: str = "billing_ops") -> Any:
    r = client.post(_path(acc), json=body, headers=tenant.headers(role))
    assert r.status_code == status, r.text
    return r.json()


CHARGE = {"kind": "charge", "amount": {"unit": "EUR", "value": "25.00"},
          "name": "Installation", "description": "technician visit"}


def test_billing_ops_adds_a_charge_and_a_credit(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    charge = _post(client, tenant, acc, CHARGE)
    assert charge["kind"] == "charge" and charge["billed"] is False
    assert charge["amount"] == {"unit": "EUR", "value": 25.0}
    assert charge["taxCategory"] == "standard" and charge["taxIncluded"] is False
    assert charge["billingAccount"]["id"] == acc and "customerBill" not in charge
    credit = _post(client, tenant, acc, {"kind": "credit", "name": "Goodwill",
                                         "amount": {"unit": "EUR", "value": 5},
                                         "taxCategory": "reduced", "taxIncluded": True},
                   role="admin")
    r = client.get(_path(acc), headers=tenant.headers("finance"))
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "2"
    assert [c["id"] for c in r.json()] == [charge["id"], credit["id"]]
    assert Decimal(str(r.json()[1]["amount"]["value"])) == 5


@pytest.mark.parametrize("role", ["sales_agent", "care_agent", "finance", "read_only",
                                  "partner", "catalog_manager", "auditor"])
def test_other_roles_may_not_add_charges(client, tenant, role) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    _post(client, tenant, acc, CHARGE, status=403, role=role)


@pytest.mark.parametrize(("body", "field"), [
    ({**CHARGE, "kind": "refund"}, "kind"),
    ({**CHARGE, "amount": {"unit": "USD", "value": 1}}, "amount.unit"),
    ({**CHARGE, "amount": {"unit": "EUR", "value": 0}}, "amount"),
    ({**CHARGE, "amount": {"unit": "EUR", "value": -3}}, "amount"),
    ({**CHARGE, "amount": {"unit": "EUR", "value": "1.234"}}, "amount.value"),
    ({**CHARGE, "amount": {"unit": "XXX1", "value": 1}}, "amount.unit"),
    ({**CHARGE, "amount": 3}, "amount"),
    ({**CHARGE, "name": ""}, "name"), ({**CHARGE, "name": "x" * 301}, "name"),
    ({**CHARGE, "taxCategory": "luxury"}, "taxCategory"),
    ({**CHARGE, "taxIncluded": "yes"}, "taxIncluded"),
    ({**CHARGE, "productId": "nope"}, "productId"),
    ({**CHARGE, "extra": 1}, "extra"),
    ({"kind": "charge", "name": "x"}, "amount"),
])
def test_hostile_bodies_name_the_field(client, tenant, body, field) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    r = client.post(_path(acc), json=body, headers=tenant.headers("billing_ops"))
    assert r.status_code in (400, 422), r.text
    assert r.json()["field"] == field, r.json()


def test_a_huge_number_is_refused_naming_it(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    raw = '{"kind": "charge", "name": "x", "amount": {"unit": "EUR", "value": 1e400}}'
    r = client.post(_path(acc), content=raw, headers=tenant.headers(
        "billing_ops", **{"Content-Type": "application/json"}))
    assert r.status_code in (400, 422), r.text
    assert r.json()["field"].startswith("amount"), r.json()


def test_unknown_or_foreign_account_is_not_found(client, tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    charge = _post(client, tenant, acc, CHARGE)
    _post(client, other_tenant, acc, CHARGE, status=404, role="admin")
    assert client.get(_path(acc), headers=other_tenant.headers()).status_code == 404
    r = client.delete(f"{_path(acc)}/{charge['id']}", headers=other_tenant.headers())
    assert r.status_code == 404
    other = billing_account(client, tenant)["id"]
    # a charge is found only under its own account
    r = client.delete(f"{_path(other)}/{charge['id']}", headers=tenant.headers())
    assert r.status_code == 404


def test_delete_only_while_unbilled(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    first = _post(client, tenant, acc, CHARGE)
    second = _post(client, tenant, acc, CHARGE)
    r = client.delete(f"{_path(acc)}/{first['id']}", headers=tenant.headers("sales_agent"))
    assert r.status_code == 403
    r = client.delete(f"{_path(acc)}/{first['id']}", headers=tenant.headers("billing_ops"))
    assert r.status_code == 204
    with flat_vat():
        issue(tenant, [(input_for(acc), [line(acc, "25.00", kind=LineKind.ONE_TIME,
                                              source_key=f"billingCharge:{second['id']}")])])
    r = client.delete(f"{_path(acc)}/{second['id']}", headers=tenant.headers("billing_ops"))
    assert r.status_code == 409 and r.json()["code"] == "CHARGE_ALREADY_BILLED"
    assert [c["id"] for c in client.get(_path(acc), headers=tenant.headers()).json()] == [
        second["id"]]
