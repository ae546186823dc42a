"""Dunning through HTTP and the CLI: every step of the default policy on its day
(reminder by e-mail to a local SMTP sink, late fee on the next invoice, suspension and
termination through product orders, hand-over), idempotent runs, holds, a payment that
clears the debt closing the case and resuming the services, and the aging report."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from billing.issue_helpers import billing_account, flat_vat, input_for, issue, line
from openbss.cli import app as cli_app
from ordering.test_orders import PO, Shop, work

PAY = "/tmf-api/paymentManagement/v4"
INVENTORY = "/tmf-api/productInventory/v4/product"
MERGE = {"Content-Type": "application/merge-patch+json"}


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("OPENBSS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OPENBSS_SMTP_PORT", str(port))
    monkeypatch.setenv("OPENBSS_SMTP_FROM", "billing@operator.example")
    try:
        yield sink
    finally:
        controller.stop()


def _run(client: Any, tenant: Any, day: str) -> dict[str, Any]:
    r = client.post("/api/v1/dunning/runs", json={"asOf": day}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _overdue_customer(client: Any, tenant: Any) -> tuple[Shop, dict[str, Any], str]:
    """A customer with an e-mail address, an active router and an invoice of 119.00 due
    2026-03-15."""
    shop = Shop(client, tenant)
    r = client.patch(f"/tmf-api/partyManagement/v4/individual/{shop.person['id']}", json={
        "contactMedium": [{"mediumType": "email", "characteristic": {
            "emailAddress": "claire@example.org"}}]}, headers=tenant.headers(**MERGE))
    assert r.status_code == 200, r.text
    r = client.post(PO, json=shop.order({"id": "1", "action": "add",
                                         "productOffering": {"id": shop.router["id"]}}),
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    work(tenant)
    [product] = client.get(INVENTORY, params={"billingAccount.id": shop.account["id"]},
                           headers=tenant.headers()).json()
    assert product["status"] == "active"
    account = shop.account["id"]
    with flat_vat():
        [bill] = issue(tenant, [(input_for(account), [line(account, "100.00")])])
    return shop, product, bill["invoice_id"]


def _product(client: Any, tenant: Any, product_id: str) -> dict[str, Any]:
    return client.get(f"{INVENTORY}/{product_id}", headers=tenant.headers()).json()  # type: ignore[no-any-return]


def test_the_default_policy_step_by_step(client, make_tenant, smtp) -> None:
    tenant = make_tenant(sandbox=True)
    shop, product, _ = _overdue_customer(client, tenant)
    account = shop.account["id"]
    early = _run(client, tenant, "2026-03-16")                        # 1 day overdue
    assert early["actions"] == [] and early["casesOpened"] == 1
    first = _run(client, tenant, "2026-03-18")                        # day 3: reminder
    assert [(a["action"], a["email"]) for a in first["actions"]] == [("reminder", "sent")]
    assert first["casesOpened"] == 0
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["claire@example.org"]
    assert b"119.00 EUR" in mail.content and b"overdue" in mail.content
    assert _run(client, tenant, "2026-03-18")["actions"] == []        # idempotent
    assert len(smtp.messages) == 1
    fee = _run(client, tenant, "2026-03-29")["actions"]               # day 14: late fee
    assert [a["action"] for a in fee] == ["lateFee"]
    charges = client.get(f"/api/v1/billingAccounts/{account}/charges",
                         headers=tenant.headers()).json()
    assert [(c["name"], Decimal(str(c["amount"]["value"]))) for c in charges] == [
        ("Late fee", Decimal("5.00"))]
    suspended = _run(client, tenant, "2026-04-05")["actions"]        # day 21: suspend
    assert [(a["action"], a["products"]) for a in suspended] == [("suspend", [product["id"]])]
    work(tenant)
    assert _product(client, tenant, product["id"])["status"] == "suspended"
    # a run as of a day before the bill was due does not close the case: it is still owed
    before = _run(client, tenant, "2026-03-10")
    assert (before["casesClosed"], before["actions"]) == (0, [])
    work(tenant)
    assert _product(client, tenant, product["id"])["status"] == "suspended"
    [case] = client.get("/api/v1/dunning/cases", params={"billingAccount.id": account},
                        headers=tenant.headers()).json()
    assert [a["action"] for a in case["actions"]] == ["reminder", "lateFee", "suspend"]
    assert case["suspendedProducts"] == [product["id"]]
    aging = client.get("/api/v1/reports/aging", params={"asOf": "2026-04-20"},
                       headers=tenant.headers()).json()
    [row] = [a for a in aging["accounts"] if a["billingAccount"]["id"] == account]
    assert Decimal(str(row["31-60"])) == Decimal("119.00")
    assert Decimal(str(row["0-30"])) == 0 and Decimal(str(row["total"])) == Decimal("119.00")
    # the customer pays: the case closes and the router is resumed
    r = client.post(f"{PAY}/payment", json={"account": {"id": account},
                                            "totalAmount": {"unit": "EUR", "value": 119}},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    work(tenant)
    assert _product(client, tenant, product["id"])["status"] == "active"
    closed = client.get(f"/api/v1/dunning/cases/{case['id']}", headers=tenant.headers()).json()
    assert closed["state"] == "closed"
    assert _run(client, tenant, "2026-05-20")["actions"] == []        # nothing overdue
    # the late fee reaches the next invoice and the ledger's late-fee revenue
    # (the charge is dated by the tenant's clock, today: bill past it)
    run = client.post("/api/v1/billRuns", json={"asOf": "2027-01-01T00:00:00Z",
                                                "billingAccounts": [account]},
                      headers=tenant.headers()).json()
    for _ in range(300):
        state = client.get(f"/api/v1/billRuns/{run['id']}", headers=tenant.headers()).json()
        if state["state"] != "running":
            break
        time.sleep(0.1)
    assert state["state"] == "completed", state
    tb = client.get("/api/v1/ledger/trialBalance", headers=tenant.headers()).json()
    fees = next(a for a in tb["accounts"] if a["code"] == "4800")
    assert Decimal(str(fees["credit"])) == Decimal("5.00")


def test_termination_and_hand_over(client, make_tenant) -> None:
    tenant = make_tenant(sandbox=True)
    _overdue_customer(client, tenant)
    summary = _run(client, tenant, "2026-06-20")                     # 97 days: all of it
    assert [a["action"] for a in summary["actions"]] == [
        "reminder", "lateFee", "suspend", "terminate", "collectionAgency"]
    csv_text = client.get("/api/v1/dunning/handovers", headers=tenant.headers()).text
    header, row = csv_text.strip().splitlines()
    assert header.startswith("caseId,billingAccountId")
    assert "119.00" in row and "claire@example.org" in row
    masked = client.get("/api/v1/dunning/handovers", headers=tenant.headers("read_only")).text
    assert "claire@example.org" not in masked and "***" in masked
    [case] = client.get("/api/v1/dunning/cases", headers=tenant.headers()).json()
    assert case["state"] == "handedOver"


def test_a_hold_leaves_the_account_out(client, make_tenant) -> None:
    tenant = make_tenant(sandbox=True)
    account = billing_account(client, tenant)["id"]
    with flat_vat():
        [bill] = issue(tenant, [(input_for(account), [line(account, "10.00")])])
    r = client.post("/api/v1/dunning/holds", json={
        "kind": "dispute", "billingAccount": {"id": account},
        "customerBill": {"id": bill["invoice_id"]}, "reason": "wrong roaming charges"},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    summary = _run(client, tenant, "2026-04-30")
    assert summary["held"] == 1 and summary["actions"] == []
    assert client.delete(f"/api/v1/dunning/holds/{r.json()['id']}",
                         headers=tenant.headers()).status_code == 204
    assert [a["action"] for a in _run(client, tenant, "2026-04-30")["actions"]] == [
        "reminder", "lateFee", "suspend"]
    bad = client.post("/api/v1/dunning/holds", json={"kind": "dispute",
                                                    "billingAccount": {"id": account}},
                      headers=tenant.headers())
    assert bad.status_code == 422 and bad.json()["field"] == "customerBill.id"


def test_policies_per_segment_and_their_validation(client, make_tenant) -> None:
    tenant = make_tenant(sandbox=True)
    r = client.post("/api/v1/dunning/policies", json={
        "name": "business", "segment": "business",
        "steps": [{"days": 10, "action": "reminder"}, {"days": 30, "action": "suspend"}]},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    names = [p["name"] for p in client.get("/api/v1/dunning/policies",
                                           headers=tenant.headers()).json()]
    assert names == ["business", "default"]
    account = billing_account(client, tenant, accountType="business")["id"]
    with flat_vat():
        issue(tenant, [(input_for(account), [line(account, "10.00")])])
    summary = _run(client, tenant, "2026-04-30")                     # 46 days
    assert [a["action"] for a in summary["actions"]] == ["reminder", "suspend"]
    for body, field in [
        ({"name": "x", "steps": [{"days": 9, "action": "reminder"},
                                 {"days": 3, "action": "suspend"}]}, "steps"),
        ({"name": "y", "steps": [{"days": 9, "action": "lateFee"}]}, "steps[0].amount"),
        ({"name": "z", "steps": [{"days": 9, "action": "call the police"}]},
         "steps[0].action"),
    ]:
        bad = client.post("/api/v1/dunning/policies", json=body, headers=tenant.headers())
        assert bad.status_code == 422 and bad.json()["field"] == field, bad.text


def test_dunning_run_on_the_command_line(client, make_tenant) -> None:
    tenant = make_tenant(sandbox=True)
    account = billing_account(client, tenant)["id"]
    with flat_vat():
        issue(tenant, [(input_for(account), [line(account, "10.00")])])
    runner = CliRunner()
    result = runner.invoke(cli_app, ["dunning", "run", "--as-of", "2026-03-20",
                                     "--tenant", tenant.name, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["asOf"] == "2026-03-20"
    assert [a["action"] for a in summary["actions"]] == ["reminder"]
    again = runner.invoke(cli_app, ["dunning", "run", "--as-of", "2026-03-20",
                                    "--tenant", tenant.name, "--json"])
    assert json.loads(again.stdout)["actions"] == []
    bad = runner.invoke(cli_app, ["dunning", "run", "--as-of", "March", "--tenant",
                                  tenant.name])
    assert bad.exit_code == 1


def test_steps_follow_the_test_clock(client, make_tenant) -> None:
    from datetime import UTC, datetime

    tenant = make_tenant(sandbox=True, clock_start=datetime(2026, 3, 1, tzinfo=UTC))
    account = billing_account(client, tenant)["id"]
    with flat_vat():
        issue(tenant, [(input_for(account), [line(account, "10.00")])])   # due 2026-03-15

    def advance(days: int) -> None:
        r = client.post("/api/v1/testClock/advance", json={"days": days},
                        headers=tenant.headers())
        assert r.status_code == 200, r.text

    def run_now() -> list[str]:
        r = client.post("/api/v1/dunning/runs", json={}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        return [a["action"] for a in r.json()["actions"]]

    assert run_now() == []                       # 2026-03-01: not due yet
    advance(20)                                  # 2026-03-21: 6 days overdue
    assert run_now() == ["reminder"]
    advance(8)                                   # 2026-03-29: 14 days
    assert run_now() == ["lateFee"]
    advance(7)                                   # 2026-04-05: 21 days
    assert run_now() == ["suspend"]
    assert run_now() == []
