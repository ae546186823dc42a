"""TMF678 customerBill and appliedCustomerBillingRate over HTTP: renderings validated
against the official swagger, filters, the state-only PATCH, credit notes (full, by line,
by amount, over the limit), the PDF document, the account balance, the pro-forma on
demand, isolation and roles.

Credit-note arithmetic follows Stripe's credit notes
(https://docs.stripe.com/invoicing/dashboard/credit-notes: "you can't credit more than
the invoice's amount"; a partial credit of a line reverses its tax at the line's rate)
and Lago's (https://docs.getlago.com/guide/invoicing/credit-notes: the creditable amount
is what remains after earlier credit notes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.issue_helpers import (  # type: ignore[import-not-found]
    ACCOUNTS,
    APR1,
    BILLS,
    MERGE,
    RATES,
    SWAGGER,
    billing_account,
    flat_vat,
    input_for,
    issue,
    line,
)
from openbss.billing.book import LineKind


@pytest.fixture(autouse=True)
def _vat():  # type: ignore[no-untyped-def]
    with flat_vat():
        yield


def _invoice(client, tenant, *amounts: str, **account: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant, **account)["id"]
    lines = [line(acc, a, name=f"item {i}", product_id=f"p{i}") for i, a in enumerate(amounts)]
    [bill] = issue(tenant, [(input_for(acc), lines)])
    return {"account": acc, **bill}


def _get(client, tenant, path: str, status: int = 200, role: str = "admin") -> Any:  # type: ignore[no-untyped-def]
    r = client.get(path, headers=tenant.headers(role))
    assert r.status_code == status, r.text
    return r.json()


def _credit(client, tenant, bill_id: str, body: dict[str, Any], status: int = 201,  # type: ignore[no-untyped-def]
            role: str = "billing_ops") -> Any:
    r = client.post(f"/api/v1/customerBills/{bill_id}/creditNotes", json=body,
                    headers=tenant.headers(role))
    assert r.status_code == status, r.text
    return r.json()


def _value(money: dict[str, Any]) -> Decimal:
    return Decimal(str(money["value"]))


def test_bill_and_lines_validate_against_tmf678(client, tenant, tmf_schema) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00", "19.99")
    bill = _get(client, tenant, f"{BILLS}/{inv['invoice_id']}")
    tmf_schema(SWAGGER, "CustomerBill", bill)
    assert bill["billNo"] == "INV-2026-000001" and bill["state"] == "new"
    assert bill["billingAccount"]["id"] == inv["account"]
    assert bill["billDocument"][0]["mimeType"] == "application/pdf"
    assert bill["billDocument"][0]["url"].endswith(
        f"/api/v1/customerBills/{inv['invoice_id']}/document")
    assert _value(bill["taxIncludedAmount"]) == Decimal("35.69")  # 29.99 + 1.90 + 3.80
    lines = _get(client, tenant, f"{RATES}?bill.id={inv['invoice_id']}")
    tmf_schema(SWAGGER, "AppliedCustomerBillingRate", lines)
    assert [x["name"] for x in lines] == ["item 0", "item 1"]
    assert all(x["isBilled"] and x["bill"]["id"] == inv["invoice_id"] for x in lines)
    assert lines[0]["periodCoverage"] == {"startDateTime": "2026-03-01T00:00:00Z",
                                          "endDateTime": "2026-04-01T00:00:00Z"}
    assert lines[1]["appliedTax"] == [{"taxCategory": "standard", "taxRate": 19,
                                       "taxAmount": {"unit": "EUR", "value": 3.8},
                                       "taxName": "VAT", "jurisdiction": "DE",
                                       "taxableAmount": {"unit": "EUR", "value": 19.99}}]
    one = _get(client, tenant, f"{RATES}/{lines[0]['id']}")
    assert one["product"]["id"] == "p0"


def test_filters_fields_and_paging(client, tenant) -> None:  # type: ignore[no-untyped-def]
    first = _invoice(client, tenant, "1.00")
    second = _invoice(client, tenant, "2.00")
    r = client.get(f"{BILLS}?billingAccount.id={second['account']}", headers=tenant.headers())
    assert [b["id"] for b in r.json()] == [second["invoice_id"]]
    assert r.headers["X-Total-Count"] == "1"
    assert len(_get(client, tenant, f"{BILLS}?state=new")) == 2
    assert _get(client, tenant, f"{BILLS}?state=settled") == []
    assert len(_get(client, tenant, f"{BILLS}?billDate.gte=2026-03-01T00:00:00Z")) == 2
    assert _get(client, tenant, f"{BILLS}?billDate.lt=2026-03-01T00:00:00Z") == []
    page = client.get(f"{BILLS}?limit=1&fields=billNo", headers=tenant.headers())
    assert page.headers["X-Total-Count"] == "2" and len(page.json()) == 1
    assert set(page.json()[0]) == {"id", "href", "@type", "billNo"}
    bad = client.get(f"{BILLS}?amountDue.value=3", headers=tenant.headers())
    assert bad.status_code == 400 and bad.json()["field"] == "amountDue.value"
    assert first["invoice_id"] != second["invoice_id"]


def test_patch_changes_state_only(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "5.00")
    path = f"{BILLS}/{inv['invoice_id']}"
    r = client.patch(path, json={"state": "validated"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "validated"
    r = client.patch(path, json={"state": "new"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    r = client.patch(path, json={"amountDue": {"unit": "EUR", "value": 1}},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 409 and r.json()["code"] == "INVOICE_ALREADY_ISSUED"
    assert r.json()["field"] == "amountDue"
    r = client.patch(path, json={"colour": "red"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 422 and r.json()["field"] == "colour"
    r = client.patch(path, json={"state": "paid"}, headers=tenant.headers(**MERGE))
    assert r.status_code == 422 and r.json()["field"] == "state"
    r = client.patch(path, json=[1], headers=tenant.headers(**MERGE))
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.patch(path, json={"state": "sent"}, headers=tenant.headers("sales_agent", **MERGE))
    assert r.status_code == 403
    assert _get(client, tenant, path)["taxIncludedAmount"]["value"] == 5.95


def test_full_credit_note_reverses_everything(client, tenant, tmf_schema) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00", "19.99")
    note = _credit(client, tenant, inv["invoice_id"], {"full": True, "reason": "goodwill"})
    tmf_schema(SWAGGER, "CustomerBill", note)
    assert note["category"] == "creditNote" and note["billNo"] == "CN-2026-000001"
    assert note["correctsBill"]["id"] == inv["invoice_id"]
    assert _value(note["taxIncludedAmount"]) == Decimal("-35.69")
    assert _value(note["remainingAmount"]) == 0  # all of it applied to the invoice
    bill = _get(client, tenant, f"{BILLS}/{inv['invoice_id']}")
    assert _value(bill["remainingAmount"]) == 0
    assert _value(bill["amountDue"]) == Decimal("35.69")  # the invoice itself is unchanged
    lines = _get(client, tenant, f"{RATES}?bill.id={note['id']}")
    assert sorted(x["corrects"]["id"] for x in lines) == sorted(
        x["id"] for x in inv["lines"])
    again = _credit(client, tenant, inv["invoice_id"], {"full": True}, status=409)
    assert again["code"] == "NOT_CREDITABLE"


def test_partial_credit_by_line_reverses_tax_at_the_line_rate(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00", "19.99")
    target = inv["lines"][1]["id"]
    note = _credit(client, tenant, inv["invoice_id"], {
        "lines": [{"line": target, "amount": {"unit": "EUR", "value": "5.55"}}]})
    # 5.55 × 19 % = 1.0545 → 1.05 (half-up)
    assert _value(note["taxExcludedAmount"]) == Decimal("-5.55")
    assert _value(note["taxIncludedAmount"]) == Decimal("-6.60")
    # what is left of the line: 19.99 - 5.55 = 14.44; asking more is refused naming it
    over = _credit(client, tenant, inv["invoice_id"], {
        "lines": [{"line": target, "amount": {"unit": "EUR", "value": "14.45"}}]}, status=409)
    assert over["code"] == "CREDIT_EXCEEDS_CREDITABLE" and over["field"] == "lines[0].amount"
    rest = _credit(client, tenant, inv["invoice_id"], {"lines": [{"line": target}]})
    # the rest of the line and the rest of its tax: 14.44 and 3.80 - 1.05 = 2.75
    assert _value(rest["taxExcludedAmount"]) == Decimal("-14.44")
    assert _value(rest["taxIncludedAmount"]) == Decimal("-17.19")
    bill = _get(client, tenant, f"{BILLS}/{inv['invoice_id']}")
    assert _value(bill["remainingAmount"]) == Decimal("35.69") - Decimal("6.60") - Decimal(
        "17.19")
    done = _credit(client, tenant, inv["invoice_id"], {"lines": [{"line": target}]},
                   status=409)
    assert done["field"] == "lines[0].line"


def test_credit_by_amount_is_spread_pro_rata_and_capped(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00", "30.00")
    note = _credit(client, tenant, inv["invoice_id"],
                   {"amount": {"unit": "EUR", "value": "10.00"}})
    lines = _get(client, tenant, f"{RATES}?bill.id={note['id']}")
    assert sorted(_value(x["taxExcludedAmount"]) for x in lines) == [Decimal("-7.50"),
                                                                     Decimal("-2.50")]
    over = _credit(client, tenant, inv["invoice_id"],
                   {"amount": {"unit": "EUR", "value": "30.01"}}, status=409)
    assert over["code"] == "CREDIT_EXCEEDS_CREDITABLE" and over["field"] == "amount"
    wrong = _credit(client, tenant, inv["invoice_id"],
                    {"amount": {"unit": "USD", "value": "1"}}, status=422)
    assert wrong["field"] == "amount.unit"
    cents = _credit(client, tenant, inv["invoice_id"],
                    {"amount": {"unit": "EUR", "value": "1.001"}}, status=422)
    assert cents["field"] == "amount.value"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "full"), ({"full": True, "amount": {"unit": "EUR", "value": 1}}, "full"),
    ({"lines": [{"line": "x"}], "amount": {"unit": "EUR", "value": 1}}, "amount"),
    ({"lines": []}, "lines"), ({"lines": [{"line": "nope"}]}, "lines[0].line"),
    ({"amount": {"unit": "EUR", "value": -1}}, "amount"),
    ({"amount": {"unit": "EUR", "value": "x"}}, "amount.value"),
    ({"full": True, "colour": 1}, "colour"), ({"full": "yes"}, "full"),
])
def test_hostile_credit_note_bodies_name_the_field(client, tenant, body, field) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00")
    error = _credit(client, tenant, inv["invoice_id"], body, status=422)
    assert error["field"] == field, error


def test_a_credit_note_cannot_be_credited_and_roles_are_checked(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00")
    note = _credit(client, tenant, inv["invoice_id"], {"full": True})
    again = _credit(client, tenant, note["id"], {"full": True}, status=409)
    assert again["code"] == "NOT_CREDITABLE"
    _credit(client, tenant, inv["invoice_id"], {"full": True}, status=403, role="sales_agent")
    _credit(client, tenant, inv["invoice_id"], {"full": True}, status=403, role="finance")


def test_account_balance_reflects_invoices_and_credit_notes(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00", "30.00")  # 47.60 gross
    acc = inv["account"]

    def balance() -> Decimal:
        doc = _get(client, tenant, f"{ACCOUNTS}/{acc}")
        [entry] = [b for b in doc["accountBalance"] if b["balanceType"] == "receivableBalance"]
        return _value(entry["amount"])

    assert balance() == Decimal("47.60")
    _credit(client, tenant, inv["invoice_id"], {"amount": {"unit": "EUR", "value": "10.00"}})
    # 10.00 spread 2.50 / 7.50 over the lines, tax per line: 0.475 → 0.48, 1.425 → 1.43
    assert balance() == Decimal("35.69")  # 47.60 - 11.91
    # a credit note from the bill run (negative total) is unapplied credit
    issue(tenant, [(input_for(acc), [line(acc, "-5.00", kind=LineKind.ADJUSTMENT)])],
          as_of=APR1)
    assert balance() == Decimal("29.74")  # 35.69 - 5.95


def test_document_is_a_pdf_rendered_once(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00")
    path = f"/api/v1/customerBills/{inv['invoice_id']}/document"
    first = client.get(path, headers=tenant.headers("read_only"))
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    # a new template does not change an issued document
    r = client.patch("/api/v1/settings/billingDocument", json={"footer": "changed"},
                     headers=tenant.headers(**MERGE))
    assert r.status_code == 200, r.text
    second = client.get(path, headers=tenant.headers())
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]


def test_on_demand_pro_forma_consumes_no_number(client, tenant, tmf_schema) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("openbss.billing.billrun")
    acc = billing_account(client, tenant)["id"]
    r = client.post(f"/api/v1/billingAccounts/{acc}/charges", headers=tenant.headers(),
                    json={"kind": "charge", "amount": {"unit": "EUR", "value": 20},
                          "name": "Installation"})
    assert r.status_code == 201, r.text
    r = client.post("/tmf-api/customerBillManagement/v4/customerBillOnDemand",
                    json={"billingAccount": {"id": acc}}, headers=tenant.headers("read_only"))
    assert r.status_code == 201, r.text
    doc = r.json()
    tmf_schema(SWAGGER, "CustomerBillOnDemand", doc)
    assert doc["customerBill"]["proForma"] is True and "billNo" not in doc["customerBill"]
    assert _get(client, tenant, f"{BILLS}?billingAccount.id={acc}") == []
    _get(client, tenant, f"/tmf-api/customerBillManagement/v4/customerBillOnDemand/{doc['id']}",
         status=404)
    # the next real bill still gets the first number
    [bill] = issue(tenant, [(input_for(acc), [line(acc, "1.00")])])
    assert bill["bill"]["billNo"] == "INV-2026-000001"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "billingAccount"), ({"billingAccount": {"id": "nope"}}, "billingAccount.id"),
    ({"billingAccount": {"id": ""}}, "billingAccount.id"), ({"billingAccount": 3},
                                                            "billingAccount"),
])
def test_on_demand_hostile_bodies(client, tenant, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/tmf-api/customerBillManagement/v4/customerBillOnDemand", json=body,
                    headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_another_tenants_bills_are_not_found(client, tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00")
    bid, lid = inv["invoice_id"], inv["lines"][0]["id"]
    for path in (f"{BILLS}/{bid}", f"{RATES}/{lid}", f"/api/v1/customerBills/{bid}/document"):
        assert client.get(path, headers=other_tenant.headers()).status_code == 404
    r = client.patch(f"{BILLS}/{bid}", json={"state": "sent"},
                     headers=other_tenant.headers(**MERGE))
    assert r.status_code == 404
    _credit(client, other_tenant, bid, {"full": True}, status=404, role="admin")
    assert _get(client, other_tenant, BILLS) == []
    assert _get(client, other_tenant, f"{RATES}?bill.id={bid}") == []


def test_weakest_reader_reads_and_partner_is_refused(client, tenant) -> None:  # type: ignore[no-untyped-def]
    inv = _invoice(client, tenant, "10.00")
    _get(client, tenant, f"{BILLS}/{inv['invoice_id']}", role="read_only")
    _get(client, tenant, BILLS, role="partner", status=403)
    _get(client, tenant, BILLS, role="catalog_manager", status=403)
