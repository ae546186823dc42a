"""Errors of the usage context, each with a stable code (docs/usage-and-rating.md, "The
usage API"). A record the pipeline cannot accept is not an error: it is stored
``rejected`` with a reason code (:class:`openbss.usage.models.RejectReason`)."""

from __future__ import annotations

from openbss.core.errors import ConflictError, OpenBSSError, ValidationError


class UsageNotDeletable(ConflictError):
    """A rated (or billed) usage record is history that billing needs: it cannot be
    deleted (re-rate it instead)."""

    code = "usage_not_deletable"
    reason = "Usage record cannot be deleted"


class UsageNotEditable(ConflictError):
    """Only a rejected record may be corrected (PATCH); an accepted one is re-rated."""

    code = "usage_not_editable"
    reason = "Usage record cannot be changed"


class UsageSpecificationInUse(ConflictError):
    """A usage specification that usage records refer to cannot be deleted."""

    code = "usage_specification_in_use"
    reason = "Usage specification in use"


class UnknownRejectReason(ValidationError):
    """A ``reason`` that is not one of the reject reason codes."""

    code = "unknown_reject_reason"
    reason = "Unknown reject reason"


class BulkTooLarge(OpenBSSError):
    """More records in one bulk request than the limit (10,000)."""

    status = 413
    code = "bulk_too_large"
    reason = "Too many records in one request"
