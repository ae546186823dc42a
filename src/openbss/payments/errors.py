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


# -- SEPA direct debit and bank statements (payments/collections.py) ----------------------


class SepaCreditorInvalid(ValidationError):
    """The ``payments`` settings' creditor (name, IBAN, BIC, creditor identifier) cannot
    make a valid SEPA file; ``field`` names the setting (``creditor.creditorId`` …)."""

    code = "SEPA_CREDITOR_INVALID"
    reason = "SEPA creditor settings are invalid"


class StatementUnreadable(ValidationError):
    """The uploaded statement is not well-formed XML, declares a DTD or entities (refused:
    XXE, billion laughs), is too large, or does not validate against its camt XSD;
    ``field`` names the element."""

    code = "STATEMENT_UNREADABLE"
    reason = "Statement file cannot be read"


class StatementFormatUnsupported(ValidationError):
    """The file is not camt.053.001.02/.08 or camt.054.001.02/.08 (detected by namespace)."""

    code = "STATEMENT_FORMAT_UNSUPPORTED"
    reason = "Statement format not supported"


class EntryNotMatchable(ConflictError):
    """Manual matching of a statement entry that is not in the queue (already matched,
    returned, ignored, a duplicate) or is not a credit."""

    code = "ENTRY_NOT_MATCHABLE"
    reason = "Statement entry cannot be matched"
