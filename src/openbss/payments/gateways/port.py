"""The payment-gateway port (the package docstring, ``openbss.payments.gateways``,
describes it): request and result types, the protocol, the registry."""


from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from openbss.core.errors import AuthenticationError, ValidationError
from openbss.core.money import Money


@dataclass(frozen=True)
class MethodRef:
    """What a gateway needs of a stored payment method."""

    id: str
    type: str                      # TMF670 @type
    gateway_ref: str | None        # e.g. a Stripe PaymentMethod id (pm_...)
    gateway_customer: str | None   # e.g. a Stripe Customer id (cus_...)


@dataclass(frozen=True)
class ChargeRequest:
    payment_id: str
    account_id: str
    amount: Money
    method: MethodRef
    idempotency_key: str
    description: str | None = None


@dataclass(frozen=True)
class GatewayResult:
    status: str                    # done | pendingAuthorization | authorized | failed
    gateway_ref: str | None = None  # the gateway's id of the charge or refund
    fee: Decimal = Decimal(0)
    reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayEvent:
    """A webhook, verified and normalised. ``kind``: ``succeeded``, ``failed``,
    ``refunded``, ``disputed`` (a chargeback), or ``ignored`` (not about money)."""

    kind: str
    event_id: str
    gateway_ref: str | None = None  # the charge / payment intent it is about
    amount: Money | None = None
    reason: str | None = None


class InvalidSignature(AuthenticationError):
    code = "invalid_signature"
    reason = "Invalid webhook signature"


class UnknownGateway(ValidationError):
    code = "unknown_gateway"
    reason = "Unknown payment gateway"


class Gateway(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> GatewayResult: ...

    def refund(self, *, gateway_ref: str, amount: Money,
               idempotency_key: str) -> GatewayResult: ...

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes) -> GatewayEvent: ...


_gateways: dict[str, Gateway] = {}


def register(gateway: Gateway) -> Gateway:
    _gateways[gateway.name] = gateway
    return gateway


def get(name: str, *, field: str = "gateway") -> Gateway:
    """The registered gateway ``name`` (422 naming ``field`` when there is none)."""
    try:
        return _gateways[name]
    except KeyError:
        raise UnknownGateway(f"{field}: no payment gateway {name!r} (known: "
                             f"{', '.join(sorted(_gateways))})", field=field) from None


def names() -> list[str]:
    return sorted(_gateways)
