"""One state-machine helper for every resource with a status (pure).

A context declares each resource's statuses as a :class:`enum.StrEnum` and its allowed
transitions once, as a :class:`StateMachine`; services call :meth:`StateMachine.check`
before they change a status. A refused change is an :class:`InvalidTransitionError` (409,
code ``invalid_transition``) naming the resource, both states and what is allowed next::

    class AccountState(StrEnum):
        INITIALIZED = "initialized"
        ACTIVE = "active"
        CLOSED = "closed"

    ACCOUNT_STATES = StateMachine("billingAccount", AccountState, field="state", transitions={
        AccountState.INITIALIZED: {AccountState.ACTIVE, AccountState.CLOSED},
        AccountState.ACTIVE: {AccountState.CLOSED},
    })
    ACCOUNT_STATES.check(row.state, body["state"], resource_id=row.id)

Staying in the same state is always allowed (a PATCH that repeats the status is not a
transition). A state without an entry in ``transitions`` is final. Concurrent changes of one
resource are serialized by the row lock its service takes before reading the current state
(``get_owned(..., lock=True)``: ``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; SQLite has one
writer at a time) — so the state checked is the state changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from openbss.core.errors import ConflictError, ValidationError

S = TypeVar("S", bound=StrEnum)


class InvalidTransitionError(ConflictError):
    """The resource's current status does not allow the requested one."""

    code = "invalid_transition"
    reason = "Invalid state transition"


class StateMachine(Generic[S]):
    """The statuses of one resource kind and the transitions allowed between them."""

    def __init__(self, resource: str, states: type[S], *, field: str,
                 transitions: Mapping[S, Iterable[S]]) -> None:
        self.resource = resource
        self.states = states
        self.field = field
        self._next: dict[S, frozenset[S]] = {s: frozenset() for s in states}
        for source, targets in transitions.items():
            if source not in self._next:
                raise TypeError(f"{source!r} is not a {states.__name__}")
            targets = frozenset(targets)
            unknown = [t for t in targets if t not in self._next]
            if unknown:
                raise TypeError(f"{unknown!r} are not {states.__name__} members")
            self._next[source] = targets

    def parse(self, value: object) -> S:
        """``value`` as a member of the enum, or 422 naming the field and the statuses."""
        try:
            return self.states(str(value))
        except ValueError:
            names = ", ".join(s.value for s in self.states)
            raise ValidationError(f"{self.field}: must be one of {names} (got {value!r})",
                                  field=self.field) from None

    def allowed(self, current: S | str) -> frozenset[S]:
        """The statuses ``current`` may move to (empty for a final status)."""
        return self._next[self.parse(current)]

    def is_final(self, current: S | str) -> bool:
        return not self.allowed(current)

    def can(self, current: S | str, requested: S | str) -> bool:
        now, then = self.parse(current), self.parse(requested)
        return now == then or then in self._next[now]

    def check(self, current: S | str, requested: S | str, *, resource_id: str = "") -> S:
        """The requested status, or :class:`InvalidTransitionError` saying why not."""
        now, then = self.parse(current), self.parse(requested)
        if now == then or then in self._next[now]:
            return then
        allowed = sorted(s.value for s in self._next[now])
        label = f"{self.resource} {resource_id}".strip()
        hint = (f"allowed next: {', '.join(allowed)}" if allowed
                else f"{now.value!r} is final")
        raise InvalidTransitionError(
            f"{label} is {now.value!r} and cannot become {then.value!r} ({self.field}); {hint}",
            field=self.field,
            details=[{"field": self.field, "from": now.value, "to": then.value,
                      "allowed": allowed}],
        )

    def diagram(self) -> str:
        """The machine as Mermaid ``stateDiagram-v2`` text (for the docs)."""
        lines = ["stateDiagram-v2"]
        lines.extend(f'    state "{s.value}" as {s.name}' for s in self._next)
        for source, targets in self._next.items():
            lines.extend(f"    {source.name} --> {t.name}" for t in
                         sorted(targets, key=lambda s: s.value))
        return "\n".join(lines)
