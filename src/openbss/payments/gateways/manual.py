"""The built-in ``manual`` gateway: money recorded by a person or a file (cash, a bank
transfer seen on the statement, a cheque). A charge through it is received at once;
a refund is paid out by hand. It has no webhooks."""

from __future__ import annotations

from collections.abc import Mapping

from openbss.core.money import Money
from openbss.payments.gateways.port import (
    ChargeRequest,
    GatewayEvent,
    GatewayResult,
    InvalidSignature,
    register,
)


class ManualGateway:
    name = "manual"

    def charge(self, request: ChargeRequest) -> GatewayResult:
        return GatewayResult(status="done", gateway_ref=None)

    def refund(self, *, gateway_ref: str, amount: Money,
               idempotency_key: str) -> GatewayResult:
        return GatewayResult(status="done", gateway_ref=None)

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        raise InvalidSignature("the manual gateway has no webhooks", field="gateway")


register(ManualGateway())
