"""TMF676 payments and refunds through HTTP: allocation (oldest due first and explicit),
partial payments, overpayment kept as credit and used by the next invoice, idempotency,
reversals and chargebacks that reopen bills, refunds, write-offs — and the ledger entry
and account balance after each."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.issue_helpers import billing_account, flat_vat, input_for, issue, line
from openbss.core import jsonx

PAY = "/tmf-api/paymentManagement/v4"
BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
ACCOUNTS = "/tmf-api/accountManagement/v4/billingAccount"
SWAGGER = "TMF676-PaymentManagement-v4.0.0.swagger.json"
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)
APR1 = datetime(2026, 4, 1, tzinfo=UTC)


def eur(value: str) -> dict[str, Any]:
    """TMF Money with an exact JSON number (the requests are sent through :func:`send`)."""
    return {"unit": "EUR", "value": Decimal(value)}


class Exact:
    """The test client with bodies serialized by openbss's JSON (exact decimals)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Any:
        return self.client.post(url, content=jsonx.dumps(json), headers={
            **headers, "Content-Type": "application/json"})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def client(client: Any) -> Exact:
    return Exact(client)


def _bill(tenant: Any, account_id: str, net: str, *, as_of: datetime = MAR1) -> dict[str, Any]:
    """An issued invoice of ``net`` + 19 % VAT (FlatVat)."""
    with flat_vat():
        [out] = issue(tenant, [(input_for(account_id), [line(account_id, net)])], as_of=as_of)
    return out


def _get_bill(client: Any, tenant: Any, bill_id: str) -> dict[str, Any]:
    r = client.get(f"{BILLS}/{bill_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _balance(client: Any, tenant: Any, account_id: str) -> Decimal:
    doc = client.get(f"{ACCOUNTS}/{account_id}", headers=tenant.headers()).json()
    return Decimal(str(doc["accountBalance"][0]["amount"]["value"]))


def _ledger_balance(client: Any, tenant: Any, account_id: str) -> Decimal:
    rows = client.get("/api/v1/ledger/receivables", params={"billingAccount.id": account_id},
                      headers=tenant.headers()).json()
    return sum((Decimal(str(r["balance"])) for r in rows), Decimal(0))


def _pay(client: Any, tenant: Any, account_id: str, value: str, **extra: Any) -> Any:
    return client.post(f"{PAY}/payment", json={"account": {"id": account_id},
                                               "totalAmount": eur(value), **extra},
                       headers=tenant.headers())


def _trial_balance_ok(client: Any, tenant: Any) -> dict[str, Any]:
    tb = client.get("/api/v1/ledger/trialBalance", headers=tenant.headers()).json()
    assert Decimal(str(tb["totalDebit"])) == Decimal(str(tb["totalCredit"]))
    return tb  # type: ignore[no-any-return]


def _account_row(tb: dict[str, Any], code: str) -> dict[str, Any]:
    return next(a for a in tb["accounts"] if a["code"] == code)


def test_a_payment_settles_bills_oldest_due_first(client, tenant, tmf_schema) -> None:
    account = billing_account(client, tenant)["id"]
    first = _bill(tenant, account, "100.00")                 # 119.00, due 2026-03-15
    second = _bill(tenant, account, "50.00", as_of=APR1)     # 59.50, due 2026-04-15
    assert _balance(client, tenant, account) == Decimal("178.50")
    r = _pay(client, tenant, account, "150.00", paymentMethod={"@referredType": "Cash"})
    assert r.status_code == 201, r.text
    payment = r.json()
    tmf_schema(SWAGGER, "Payment", payment)
    assert payment["status"] == "done"
    assert payment["channel"] == {"id": "cash", "name": "cash"}
    items = {i["item"]["id"]: Decimal(str(i["amount"]["value"])) for i in payment["paymentItem"]}
    assert items == {first["invoice_id"]: Decimal("119.00"),
                     second["invoice_id"]: Decimal("31.00")}
    assert Decimal(str(payment["unappliedAmount"]["value"])) == 0
    one, two = (_get_bill(client, tenant, b["invoice_id"]) for b in (first, second))
    assert one["state"] == "settled" and Decimal(str(one["remainingAmount"]["value"])) == 0
    assert two["state"] == "partiallyPaid"
    assert Decimal(str(two["remainingAmount"]["value"])) == Decimal("28.50")
    assert one["appliedPayment"][0]["payment"]["id"] == payment["id"]
    assert _balance(client, tenant, account) == Decimal("28.50")
    assert _ledger_balance(client, tenant, account) == Decimal("28.50")
    tb = _trial_balance_ok(client, tenant)
    assert Decimal(str(_account_row(tb, "1000")["debit"])) >= Decimal("150.00")
    assert client.get(f"{PAY}/payment/{payment['id']}", headers=tenant.headers()).json()[
        "paymentItem"] == payment["paymentItem"]
    listed = client.get(f"{PAY}/payment", params={"account.id": account},
                        headers=tenant.headers())
    assert listed.headers["X-Total-Count"] == "1"


def test_overpayment_is_kept_as_credit_and_used_by_the_next_invoice(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    first = _bill(tenant, account, "10.00")                  # 11.90
    payment = _pay(client, tenant, account, "50.00").json()
    assert Decimal(str(payment["unappliedAmount"]["value"])) == Decimal("38.10")
    assert _balance(client, tenant, account) == Decimal("-38.10")
    assert _ledger_balance(client, tenant, account) == Decimal("-38.10")
    second = _bill(tenant, account, "20.00", as_of=APR1)     # 23.80, paid from the credit
    bill = _get_bill(client, tenant, second["invoice_id"])
    assert bill["state"] == "settled"
    assert bill["appliedPayment"][0]["payment"]["id"] == payment["id"]
    after = client.get(f"{PAY}/payment/{payment['id']}", headers=tenant.headers()).json()
    assert Decimal(str(after["unappliedAmount"]["value"])) == Decimal("14.30")
    assert _balance(client, tenant, account) == Decimal("-14.30")
    assert _ledger_balance(client, tenant, account) == Decimal("-14.30")
    assert _get_bill(client, tenant, first["invoice_id"])["state"] == "settled"
    _trial_balance_ok(client, tenant)


def test_explicit_items_and_what_is_refused(client, tenant, other_tenant) -> None:
    account = billing_account(client, tenant)["id"]
    other_account = billing_account(client, tenant, name="Other")["id"]
    first = _bill(tenant, account, "100.00")
    second = _bill(tenant, account, "10.00", as_of=APR1)
    foreign = _bill(tenant, other_account, "10.00")
    r = _pay(client, tenant, account, "20.00", paymentItem=[
        {"item": {"id": second["invoice_id"]}, "amount": eur("11.90")}])
    assert r.status_code == 201, r.text
    assert _get_bill(client, tenant, second["invoice_id"])["state"] == "settled"
    assert _get_bill(client, tenant, first["invoice_id"])["state"] != "settled"
    assert Decimal(str(r.json()["unappliedAmount"]["value"])) == Decimal("8.10")
    cases = [
        ({"paymentItem": [{"item": {"id": foreign["invoice_id"]}, "amount": eur("1")}]},
         "paymentItem[0].item.id"),
        ({"paymentItem": [{"item": {"id": first["invoice_id"]}, "amount": eur("500")}]},
         "paymentItem[0].amount"),
        ({"paymentItem": [{"item": {"id": first["invoice_id"]}, "amount": eur("30")}]},
         "paymentItem"),
        ({"totalAmount": {"unit": "USD", "value": 5}}, "totalAmount.unit"),
        ({"totalAmount": eur("1.001")}, "totalAmount.value"),
        ({"totalAmount": eur("-5")}, "totalAmount.value"),
        ({"totalAmount": eur("0")}, "totalAmount.value"),
        ({"account": {"id": "no-such-account"}}, "account.id"),
    ]
    for extra, field in cases:
        body = {"account": {"id": account}, "totalAmount": eur("20.00"), **extra}
        r = client.post(f"{PAY}/payment", json=body, headers=tenant.headers())
        assert r.status_code in (404, 409, 422), (field, r.text)
        assert r.json()["field"].startswith(field), (field, r.json())
    # another tenant cannot pay (or see) this tenant's account and bills
    r = _pay(client, other_tenant, account, "5.00")
    assert r.status_code == 404
    # 119.00 owed on the first bill, 8.10 of credit
    assert _balance(client, tenant, account) == Decimal("110.90")
    assert _ledger_balance(client, tenant, account) == Decimal("110.90")


def test_the_same_correlator_id_records_once(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    _bill(tenant, account, "10.00")
    first = _pay(client, tenant, account, "11.90", correlatorId="bank-ref-42")
    again = _pay(client, tenant, account, "11.90", correlatorId="bank-ref-42")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert client.get(f"{PAY}/payment", params={"account.id": account},
                      headers=tenant.headers()).headers["X-Total-Count"] == "1"
    assert _balance(client, tenant, account) == 0
    # the payment is found by the correlatorId its client gave
    found = client.get(f"{PAY}/payment", params={"correlatorId": "bank-ref-42"},
                       headers=tenant.headers()).json()
    assert [p["id"] for p in found] == [first.json()["id"]]
    assert client.get(f"{PAY}/payment", params={"correlatorId": "bank-ref-4"},
                      headers=tenant.headers()).json() == []


def test_a_reversal_reopens_the_bills_and_posts_the_reverse(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    bill = _bill(tenant, account, "100.00")
    payment = _pay(client, tenant, account, "130.00").json()
    r = client.post(f"/api/v1/payments/{payment['id']}/reversal",
                    json={"reason": "AM04 insufficient funds"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"
    reopened = _get_bill(client, tenant, bill["invoice_id"])
    assert reopened["state"] == "sent"
    assert Decimal(str(reopened["remainingAmount"]["value"])) == Decimal("119.00")
    assert _balance(client, tenant, account) == Decimal("119.00")
    assert _ledger_balance(client, tenant, account) == Decimal("119.00")
    again = client.post(f"/api/v1/payments/{payment['id']}/reversal", json={},
                        headers=tenant.headers())
    assert again.status_code == 409 and again.json()["code"] == "PAYMENT_NOT_REVERSIBLE"
    tb = _trial_balance_ok(client, tenant)
    cash = _account_row(tb, "1000")
    assert Decimal(str(cash["debit"])) == Decimal(str(cash["credit"])) == Decimal("130.00")
    kinds = [e["kind"] for e in client.get("/api/v1/ledger/journalEntries", params={
        "billingAccount.id": account}, headers=tenant.headers()).json()]
    assert kinds == ["invoice", "payment", "reversal"]


def test_a_chargeback_with_the_bank_fee(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    bill = _bill(tenant, account, "10.00")
    payment = _pay(client, tenant, account, "11.90").json()
    r = client.post(f"/api/v1/payments/{payment['id']}/chargeback",
                    json={"reason": "fraudulent", "feeAmount": eur("15.00")},
                    headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "chargedBack"
    assert Decimal(str(r.json()["feeAmount"]["value"])) == Decimal("15.00")
    assert _get_bill(client, tenant, bill["invoice_id"])["state"] == "sent"
    tb = _trial_balance_ok(client, tenant)
    assert Decimal(str(_account_row(tb, "6100")["debit"])) == Decimal("15.00")
    assert Decimal(str(_account_row(tb, "1000")["balance"])) == Decimal("-15.00")


def test_refunds_take_the_credit_first_then_reopen_bills(client, tenant, tmf_schema) -> None:
    account = billing_account(client, tenant)["id"]
    bill = _bill(tenant, account, "10.00")                   # 11.90
    payment = _pay(client, tenant, account, "20.00").json()  # 8.10 credit
    r = client.post(f"{PAY}/refund", json={"payment": {"id": payment["id"]},
                                           "totalAmount": eur("5.00")},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    tmf_schema(SWAGGER, "Refund", r.json())
    assert r.json()["status"] == "done"
    assert _balance(client, tenant, account) == Decimal("-3.10")
    r = client.post(f"{PAY}/refund", json={"payment": {"id": payment["id"]},
                                           "totalAmount": eur("16.00")},
                    headers=tenant.headers())
    assert r.status_code == 409 and r.json()["code"] == "REFUND_EXCEEDS_PAYMENT"
    r = client.post(f"{PAY}/refund", json={"payment": {"id": payment["id"]},
                                           "totalAmount": eur("10.00")},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    reopened = _get_bill(client, tenant, bill["invoice_id"])
    assert Decimal(str(reopened["remainingAmount"]["value"])) == Decimal("6.90")
    assert reopened["state"] == "partiallyPaid"
    assert _balance(client, tenant, account) == Decimal("6.90")
    assert _ledger_balance(client, tenant, account) == Decimal("6.90")
    refunds = client.get(f"{PAY}/refund", params={"payment.id": payment["id"]},
                         headers=tenant.headers())
    assert refunds.headers["X-Total-Count"] == "2"
    _trial_balance_ok(client, tenant)


def test_allocating_credit_by_hand(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    client.patch("/api/v1/settings/payments", json={"autoAllocate": False,
                                                    "applyCreditToNewBills": False},
                 headers=tenant.headers(**{"Content-Type": "application/merge-patch+json"}))
    bill = _bill(tenant, account, "10.00")
    payment = _pay(client, tenant, account, "11.90").json()
    assert payment["paymentItem"] == []
    assert _get_bill(client, tenant, bill["invoice_id"])["state"] != "settled"
    r = client.post(f"/api/v1/payments/{payment['id']}/allocations", json={
        "paymentItem": [{"item": {"id": bill["invoice_id"]}, "amount": eur("11.90")}]},
        headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert _get_bill(client, tenant, bill["invoice_id"])["state"] == "settled"
    again = client.post(f"/api/v1/payments/{payment['id']}/allocations", json={},
                        headers=tenant.headers())
    assert again.status_code == 409 and again.json()["code"] == "NOTHING_TO_ALLOCATE"
    assert _ledger_balance(client, tenant, account) == 0
    kinds = [e["kind"] for e in client.get("/api/v1/ledger/journalEntries", params={
        "billingAccount.id": account}, headers=tenant.headers()).json()]
    assert kinds == ["invoice", "payment", "creditApplied"]


def test_write_off(client, tenant) -> None:
    account = billing_account(client, tenant)["id"]
    bill = _bill(tenant, account, "10.00")
    _pay(client, tenant, account, "1.90")
    r = client.post(f"/api/v1/customerBills/{bill['invoice_id']}/writeOff",
                    json={"reason": "customer insolvent"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "settled"
    assert _balance(client, tenant, account) == 0
    tb = _trial_balance_ok(client, tenant)
    assert Decimal(str(_account_row(tb, "6200")["debit"])) == Decimal("10.00")
    again = client.post(f"/api/v1/customerBills/{bill['invoice_id']}/writeOff", json={},
                        headers=tenant.headers())
    assert again.status_code == 409


@pytest.mark.parametrize("role", ["read_only", "catalog_manager", "partner"])
def test_roles_without_payment_write_cannot_record(client, tenant, role) -> None:
    account = billing_account(client, tenant)["id"]
    r = client.post(f"{PAY}/payment", json={"account": {"id": account},
                                            "totalAmount": eur("1")},
                    headers=tenant.headers(role))
    assert r.status_code == 403


def test_the_worked_example_of_docs_payments(client, tenant) -> None:
    """docs/payments.md "Worked example", step by step."""
    account = billing_account(client, tenant)["id"]
    one = _bill(tenant, account, "100.00")["invoice_id"]
    two = _bill(tenant, account, "50.00", as_of=APR1)["invoice_id"]

    def state() -> tuple[Decimal, Decimal, Decimal]:
        return (Decimal(str(_get_bill(client, tenant, one)["remainingAmount"]["value"])),
                Decimal(str(_get_bill(client, tenant, two)["remainingAmount"]["value"])),
                _balance(client, tenant, account))

    first = _pay(client, tenant, account, "150.00").json()
    assert state() == (0, Decimal("28.50"), Decimal("28.50"))
    second = _pay(client, tenant, account, "50.00").json()
    assert state() == (0, 0, Decimal("-21.50"))
    r = client.post(f"{PAY}/refund", json={"payment": {"id": second["id"]},
                                           "totalAmount": eur("10.00")},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    assert state() == (0, 0, Decimal("-11.50"))
    r = client.post(f"/api/v1/payments/{first['id']}/reversal", json={},
                    headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert state() == (Decimal("119.00"), Decimal("31.00"), Decimal("138.50"))
    assert _ledger_balance(client, tenant, account) == Decimal("138.50")
