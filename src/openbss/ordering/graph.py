"""Decomposition of an order into fulfilment steps, and the outcome rule (pure).

No I/O, no clock, no database: plain values in, plain values out.

Dependencies (:func:`plan`)
---------------------------

Each :class:`GraphItem` is an order (or quote) item with its id and its TMF
``productOrderItemRelationship`` entries (:class:`Relation`: the other item's ``id`` and a
``relationshipType``):

* ``bundles`` on item A naming B: A is the bundle, B one of its components. The bundle
  item waits for its components (it is complete once they are); a component belongs to at
  most one bundle.
* ``reliesOn`` on item A naming B: A must wait until B is fulfilled.

Relationship types are matched case-insensitively; any other type is refused. So "A waits
for B" in both cases, and the steps are a topological order of that relation:
:attr:`FulfilmentPlan.order` (stable: among items ready together, the input order) and
:attr:`FulfilmentPlan.groups`, the parallel-ready waves (wave 0: no prerequisite; wave k:
every prerequisite in an earlier wave). :meth:`FulfilmentPlan.ready` answers what may start
once some items are done.

Refused with :class:`~openbss.core.errors.ValidationError` (422) whose ``field`` names the
item: a duplicate item id (``productOrderItem[2].id``), an unknown item id, an item relating
to itself, a component in two bundles
(``productOrderItem[2].productOrderItemRelationship[0].id``), an unknown relationship type
(``….relationshipType``) and a cycle: the field names the relationship that closes it, on
the first item of the cycle in input order, and the message spells the cycle
(``01 -> 02 -> 01``). ``item_field`` / ``relationship_field`` name the attributes
(``quoteItem`` / ``quoteItemRelationship`` for a quote).

Outcome (:func:`outcome`)
-------------------------

Given each item's final state (``completed`` or ``failed``; an item that never started
because a prerequisite failed counts as ``failed``, see :meth:`FulfilmentPlan.blocked_by`)
and the failure policy of each item's offering, the order's state and the items to
compensate. The policy that governs an item is its **bundle root's** (the outermost bundle
containing it; a stand-alone item is its own root):

* ``all_or_nothing``: one failed item fails its whole bundle -- every completed item of
  that bundle is compensated (undone: a compensating service order), dependents before
  their prerequisites (reverse fulfilment order);
* ``partial_allowed``: failed items stay failed, completed ones stay.

The order is ``completed`` if every item completed; otherwise ``partial`` if any item is
still completed after compensation, else ``failed``. One all-or-nothing bundle that fails
makes the order ``failed``; a second, independent item of the same order that completed
keeps it (the order is then ``partial``: that product exists).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from openbss.core.errors import ValidationError

__all__ = [
    "FailurePolicy",
    "FulfilmentPlan",
    "GraphItem",
    "ItemState",
    "OrderOutcome",
    "OrderState",
    "Relation",
    "RelationType",
    "outcome",
    "plan",
]


class RelationType(StrEnum):
    BUNDLES = "bundles"
    RELIES_ON = "reliesOn"


class ItemState(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


class OrderState(StrEnum):
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"


class FailurePolicy(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    PARTIAL_ALLOWED = "partial_allowed"


@dataclass(frozen=True, slots=True)
class Relation:
    """One ``productOrderItemRelationship`` entry: the other item's id and the type."""

    id: str
    relationship_type: str


@dataclass(frozen=True, slots=True)
class GraphItem:
    id: str
    relationships: tuple[Relation, ...] = ()


@dataclass(frozen=True, slots=True)
class FulfilmentPlan:
    """The items' dependency order. ``prerequisites[x]``: what ``x`` waits for (direct);
    ``bundle_of[c]``: the bundle containing component ``c``."""

    order: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    prerequisites: Mapping[str, frozenset[str]]
    bundle_of: Mapping[str, str] = field(default_factory=dict)

    def ready(self, done: Collection[str]) -> tuple[str, ...]:
        """Items not in ``done`` whose prerequisites all are, in fulfilment order."""
        finished = set(done)
        return tuple(item for item in self.order if item not in finished
                     and self.prerequisites[item] <= finished)

    def root(self, item: str) -> str:
        """The outermost bundle containing ``item`` (``item`` itself if none)."""
        while item in self.bundle_of:
            item = self.bundle_of[item]
        return item

    def bundle_members(self, root: str) -> frozenset[str]:
        """``root`` and every item it contains, directly or through sub-bundles."""
        return frozenset(item for item in self.order if self.root(item) == root)

    def blocked_by(self, failed: Collection[str]) -> frozenset[str]:
        """Items that can never start because they wait, directly or not, for a failed one."""
        bad = set(failed)
        blocked: set[str] = set()
        for item in self.order:
            if self.prerequisites[item] & (bad | blocked):
                blocked.add(item)
        return frozenset(blocked - bad)


def _relation_type(value: str, where: str) -> RelationType:
    lowered = value.lower() if isinstance(value, str) else ""
    for kind in RelationType:
        if kind.value.lower() == lowered:
            return kind
    raise ValidationError(
        f"{where}.relationshipType must be bundles or reliesOn, got {value!r}",
        field=f"{where}.relationshipType")


def plan(
    items: Sequence[GraphItem],
    *,
    item_field: str = "productOrderItem",
    relationship_field: str = "productOrderItemRelationship",
) -> FulfilmentPlan:
    """The fulfilment order of ``items`` (rules and errors in the module docstring)."""
    index_of: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item.id, str) or not item.id:
            raise ValidationError(f"{item_field}[{index}].id is required",
                                  field=f"{item_field}[{index}].id")
        if item.id in index_of:
            raise ValidationError(
                f"{item_field}[{index}].id {item.id!r} is also the id of "
                f"{item_field}[{index_of[item.id]}]", field=f"{item_field}[{index}].id")
        index_of[item.id] = index
    prerequisites: dict[str, set[str]] = {item.id: set() for item in items}
    # The relationship that makes ``a`` wait for ``b``, for error paths: (a, b) -> field.
    edge_field: dict[tuple[str, str], str] = {}
    bundle_of: dict[str, str] = {}
    for index, item in enumerate(items):
        for rel_index, relation in enumerate(item.relationships):
            where = f"{item_field}[{index}].{relationship_field}[{rel_index}]"
            kind = _relation_type(relation.relationship_type, where)
            target = relation.id
            if target not in index_of:
                raise ValidationError(
                    f"{where}.id: no item {target!r} in this order", field=f"{where}.id")
            if target == item.id:
                raise ValidationError(f"{where}.id: an item cannot relate to itself",
                                      field=f"{where}.id")
            if kind is RelationType.BUNDLES:
                if target in bundle_of and bundle_of[target] != item.id:
                    raise ValidationError(
                        f"{where}.id: item {target!r} is already a component of bundle "
                        f"{bundle_of[target]!r}", field=f"{where}.id")
                bundle_of[target] = item.id
            prerequisites[item.id].add(target)
            edge_field.setdefault((item.id, target), f"{where}.id")
    frozen = {key: frozenset(value) for key, value in prerequisites.items()}
    order, groups = _waves([item.id for item in items], frozen, edge_field, index_of)
    return FulfilmentPlan(order=order, groups=groups, prerequisites=frozen,
                          bundle_of=bundle_of)


def _waves(
    ids: list[str], prerequisites: Mapping[str, frozenset[str]],
    edge_field: Mapping[tuple[str, str], str], index_of: Mapping[str, int],
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    done: set[str] = set()
    groups: list[tuple[str, ...]] = []
    remaining = list(ids)
    while remaining:
        wave = tuple(item for item in remaining if prerequisites[item] <= done)
        if not wave:
            _refuse_cycle(remaining, prerequisites, edge_field, index_of)
        groups.append(wave)
        done.update(wave)
        remaining = [item for item in remaining if item not in done]
    return tuple(item for wave in groups for item in wave), tuple(groups)


def _refuse_cycle(
    remaining: list[str], prerequisites: Mapping[str, frozenset[str]],
    edge_field: Mapping[tuple[str, str], str], index_of: Mapping[str, int],
) -> None:
    """Find one cycle among ``remaining`` (each waits for another remaining item) and raise."""
    pending = set(remaining)
    start = min(remaining, key=index_of.__getitem__)
    path = [start]
    seen = {start: 0}
    while True:
        # Follow the first (input order) prerequisite that is itself still waiting.
        successor = min((p for p in prerequisites[path[-1]] if p in pending),
                        key=index_of.__getitem__)
        if successor in seen:
            cycle = path[seen[successor]:]
            break
        seen[successor] = len(path)
        path.append(successor)
    first = min(cycle, key=index_of.__getitem__)
    rotate = cycle.index(first)
    cycle = cycle[rotate:] + cycle[:rotate]
    spelled = " -> ".join([*cycle, cycle[0]])
    closing = edge_field[(cycle[0], cycle[1 % len(cycle)])]
    raise ValidationError(f"{closing}: the item relationships form a cycle: {spelled}",
                          field=closing)


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    state: OrderState
    #: Completed items to undo, dependents first (reverse fulfilment order).
    compensate: tuple[str, ...] = ()
    #: The bundle roots whose all-or-nothing policy failed them.
    failed_bundles: tuple[str, ...] = ()


def outcome(
    fulfilment: FulfilmentPlan,
    states: Mapping[str, ItemState | str],
    policies: Mapping[str, FailurePolicy | str] | FailurePolicy | str,
) -> OrderOutcome:
    """The order's state and the items to compensate (rule in the module docstring).

    ``states``: every item's final state. ``policies``: one policy for the whole order, or
    the policy of each item's offering (only the bundle roots' are read; a missing root
    policy is ``all_or_nothing``, the safe default).
    """
    final: dict[str, ItemState] = {}
    for item in fulfilment.order:
        if item not in states:
            raise ValidationError(f"item {item!r} has no final state", field=item)
        try:
            final[item] = ItemState(states[item])
        except ValueError:
            raise ValidationError(
                f"item {item!r}: final state must be completed or failed, got "
                f"{states[item]!r}", field=item) from None

    def policy_of(root: str) -> FailurePolicy:
        raw = policies if isinstance(policies, str) else policies.get(
            root, FailurePolicy.ALL_OR_NOTHING)
        try:
            return FailurePolicy(raw)
        except ValueError:
            raise ValidationError(f"unknown failure policy {raw!r}", field=root) from None

    failed = [item for item in fulfilment.order if final[item] is ItemState.FAILED]
    if not failed:
        return OrderOutcome(OrderState.COMPLETED)
    failed_roots: list[str] = []
    for item in failed:
        root = fulfilment.root(item)
        if root not in failed_roots and policy_of(root) is FailurePolicy.ALL_OR_NOTHING:
            failed_roots.append(root)
    undone: set[str] = set()
    for root in failed_roots:
        undone |= {m for m in fulfilment.bundle_members(root)
                   if final[m] is ItemState.COMPLETED}
    compensate = tuple(item for item in reversed(fulfilment.order) if item in undone)
    still = [item for item in fulfilment.order
             if final[item] is ItemState.COMPLETED and item not in undone]
    state = OrderState.PARTIAL if still else OrderState.FAILED
    ordered_roots = tuple(item for item in fulfilment.order if item in failed_roots)
    return OrderOutcome(state, compensate, ordered_roots)
