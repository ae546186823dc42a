"""Errors of the ordering context, each with a stable code (see docs/ordering.md)."""

from __future__ import annotations

from openbss.core.errors import ConflictError, OpenBSSError, ValidationError


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


# -- product orders (TMF622) ---------------------------------------------------------------

class OfferingNotOrderable(ValidationError):
    """An order item's offering is not Active, outside its validFor, or sold only inside a
    bundle."""

    code = "offering_not_orderable"
    reason = "Offering not orderable"


class CustomerNotEligible(ValidationError):
    """The customer does not meet the offering's eligibility rules (customer type,
    country)."""

    code = "not_eligible"
    reason = "Customer not eligible"


class CharacteristicMissing(ValidationError):
    """A characteristic the product specification requires (minCardinality >= 1) is
    absent."""

    code = "characteristic_missing"
    reason = "Required characteristic missing"


class CharacteristicInvalid(ValidationError):
    """A characteristic value outside the specification's allowed values or range, or an
    MSISDN that is not a valid E.164 number."""

    code = "characteristic_invalid"
    reason = "Invalid characteristic value"


class CreditLimitExceeded(ValidationError):
    """The order's recurring charges plus those of the account's active products exceed
    the billing account's creditLimit."""

    code = "credit_limit_exceeded"
    reason = "Credit limit exceeded"


class ProductLocked(ConflictError):
    """Another open product order already changes this product."""

    code = "product_in_open_order"
    reason = "Product changed by another open order"


class OrderNotCancellable(ConflictError):
    """Provisioning of the order has started (or the order is final): it cannot be
    cancelled any more."""

    code = "order_not_cancellable"
    reason = "Order cannot be cancelled"


class OrderNotChangeable(ConflictError):
    """Only an open order can be patched, and only a final one deleted."""

    code = "order_not_changeable"
    reason = "Order cannot be changed"


# -- quotes (TMF648) -----------------------------------------------------------------------

class QuoteExpired(ConflictError):
    """The quote's ``validFor`` has ended (tenant clock): it can no longer be accepted."""

    code = "quote_expired"
    reason = "Quote expired"


class QuoteFrozen(ConflictError):
    """From ``approved`` on, a quote's items, billing account, parties and validity are
    fixed (what was approved is what is accepted and ordered)."""

    code = "quote_frozen"
    reason = "Quote items cannot change any more"


class QuoteNotOrderable(ConflictError):
    """Only an ``accepted`` quote becomes a product order."""

    code = "quote_not_orderable"
    reason = "Quote is not accepted"


class QuoteAlreadyOrdered(ConflictError):
    """The quote was already turned into a product order (its id is in the message and
    in the quote's ``productOrder``)."""

    code = "quote_already_ordered"
    reason = "Quote already ordered"


class QuoteNotDeletable(ConflictError):
    """A quote that became a product order stays: the order refers to it."""

    code = "quote_not_deletable"
    reason = "Quote cannot be deleted"


# -- provisioning (TMF641 client) ----------------------------------------------------------

class OssUnavailable(OpenBSSError):
    """The OSS (the tenant's TMF641 ``baseUrl``) could not be reached or refused the call;
    retry later or check the provisioning settings."""

    status = 503
    code = "oss_unavailable"
    reason = "OSS unavailable"
