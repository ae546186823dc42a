"""Errors of the payments context, each with a stable code (docs/payments.md lists them).

Every error names the offending ``field``; the TMF Error body carries code and status.
"""

from __future__ import annotations

from openbss.core.errors import ConflictError, ValidationError


class WrongCurrency(ValidationError):
    """An amount in another currency than the billing account's (or the bill's)."""

    code = "currency_mismatch"
    reason = "Currency does not match"


class PaymentNotReversible(ConflictError):
    """Only a payment that was received (``done``) can be reversed or charged back."""

    code = "PAYMENT_NOT_REVERSIBLE"
    reason = "Payment cannot be reversed"


class RefundExceedsPayment(ConflictError):
    """A refund asks for more than what is left of the payment (received minus refunded,
    minus what a reversal took back)."""

    code = "REFUND_EXCEEDS_PAYMENT"
    reason = "Refund exceeds the payment"


class NothingToAllocate(ConflictError):
    """An allocation asks for more than the payment's unapplied amount."""

    code = "NOTHING_TO_ALLOCATE"
    reason = "Nothing left to allocate"
