"""What was in force: a product's effective intervals from its history (pure core).

No I/O, no clock, no database. Rating and billing ask "which products, with which price
versions and quantities, were in force during a period"; the service loads each product's
history and calls :func:`effective_intervals` (or :func:`intervals_by_product`).

History
-------

A product's history is a sequence of :class:`ProductChange` values, each with a
business-time instant ``at`` (timezone-aware; returned in UTC) and a :class:`ChangeKind`:

==================  ============================================================
``started``         the product becomes active, with ``price_version`` and
                    ``quantity`` (both required); must come first, once
``plan_changed``    a new ``price_version`` (offering / price version id) from ``at``
``quantity_changed`` a new ``quantity`` (an integer >= 1) from ``at``
``suspended``       not in force from ``at`` (only while active)
``resumed``         in force again from ``at`` (only while suspended)
``terminated``      ends the product at ``at``; nothing may follow
==================  ============================================================

Changes are applied in ``at`` order; changes at the same instant in the order given. A
plan or quantity change during a suspension takes effect at once and is carried by the
suspended interval and by the active one after the resumption. A change that breaks these
rules is refused with :class:`~openbss.core.errors.ValidationError` naming
``history[i].kind`` (``i`` is the change's index in the sequence given).

Intervals
---------

:func:`effective_intervals` answers the half-open intervals ``[start, end)`` clipped to the
query period ``[period_start, period_end)``, sorted, never overlapping, each with its
:class:`IntervalKind`, ``price_version`` and ``quantity``:

* ``active`` -- in force: charged, rated.
* ``suspended`` -- the product exists but is **not in force**; these intervals are returned
  as their own kind (``include_suspended=False`` leaves them out) so billing decides what a
  suspension costs (nothing, or a reduced fee).

Neighbouring intervals with the same kind, price version and quantity are merged (a change
to the version already in force does not split an interval), and empty intervals (two
changes at the same instant) vanish. Time after ``terminated`` and before ``started`` is in
no interval; a product not terminated is in force up to the end of the query period.

Laws (tests/ordering/test_intervals.py): intervals are sorted and disjoint; the union of the
``active`` ones is the product's active life inside the period; clipping to ``[a, b)`` and
``[b, c)`` and merging the two lists (:func:`merge_adjacent`) equals clipping to ``[a, c)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise

from openbss.core.errors import ValidationError
from openbss.core.periods import to_utc

__all__ = [
    "ChangeKind",
    "EffectiveInterval",
    "IntervalKind",
    "ProductChange",
    "effective_intervals",
    "intervals_by_product",
    "merge_adjacent",
]


class ChangeKind(StrEnum):
    STARTED = "started"
    PLAN_CHANGED = "plan_changed"
    QUANTITY_CHANGED = "quantity_changed"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    TERMINATED = "terminated"


class IntervalKind(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class ProductChange:
    """One entry of a product's history (see the module docstring)."""

    at: datetime
    kind: ChangeKind
    price_version: str | None = None
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class EffectiveInterval:
    """``[start, end)`` in UTC, with what was in force."""

    start: datetime
    end: datetime
    kind: IntervalKind
    price_version: str
    quantity: int

    @property
    def in_force(self) -> bool:
        return self.kind is IntervalKind.ACTIVE


def _quantity(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{where}.quantity must be an integer >= 1, got {value!r}",
                              field=f"{where}.quantity")
    return value


def _version(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}.priceVersion is required", field=f"{where}.priceVersion")
    return value


def _kind(value: object, where: str) -> ChangeKind:
    try:
        return ChangeKind(str(value))
    except ValueError:
        raise ValidationError(
            f"{where}.kind must be one of {', '.join(k.value for k in ChangeKind)}, "
            f"got {value!r}", field=f"{where}.kind") from None


def _pieces(changes: Sequence[ProductChange], field: str) -> list[EffectiveInterval]:
    """The product's whole life as intervals (the last one open: ``end`` is None -> set by
    the caller); validates the history."""
    ordered = sorted(
        ((to_utc(change.at, f"{field}[{index}].at"), index, change)
         for index, change in enumerate(changes)),
        key=lambda entry: (entry[0], entry[1]))
    pieces: list[tuple[datetime, IntervalKind, str, int]] = []  # starts of the pieces
    state: IntervalKind | None = None
    version = ""
    quantity = 0
    ended: datetime | None = None
    for at, index, change in ordered:
        where = f"{field}[{index}]"
        kind = _kind(change.kind, where)
        if ended is not None:
            raise ValidationError(f"{where}.kind: {kind.value} after the product was terminated",
                                  field=f"{where}.kind")
        if kind is ChangeKind.STARTED:
            if state is not None:
                raise ValidationError(f"{where}.kind: the product has already started",
                                      field=f"{where}.kind")
            version = _version(change.price_version, where)
            quantity = _quantity(change.quantity, where)
            state = IntervalKind.ACTIVE
        elif state is None:
            raise ValidationError(f"{where}.kind: {kind.value} before the product started",
                                  field=f"{where}.kind")
        elif kind is ChangeKind.PLAN_CHANGED:
            version = _version(change.price_version, where)
        elif kind is ChangeKind.QUANTITY_CHANGED:
            quantity = _quantity(change.quantity, where)
        elif kind is ChangeKind.SUSPENDED:
            if state is not IntervalKind.ACTIVE:
                raise ValidationError(f"{where}.kind: the product is already suspended",
                                      field=f"{where}.kind")
            state = IntervalKind.SUSPENDED
        elif kind is ChangeKind.RESUMED:
            if state is not IntervalKind.SUSPENDED:
                raise ValidationError(f"{where}.kind: the product is not suspended",
                                      field=f"{where}.kind")
            state = IntervalKind.ACTIVE
        else:  # terminated
            ended = at
            pieces.append((at, IntervalKind.ACTIVE, "", 0))  # sentinel: end of life
            continue
        pieces.append((at, state, version, quantity))
    intervals: list[EffectiveInterval] = []
    for (start, kind_, ver, qty), (end, *_rest) in pairwise(pieces):
        if end > start:
            intervals.append(EffectiveInterval(start, end, kind_, ver, qty))
    if ended is None and pieces:
        start, kind_, ver, qty = pieces[-1]
        intervals.append(EffectiveInterval(start, _FOREVER, kind_, ver, qty))
    return intervals


#: The end of an interval that has not ended (clipped away by every query period).
_FOREVER = datetime.max.replace(tzinfo=UTC)


def merge_adjacent(intervals: Iterable[EffectiveInterval]) -> list[EffectiveInterval]:
    """Merge neighbours (one ends where the next starts) with the same kind, price version
    and quantity; the input must be sorted and disjoint."""
    merged: list[EffectiveInterval] = []
    for interval in intervals:
        last = merged[-1] if merged else None
        if last is not None and last.end == interval.start and last.kind is interval.kind \
                and last.price_version == interval.price_version \
                and last.quantity == interval.quantity:
            merged[-1] = replace(last, end=interval.end)
        else:
            merged.append(interval)
    return merged


def effective_intervals(
    changes: Sequence[ProductChange],
    period_start: datetime,
    period_end: datetime,
    *,
    include_suspended: bool = True,
    field: str = "history",
) -> list[EffectiveInterval]:
    """The product's intervals inside ``[period_start, period_end)`` (module docstring).

    An empty history has no intervals. ``period_end`` must be after ``period_start``
    (ValidationError ``end``).
    """
    lo = to_utc(period_start, "start")
    hi = to_utc(period_end, "end")
    if hi <= lo:
        raise ValidationError(
            f"period end {hi.isoformat()} must be after its start {lo.isoformat()}", field="end")
    clipped: list[EffectiveInterval] = []
    for interval in merge_adjacent(_pieces(changes, field)):
        start, end = max(interval.start, lo), min(interval.end, hi)
        if start >= end:
            continue
        if not include_suspended and interval.kind is IntervalKind.SUSPENDED:
            continue
        clipped.append(replace(interval, start=start, end=end))
    return clipped


def intervals_by_product(
    histories: Mapping[str, Sequence[ProductChange]],
    period_start: datetime,
    period_end: datetime,
    *,
    include_suspended: bool = True,
) -> dict[str, list[EffectiveInterval]]:
    """:func:`effective_intervals` of each product (by id); products with no interval in the
    period are left out. Errors name ``history[<product id>][i]``."""
    result: dict[str, list[EffectiveInterval]] = {}
    for product_id, changes in histories.items():
        intervals = effective_intervals(changes, period_start, period_end,
                                        include_suspended=include_suspended,
                                        field=f"history[{product_id}]")
        if intervals:
            result[product_id] = intervals
    return result
