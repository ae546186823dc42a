"""CGRateS-exact telecom rating: the costs CGRateS itself computes are the reference.

The tutorial tariff plan is specs/cdr/cgrates-tutorial-tariffplan (CGRateS's
data/tariffplans/tutorial). Each reference case names the CGRateS test it comes from; the
other cases work out CGRateS's rules (engine/timespans.go, engine/calldesc.go,
engine/rateinterval.go, engine/ratingprofile.go, utils/coreutils.go) by hand, with the
arithmetic in the comment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from openbss.core.errors import ValidationError
from openbss.rating import telecom
from openbss.rating.cgrates_csv import read_dir
from openbss.rating.errors import RatingPlanNotFound, UnauthorizedDestination
from openbss.rating.tariff import (
    Binding,
    DestinationRate,
    RateSlot,
    RatingProfile,
    TariffSet,
    Timing,
)
from openbss.rating.telecom import cost, destination_of, parse_usage, rate_plan

TUTORIAL = Path(__file__).resolve().parents[2] / "specs/cdr/cgrates-tutorial-tariffplan"
AT = datetime(2014, 8, 4, 13, 0, tzinfo=UTC)  # a Monday, after every activation


@pytest.fixture(scope="module")
def tutorial() -> TariffSet:
    return read_dir(TUTORIAL)


# (source, category, subject, destination, usage, expected cost)
REFERENCE = [
    # general_tests/tutorial_it_test.go testTutorialGetCost (APIerSv1.GetCost): 0.7169 =
    # 0.4 connect + 60s x 0.2/60 + 70 x round(0.1/60, 5) = 70 x 0.00167
    ("general_tests/tutorial_it_test.go", "call", "1001", "1002", "2m10s", "0.7169"),
    # apier/v1/costs_it_test.go testCostGetCost: Usage "120000000000" (ns, 2m) -> 0.7002
    # = 0.4 + 0.2 + 60 x 0.00167 (the test's comment: "0.4 connect fee 0.2 first minute")
    ("apier/v1/costs_it_test.go", "call", "1001", "1002", "120s", "0.7002"),
    # 90s: 0.4 + 0.2 + 30 x 0.00167 = 0.6501
    ("derived: RT_20CNT", "call", "1001", "1002", "90s", "0.6501"),
    # 30s: the first slot's 60s increment rounds the call up to 60s: 0.4 + 0.2
    ("derived: RT_20CNT", "call", "1001", "1002", "30s", "0.6000"),
    # 61s: 0.4 + 0.2 + 0.00167 = 0.60167 -> *up to 4 decimals 0.6017
    ("derived: *up 4", "call", "1001", "1002", "61s", "0.6017"),
    # README of the tutorial: a call to 1003 is disconnected after 12s (max cost 0.12,
    # *disconnect, 0.01 per second)
    ("tutorial README.md / DR_1003_MAXCOST_DISC", "call", "1001", "1003", "60s", "0.1200"),
    ("derived: under the max cost", "call", "1001", "1003", "10s", "0.1000"),
    # RP_1002 rates 1002 -> 1001 with RT_20CNT
    ("derived: RP_1002", "call", "1002", "1001", "2m10s", "0.7169"),
    # RP_1003 rates with RT_10CNT: 0.2 + 0.1 + 70 x round(0.05/60, 5) = 70 x 0.00083
    ("derived: RP_1003", "call", "1003", "1001", "130s", "0.3581"),
    # sms, subject *any, destination *any, 1 unit at 0.01
    ("derived: RP_SMS", "sms", "1001", "+4915112345678", "1", "0.0100"),
    ("derived: RP_SMS", "sms", "1002", "1003", "10", "0.1000"),
]


@pytest.mark.parametrize(("source", "category", "subject", "destination", "usage", "expected"),
                         REFERENCE)
def test_cgrates_reference_costs(tutorial: TariffSet, source: str, category: str, subject: str,
                                 destination: str, usage: str, expected: str) -> None:
    c = cost(tutorial, category=category, subject=subject, destination=destination,
             answer_time=AT, usage=parse_usage(usage), tenant="cgrates.org")
    assert c.cost == D(expected), source


def test_increments_of_the_tutorial_call(tutorial: TariffSet) -> None:
    c = cost(tutorial, category="call", subject="1001", destination="1002", answer_time=AT,
             usage=parse_usage("2m10s"), tenant="cgrates.org")
    assert (c.rating_plan, c.destination_id, c.destination_rate_id, c.rates_id) == (
        "RP_1001", "DST_1002", "DR_1002_20CNT", "RT_20CNT")
    assert c.connect_fee == D("0.4")
    assert c.to_json() == [
        {"start": D(0), "duration": D(60), "rate": D("0.2"), "cost": D("0.2")},
        {"start": D(60), "duration": D(70), "rate": D("0.1"), "cost": D("0.1169")},
    ]
    assert [(i.step, i.count, i.unit_cost) for i in c.increments] == [
        (D(60), 1, D("0.2")), (D(1), 70, D("0.00167"))]


def test_disconnect_cuts_the_usage_where_the_max_cost_is_reached(tutorial: TariffSet) -> None:
    c = cost(tutorial, category="call", subject="1001", destination="1003", answer_time=AT,
             usage=D(60), tenant="cgrates.org")
    assert (c.cost, c.usage, c.max_cost_applied) == (D("0.12"), D(12), True)
    exact = cost(tutorial, category="call", subject="1001", destination="1003",
                 answer_time=AT, usage=D(12), tenant="cgrates.org")
    assert (exact.cost, exact.usage, exact.max_cost_applied) == (D("0.12"), D(12), False)


def test_activation_time_choice(tutorial: TariffSet) -> None:
    # 1001 has RP_1002 from 2010-01-14 and RP_1001 from 2014-01-14; RP_1002 rates 1001
    before = datetime(2013, 6, 1, 12, tzinfo=UTC)
    c = cost(tutorial, category="call", subject="1001", destination="1001",
             answer_time=before, usage=D(130), tenant="cgrates.org")
    assert (c.rating_plan, c.cost) == ("RP_1002", D("0.7169"))
    # after 2014-01-14 RP_1001 applies, which has no rate for 1001
    with pytest.raises(UnauthorizedDestination) as err:
        cost(tutorial, category="call", subject="1001", destination="1001", answer_time=AT,
             usage=D(130), tenant="cgrates.org")
    assert err.value.code == "UNAUTHORIZED_DESTINATION" and err.value.field == "destination"
    # and RP_1002 before 2014 has no rate for 1002
    with pytest.raises(UnauthorizedDestination):
        cost(tutorial, category="call", subject="1001", destination="1002",
             answer_time=before, usage=D(130), tenant="cgrates.org")


def test_unknown_subject_and_any(tutorial: TariffSet) -> None:
    with pytest.raises(RatingPlanNotFound) as err:
        cost(tutorial, category="call", subject="9999", destination="1002", answer_time=AT,
             usage=D(60), tenant="cgrates.org")
    assert (err.value.code, err.value.field, err.value.status) == (
        "RATING_PLAN_NOT_FOUND", "subject", 422)
    # cgrates.com has a *any subject for calls (RP_1001): any subject is rated by it
    c = cost(tutorial, category="call", subject="9999", destination="1002", answer_time=AT,
             usage=parse_usage("2m10s"), tenant="cgrates.com")
    assert (c.rating_plan, c.subject, c.cost) == ("RP_1001", "*any", D("0.7169"))


def test_default_tenant_is_the_first_in_file_order(tutorial: TariffSet) -> None:
    assert telecom.default_tenant(tutorial) == "cgrates.org"
    c = cost(tutorial, category="call", subject="1001", destination="1002", answer_time=AT,
             usage=D(130))
    assert c.cost == D("0.7169")


def test_zero_usage_costs_nothing_as_cgrates_getcost(tutorial: TariffSet) -> None:
    # engine/calldesc.go getCost: a zero duration returns an empty CallCost (no connect fee)
    c = cost(tutorial, category="call", subject="1001", destination="1002", answer_time=AT,
             usage=D(0), tenant="cgrates.org")
    assert (c.cost, c.connect_fee, c.increments) == (D(0), D(0), ())
    r = rate_plan(tutorial, rating_plan_id="RP_1001", destination="1002", answer_time=AT,
                  usage=D(0))
    assert (r.cost, r.connect_fee) == (D(0), D(0))


# -- a hand-made tariff: timings, slots, fallbacks, rounding -------------------------------


def _tariff(*, method: str = "*up", decimals: int = 4, max_cost: str = "0",
            strategy: str = "", time_zone: str = "UTC") -> TariffSet:
    return TariffSet(
        currency="EUR", time_zone=time_zone,
        destinations={"DE": ("49",), "DE_MOB": ("4915", "4916"), "FR": ("33",)},
        rates={
            "PEAK": (RateSlot(D("0.1"), D("1.2"), D(60), D(60)),
                     RateSlot(D(0), D("1.2"), D(60), D(1), D(60))),
            "OFF": (RateSlot(D("0.1"), D("0.6"), D(60), D(1)),),
            "MOB": (RateSlot(D(0), D("0.3"), D(60), D(30)),
                    RateSlot(D(0), D("0.2"), D(60), D(6), D(30))),
            "FR": (RateSlot(D(0), D("0.07"), D(60), D(1)),),
        },
        destination_rates={
            "DR_PEAK": (DestinationRate("DE", "PEAK", method, decimals, D(max_cost), strategy),),
            "DR_OFF": (DestinationRate("DE", "OFF", method, decimals, D(max_cost), strategy),),
            "DR_MOB": (DestinationRate("DE_MOB", "MOB", method, decimals),),
            "DR_FR": (DestinationRate("FR", "FR", method, decimals),),
        },
        timings={
            "PEAK": Timing(week_days=(1, 2, 3, 4, 5), time="08:00:00"),
            "OFFPEAK_MORNING": Timing(week_days=(1, 2, 3, 4, 5), time="00:00:00"),
            "OFFPEAK_EVENING": Timing(week_days=(1, 2, 3, 4, 5), time="19:00:00"),
            "WEEKEND": Timing(week_days=(6, 7)),
        },
        rating_plans={
            "RP_STD": (Binding("DR_PEAK", "PEAK", D(10)),
                       Binding("DR_OFF", "OFFPEAK_MORNING", D(10)),
                       Binding("DR_OFF", "OFFPEAK_EVENING", D(10)),
                       Binding("DR_OFF", "WEEKEND", D(10)),
                       Binding("DR_MOB", "*any", D(10))),
            "RP_FR": (Binding("DR_FR", "*any", D(10)),),
        },
        rating_profiles=(
            RatingProfile("t", "call", "*any", datetime(2019, 3, 1, tzinfo=UTC), "RP_STD"),
            RatingProfile("t", "call", "fr", datetime(2019, 3, 1, tzinfo=UTC), "RP_FR",
                          ("*any",)),
            RatingProfile("t", "call", "switch", datetime(2019, 3, 1, tzinfo=UTC), "RP_STD"),
            RatingProfile("t", "call", "switch", datetime(2019, 3, 11, 12, tzinfo=UTC),
                          "RP_FR"),
        ))


MONDAY_9 = datetime(2019, 3, 11, 9, 0, tzinfo=UTC)


def test_timing_bands_peak_offpeak_weekend() -> None:
    t = _tariff()
    # cf. general_tests/tutorial2_it_test.go testTutGetCost (tutorial2 plan: PEAK 08:00 and
    # OFFPEAK 00:00/19:00 on weekdays, equal weights): 45s at Monday 09:00 is peak, rounded
    # to the 60s increment: 0.1 + 1.2 = 1.3; at 21:00 off-peak 0.1 + 45 x 0.01 = 0.55
    peak = cost(t, category="call", subject="x", destination="4930123", answer_time=MONDAY_9,
                usage=D(45), tenant="t")
    assert (peak.cost, peak.destination_rate_id) == (D("1.3"), "DR_PEAK")
    evening = cost(t, category="call", subject="x", destination="4930123",
                   answer_time=datetime(2019, 3, 11, 21, tzinfo=UTC), usage=D(45), tenant="t")
    assert (evening.cost, evening.destination_rate_id) == (D("0.55"), "DR_OFF")
    sunday = cost(t, category="call", subject="x", destination="4930123",
                  answer_time=datetime(2019, 3, 10, 10, tzinfo=UTC), usage=D(45), tenant="t")
    assert sunday.destination_rate_id == "DR_OFF"  # weekday 7 = Sunday


def test_a_call_crossing_a_band_boundary_is_split_there() -> None:
    t = _tariff()
    # 07:59:30 + 90s: 30s off-peak (0.1 connect + 30 x 0.01), then from 08:00 peak: the
    # peak rate's slot for elapsed 30s is its first (60s increment): 60s x 1.2/60 = 1.2
    c = cost(t, category="call", subject="x", destination="4930123",
             answer_time=datetime(2019, 3, 11, 7, 59, 30, tzinfo=UTC), usage=D(90), tenant="t")
    assert [(i.start, i.duration, i.cost) for i in c.increments] == [
        (D(0), D(30), D("0.3")), (D(30), D(60), D("1.2"))]
    assert c.cost == D("1.6")


def test_a_call_crossing_midnight_is_split_at_midnight() -> None:
    t = _tariff()
    # Friday 23:59:50 + 20s: two off-peak/weekend timespans of 10s each
    c = cost(t, category="call", subject="x", destination="4930123",
             answer_time=datetime(2019, 3, 15, 23, 59, 50, tzinfo=UTC), usage=D(20), tenant="t")
    assert [(i.start, i.duration) for i in c.increments] == [(D(0), D(10)), (D(10), D(10))]
    assert c.cost == D("0.1") + D("0.2")


def test_time_zone_of_the_tariff() -> None:
    t = _tariff(time_zone="Europe/Berlin")
    # 07:30 UTC is 08:30 in Berlin (winter): peak
    c = cost(t, category="call", subject="x", destination="4930123",
             answer_time=datetime(2019, 3, 11, 7, 30, tzinfo=UTC), usage=D(45), tenant="t")
    assert c.destination_rate_id == "DR_PEAK"


def test_longest_prefix_and_slots_by_elapsed_time() -> None:
    t = _tariff()
    assert destination_of(t, "4915112345") == "DE_MOB"
    assert destination_of(t, "4930123") == "DE"
    assert destination_of(t, "1234") is None
    assert destination_of(t, "4915112345", "RP_FR") is None
    # mobile 95s: first slot 30s in one 30s increment (0.15), then 65s in 6s increments ->
    # rounded to 66s: 66 x 0.2/60 = 0.22, 11 increments of 0.02
    c = cost(t, category="call", subject="x", destination="4915112345", answer_time=MONDAY_9,
             usage=D(95), tenant="t")
    assert c.destination_id == "DE_MOB"
    assert [(i.start, i.duration, i.count, i.unit_cost) for i in c.increments] == [
        (D(0), D(30), 1, D("0.15")), (D(30), D(66), 11, D("0.02"))]
    assert c.cost == D("0.37")


def test_fallback_subjects() -> None:
    t = _tariff()
    # "fr" has RP_FR (France only) and falls back to *any (RP_STD) for other destinations
    fr = cost(t, category="call", subject="fr", destination="33123", answer_time=MONDAY_9,
              usage=D(60), tenant="t")
    # 60 increments of round(0.07/60, 5) = 0.00117: 0.0702, not 0.07 (CGRateS's rounding)
    assert (fr.rating_plan, fr.cost) == ("RP_FR", D("0.0702"))
    de = cost(t, category="call", subject="fr", destination="4930123", answer_time=MONDAY_9,
              usage=D(45), tenant="t")
    assert (de.rating_plan, de.subject, de.cost) == ("RP_STD", "*any", D("1.3"))


def test_a_call_crossing_an_activation_is_rated_by_both_plans() -> None:
    t = _tariff()
    # "switch" moves from RP_STD to RP_FR at 12:00; a call to France at 11:59:30 is not
    # covered by RP_STD before 12:00 -> unauthorized; one at 12:00 is rated by RP_FR
    with pytest.raises(UnauthorizedDestination):
        cost(t, category="call", subject="switch", destination="33123",
             answer_time=datetime(2019, 3, 11, 11, 59, 30, tzinfo=UTC), usage=D(60),
             tenant="t")
    after = cost(t, category="call", subject="switch", destination="33123",
                 answer_time=datetime(2019, 3, 11, 12, tzinfo=UTC), usage=D(60), tenant="t")
    assert after.rating_plan == "RP_FR"


@pytest.mark.parametrize(("method", "decimals", "expected"), [
    ("*up", 4, "0.6017"), ("*down", 4, "0.6016"), ("*middle", 4, "0.6017"),
    ("*up", 2, "0.61"), ("*down", 2, "0.60"), ("*middle", 3, "0.602"),
    ("", 4, "0.60167"), ("*up", 0, "0.60167"),  # no method / 0 decimals: not rounded
])
def test_rounding_methods_of_the_total(method: str, decimals: int, expected: str) -> None:
    t = TariffSet(
        destinations={"D": ("1",)},
        rates={"R": (RateSlot(D("0.4"), D("0.2"), D(60), D(60)),
                     RateSlot(D(0), D("0.1"), D(60), D(1), D(60)))},
        destination_rates={"DR": (DestinationRate("D", "R", method, decimals),)},
        rating_plans={"P": (Binding("DR"),)})
    # 61s: 0.4 + 0.2 + round(0.1/60, 5) = 0.60167 before the total's rounding
    c = rate_plan(t, rating_plan_id="P", destination="100", answer_time=AT, usage=D(61))
    assert c.cost == D(expected)
    assert str(telecom.round_cost(D("-0.00005"), 4, "*middle")) == "-0.0001"


def test_max_cost_free_caps_the_cost_and_the_call_continues() -> None:
    t = _tariff(max_cost="0.5", strategy="*free")
    c = cost(t, category="call", subject="x", destination="4930123",
             answer_time=datetime(2019, 3, 11, 21, tzinfo=UTC), usage=D(600), tenant="t")
    assert (c.cost, c.usage) == (D("0.5"), D(600))


def test_rate_plan_with_an_allowance_skip() -> None:
    t = _tariff()
    at = datetime(2019, 3, 11, 21, tzinfo=UTC)  # off-peak: 0.1 connect + 0.01/s
    full = rate_plan(t, rating_plan_id="RP_STD", destination="4930123", answer_time=at,
                     usage=D(100))
    assert full.cost == D("1.1")
    part = rate_plan(t, rating_plan_id="RP_STD", destination="4930123", answer_time=at,
                     usage=D(100), skip=D(40))
    assert (part.cost, part.connect_fee) == (D("0.6"), D(0))  # 60s, no connect fee
    none = rate_plan(t, rating_plan_id="RP_STD", destination="4930123", answer_time=at,
                     usage=D(100), skip=D(100))
    assert none.cost == 0
    # slots still count from the call's start: mobile, 40s already included -> the 6s
    # slot (from 30s) applies to [40, 95): 55s -> 60s = 0.2
    mob = rate_plan(t, rating_plan_id="RP_STD", destination="4915112345", answer_time=at,
                    usage=D(95), skip=D(40))
    assert mob.cost == D("0.2")


def test_rate_plan_errors() -> None:
    t = _tariff()
    with pytest.raises(RatingPlanNotFound) as err:
        rate_plan(t, rating_plan_id="NOPE", destination="49", answer_time=AT, usage=D(1))
    assert err.value.field == "ratingPlan"
    with pytest.raises(UnauthorizedDestination):
        rate_plan(t, rating_plan_id="RP_FR", destination="4930", answer_time=AT, usage=D(1))


def test_units_are_never_split_by_time() -> None:
    t = _tariff()
    # 10^9 "seconds" of data would cross thousands of midnights as a voice call
    c = rate_plan(t, rating_plan_id="RP_FR", destination="33", answer_time=AT,
                  usage=D(10) ** 9, usage_type="data")
    # one timespan: 10^9 increments of round(0.07/60, 5) = 0.00117
    assert len(c.increments) == 1 and c.cost == D("1170000")


@pytest.mark.parametrize(("text", "seconds"), [
    ("130s", "130"), ("2m10s", "130"), ("1h2m", "3720"), ("1.5s", "1.5"), ("500ms", "0.5"),
    ("10", "10"), (130, "130"), (D("1.25"), "1.25"), ("0s", "0"), ("1h0m0.001s", "3600.001"),
])
def test_parse_usage(text: object, seconds: str) -> None:
    assert parse_usage(text) == D(seconds)


@pytest.mark.parametrize("bad", ["-5s", "-1", "abc", "", "1x", "s", 1.5, True, None, "NaN",
                                 D("NaN"), D("-1"), "1" * 70, [1]])
def test_parse_usage_refuses_bad_input(bad: object) -> None:
    with pytest.raises(ValidationError) as err:
        parse_usage(bad, field="usage")
    assert err.value.field == "usage"
