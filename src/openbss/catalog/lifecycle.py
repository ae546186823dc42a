"""The statuses of catalog resources and jobs, declared once (pure).

A catalog resource moves ``In design`` → ``Active`` → ``Retired`` → ``Obsolete``
(:data:`LIFECYCLE`, one :class:`~openbss.core.states.StateMachine`; staying in the same
state is always allowed). The canonical spellings are TMF's; input is accepted
case-insensitively, ignoring spaces, hyphens and underscores (``"in_design"``,
``"In Design"``, ``"ACTIVE"``): :func:`canonical_status`. Responses always use the canonical
form. ``importJob``/``exportJob`` statuses are :class:`JobStatus`.
"""

from __future__ import annotations

from enum import StrEnum

from openbss.core.states import StateMachine


class LifecycleStatus(StrEnum):
    IN_DESIGN = "In design"
    ACTIVE = "Active"
    RETIRED = "Retired"
    OBSOLETE = "Obsolete"


class JobStatus(StrEnum):
    """Status of an ``importJob`` / ``exportJob`` (jobs run at once: a stored job is
    ``Succeeded`` or ``Failed``; ``Running`` only while it runs)."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


IN_DESIGN = LifecycleStatus.IN_DESIGN
ACTIVE = LifecycleStatus.ACTIVE
RETIRED = LifecycleStatus.RETIRED
OBSOLETE = LifecycleStatus.OBSOLETE

#: The catalog resources, each with its own lifecycle of the same shape.
KINDS = ("catalog", "category", "productSpecification", "productOffering",
         "productOfferingPrice")
_NEXT = {IN_DESIGN: {ACTIVE}, ACTIVE: {RETIRED}, RETIRED: {OBSOLETE}}
#: The lifecycle of each catalog resource kind (409 ``invalid_transition`` otherwise).
LIFECYCLE: dict[str, StateMachine[LifecycleStatus]] = {
    kind: StateMachine(kind, LifecycleStatus, field="lifecycleStatus", transitions=_NEXT)
    for kind in KINDS
}

_BY_SQUASHED = {s.value.replace(" ", "").lower(): s for s in LifecycleStatus}


def canonical_status(value: str) -> LifecycleStatus:
    """The lifecycle status ``value`` names in any spelling, or ``ValueError`` listing
    them."""
    squashed = value.replace(" ", "").replace("-", "").replace("_", "").lower()
    try:
        return _BY_SQUASHED[squashed]
    except KeyError:
        names = ", ".join(s.value for s in LifecycleStatus)
        raise ValueError(f"lifecycleStatus must be one of {names} (got {value!r})") from None


def is_editable(status: str) -> bool:
    """Only a resource ``In design`` may change freely; later states are immutable."""
    return status == IN_DESIGN
