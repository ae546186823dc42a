"""The payment-gateway port: what openbss asks of a gateway, and the registry.

A gateway moves money for payment methods it holds (``PaymentMethod.gateway``). Adding
one is one module in this package that defines a class with the :class:`Gateway`
methods and calls :func:`register` at import (``manual`` and ``stripe`` are the examples;
SEPA direct debit goes through files, ``payments/sepa.py``, and has no online gateway).

- :meth:`Gateway.charge` takes money from a stored method: ``done`` (captured),
  ``pendingAuthorization`` (the gateway answers later through its webhook), or
  ``failed`` with the gateway's reason. ``idempotency_key`` is passed on, so a retried
  charge is charged once by the gateway too.
- :meth:`Gateway.refund` pays (part of) a charge back.
- :meth:`Gateway.parse_webhook` verifies a webhook's signature (raising
  :class:`InvalidSignature`) and turns it into a :class:`GatewayEvent`.
"""

from __future__ import annotations

from openbss.payments.gateways import manual, stripe  # noqa: F401  (they register)
from openbss.payments.gateways.port import (
    ChargeRequest,
    Gateway,
    GatewayEvent,
    GatewayResult,
    InvalidSignature,
    MethodRef,
    UnknownGateway,
    get,
    names,
    register,
)

__all__ = ["ChargeRequest", "Gateway", "GatewayEvent", "GatewayResult", "InvalidSignature",
           "MethodRef", "UnknownGateway", "get", "names", "register"]
