"""One error hierarchy for openbss.

Every error carries an HTTP status and a stable machine ``code``; the API layer turns
any :class:`OpenBSSError` into a TMF630 Error body (``code``, ``reason``, ``message``,
``status``, ``referenceError``). Services raise these; nothing else reaches a client.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OpenBSSError(Exception):
    """Base of every error a client may see."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    reason: ClassVar[str] = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []


class ValidationError(OpenBSSError):
    """The request is well-formed but a value is not acceptable (names the field)."""

    status = 422
    code = "invalid_value"
    reason = "Invalid value"


class BadRequestError(OpenBSSError):
    """The request itself is malformed (bad JSON, bad query parameter)."""

    status = 400
    code = "bad_request"
    reason = "Bad request"


class AuthenticationError(OpenBSSError):
    status = 401
    code = "unauthenticated"
    reason = "Authentication required"


class PermissionDeniedError(OpenBSSError):
    status = 403
    code = "forbidden"
    reason = "Forbidden"


class NotFoundError(OpenBSSError):
    status = 404
    code = "not_found"
    reason = "Not found"


class ConflictError(OpenBSSError):
    """The operation conflicts with the resource's current state."""

    status = 409
    code = "conflict"
    reason = "Conflict"


class IdempotencyKeyReusedError(OpenBSSError):
    status = 422
    code = "idempotency_key_reused"
    reason = "Idempotency key reused with a different request"


class IdempotencyInProgressError(OpenBSSError):
    status = 409
    code = "idempotency_in_progress"
    reason = "A request with this idempotency key is still in progress"


class CurrencyMismatchError(ValidationError):
    code = "currency_mismatch"
    reason = "Currency mismatch"


class UnsupportedMediaTypeError(OpenBSSError):
    status = 415
    code = "unsupported_media_type"
    reason = "Unsupported media type"
