"""Lifecycle of catalog resources (pure): ``In design`` → ``Active`` → ``Retired`` →
``Obsolete``.

The canonical spellings are TMF's: ``In design``, ``Active``, ``Retired``, ``Obsolete``.
Input is accepted case-insensitively, ignoring spaces, hyphens and underscores
(``"in_design"``, ``"In Design"``, ``"ACTIVE"``); responses always use the canonical form.
"""

from __future__ import annotations

from openbss.core.errors import ConflictError

IN_DESIGN = "In design"
ACTIVE = "Active"
RETIRED = "Retired"
OBSOLETE = "Obsolete"
STATUSES = (IN_DESIGN, ACTIVE, RETIRED, OBSOLETE)

#: Allowed transitions (staying in the same state is always allowed).
TRANSITIONS: dict[str, frozenset[str]] = {
    IN_DESIGN: frozenset({ACTIVE}),
    ACTIVE: frozenset({RETIRED}),
    RETIRED: frozenset({OBSOLETE}),
    OBSOLETE: frozenset(),
}
_BY_SQUASHED = {s.replace(" ", "").lower(): s for s in STATUSES}


def canonical_status(value: str) -> str:
    """The canonical spelling of a lifecycle status, or ``ValueError`` listing them."""
    squashed = value.replace(" ", "").replace("-", "").replace("_", "").lower()
    try:
        return _BY_SQUASHED[squashed]
    except KeyError:
        raise ValueError(
            f"lifecycleStatus must be one of {', '.join(STATUSES)} (got {value!r})"
        ) from None


def check_transition(label: str, current: str, requested: str) -> None:
    """Raise 409 naming both states unless ``current`` may move to ``requested``."""
    if requested == current or requested in TRANSITIONS[current]:
        return
    allowed = sorted(TRANSITIONS[current])
    raise ConflictError(
        f"{label} cannot move from lifecycleStatus {current!r} to {requested!r}; "
        + (f"allowed next: {', '.join(allowed)}" if allowed else f"{current!r} is final"),
        field="lifecycleStatus",
    )


def is_editable(status: str) -> bool:
    """Only a resource ``In design`` may change freely; later states are immutable."""
    return status == IN_DESIGN
