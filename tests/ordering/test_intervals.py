"""What was in force (openbss.ordering.intervals): worked cases, refusals, and property
tests (sorted, disjoint, union of active = active life, clipping is additive)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.core.errors import ValidationError
from openbss.ordering.intervals import (
    ChangeKind,
    EffectiveInterval,
    IntervalKind,
    ProductChange,
    effective_intervals,
    intervals_by_product,
    merge_adjacent,
)

K = ChangeKind
ACTIVE, SUSPENDED = IntervalKind.ACTIVE, IntervalKind.SUSPENDED


def t(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


MARCH = (t(1), t(1, month=4))

# A mobile line: started 5 March on plan v1, upgraded on the 10th at noon, a second SIM
# (quantity 2) from the 15th, suspended 20th-25th, terminated on the 28th.
HISTORY = [
    ProductChange(t(5), K.STARTED, price_version="mobile-m@1", quantity=1),
    ProductChange(t(10, 12), K.PLAN_CHANGED, price_version="mobile-l@1"),
    ProductChange(t(15), K.QUANTITY_CHANGED, quantity=2),
    ProductChange(t(20), K.SUSPENDED),
    ProductChange(t(25), K.RESUMED),
    ProductChange(t(28), K.TERMINATED),
]


def test_a_month_of_changes() -> None:
    assert effective_intervals(HISTORY, *MARCH) == [
        EffectiveInterval(t(5), t(10, 12), ACTIVE, "mobile-m@1", 1),
        EffectiveInterval(t(10, 12), t(15), ACTIVE, "mobile-l@1", 1),
        EffectiveInterval(t(15), t(20), ACTIVE, "mobile-l@1", 2),
        EffectiveInterval(t(20), t(25), SUSPENDED, "mobile-l@1", 2),
        EffectiveInterval(t(25), t(28), ACTIVE, "mobile-l@1", 2),
    ]
    in_force = effective_intervals(HISTORY, *MARCH, include_suspended=False)
    assert [i.kind for i in in_force] == [ACTIVE] * 4
    assert all(i.in_force for i in in_force)


def test_clipping_and_open_ended_products() -> None:
    # the query period cuts the first and last intervals
    assert effective_intervals(HISTORY, t(12), t(22)) == [
        EffectiveInterval(t(12), t(15), ACTIVE, "mobile-l@1", 1),
        EffectiveInterval(t(15), t(20), ACTIVE, "mobile-l@1", 2),
        EffectiveInterval(t(20), t(22), SUSPENDED, "mobile-l@1", 2),
    ]
    # before the start, after the end: nothing
    assert effective_intervals(HISTORY, t(1), t(5)) == []
    assert effective_intervals(HISTORY, t(28), t(31)) == []
    # a product still active is in force up to the end of the query period
    running = HISTORY[:3]
    assert effective_intervals(running, t(1, month=4), t(1, month=5)) == [
        EffectiveInterval(t(1, month=4), t(1, month=5), ACTIVE, "mobile-l@1", 2)]
    assert effective_intervals([], *MARCH) == []


def test_same_version_and_same_instant_changes_do_not_split() -> None:
    history = [
        ProductChange(t(1), K.STARTED, price_version="v1", quantity=1),
        ProductChange(t(2), K.PLAN_CHANGED, price_version="v1"),   # same version: no split
        ProductChange(t(3), K.QUANTITY_CHANGED, quantity=3),
        ProductChange(t(3), K.QUANTITY_CHANGED, quantity=1),       # same instant, back to 1
        ProductChange(t(4), K.SUSPENDED),
        ProductChange(t(4), K.RESUMED),                             # empty suspension
    ]
    assert effective_intervals(history, *MARCH) == [
        EffectiveInterval(t(1), t(1, month=4), ACTIVE, "v1", 1)]


def test_changes_during_a_suspension_and_unsorted_input() -> None:
    history = [
        ProductChange(t(12), K.RESUMED),
        ProductChange(t(8), K.PLAN_CHANGED, price_version="v2"),
        ProductChange(t(5), K.SUSPENDED),
        ProductChange(t(1), K.STARTED, price_version="v1", quantity=1),
    ]
    assert effective_intervals(history, *MARCH) == [
        EffectiveInterval(t(1), t(5), ACTIVE, "v1", 1),
        EffectiveInterval(t(5), t(8), SUSPENDED, "v1", 1),
        EffectiveInterval(t(8), t(12), SUSPENDED, "v2", 1),
        EffectiveInterval(t(12), t(1, month=4), ACTIVE, "v2", 1),
    ]


def test_instants_come_back_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    history = [ProductChange(datetime(2026, 3, 5, 1, tzinfo=paris), K.STARTED, "v1", 1)]
    (interval,) = effective_intervals(history, datetime(2026, 3, 1, tzinfo=paris),
                                      datetime(2026, 3, 6, tzinfo=paris))
    assert interval.start == t(5) and interval.start.tzinfo is UTC
    assert interval.end == datetime(2026, 3, 5, 23, tzinfo=UTC)


@pytest.mark.parametrize(("history", "field"), [
    ([ProductChange(t(1), K.SUSPENDED)], "history[0].kind"),
    ([ProductChange(t(1), K.STARTED, "v1", 1), ProductChange(t(2), K.STARTED, "v1", 1)],
     "history[1].kind"),
    ([ProductChange(t(1), K.STARTED, "v1", 1), ProductChange(t(2), K.RESUMED)],
     "history[1].kind"),
    ([ProductChange(t(1), K.STARTED, "v1", 1), ProductChange(t(2), K.SUSPENDED),
      ProductChange(t(3), K.SUSPENDED)], "history[2].kind"),
    ([ProductChange(t(1), K.STARTED, "v1", 1), ProductChange(t(2), K.TERMINATED),
      ProductChange(t(3), K.PLAN_CHANGED, "v2")], "history[2].kind"),
    ([ProductChange(t(1), K.STARTED, None, 1)], "history[0].priceVersion"),
    ([ProductChange(t(1), K.STARTED, "v1", 0)], "history[0].quantity"),
    ([ProductChange(t(1), K.STARTED, "v1", True)], "history[0].quantity"),
    ([ProductChange(t(1), K.STARTED, "v1", 1), ProductChange(t(2), K.QUANTITY_CHANGED)],
     "history[1].quantity"),
    ([ProductChange(t(1), "paused")], "history[0].kind"),  # type: ignore[arg-type]
    ([ProductChange(datetime(2026, 3, 1), K.STARTED, "v1", 1)], "history[0].at"),
])
def test_bad_histories_name_the_change(history: list[ProductChange], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        effective_intervals(history, *MARCH)
    assert err.value.field == field


def test_bad_periods() -> None:
    with pytest.raises(ValidationError) as err:
        effective_intervals(HISTORY, t(5), t(5))
    assert err.value.field == "end"
    with pytest.raises(ValidationError) as err:
        effective_intervals(HISTORY, datetime(2026, 3, 1), t(5))
    assert err.value.field == "start"


def test_intervals_by_product() -> None:
    other = [ProductChange(t(1, month=5), K.STARTED, "v9", 1)]
    result = intervals_by_product({"line-1": HISTORY, "line-2": other}, *MARCH)
    assert list(result) == ["line-1"]
    assert len(result["line-1"]) == 5
    with pytest.raises(ValidationError) as err:
        intervals_by_product({"p": [ProductChange(t(1), K.RESUMED)]}, *MARCH)
    assert err.value.field == "history[p][0].kind"


# -- properties ----------------------------------------------------------------------------

BASE = datetime(2026, 1, 1, tzinfo=UTC)
offsets = st.integers(0, 24 * 90)  # hours into the quarter


@st.composite
def histories(draw: st.DrawFn) -> list[ProductChange]:
    """Valid random histories (hour resolution, ties allowed), sometimes terminated."""
    at = draw(offsets)
    changes = [ProductChange(BASE + timedelta(hours=at), K.STARTED,
                             draw(st.sampled_from(["v1", "v2"])), draw(st.integers(1, 3)))]
    suspended = False
    for _ in range(draw(st.integers(0, 10))):
        at += draw(st.integers(0, 24 * 20))
        when = BASE + timedelta(hours=at)
        choices = [K.PLAN_CHANGED, K.QUANTITY_CHANGED, K.TERMINATED,
                   K.RESUMED if suspended else K.SUSPENDED]
        kind = draw(st.sampled_from(choices))
        if kind is K.PLAN_CHANGED:
            changes.append(ProductChange(when, kind, draw(st.sampled_from(["v1", "v2", "v3"]))))
        elif kind is K.QUANTITY_CHANGED:
            changes.append(ProductChange(when, kind, quantity=draw(st.integers(1, 3))))
        else:
            changes.append(ProductChange(when, kind))
        if kind is K.TERMINATED:
            break
        suspended = kind is K.SUSPENDED if kind in (K.SUSPENDED, K.RESUMED) else suspended
    return changes


@st.composite
def periods(draw: st.DrawFn) -> tuple[datetime, datetime]:
    a = draw(st.integers(-24 * 10, 24 * 300))
    b = draw(st.integers(a + 1, 24 * 320))
    return BASE + timedelta(hours=a), BASE + timedelta(hours=b)


def active_hours(history: list[ProductChange], lo: datetime, hi: datetime) -> set[datetime]:
    """Brute force: every hour in [lo, hi) at which the product is active (hour grid)."""
    hours: set[datetime] = set()
    moment = lo
    while moment < hi:
        state = None
        for change in history:  # sorted, ties in order
            if change.at > moment:
                break
            if change.kind in (K.STARTED, K.RESUMED):
                state = "active"
            elif change.kind is K.SUSPENDED:
                state = "suspended"
            elif change.kind is K.TERMINATED:
                state = None
        if state == "active":
            hours.add(moment)
        moment += timedelta(hours=1)
    return hours


@settings(max_examples=100, deadline=None)
@given(histories(), periods())
def test_intervals_are_sorted_disjoint_and_cover_the_active_life(
        history: list[ProductChange], period: tuple[datetime, datetime]) -> None:
    lo, hi = period
    intervals = effective_intervals(history, lo, hi)
    for interval in intervals:
        assert lo <= interval.start < interval.end <= hi
    for before, after in pairwise(intervals):
        assert before.end <= after.start
        # maximal: touching neighbours differ in something
        if before.end == after.start:
            assert (before.kind, before.price_version, before.quantity) != \
                (after.kind, after.price_version, after.quantity)
    covered = set()
    for interval in intervals:
        if interval.kind is ACTIVE:
            moment = interval.start
            while moment < interval.end:
                covered.add(moment)
                moment += timedelta(hours=1)
    assert covered == active_hours(history, lo, hi)
    without = effective_intervals(history, lo, hi, include_suspended=False)
    assert without == [i for i in intervals if i.kind is ACTIVE]


@settings(max_examples=100, deadline=None)
@given(histories(), st.lists(st.integers(-24 * 10, 24 * 320), min_size=3, max_size=3,
                             unique=True).map(sorted))
def test_clipping_is_additive(history: list[ProductChange], cuts: list[int]) -> None:
    a, b, c = (BASE + timedelta(hours=h) for h in cuts)
    left = effective_intervals(history, a, b)
    right = effective_intervals(history, b, c)
    assert merge_adjacent([*left, *right]) == effective_intervals(history, a, c)


@settings(max_examples=100, deadline=None)
@given(histories(), periods(), st.randoms(use_true_random=False))
def test_input_order_of_distinct_instants_does_not_matter(
        history: list[ProductChange], period: tuple[datetime, datetime], rnd: object) -> None:
    # Changes at distinct instants may come in any order (ties keep their given order).
    if len({c.at for c in history}) != len(history):
        return
    shuffled = list(history)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert effective_intervals(shuffled, *period) == effective_intervals(history, *period)
