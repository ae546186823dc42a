"""The Stripe adapter against recorded Stripe API answers (no network here): the request
the SDK sends (path, form-encoded minor units, Idempotency-Key), the status mapping,
declines; webhook signatures as Stripe documents them (t=…,v1=HMAC-SHA256 of
"{t}.{body}"); and the webhook route applying events to card payments end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe

from billing.issue_helpers import billing_account, flat_vat, input_for, issue, line
from openbss.core.money import Money
from openbss.payments.gateways import ChargeRequest, InvalidSignature, MethodRef
from openbss.payments.gateways import stripe as adapter

SECRET = "whsec_test_secret"


def intent(status: str, amount: int = 1999, currency: str = "eur", **extra: Any) -> dict:
    """A PaymentIntent as the Stripe API returns it (the fields the adapter reads)."""
    return {"id": "pi_3OabcDEF", "object": "payment_intent", "amount": amount,
            "amount_received": amount if status == "succeeded" else 0,
            "currency": currency, "status": status, "customer": "cus_Pxyz",
            "payment_method": "pm_card_visa", "livemode": False,
            "metadata": {"openbss_payment_id": "p1"}, **extra}


DECLINE = {"error": {
    "code": "card_declined", "decline_code": "insufficient_funds", "type": "card_error",
    "message": "Your card has insufficient funds.", "param": "",
    "payment_intent": intent("requires_payment_method"),
    "doc_url": "https://stripe.com/docs/error-codes/card-declined"}}


class Recorded(stripe.HTTPClient):
    """Answers with recorded bodies, one per request, and keeps what was sent."""

    name = "recorded"

    def __init__(self, answers: list[tuple[int, dict]]) -> None:
        super().__init__()
        self.answers = answers
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None,
                **kwargs: Any) -> tuple[str, int, dict[str, str]]:
        self.sent.append({"method": method, "url": url, "headers": dict(headers or {}),
                          "form": parse_qs(post_data or "")})
        status, body = self.answers.pop(0)
        return json.dumps(body), status, {"Request-Id": "req_1"}

    def close(self) -> None:
        pass


@pytest.fixture
def stripe_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENBSS_STRIPE_API_KEY", "sk_test_123")
    monkeypatch.setenv("OPENBSS_STRIPE_WEBHOOK_SECRET", SECRET)
    saved = adapter.gateway.http_client
    yield
    adapter.gateway.http_client = saved


def _charge(amount: str = "19.99", currency: str = "EUR") -> ChargeRequest:
    return ChargeRequest(payment_id="p1", account_id="a1",
                         amount=Money(Decimal(amount), currency),
                         method=MethodRef("m1", "tokenizedCard", "pm_card_visa", "cus_Pxyz"),
                         idempotency_key="tenant:p1")


def test_a_charge_sends_minor_units_and_the_idempotency_key(stripe_env) -> None:
    client = Recorded([(200, intent("succeeded"))])
    adapter.gateway.http_client = client
    result = adapter.gateway.charge(_charge())
    assert (result.status, result.gateway_ref) == ("done", "pi_3OabcDEF")
    [sent] = client.sent
    assert sent["method"] == "post" and sent["url"].endswith("/v1/payment_intents")
    assert sent["form"]["amount"] == ["1999"] and sent["form"]["currency"] == ["eur"]
    assert sent["form"]["confirm"] == ["true"] and sent["form"]["off_session"] == ["true"]
    assert sent["form"]["customer"] == ["cus_Pxyz"]
    assert sent["form"]["metadata[openbss_payment_id]"] == ["p1"]
    assert sent["headers"]["Idempotency-Key"] == "tenant:p1"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_123"


def test_zero_decimal_currencies_and_fractions(stripe_env) -> None:
    client = Recorded([(200, intent("succeeded", amount=1999, currency="jpy"))])
    adapter.gateway.http_client = client
    adapter.gateway.charge(_charge("1999", "JPY"))
    assert client.sent[0]["form"]["amount"] == ["1999"]
    with pytest.raises(Exception, match="more decimals"):
        adapter.minor_units(Money(Decimal("1.999"), "EUR"))


@pytest.mark.parametrize(("status", "expected"), [
    ("requires_action", "pendingAuthorization"), ("processing", "pendingAuthorization"),
    ("requires_confirmation", "pendingAuthorization"), ("requires_capture", "authorized"),
    ("canceled", "failed"), ("requires_payment_method", "failed")])
def test_intent_statuses(stripe_env, status: str, expected: str) -> None:
    adapter.gateway.http_client = Recorded([(200, intent(status))])
    assert adapter.gateway.charge(_charge()).status == expected


def test_a_decline_is_a_failed_charge_with_the_reason(stripe_env) -> None:
    adapter.gateway.http_client = Recorded([(402, DECLINE)])
    result = adapter.gateway.charge(_charge())
    assert result.status == "failed"
    assert result.reason == "card_declined: Your card has insufficient funds."
    assert result.gateway_ref == "pi_3OabcDEF"


def test_a_refund(stripe_env) -> None:
    client = Recorded([(200, {"id": "re_1", "object": "refund", "amount": 500,
                              "currency": "eur", "status": "succeeded",
                              "payment_intent": "pi_3OabcDEF"})])
    adapter.gateway.http_client = client
    result = adapter.gateway.refund(gateway_ref="pi_3OabcDEF",
                                    amount=Money(Decimal("5.00"), "EUR"),
                                    idempotency_key="tenant:r1")
    assert (result.status, result.gateway_ref) == ("done", "re_1")
    assert client.sent[0]["url"].endswith("/v1/refunds")
    assert client.sent[0]["form"] == {"payment_intent": ["pi_3OabcDEF"], "amount": ["500"]}
    assert client.sent[0]["headers"]["Idempotency-Key"] == "tenant:r1"


def test_no_api_key_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBSS_STRIPE_API_KEY", raising=False)
    with pytest.raises(Exception, match="OPENBSS_STRIPE_API_KEY"):
        adapter.gateway.charge(_charge())


def signed(payload: dict, *, secret: str = SECRET, at: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={t},v1={mac}"


def event(kind: str, obj: dict) -> dict:
    return {"id": "evt_1", "object": "event", "type": kind, "api_version": "2024-06-20",
            "created": int(time.time()), "data": {"object": obj}, "livemode": False}


def test_webhooks_are_verified_and_mapped(stripe_env) -> None:
    body, sig = signed(event("payment_intent.succeeded", intent("succeeded")))
    e = adapter.gateway.parse_webhook(headers={"Stripe-Signature": sig}, body=body)
    assert (e.kind, e.gateway_ref, e.amount) == ("succeeded", "pi_3OabcDEF",
                                                 Money(Decimal("19.99"), "EUR"))
    dispute = {"id": "dp_1", "object": "dispute", "amount": 1999, "currency": "eur",
               "payment_intent": "pi_3OabcDEF", "reason": "fraudulent"}
    body, sig = signed(event("charge.dispute.created", dispute))
    e = adapter.gateway.parse_webhook(headers={"stripe-signature": sig}, body=body)
    assert (e.kind, e.gateway_ref, e.reason) == ("disputed", "pi_3OabcDEF",
                                                 "dispute: fraudulent")
    body, sig = signed(event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert adapter.gateway.parse_webhook(headers={"Stripe-Signature": sig},
                                         body=body).kind == "ignored"


def test_failed_and_refunded_webhooks(stripe_env) -> None:
    failed = intent("requires_payment_method", last_payment_error={
        "code": "card_declined", "decline_code": "generic_decline", "type": "card_error",
        "message": "Your card was declined."})
    body, sig = signed(event("payment_intent.payment_failed", failed))
    e = adapter.gateway.parse_webhook(headers={"Stripe-Signature": sig}, body=body)
    assert (e.kind, e.gateway_ref, e.reason) == ("failed", "pi_3OabcDEF",
                                                 "Your card was declined.")
    charge = {"id": "ch_1", "object": "charge", "amount": 1999, "amount_captured": 1999,
              "amount_refunded": 500, "currency": "eur", "payment_intent": "pi_3OabcDEF",
              "refunded": False, "status": "succeeded"}
    body, sig = signed(event("charge.refunded", charge))
    e = adapter.gateway.parse_webhook(headers={"Stripe-Signature": sig}, body=body)
    assert (e.kind, e.gateway_ref, e.amount) == ("refunded", "pi_3OabcDEF",
                                                 Money(Decimal("5.00"), "EUR"))


@pytest.mark.parametrize("attack", ["tampered", "wrong secret", "missing", "stale"])
def test_bad_signatures_are_refused(stripe_env, attack: str) -> None:
    payload = event("payment_intent.succeeded", intent("succeeded"))
    body, sig = signed(payload, secret="whsec_other" if attack == "wrong secret" else SECRET,
                       at=int(time.time()) - 3600 if attack == "stale" else None)
    if attack == "tampered":
        body = body.replace(b"1999", b"9999")
    headers = {} if attack == "missing" else {"Stripe-Signature": sig}
    with pytest.raises(InvalidSignature):
        adapter.gateway.parse_webhook(headers=headers, body=body)


def test_a_card_payment_through_the_api_and_its_webhooks(client, tenant, stripe_env) -> None:
    account = billing_account(client, tenant)["id"]
    with flat_vat():
        [bill] = issue(tenant, [(input_for(account), [line(account, "10.00")])])
    card = client.post("/tmf-api/paymentMethods/v4/paymentMethod", json={
        "@type": "tokenizedCard", "name": "Visa 4242", "account": [{"id": account}],
        "token": "pm_card_visa", "lastFourDigits": "4242", "gateway": "stripe",
        "expirationDate": "2030-12-31T00:00:00Z"}, headers=tenant.headers()).json()
    adapter.gateway.http_client = Recorded([(200, intent("requires_action", amount=1190))])
    r = client.post("/tmf-api/paymentManagement/v4/payment", json={
        "account": {"id": account}, "totalAmount": {"unit": "EUR", "value": 11.9},
        "paymentMethod": {"id": card["id"]}}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    payment = r.json()
    assert payment["status"] == "pendingAuthorization" and payment["gateway"] == "stripe"
    url = f"/callbacks/payments/stripe/{tenant.id}"
    body, sig = signed(event("payment_intent.succeeded", intent("succeeded", amount=1190)))
    bad = client.post(url, content=body, headers={"Stripe-Signature": sig + "0",
                                                  "Content-Type": "application/json"})
    assert bad.status_code == 401
    ok = client.post(url, content=body, headers={"Stripe-Signature": sig,
                                                 "Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["applied"] is True, ok.text
    again = client.post(url, content=body, headers={"Stripe-Signature": sig,
                                                    "Content-Type": "application/json"})
    assert again.json()["applied"] is False                      # Stripe retries: no-op
    bills = "/tmf-api/customerBillManagement/v4/customerBill"
    assert client.get(f"{bills}/{bill['invoice_id']}",
                      headers=tenant.headers()).json()["state"] == "settled"
    dispute = {"id": "dp_1", "object": "dispute", "amount": 1190, "currency": "eur",
               "payment_intent": "pi_3OabcDEF", "reason": "fraudulent"}
    body, sig = signed(event("charge.dispute.created", dispute))
    r = client.post(url, content=body, headers={"Stripe-Signature": sig,
                                                "Content-Type": "application/json"})
    assert r.json()["applied"] is True
    after = client.get(f"/tmf-api/paymentManagement/v4/payment/{payment['id']}",
                       headers=tenant.headers()).json()
    assert after["status"] == "chargedBack"
    assert client.get(f"{bills}/{bill['invoice_id']}",
                      headers=tenant.headers()).json()["state"] == "sent"
    unknown = client.post("/callbacks/payments/stripe/no-such-tenant", content=body,
                          headers={"Stripe-Signature": sig, "Content-Type": "application/json"})
    assert unknown.status_code == 401
