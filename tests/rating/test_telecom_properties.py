"""Property tests of the telecom rating on random tariffs and calls (hypothesis).

The strategies here are shared with test_telecom_vector.py (the two engines agree).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from openbss.core.errors import OpenBSSError
from openbss.rating.tariff import (
    Binding,
    DestinationRate,
    RateSlot,
    RatingProfile,
    TariffSet,
    Timing,
)
from openbss.rating.telecom import cost, rate_plan

RATES = [D(0), D("0.01"), D("0.05"), D("0.1"), D("0.2"), D("1.2"), D("0.0333"), D("0.07")]
UNITS = [D(1), D(60), D(30)]
INCREMENTS = [D(1), D(6), D(30), D(60), D("0.5")]
FEES = [D(0), D("0.1"), D("0.4")]
STARTS = ["00:00:00", "08:00:00", "19:00:00", "12:30:15"]
BASE = datetime(2019, 3, 9, tzinfo=UTC)  # a Saturday: the week covers all weekdays


@st.composite
def slots(draw: Any) -> tuple[RateSlot, ...]:
    starts = sorted(draw(st.sets(st.sampled_from([D(10), D(30), D(60), D(90)]), max_size=2)))
    out = []
    for i, g in enumerate([D(0), *starts]):
        out.append(RateSlot(connect_fee=draw(st.sampled_from(FEES)) if i == 0 else D(0),
                            rate=draw(st.sampled_from(RATES)),
                            rate_unit=draw(st.sampled_from(UNITS)),
                            rate_increment=draw(st.sampled_from(INCREMENTS)),
                            group_interval_start=g))
    return tuple(out)


@st.composite
def tariffs(draw: Any, *, timings: bool = True, max_cost: bool = True) -> TariffSet:
    n_dest = draw(st.integers(1, 4))
    prefixes = draw(st.lists(st.text("0123", min_size=1, max_size=3), min_size=n_dest,
                             max_size=n_dest + 2, unique=True))
    destinations = {f"D{i}": (p,) for i, p in enumerate(prefixes[:n_dest])}
    for extra in prefixes[n_dest:]:
        key = f"D{draw(st.integers(0, n_dest - 1))}"
        destinations[key] = (*destinations[key], extra)
    rates = {f"R{i}": draw(slots()) for i in range(draw(st.integers(1, 3)))}
    drs: dict[str, tuple[DestinationRate, ...]] = {}
    for i in range(draw(st.integers(1, 4))):
        dest = draw(st.sampled_from([*destinations, "*any"]))
        strategy = draw(st.sampled_from(["", "*disconnect", "*free"])) if max_cost else ""
        drs[f"DR{i}"] = (DestinationRate(
            destination_id=dest, rates_id=draw(st.sampled_from(list(rates))),
            rounding_method=draw(st.sampled_from(["*up", "*down", "*middle", ""])),
            rounding_decimals=draw(st.integers(0, 6)),
            max_cost=draw(st.sampled_from([D(0), D("0.12"), D("0.5"), D(2)])) if strategy
            else D(0),
            max_cost_strategy=strategy),)
    tms: dict[str, Timing] = {}
    if timings:
        for i in range(draw(st.integers(0, 3))):
            tms[f"T{i}"] = Timing(
                week_days=tuple(sorted(draw(st.sets(st.integers(0, 7), max_size=4)))),
                month_days=tuple(sorted(draw(st.sets(st.integers(9, 16), max_size=2)))),
                time=draw(st.sampled_from(STARTS)))
    plans = {}
    for i in range(draw(st.integers(1, 2))):
        plans[f"P{i}"] = tuple(
            Binding(destination_rates_id=draw(st.sampled_from(list(drs))),
                    timing_id=draw(st.sampled_from(["*any", *tms])),
                    weight=draw(st.sampled_from([D(0), D(10), D(20)])))
            for _ in range(draw(st.integers(1, 4))))
    return TariffSet(destinations=destinations, rates=rates, destination_rates=drs,
                     timings=tms, rating_plans=plans,
                     time_zone=draw(st.sampled_from(["UTC", "Europe/Berlin"])))


@st.composite
def calls(draw: Any, t: TariffSet) -> dict[str, Any]:
    plan = draw(st.sampled_from([*t.rating_plans, *(["NOPE"] if draw(st.integers(0, 20)) == 0
                                                  else [])]))
    prefix = draw(st.sampled_from([p for ps in t.destinations.values() for p in ps] + [""]))
    destination = prefix + draw(st.text("0123456789", max_size=4))
    seconds = draw(st.one_of(
        st.integers(0, 7 * 86400),
        st.sampled_from([86400 - 30, 2 * 86400 - 5, 8 * 3600 - 20, 19 * 3600 - 1,
                         12 * 3600 + 30 * 60])))
    at = BASE + timedelta(seconds=seconds, microseconds=draw(st.sampled_from([0, 500_000])))
    usage = draw(st.one_of(st.integers(0, 400).map(D),
                           st.decimals(min_value=0, max_value=400, places=1)))
    skip = draw(st.one_of(st.just(D(0)), st.integers(0, 420).map(D)))
    usage_type = draw(st.sampled_from(["voice", "voice", "sms"]))
    return {"rating_plan_id": plan, "destination": destination, "answer_time": at,
            "usage": usage, "skip": skip, "usage_type": usage_type}


def _rate(t: TariffSet, call: dict[str, Any]) -> Any:
    try:
        return rate_plan(t, **call)
    except OpenBSSError as exc:
        return exc.code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cost_is_monotone_in_usage_for_non_negative_rates(data: Any) -> None:
    t = data.draw(tariffs(timings=False))
    call = data.draw(calls(t))
    call["skip"] = D(0)
    small = _rate(t, call)
    assume(not isinstance(small, str))
    larger = _rate(t, {**call, "usage": call["usage"] + data.draw(st.integers(1, 200))})
    assert larger.cost >= small.cost


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_splitting_never_loses_a_second(data: Any) -> None:
    t = data.draw(tariffs(max_cost=False))
    call = data.draw(calls(t))
    c = _rate(t, call)
    assume(not isinstance(c, str) and call["usage"] > call["skip"])
    incs = c.increments
    # the charged interval starts at skip, every increment starts where the previous ended
    # (an increment rounded up swallows what it overlaps), and it ends at or after usage
    assert incs[0].start == call["skip"]
    for before, after in pairwise(incs):
        assert after.start == before.start + before.duration
    assert all(i.duration == i.step * i.count and i.cost == i.unit_cost * i.count
               for i in incs)
    assert incs[-1].start + incs[-1].duration >= call["usage"]
    assert c.cost >= 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_skip_zero_equals_the_cost_without_allowance(data: Any) -> None:
    t = data.draw(tariffs())
    call = data.draw(calls(t))
    assume(call["rating_plan_id"] in t.rating_plans)
    with_profile = TariffSet(**{
        **{f: getattr(t, f) for f in ("destinations", "rates", "destination_rates", "timings",
                                      "rating_plans", "time_zone")},
        "rating_profiles": (RatingProfile("t", "call", "s", datetime(2000, 1, 1, tzinfo=UTC),
                                          call["rating_plan_id"]),)})
    direct = _rate(t, {**call, "skip": D(0), "usage_type": "voice"})
    try:
        via = cost(with_profile, category="call", subject="s",
                   destination=call["destination"], answer_time=call["answer_time"],
                   usage=call["usage"], tenant="t")
    except OpenBSSError as exc:
        assert direct == exc.code
        return
    if call["usage"] == 0:
        assert via.cost == 0
        return
    assert not isinstance(direct, str)
    assert (via.cost, via.connect_fee, via.usage, via.increments) == (
        direct.cost, direct.connect_fee, direct.usage, direct.increments)
