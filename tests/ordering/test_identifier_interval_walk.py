"""The walk of ``in_force.identifier_interval_columns`` (``_life``): for any history —
valid or not, in order or not, several changes at one instant — it answers exactly the
intervals of the reference ``effective_intervals(_changes_of(...))``, or steps aside
(None) so that the reference answers or raises; it steps aside only for a history the
reference refuses, or one with a non-UTC instant or an ``after`` that is not an
object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.core.errors import ValidationError
from openbss.ordering.in_force import _changes_of, _Entry, _life
from openbss.ordering.intervals import ChangeKind, IntervalKind, effective_intervals

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
KINDS = [k.value for k in ChangeKind]

instant = st.builds(lambda hours, zoned: (T0 + timedelta(hours=hours)).astimezone(
    PLUS_TWO if zoned else UTC), st.integers(-48, 24 * 40),
    st.sampled_from([False] * 9 + [True]))
version = st.sampled_from(["v1", "v2", "v3", "", None, 7])
quantity = st.sampled_from([1, 1, 2, 3, 0, True, "2", None])
after = st.one_of(
    st.builds(lambda v, q: {"status": "active", "priceVersion": v, "quantity": q},
              version, quantity),
    st.builds(lambda v: {"priceVersion": v}, version),
    st.builds(lambda q: {"quantity": q}, quantity),
    st.just({"status": "suspended"}), st.just({}), st.none(), st.just([]))


def _plausible(start: datetime, steps: list[tuple[str, int, str, int]]) -> list[_Entry]:
    """A history the use cases could write: a start, then plan and quantity changes,
    suspensions and resumptions, maybe a termination (a step that does not fit the
    state becomes the one that does)."""
    entries = [_Entry(start, "started",
                      {"status": "active", "priceVersion": "v1", "quantity": 1})]
    at, suspended = start, False
    for kind, hours, new_version, new_quantity in steps:
        at += timedelta(hours=hours)
        if kind in ("suspended", "resumed"):
            kind = "resumed" if suspended else "suspended"
            suspended = not suspended
            entries.append(_Entry(at, kind, {"status": kind}))
        elif kind == "plan_changed":
            entries.append(_Entry(at, kind, {"priceVersion": new_version}))
        elif kind == "quantity_changed":
            entries.append(_Entry(at, kind, {"quantity": new_quantity}))
        else:
            entries.append(_Entry(at, "terminated", {"status": "terminated"}))
            break
    return entries


step = st.tuples(st.sampled_from(KINDS[1:]), st.sampled_from([0, 0, 1, 5, 24, 24 * 7]),
                 st.sampled_from(["v1", "v2", "v3"]), st.integers(1, 3))
entry = st.builds(_Entry, instant, st.sampled_from(KINDS), after)


@st.composite
def history(draw: st.DrawFn) -> list[_Entry]:
    """Mostly plausible histories, some with one entry spoilt or moved, some anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.lists(entry, max_size=6))
    entries = _plausible(draw(instant.map(lambda at: at.astimezone(UTC))),
                         draw(st.lists(step, max_size=8)))
    spoil = draw(st.integers(0, 3))
    if spoil == 0:
        entries[draw(st.integers(0, len(entries) - 1))] = draw(entry)
    elif spoil == 1:
        moved = entries.pop(draw(st.integers(0, len(entries) - 1)))
        entries.insert(draw(st.integers(0, len(entries))), moved)
    return entries


period = st.tuples(st.integers(-72, 24 * 45), st.integers(1, 24 * 40))


def _reference(entries: list[_Entry], lo: datetime, hi: datetime) -> list[tuple] | None:
    try:
        found = effective_intervals(_changes_of(entries), lo, hi, include_suspended=True,
                                    field="history[p]")
    except ValidationError:
        return None
    return [(i.start, i.end, i.kind, i.price_version, i.quantity) for i in found]


@settings(max_examples=600, deadline=None)
@given(entries=history(), window=period)
def test_the_walk_answers_what_the_reference_answers(entries: list[_Entry],
                                                     window: tuple[int, int]) -> None:
    lo = T0 + timedelta(hours=window[0])
    hi = lo + timedelta(hours=window[1])
    expected = _reference(entries, lo, hi)
    got = _life(entries, lo, hi)
    plain = all(e.at.tzinfo is UTC and (e.after is None or type(e.after) is dict)
                for e in entries)
    if expected is None:  # refused: the walk steps aside, the reference raises
        assert got is None
    elif plain:
        assert got == expected
    else:
        assert got is None or got == expected


def test_a_month_of_changes_out_of_order_and_at_one_instant() -> None:
    day = timedelta(days=1)
    entries = [
        _Entry(T0 + 9 * day, "plan_changed", {"priceVersion": "v2"}),
        _Entry(T0 + 2 * day, "started", {"priceVersion": "v1", "quantity": 1}),
        _Entry(T0 + 5 * day, "suspended", {"status": "suspended"}),
        _Entry(T0 + 5 * day, "quantity_changed", {"quantity": 2}),
        _Entry(T0 + 7 * day, "resumed", None),
        _Entry(T0 + 9 * day, "plan_changed", {"priceVersion": "v1"}),  # back: no split
        _Entry(T0 + 20 * day, "terminated", {"status": "terminated"}),
    ]
    active, suspended = IntervalKind.ACTIVE, IntervalKind.SUSPENDED
    assert _life(entries, T0, T0 + 31 * day) == [
        (T0 + 2 * day, T0 + 5 * day, active, "v1", 1),
        (T0 + 5 * day, T0 + 7 * day, suspended, "v1", 2),
        (T0 + 7 * day, T0 + 20 * day, active, "v1", 2),
    ] == _reference(entries, T0, T0 + 31 * day)
    # a change after the termination: the walk steps aside, the reference refuses it
    broken = [*entries, _Entry(T0 + 21 * day, "resumed", None)]
    assert _life(broken, T0, T0 + 31 * day) is None
    assert _reference(broken, T0, T0 + 31 * day) is None
