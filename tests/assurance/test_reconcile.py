"""``openbss reconcile`` and ``GET /api/v1/reconciliation`` on the demo tenant: everything
reconciles after the demo's two months; every kind of damage to the data is found and
named item by item (and the command exits 2); usage read is accepted + duplicates +
rejected, duplicates counted however they arrive."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from openbss.cli import app as cli
from openbss.core.db import unit_of_work
from openbss.demo import load_demo

PATH = "/api/v1/reconciliation"
T0 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
STAGES = ["read", "accepted", "duplicate", "rejected", "rated", "billed", "invoiced",
          "credited", "paid", "writtenOff", "outstanding"]
CHECKS = ["usageAccounted", "ratedBilledOnce", "invoiceTotals", "billsSettled",
          "paymentsAllocated", "ledgerEntries", "trialBalance", "receivables"]
runner = CliRunner()


def _report(client, tenant, role: str = "finance", **params: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get(PATH, params=params, headers=tenant.headers(role))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _stages(report: dict[str, Any]) -> dict[str, tuple[int, str | None]]:
    return {s["name"]: (s["count"], s["amount"]) for s in report["stages"]}


def _differences(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {c["name"]: c["differences"] for c in report["checks"]}


@pytest.fixture
def demo(make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    load_demo(tenant.name)
    return tenant


def test_the_demo_reconciles_through_the_api_and_the_cli(client, demo):  # type: ignore[no-untyped-def]
    report = _report(client, demo)
    assert report["ok"] is True, [c for c in report["checks"] if not c["ok"]]
    assert [s["name"] for s in report["stages"]] == STAGES
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert (report["period"], report["currency"]) == (None, "EUR")
    stages = _stages(report)
    # the demo's usage: Lena's 2 data records, the PBX's 7 CDRs (1 duplicate, a suspended
    # line, an unknown number), the mediation's 7 records (1 duplicate, an unreadable
    # volume, an unknown number)
    assert stages["read"][0] == 16
    assert (stages["accepted"][0], stages["duplicate"][0], stages["rejected"][0]) == (10, 2, 4)
    assert report["rejectedByReason"] == {"invalid_quantity": 1, "product_inactive": 1,
                                          "unknown_identifier": 2}
    # rated: 2 GB beyond 50 on Lena's line, 3 GB on a Hamburg line (2.00 per started GB);
    # calls and SMS are unlimited (rated at zero, on no invoice line)
    assert stages["rated"] == (10, "10.00") and stages["billed"] == (4, "10.00")
    assert stages["invoiced"][0] == 5 and stages["credited"][0] == 1
    invoiced, credited, paid, written, outstanding = (
        Decimal(stages[n][1] or "0") for n in ("invoiced", "credited", "paid", "writtenOff",
                                                 "outstanding"))
    # every bill of the demo is in "all periods", so the chain closes exactly
    assert invoiced + credited - paid - written == outstanding

    out = runner.invoke(cli, ["reconcile", "--tenant", demo.name, "--json"])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    assert {k: v for k, v in printed.items() if k != "asOf"} == {
        k: v for k, v in report.items() if k != "asOf"}
    table = runner.invoke(cli, ["reconcile", "--tenant", demo.name])
    assert table.exit_code == 0 and "reconciled" in table.stdout

    # month 0 (March, the demo's start) holds its usage, no bill; April its first bills
    march, april = (_report(client, demo, period=p) for p in ("2026-03", "2026-04"))
    assert (march["period"], march["from"], march["to"]) == ("2026-03", "2026-03-01",
                                                             "2026-03-31")
    assert _stages(march)["invoiced"] == (0, "0.00") and _stages(march)["read"][0] == 9
    assert _stages(april)["invoiced"][0] == 3  # dated 1 April in Berlin (31 March, 22:00 UTC)
    assert march["ok"] and april["ok"]


def test_damage_is_found_item_by_item(client, demo):  # type: ignore[no-untyped-def]
    tid = demo.id
    with unit_of_work() as s:
        def one(sql: str) -> Any:
            return s.execute(text(sql), {"t": tid}).first()
        stuck = one("SELECT id FROM usage_record WHERE tenant_id = :t AND status = 'rated' "
                    "ORDER BY id LIMIT 1")
        # a billed rated row with an amount (within an allowance a row is rated at zero)
        billed = next(r for r in s.execute(text(
            "SELECT id, invoice_id, amount FROM rated_usage WHERE tenant_id = :t AND "
            "invoice_id IS NOT NULL ORDER BY id"), {"t": tid}) if Decimal(str(r.amount)))
        bill = one("SELECT id, bill_no FROM customer_bill WHERE tenant_id = :t AND kind = "
                   "'invoice' AND id <> :b ORDER BY bill_no LIMIT 1".replace(
                       ":b", f"'{billed.invoice_id}'"))
        payment = one("SELECT id, billing_account_id FROM payment WHERE tenant_id = :t AND "
                      "status = 'done' ORDER BY id LIMIT 1")
        line = one("SELECT l.id, e.number, e.source_key FROM journal_line l JOIN "
                   "journal_entry e ON "
                   "e.id = l.entry_id WHERE e.tenant_id = :t AND e.source_key LIKE "
                   "'customerBill:%' ORDER BY e.number DESC, l.position LIMIT 1")
        params = {"t": tid, "u": stuck.id, "r": billed.id, "b": bill.id, "p": payment.id,
                  "l": line.id}
        for sql in (
                "UPDATE usage_record SET status = 'guided' WHERE tenant_id = :t AND id = :u",
                "UPDATE rated_usage SET invoice_id = NULL WHERE tenant_id = :t AND id = :r",
                "UPDATE customer_bill SET remaining_amount = '1.23' WHERE tenant_id = :t "
                "AND id = :b",
                "UPDATE payment SET unapplied = '7.00' WHERE tenant_id = :t AND id = :p",
                "UPDATE journal_line SET debit = '0.01', credit = '0' WHERE tenant_id = :t "
                "AND id = :l",
                "DELETE FROM journal_entry WHERE tenant_id = :t AND source_key = "
                "'payment:' || :p"):
            s.execute(text(sql), params)
        s.commit()

    report = _report(client, demo, role="auditor")
    assert report["ok"] is False
    found = _differences(report)
    assert [d["usage"] for d in found["usageAccounted"]] == [stuck.id]
    assert "still guided" in found["usageAccounted"][0]["problem"]
    # the rated row taken off its bill: unbilled although the run covered it, and the
    # bill's usage lines no longer match its rated rows
    problems = {d["problem"] for d in found["ratedBilledOnce"]}
    assert any("is on no invoice" in p for p in problems), problems
    assert any(d.get("bill") == billed.invoice_id for d in found["ratedBilledOnce"])
    assert [d["billNo"] for d in found["billsSettled"]] == [bill.bill_no]
    assert found["billsSettled"][0]["remaining"] == "1.23"
    assert [d["payment"] for d in found["paymentsAllocated"]] == [payment.id]
    # the payment's entry is gone; the bill whose receivable line was changed no longer
    # moves its total on the customer's sub-ledger
    assert {d["source"]: d["problem"][:16] for d in found["ledgerEntries"]} == {
        f"payment:{payment.id}": "no journal entry", line.source_key: "the entry moves "}
    assert [d["number"] for d in found["trialBalance"] if "number" in d] == [line.number]
    assert any(d.get("currency") == "EUR" and "does not balance" in d["problem"]
               for d in found["trialBalance"])
    assert payment.billing_account_id in {d["billingAccount"] for d in found["receivables"]}
    assert found["invoiceTotals"] == []  # no bill's own totals were touched

    out = runner.invoke(cli, ["reconcile", "--tenant", demo.name, "--json"])
    assert out.exit_code == 2, out.output
    assert json.loads(out.stdout)["ok"] is False
    table = runner.invoke(cli, ["reconcile", "--tenant", demo.name])
    assert table.exit_code == 2 and "NOT reconciled" in table.stdout
    assert f"payment:{payment.id}" in table.stdout


def test_duplicates_are_counted_however_they_arrive(client, make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")

    def usage(record_id: str) -> dict[str, Any]:
        return {"usageDate": "2026-03-05T08:00:00Z", "usageType": "voice",
                "usageCharacteristic": [{"name": "recordId", "value": record_id},
                                        {"name": "msisdn", "value": "+4915199999999"},
                                        {"name": "duration", "value": "60"}]}
    h = tenant.headers("billing_ops")
    r = client.post("/api/v1/usage/bulk", json=[usage("a"), usage("a"), usage("b")], headers=h)
    assert r.status_code == 200, r.text
    assert client.post("/api/v1/usage/bulk", json=[usage("b")], headers=h).status_code == 200
    one = client.post("/tmf-api/usageManagement/v4/usage", json=usage("a"), headers=h)
    assert one.status_code == 200 and one.headers["X-Duplicate"] == "true"
    report = _report(client, tenant, period="2026-03")
    stages = _stages(report)
    assert stages["read"][0] == 5  # every record sent, once each: 2 stored, 3 copies
    assert (stages["accepted"][0], stages["duplicate"][0], stages["rejected"][0]) == (0, 3, 2)
    assert report["rejectedByReason"] == {"unknown_identifier": 2}
    assert report["ok"] is True
    assert _stages(_report(client, tenant, period="2026-04"))["read"][0] == 0


def test_bad_arguments_are_refused_naming_the_field(client, tenant):  # type: ignore[no-untyped-def]
    for params, field in (({"period": "2026-13"}, "period"), ({"period": "soon"}, "period"),
                          # (the month after 9999-12 overflowed: 500)
                          ({"period": "9999-12"}, "period"), ({"period": "9999"}, "period"),
                          ({"period": "2026x11"}, "period"),
                          ({"currency": "EURO"}, "currency"), ({"currency": "ZZZ"}, "currency")):
        r = client.get(PATH, params=params, headers=tenant.headers("finance"))
        assert r.status_code in (400, 422), (params, r.text)
        assert r.json()["field"] in (field, f"query.{field}"), r.text
    assert client.get(PATH, headers=tenant.headers("sales_agent")).status_code == 403
    assert client.get(PATH).status_code == 401
    out = runner.invoke(cli, ["reconcile", "--tenant", tenant.name, "--period", "2026-13"])
    assert out.exit_code == 1 and "period" in out.output
    empty = _report(client, tenant)
    assert empty["ok"] is True and all(s["count"] == 0 for s in empty["stages"])
