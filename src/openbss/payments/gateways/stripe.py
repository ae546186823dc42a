"""The Stripe gateway adapter, on the official ``stripe`` SDK.

- :meth:`StripeGateway.charge` creates and confirms a PaymentIntent off session against
  the stored customer (``PaymentMethod.gateway_customer``, ``cus_…``) and payment method
  (``gateway_ref``, ``pm_…``); the amount in the currency's minor units (exact: 19.99 EUR
  is 1999, 1999 JPY is 1999), the openbss payment id in the metadata, and openbss's
  idempotency key passed as Stripe's ``Idempotency-Key`` — a retried charge is charged
  once by Stripe too. PaymentIntent status → payment status: ``succeeded`` → ``done``;
  ``processing``, ``requires_action``, ``requires_confirmation`` → ``pendingAuthorization``
  (the webhook tells the end); ``requires_capture`` → ``authorized``; ``canceled``,
  ``requires_payment_method`` and card errors (declines) → ``failed`` with Stripe's
  reason. Network and API errors raise (nothing is recorded; retry with the same key).
- :meth:`StripeGateway.refund` refunds (part of) a PaymentIntent.
- :meth:`StripeGateway.parse_webhook` verifies the ``Stripe-Signature`` header with the
  SDK (HMAC-SHA256 of ``{t}.{body}``, at most 5 minutes old) and maps
  ``payment_intent.succeeded`` → ``succeeded``, ``payment_intent.payment_failed`` →
  ``failed``, ``charge.dispute.created`` → ``disputed`` (a chargeback),
  ``charge.refunded`` → ``refunded``; anything else is ``ignored``.

Configuration: ``OPENBSS_STRIPE_API_KEY`` (``sk_…``) and ``OPENBSS_STRIPE_WEBHOOK_SECRET``
(``whsec_…``), read when used. Tests plug a recorded-response HTTP client
(:attr:`StripeGateway.http_client`); nothing here reaches the network by itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import stripe

from openbss.core.errors import ValidationError
from openbss.core.money import Money, currency_exponent
from openbss.payments.gateways.port import (
    ChargeRequest,
    GatewayEvent,
    GatewayResult,
    InvalidSignature,
    register,
)

STATUS = {"succeeded": "done", "processing": "pendingAuthorization",
          "requires_action": "pendingAuthorization",
          "requires_confirmation": "pendingAuthorization", "requires_capture": "authorized",
          "canceled": "failed", "requires_payment_method": "failed"}
REFUND_STATUS = {"succeeded": "done", "pending": "pendingAuthorization",
                 "requires_action": "pendingAuthorization", "failed": "failed",
                 "canceled": "failed"}


def minor_units(amount: Money) -> int:
    """The amount in the currency's smallest unit, exactly (refuses fractions of it)."""
    scaled = amount.amount.scaleb(currency_exponent(amount.currency))
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"totalAmount.value: {amount.amount} has more decimals than "
                              f"{amount.currency} has", field="totalAmount.value")
    return int(scaled)


def from_minor(value: int, currency: str) -> Money:
    return Money(Decimal(value).scaleb(-currency_exponent(currency.upper())), currency.upper())


class StripeGateway:
    name = "stripe"

    def __init__(self, http_client: stripe.HTTPClient | None = None) -> None:
        self.http_client = http_client

    def _client(self) -> stripe.StripeClient:
        key = os.environ.get("OPENBSS_STRIPE_API_KEY")
        if not key:
            raise ValidationError("gateway: Stripe is not configured; set "
                                  "OPENBSS_STRIPE_API_KEY=sk_live_… (or sk_test_…)",
                                  field="gateway")
        return stripe.StripeClient(key, http_client=self.http_client,
                                   max_network_retries=2)

    def charge(self, request: ChargeRequest) -> GatewayResult:
        if not request.method.gateway_ref:
            raise ValidationError("paymentMethod.id: the card has no Stripe payment method "
                                  "(token)", field="paymentMethod.id")
        params: dict[str, Any] = {
            "amount": minor_units(request.amount),
            "currency": request.amount.currency.lower(),
            "payment_method": request.method.gateway_ref, "confirm": True,
            "off_session": True,
            "metadata": {"openbss_payment_id": request.payment_id,
                         "openbss_account_id": request.account_id}}
        if request.method.gateway_customer:
            params["customer"] = request.method.gateway_customer
        if request.description:
            params["description"] = request.description[:1000]
        try:
            intent = self._client().v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key})
        except stripe.CardError as exc:
            body: dict[str, Any] = exc.json_body if isinstance(exc.json_body, dict) else {}
            intent_doc = (body.get("error") or {}).get("payment_intent")
            return GatewayResult(status="failed", gateway_ref=intent_doc.get("id")
                                 if isinstance(intent_doc, dict) else None,
                                 reason=f"{exc.code or 'card_error'}: {exc.user_message}",
                                 raw=body)
        status = STATUS.get(str(intent.status), "pendingAuthorization")
        reason = None
        if status == "failed":
            error = intent.to_dict().get("last_payment_error") or {}
            reason = str(error.get("message") or intent.status)
        return GatewayResult(status=status, gateway_ref=str(intent.id), reason=reason,
                             raw=intent.to_dict())

    def refund(self, *, gateway_ref: str, amount: Money,
               idempotency_key: str) -> GatewayResult:
        try:
            refund = self._client().v1.refunds.create(
                {"payment_intent": gateway_ref, "amount": minor_units(amount)},
                {"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as exc:
            return GatewayResult(status="failed", reason=str(exc.user_message or exc))
        return GatewayResult(status=REFUND_STATUS.get(str(refund.status),
                                                      "pendingAuthorization"),
                             gateway_ref=str(refund.id), raw=refund.to_dict())

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        secret = os.environ.get("OPENBSS_STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise InvalidSignature("Stripe webhooks are not configured; set "
                                   "OPENBSS_STRIPE_WEBHOOK_SECRET=whsec_…",
                                   field="Stripe-Signature")
        signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"),
                         None)
        if not signature:
            raise InvalidSignature("Stripe-Signature: missing", field="Stripe-Signature")
        try:
            event = stripe.Webhook.construct_event(body, signature, secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidSignature(f"Stripe-Signature: {exc}"[:300],
                                   field="Stripe-Signature") from None
        obj = event.to_dict()["data"]["object"]
        kind = {"payment_intent.succeeded": "succeeded",
                "payment_intent.payment_failed": "failed",
                "charge.dispute.created": "disputed",
                "charge.refunded": "refunded"}.get(event.type, "ignored")
        if kind == "ignored":
            return GatewayEvent(kind="ignored", event_id=event.id)
        ref = obj.get("payment_intent") if kind in ("disputed", "refunded") else obj.get("id")
        # a refunded Charge: what was refunded so far (its ``amount`` is what was charged)
        amount = obj.get("amount_refunded") if kind == "refunded" else \
            obj.get("amount_received") or obj.get("amount")
        currency = obj.get("currency")
        reason = None
        if kind == "failed":
            reason = str((obj.get("last_payment_error") or {}).get("message") or "failed")
        elif kind == "disputed":
            reason = f"dispute: {obj.get('reason') or 'unknown'}"
        return GatewayEvent(kind=kind, event_id=event.id, gateway_ref=str(ref) if ref else None,
                            amount=from_minor(int(amount), str(currency))
                            if amount is not None and currency else None, reason=reason)


gateway = StripeGateway()
register(gateway)
