"""Error types of the rating context: one per business rule that can fail.

Each has a stable machine ``code`` and an HTTP status (the TMF Error body carries both)
and names the offending ``field``. The telecom errors keep CGRateS's own names
(``UNAUTHORIZED_DESTINATION``, ``RATING_PLAN_NOT_FOUND``) so that clients written for
CGRateS recognise them. Tariff validation errors are plain
:class:`~openbss.core.errors.ValidationError` (``invalid_value``) naming the path, e.g.
``rates[RT_10CNT][1].rateIncrement``.
"""

from __future__ import annotations

from typing import Any

from openbss.core.errors import ValidationError


class UnauthorizedDestination(ValidationError):
    """No binding of the rating plan (at the answer time) covers the destination."""

    code = "UNAUTHORIZED_DESTINATION"
    reason = "Unauthorized destination"

    def __init__(self, message: str, *, field: str | None = "destination",
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, field=field, details=details)


class RatingPlanNotFound(ValidationError):
    """No rating profile (subject, ``*any``, fallback subjects) is active at the answer
    time, or the named rating plan does not exist."""

    code = "RATING_PLAN_NOT_FOUND"
    reason = "Rating plan not found"

    def __init__(self, message: str, *, field: str | None = "subject",
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, field=field, details=details)


# -- the rating service (tariffs in the database, the CGRateS folder commands) -------------

class TariffDirectoryUnreadable(ValidationError):
    """``import-cgrates``/``export-cgrates``: the folder does not exist, is not a folder
    or cannot be read or written."""

    code = "tariff_directory_unreadable"
    reason = "Tariff folder cannot be used"

    def __init__(self, message: str, *, field: str | None = "directory",
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, field=field, details=details)


class TariffConflict(ValidationError):
    """A tariff defines an id (destination, rates, plan …) that another tariff of the
    tenant defines differently: the tenant's tariffs must merge into one set."""

    code = "tariff_conflict"
    reason = "Tariff conflicts with another tariff of the tenant"

