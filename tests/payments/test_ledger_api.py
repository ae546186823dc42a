"""The ledger through HTTP: docs/ledger.md's worked example entry by entry, revenue mapped
by product family (the offering's catalog category) and by line type, the chart, the
journal, the CSV export, and a trial balance refused without a currency when the books
hold two."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from billing.issue_helpers import billing_account, flat_vat, input_for, issue, line
from openbss.billing.book import LineKind
from ordering.test_orders import PO, Shop, work

PAY = "/tmf-api/paymentManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _lines(client: Any, tenant: Any, account: str) -> list[tuple[str, str, Decimal, Decimal]]:
    entries = client.get("/api/v1/ledger/journalEntries", params={
        "billingAccount.id": account}, headers=tenant.headers()).json()
    return [(e["kind"], x["account"]["code"], Decimal(str(x["debit"])),
             Decimal(str(x["credit"]))) for e in entries for x in e["lines"]]


def test_the_worked_example_of_docs_ledger(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    with flat_vat():
        issue(tenant, [(input_for(account), [line(account, "100.00")])])
    payment = client.post(f"{PAY}/payment", json={"account": {"id": account}, "totalAmount": {
        "unit": "EUR", "value": 150}}, headers=tenant.headers()).json()
    r = client.post(f"{PAY}/refund", json={"payment": {"id": payment["id"]},
                                           "totalAmount": {"unit": "EUR", "value": 10}},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    d = Decimal
    assert _lines(client, tenant, account) == [
        ("invoice", "1200", d("119.00"), 0), ("invoice", "4000", 0, d("100.00")),
        ("invoice", "2200", 0, d("19.00")),
        ("payment", "1000", d("150.00"), 0), ("payment", "1200", 0, d("119.00")),
        ("payment", "2100", 0, d("31.00")),
        ("refund", "2100", d("10.00"), 0), ("refund", "1000", 0, d("10.00"))]
    [row] = client.get("/api/v1/ledger/receivables", params={"billingAccount.id": account},
                       headers=tenant.headers()).json()
    assert Decimal(str(row["balance"])) == Decimal("-21.00")
    entry = client.get("/api/v1/ledger/journalEntries", params={"kind": "invoice",
                                                              "billingAccount.id": account},
                       headers=tenant.headers()).json()[0]
    tax = [x for x in entry["lines"] if x["account"]["code"] == "2200"]
    assert tax[0]["dimension"] == "tax:DE:standard:19"
    one = client.get(f"/api/v1/ledger/journalEntries/{entry['id']}", headers=tenant.headers())
    assert one.json()["number"] == entry["number"]


def test_revenue_by_product_family_and_by_line_type(client, make_tenant) -> None:
    tenant = make_tenant(sandbox=True)
    for code, name in (("4010", "Mobile postpaid revenue"), ("4110", "Roaming and usage")):
        r = client.post("/api/v1/ledger/accounts", json={"code": code, "name": name,
                                                         "type": "revenue"},
                        headers=tenant.headers())
        assert r.status_code == 201, r.text
    dup = client.post("/api/v1/ledger/accounts", json={"code": "4010", "name": "x",
                                                       "type": "revenue"},
                      headers=tenant.headers())
    assert dup.status_code == 409
    r = client.patch("/api/v1/settings/ledger", json={
        "revenueByCategory": {"Mobile postpaid": "4010"}, "revenueAccounts": {"usage": "4110"}},
        headers=tenant.headers(**MERGE))
    assert r.status_code == 200, r.text
    shop = Shop(client, tenant)
    category = client.post("/tmf-api/productCatalogManagement/v4/category", json={
        "name": "Mobile postpaid", "lifecycleStatus": "Active"},
        headers=tenant.headers()).json()
    plan = shop.offering("Mobile S", "9.99", category=[{"id": category["id"]}])
    r = client.post(PO, json=shop.order({"id": "1", "action": "add",
                                         "productOffering": {"id": plan["id"]}}),
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    work(tenant)
    [product] = client.get("/tmf-api/productInventory/v4/product", params={
        "billingAccount.id": shop.account["id"]}, headers=tenant.headers()).json()
    account = shop.account["id"]
    with flat_vat():
        issue(tenant, [(input_for(account), [
            line(account, "10.00", product_id=product["id"]),
            line(account, "3.00", kind=LineKind.USAGE, name="Roaming"),
            line(account, "2.00", kind=LineKind.ONE_TIME, name="SIM card")])])
    credits = {code: c for kind, code, _, c in _lines(client, tenant, account)
               if kind == "invoice" and c}
    assert credits == {"4010": Decimal("10.00"), "4110": Decimal("3.00"),
                       "4200": Decimal("2.00"), "2200": Decimal("2.85")}
    bad = client.patch("/api/v1/ledger/accounts/1200", json={"active": False},
                       headers=tenant.headers(**MERGE))
    assert bad.status_code == 409 and bad.json()["field"] == "active"


def test_export_and_currencies(client, tenant) -> None:
    eur = billing_account(client, tenant)["id"]
    usd = billing_account(client, tenant, currency="USD", name="US")["id"]
    with flat_vat():
        issue(tenant, [(input_for(eur), [line(eur, "10.00")])])
        issue(tenant, [(input_for(usd, currency="USD"), [line(usd, "20.00", currency="USD")])])
    r = client.get("/api/v1/ledger/trialBalance", headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "currency"
    tb = client.get("/api/v1/ledger/trialBalance", params={"currency": "USD"},
                    headers=tenant.headers()).json()
    assert tb["currency"] == "USD" and Decimal(str(tb["totalDebit"])) == Decimal("23.80")
    assert tb["totalDebit"] == tb["totalCredit"]
    r = client.get("/api/v1/ledger/export", params={"period": "2026-03"},
                   headers=tenant.headers())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 6
    assert {row["currency"] for row in rows} == {"EUR", "USD"}
    assert sum(Decimal(row["debit"]) for row in rows if row["currency"] == "EUR") == \
        sum(Decimal(row["credit"]) for row in rows if row["currency"] == "EUR")
    assert client.get("/api/v1/ledger/export", params={"period": "March"},
                      headers=tenant.headers()).status_code == 422
    empty = client.get("/api/v1/ledger/export", params={"period": "2025-01"},
                       headers=tenant.headers()).text
    assert empty.strip().split(",")[0] == "entryNumber"
