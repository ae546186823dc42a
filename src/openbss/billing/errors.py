"""Errors of the billing context, each with a stable code (docs/billing.md lists them).

Every error names the offending ``field``; the TMF Error body carries code and status.
"""

from __future__ import annotations

from openbss.core.errors import ConflictError, ValidationError


class InvoiceAlreadyIssued(ConflictError):
    """An issued invoice or credit note is immutable: only its ``state`` may change (a
    correction is a credit note)."""

    code = "INVOICE_ALREADY_ISSUED"
    reason = "Invoice already issued"


class NotCreditable(ConflictError):
    """A credit note cannot be credited, nor an invoice with nothing left to credit."""

    code = "NOT_CREDITABLE"
    reason = "Nothing to credit"


class CreditExceedsCreditable(ConflictError):
    """A credit note asks for more than is still creditable: the invoice's (or the
    line's) amount minus the credit notes already issued for it."""

    code = "CREDIT_EXCEEDS_CREDITABLE"
    reason = "Credit exceeds what is creditable"


class ChargeAlreadyBilled(ConflictError):
    """A manual charge or credit already on an invoice cannot be deleted."""

    code = "CHARGE_ALREADY_BILLED"
    reason = "Charge already billed"


class WrongCurrency(ValidationError):
    """An amount in another currency than the billing account's (or the invoice's)."""

    code = "currency_mismatch"
    reason = "Currency does not match"


class NotABillingAccount(ValidationError):
    """The account named is not a billing account of the tenant."""

    code = "invalid_reference"
    reason = "Invalid reference"
