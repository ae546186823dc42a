"""SEPA direct debit and bank statements through the CLI and HTTP: the pain.008 file is
valid against the official XSD (both versions) and ties each transaction to its bill; a
collected bill is never collected twice; a camt.054 credits the collection (matched) and
returns a debit (returned, the bill stays open for dunning); a camt.053 pays a bill by
its number in the remittance, queues what it cannot match (matched by hand later), and
importing the same file again changes nothing; a debit returned after it was booked
reverses the payment and reopens the bill."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree
from typer.testing import CliRunner

from billing.issue_helpers import billing_account, flat_vat, input_for, issue, line
from openbss.cli import app as cli_app
from openbss.payments import bank
from openbss.payments.iso20022.validate import XSD_DIR

METHODS = "/tmf-api/paymentMethods/v4/paymentMethod"
PAY = "/tmf-api/paymentManagement/v4"
BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
IBAN = "DE02120300000000202051"
CREDITOR_IBAN = "DE89370400440532013000"
OFFICIAL = Path(__file__).resolve().parents[3] / "shared" / "specs" / "iso20022"
SAMPLES = Path(__file__).parent / "samples"
NS8 = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}
runner = CliRunner()


def _xsd(name: str) -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(XSD_DIR / f"{name}.xsd"))


@pytest.mark.parametrize("name", ["pain.008.001.08", "pain.008.001.02", "camt.053.001.02",
                                  "camt.054.001.02"])
def test_the_vendored_schemas_are_the_official_ones(name: str) -> None:
    official = OFFICIAL / f"{name}.xsd"
    if not official.exists():
        pytest.skip("the shared specifications are not next to this checkout")
    assert hashlib.sha256((XSD_DIR / f"{name}.xsd").read_bytes()).hexdigest() == \
        hashlib.sha256(official.read_bytes()).hexdigest()


def _customer(client: Any, tenant: Any, *nets: str) -> tuple[str, list[dict[str, Any]]]:
    account = billing_account(client, tenant)["id"]
    r = client.post(METHODS, json={
        "@type": "directDebit", "name": "SEPA mandate", "isPreferred": True,
        "account": [{"id": account}], "accountNumber": IBAN, "owner": "Erika Mustermann",
        "mandateId": f"M-{account[:10]}", "signatureDate": "2026-02-01T00:00:00Z"},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    bills = []
    with flat_vat():
        for n, net in enumerate(nets):
            [b] = issue(tenant, [(input_for(account), [line(account, net)])],
                        as_of=datetime(2026, 3 + n, 1, tzinfo=UTC))
            bills.append(b)
    return account, bills


def _cli(*args: str) -> Any:
    result = runner.invoke(cli_app, list(args))
    return result


def _bill(client: Any, tenant: Any, bill_id: str) -> dict[str, Any]:
    return client.get(f"{BILLS}/{bill_id}", headers=tenant.headers()).json()  # type: ignore[no-any-return]


def _statement(message: str, movements: list[bank.BankMovement], ref: str) -> bytes:
    return bank.write(message=message, message_id=ref, created_at=datetime.now(UTC),
                      account_iban=CREDITOR_IBAN, currency="EUR", movements=movements)


def test_export_collect_return_and_transfer(client, tenant, tmp_path) -> None:
    account, (first, second) = _customer(client, tenant, "100.00", "50.00")
    day = (date.today() + timedelta(days=5)).isoformat()
    out = tmp_path / "collection.xml"
    result = _cli("payments", "sepa-export", "--collection-date", day, "--output", str(out),
                  "--tenant", tenant.name, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["transactions"] == 2 and summary["version"] == "pain.008.001.08"
    assert Decimal(str(summary["total"]["value"])) == Decimal("178.50")
    content = out.read_bytes()
    _xsd("pain.008.001.08").validate(content)
    doc = etree.fromstring(content)
    assert doc.xpath("//p:PmtInf/p:PmtTpInf/p:SeqTp/text()", namespaces=NS8) == ["FRST"]
    e2e = doc.xpath("//p:DrctDbtTxInf/p:PmtId/p:EndToEndId/text()", namespaces=NS8)
    numbers = [_bill(client, tenant, b["invoice_id"])["billNo"] for b in (first, second)]
    assert e2e == numbers
    assert doc.xpath("//p:DrctDbtTxInf/p:DbtrAcct/p:Id/p:IBAN/text()", namespaces=NS8) == [
        IBAN, IBAN]
    assert doc.xpath("//p:ReqdColltnDt/text()", namespaces=NS8) == [day]
    # in flight: never collected twice; the mandate goes on as RCUR
    again = _cli("payments", "sepa-export", "--collection-date", day, "--tenant",
                 tenant.name, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["transactions"] == 0
    method = client.get(METHODS, params={"account.id": account},
                        headers=tenant.headers()).json()[0]
    assert method["sequenceType"] == "RCUR"
    assert method["accountNumber"] == "DE02 1203 0000 0000 2020 51"  # admin: personal
    payments = client.get(f"{PAY}/payment", params={"account.id": account},
                          headers=tenant.headers()).json()
    assert {p["status"] for p in payments} == {"pendingAuthorization"}
    assert {p["endToEndId"] for p in payments} == set(numbers)
    for b in (first, second):  # in flight: marked on the bill (TMF678 has no such state)
        collection = _bill(client, tenant, b["invoice_id"])["collection"]
        assert collection["state"] == "pending"
        assert collection["payment"]["id"] in {p["id"] for p in payments}
    # the bank: the first collected, the second returned (AM04)
    notice = _statement("camt.054", [
        bank.BankMovement(Decimal("119.00"), "EUR", "collection", date.today(), "B1",
                          end_to_end_id=numbers[0], mandate_id=f"M-{account[:10]}"),
        bank.BankMovement(Decimal("59.50"), "EUR", "return", date.today(), "B2",
                          end_to_end_id=numbers[1], return_code="AM04")], "N1")
    path = tmp_path / "notice.xml"
    path.write_bytes(notice)
    result = _cli("payments", "import-statement", str(path), "--tenant", tenant.name,
                  "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"entries": 2, "matched": 1, "unmatched": 0,
                                         "returned": 1, "duplicates": 0}
    assert _bill(client, tenant, first["invoice_id"])["state"] == "settled"
    returned = _bill(client, tenant, second["invoice_id"])
    assert returned["state"] != "settled"
    assert returned["collection"]["state"] == "failed"
    assert "AM04" in returned["collection"]["reason"]
    assert "collection" not in _bill(client, tenant, first["invoice_id"])
    states = {p["endToEndId"]: (p["status"], p.get("reason")) for p in client.get(
        f"{PAY}/payment", params={"account.id": account}, headers=tenant.headers()).json()}
    assert states[numbers[0]] == ("done", None)
    assert states[numbers[1]][0] == "failed" and "AM04" in states[numbers[1]][1]
    # the same file again: nothing changes
    result = _cli("payments", "import-statement", str(path), "--tenant", tenant.name,
                  "--json")
    assert json.loads(result.stdout) == {"entries": 2, "matched": 0, "unmatched": 0,
                                         "returned": 0, "duplicates": 2}
    # the customer pays the returned bill by transfer; a stranger's transfer is queued
    statement = _statement("camt.053", [
        bank.BankMovement(Decimal("59.50"), "EUR", "transfer", date.today(), "B3",
                          debtor_name="Erika Mustermann", debtor_iban=IBAN,
                          remittance=(f"Invoice {numbers[1]}",)),
        bank.BankMovement(Decimal("42.00"), "EUR", "transfer", date.today(), "B4",
                          debtor_name="Somebody Else", remittance=("donation",))], "S1")
    r = client.post("/api/v1/payments/bankStatements", content=statement,
                    headers=tenant.headers(**{"Content-Type": "application/xml"}))
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("entries", "matched", "unmatched", "returned",
                                     "duplicates")} == {
        "entries": 2, "matched": 1, "unmatched": 1, "returned": 0, "duplicates": 0}
    paid = _bill(client, tenant, second["invoice_id"])
    assert paid["state"] == "settled" and "collection" not in paid
    again = client.post("/api/v1/payments/bankStatements", content=statement,
                        headers=tenant.headers(**{"Content-Type": "application/xml"}))
    assert again.status_code == 200 and again.json()["duplicates"] == 2
    # the queue, and matching by hand to the account (kept as credit)
    [queued] = client.get("/api/v1/payments/statementEntries", params={"state": "unmatched"},
                          headers=tenant.headers()).json()
    assert Decimal(str(queued["amount"]["value"])) == Decimal("42.00")
    assert queued["debtor"]["name"] == "Somebody Else"
    assert client.get(f"/api/v1/payments/statementEntries/{queued['id']}",
                      headers=tenant.headers("read_only")).json()["debtor"]["name"] == "S. E."
    from openbss.core.db import unit_of_work
    from openbss.payments.models import StatementEntry

    with unit_of_work() as session:  # at rest: initials, the name sealed
        stored = session.get(StatementEntry, queued["id"])
        assert stored is not None and stored.debtor_name == "S. E."
        assert "Somebody" not in json.dumps(stored.detail)
    r = client.post(f"/api/v1/payments/statementEntries/{queued['id']}/match",
                    json={"billingAccount": {"id": account}}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "matched"
    twice = client.post(f"/api/v1/payments/statementEntries/{queued['id']}/match",
                        json={"billingAccount": {"id": account}}, headers=tenant.headers())
    assert twice.status_code == 409
    doc = client.get(f"/tmf-api/accountManagement/v4/billingAccount/{account}",
                     headers=tenant.headers()).json()
    assert Decimal(str(doc["accountBalance"][0]["amount"]["value"])) == Decimal("-42.00")
    tb = client.get("/api/v1/ledger/trialBalance", headers=tenant.headers()).json()
    assert tb["totalDebit"] == tb["totalCredit"]
    cash = next(a for a in tb["accounts"] if a["code"] == "1000")
    assert Decimal(str(cash["debit"])) == Decimal("119.00") + Decimal("59.50") + 42


def test_a_return_after_booking_reverses_the_payment(client, tenant) -> None:
    account, (bill,) = _customer(client, tenant, "10.00")
    r = client.post("/api/v1/payments/sepaCollections", json={
        "collectionDate": (date.today() + timedelta(days=2)).isoformat(), "version": "02"},
        headers=tenant.headers())
    assert r.status_code == 201, r.text
    content = client.get(r.json()["file"]["href"], headers=tenant.headers()).content
    _xsd("pain.008.001.02").validate(content)
    number = _bill(client, tenant, bill["invoice_id"])["billNo"]
    booked = _statement("camt.054", [bank.BankMovement(
        Decimal("11.90"), "EUR", "collection", date.today(), "C1", end_to_end_id=number)],
        "N2")
    client.post("/api/v1/payments/bankStatements", content=booked,
                headers=tenant.headers(**{"Content-Type": "application/xml"}))
    assert _bill(client, tenant, bill["invoice_id"])["state"] == "settled"
    refund = _statement("camt.054", [bank.BankMovement(
        Decimal("11.90"), "EUR", "return", date.today(), "C2", end_to_end_id=number,
        return_code="MD06")], "N3")
    r = client.post("/api/v1/payments/bankStatements", content=refund,
                    headers=tenant.headers(**{"Content-Type": "application/xml"}))
    assert r.json()["returned"] == 1
    reopened = _bill(client, tenant, bill["invoice_id"])
    assert reopened["state"] == "sent"
    assert reopened["collection"]["state"] == "returned"
    assert "MD06" in reopened["collection"]["reason"]
    [payment] = client.get(f"{PAY}/payment", params={"account.id": account},
                           headers=tenant.headers()).json()
    assert payment["status"] == "reversed" and "MD06" in payment["reason"]
    kinds = [e["kind"] for e in client.get("/api/v1/ledger/journalEntries", params={
        "billingAccount.id": account}, headers=tenant.headers()).json()]
    assert kinds == ["invoice", "payment", "reversal"]


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.xml")))
def test_published_sample_statements_import(client, tenant, sample) -> None:
    """The FFFS samples (published with the ISO schemas): every entry is accounted for."""
    content = (SAMPLES / sample).read_bytes()
    r = client.post("/api/v1/payments/bankStatements", content=content,
                    headers=tenant.headers(**{"Content-Type": "application/xml"}))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["entries"] > 0
    assert doc["entries"] == len(doc["entryDetails"])


def test_hostile_statements_are_refused(client, tenant) -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&x;</Document>')
    for body, status in [(xxe, 422), (b"<not-xml", 422), (b"{}", 415),
                         (b'<Document xmlns="urn:example"/>', 422)]:
        ctype = "application/json" if body == b"{}" else "application/xml"
        r = client.post("/api/v1/payments/bankStatements", content=body,
                        headers=tenant.headers(**{"Content-Type": ctype}))
        assert r.status_code == status, (body, r.text)
        assert "passwd" not in r.text
    result = _cli("payments", "import-statement", "/no/such/file.xml", "--tenant",
                  tenant.name)
    assert result.exit_code == 1


def test_payment_methods_validate_and_mask(client, tenant, tmf_schema) -> None:
    account = billing_account(client, tenant)["id"]
    bad = [({"accountNumber": "DE00123456780000000000"}, "accountNumber"),
           ({"BIC": "NOTABIC"}, "BIC"),
           ({"signatureDate": None}, "signatureDate")]
    for extra, field in bad:
        body = {"@type": "directDebit", "name": "m", "account": [{"id": account}],
                "accountNumber": IBAN, "owner": "E M", "signatureDate": "2026-01-01T00:00:00Z"}
        body.update(extra)
        body = {k: v for k, v in body.items() if v is not None}
        r = client.post(METHODS, json=body, headers=tenant.headers())
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    card = client.post(METHODS, json={"@type": "bankCard", "name": "visa",
                                      "account": [{"id": account}],
                                      "cardNumber": "4111111111111111"},
                       headers=tenant.headers())
    assert card.status_code == 422 and card.json()["field"] == "cardNumber"
    assert "4111111111111111" not in card.text
    r = client.post(METHODS, json={"@type": "tokenizedCard", "name": "Visa ending 4242",
                                   "account": [{"id": account}], "token": "tok_123",
                                   "lastFourDigits": "4242", "brand": "visa",
                                   "expirationDate": "2029-12-31T00:00:00Z"},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    tmf_schema("TMF670-PaymentMethods-v4.0.0-release2025.swagger.json", "PaymentMethod",
               r.json())
    mandate = client.post(METHODS, json={
        "@type": "DirectDebit", "name": "SEPA", "account": [{"id": account}],
        "accountNumber": "de02 1203 0000 0000 2020 51", "owner": "Erika Mustermann",
        "signatureDate": "2026-01-01T00:00:00Z", "isPreferred": True},
        headers=tenant.headers()).json()
    assert mandate["@type"] == "directDebit" and mandate["BIC"] == "BYLADEM1001"
    assert mandate["accountNumber"] == "DE02 1203 0000 0000 2020 51"
    for role, clear in (("billing_ops", True), ("read_only", False), ("finance", False)):
        doc = client.get(f"{METHODS}/{mandate['id']}", headers=tenant.headers(role)).json()
        assert (doc["accountNumber"] == "DE02 1203 0000 0000 2020 51") is clear, role
        assert (doc["owner"] == "Erika Mustermann") is clear, role
        if not clear:
            assert doc["accountNumber"] == "DE02 **** **** **** 2051"
            assert doc["owner"] == "E. M."
    r = client.delete(f"{METHODS}/{mandate['id']}", headers=tenant.headers())
    assert r.status_code == 204
    assert client.get(f"{METHODS}/{mandate['id']}",
                      headers=tenant.headers()).json()["status"] == "inactive"


def test_lists_filter_by_date(client, tenant) -> None:
    _customer(client, tenant, "10.00")
    day = (date.today() + timedelta(days=3)).isoformat()
    r = client.post("/api/v1/payments/sepaCollections", json={"collectionDate": day},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    found = client.get("/api/v1/payments/sepaCollections", params={"collectionDate": day},
                       headers=tenant.headers())
    assert found.status_code == 200 and [c["id"] for c in found.json()] == [r.json()["id"]]
    later = client.get("/api/v1/payments/sepaCollections",
                       params={"collectionDate.gt": f"{day}T00:00:00Z"},
                       headers=tenant.headers())
    assert later.status_code == 200 and later.json() == []
    for bad in ("®\"×_", "2026-13-01", "2026-03-01 garbage"):
        r = client.get("/api/v1/payments/sepaCollections", params={"collectionDate": bad},
                       headers=tenant.headers())
        assert r.status_code == 400 and r.json()["field"] == "collectionDate", r.text
    r = client.get("/api/v1/ledger/journalEntries", params={"entryDate.gte": "2026-01-01"},
                   headers=tenant.headers())
    assert r.status_code == 200 and r.json()
