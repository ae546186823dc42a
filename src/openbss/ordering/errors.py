"""Errors of the ordering context, each with a stable code (see docs/ordering.md)."""

from __future__ import annotations

from openbss.core.errors import ConflictError, ValidationError


class IdentifierInUse(ConflictError):
    """An identifier (MSISDN, IMSI, username …) is held by another live product."""

    code = "identifier_in_use"
    reason = "Identifier in use"


class ProductNotDeletable(ConflictError):
    """Only a product that never went live (created, cancelled, aborted) may be deleted;
    a live or terminated product is history that billing and audit need."""

    code = "product_not_deletable"
    reason = "Product cannot be deleted"


class ProductTerminated(ConflictError):
    """A terminated, cancelled or aborted product cannot change any more."""

    code = "product_final"
    reason = "Product is in a final status"


class ChangeNeedsOrder(ConflictError):
    """A plan change (another offering) or a new billing account goes through a product
    order (``modify`` item), which prices, validates and provisions it."""

    code = "change_needs_order"
    reason = "Change needs a product order"


class InvalidReference(ValidationError):
    """A referenced offering, billing account, party or product is not this tenant's, or
    not usable (closed account, offering not orderable)."""

    code = "invalid_reference"
    reason = "Invalid reference"
