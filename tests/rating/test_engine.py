"""The per-record rating engine (rating/engine.py) and allowances (rating/allowances.py):
price selection, allowance buckets by scope consumed in time order, split records,
destination-restricted allowances, telecom and metered charged parts, rejects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from openbss.catalog.pricing import parse_charge_model
from openbss.rating import telecom
from openbss.rating.book import (
    AllowanceKey,
    Allowances,
    MeteredKey,
    RatedUsage,
    RatingBook,
    Unrated,
    UsageEvent,
    UsagePrice,
    unit_scale,
)
from openbss.rating.engine import rate_events
from openbss.rating.tariff import Binding, DestinationRate, RateSlot, TariffSet

D = Decimal
P0 = datetime(2026, 3, 1, tzinfo=UTC)
P1 = datetime(2026, 4, 1, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

TARIFFS = TariffSet(
    currency="EUR",
    destinations={"DE_MOBILE": ("+4915", "+4917"), "DE": ("+49",), "FR": ("+33",)},
    rates={
        # 0.10 per minute in 60 s steps, 0.05 connect fee; 0.06 per minute after 10 minutes
        "RT_DE": (RateSlot(D("0.05"), D("0.10"), D(60), D(60)),
                  RateSlot(D(0), D("0.06"), D(60), D(60), D(600))),
        "RT_MOB": (RateSlot(D(0), D("0.20"), D(60), D(60)),),
        "RT_SMS": (RateSlot(D(0), D("0.09"), D(1), D(1)),),
    },
    destination_rates={
        "DR_DE": (DestinationRate("DE", "RT_DE"), DestinationRate("DE_MOBILE", "RT_MOB")),
        "DR_SMS": (DestinationRate("*any", "RT_SMS"),),
    },
    rating_plans={"RP_VOICE": (Binding("DR_DE"),), "RP_SMS": (Binding("DR_SMS"),)},
)


def voice_price(**changes: object) -> UsagePrice:
    base = UsagePrice(price_id="pv", offering_id="off", usage_type="voice", metric=None,
                      unit="minute", scale=unit_scale("minute"), currency="EUR",
                      rating_plan="RP_VOICE")
    return replace(base, **changes)  # type: ignore[arg-type]


def api_price(**changes: object) -> UsagePrice:
    base = UsagePrice(price_id="pa", offering_id="off", usage_type="event", metric="api_calls",
                      unit="call", scale=D(1), currency="EUR",
                      charge_model=parse_charge_model({"type": "standard",
                                                       "unitPrice": "0.002"}))
    return replace(base, **changes)  # type: ignore[arg-type]


def book(*prices: UsagePrice) -> RatingBook:
    return RatingBook(prices={"off": prices}, tariffs=TARIFFS)


def call(key: str, seconds: int | str, *, minutes: int = 0, to: str = "+493012345",
         product: str = "p1", bundle: str | None = None, account: str | None = "acc1",
         usage_type: str = "voice", metric: str | None = None,
         period: datetime = P0) -> UsageEvent:
    return UsageEvent(key=key, usage_date=T0 + timedelta(minutes=minutes),
                      usage_type=usage_type, metric=metric, quantity=D(seconds),
                      destination=to, product_id=product, billing_account_id=account,
                      price_version="off", period_start=period,
                      period_end=P1 if period == P0 else period + timedelta(days=30),
                      bundle_id=bundle)


def rated(result: RatedUsage | Unrated) -> RatedUsage:
    assert isinstance(result, RatedUsage), result
    return result


def cost(seconds: int, skip: int = 0, to: str = "+493012345") -> Decimal:
    return telecom.rate_plan(TARIFFS, rating_plan_id="RP_VOICE", destination=to,
                             answer_time=T0, usage=D(seconds), skip=D(skip)).cost


def test_telecom_without_allowance_is_the_tariff_cost() -> None:
    [result] = rate_events([call("a", 130)], book(voice_price()), Allowances())
    r = rated(result)
    assert (r.included, r.charged) == (D(0), D(130))
    assert r.amount == cost(130) == D("0.05") + 3 * D("0.10")
    assert (r.tariff, r.rate, r.destination) == ("RP_VOICE", "RT_DE", "DE")
    assert (r.period_start, r.period_end, r.usage_date) == (P0, P1, T0)
    assert r.allowance is None


def test_allowance_consumed_in_time_order_and_a_call_crossing_it_is_split() -> None:
    price = voice_price(included=D(120))
    key = AllowanceKey("product", "p1", "pv", P0)
    state = Allowances(granted={key: D(120)})
    # given out of order: "late" (t+10 min) is listed first but consumes last
    late, early = call("late", 90, minutes=10), call("early", 100)
    results = rate_events([late, early], book(price), state)
    first, second = rated(results[1]), rated(results[0])
    assert (first.key, first.included, first.charged, first.amount) == ("early", D(100),
                                                                      D(0), D(0))
    assert first.allowance == key
    # 20 s left: the second call is split: 20 s included, [20, 90) charged, no connect fee
    assert (second.key, second.included, second.charged) == ("late", D(20), D(70))
    assert second.amount == cost(90, skip=20)
    assert 0 < second.amount < cost(90)
    assert state.used == {key: D(120)}


def test_an_exhausted_allowance_charges_everything() -> None:
    key = AllowanceKey("product", "p1", "pv", P0)
    state = Allowances(granted={key: D(60)}, used={key: D(60)})
    r = rated(rate_events([call("a", 130)], book(voice_price(included=D(60))), state)[0])
    assert (r.included, r.amount, r.allowance) == (D(0), cost(130), None)
    assert state.used == {key: D(60)}


def test_a_bucket_not_loaded_grants_the_prices_included_quantity() -> None:
    state = Allowances()
    r = rated(rate_events([call("a", 30)], book(voice_price(included=D(50))), state)[0])
    key = AllowanceKey("product", "p1", "pv", P0)
    assert (r.included, r.amount) == (D(30), D(0))
    assert state.granted == {key: D(50)} and state.used == {key: D(30)}


@pytest.mark.parametrize(("scope", "holder"), [("bundle", "b1"), ("account", "acc1")])
def test_bundle_and_account_allowances_are_shared_by_the_lines(scope: str,
                                                               holder: str) -> None:
    price = voice_price(included=D(100), allowance_scope=scope)
    state = Allowances()
    results = rate_events([call("x", 80, product="p1", bundle="b1"),
                           call("y", 80, product="p2", bundle="b1", minutes=1)],
                          book(price), state)
    x, y = rated(results[0]), rated(results[1])
    assert (x.included, y.included, y.charged) == (D(80), D(20), D(60))
    assert state.used == {AllowanceKey(scope, holder, "pv", P0): D(100)}


def test_bundle_scope_without_a_bundle_and_account_scope_without_an_account() -> None:
    state = Allowances()
    rate_events([call("x", 10, bundle=None)], book(voice_price(included=D(100),
                                                              allowance_scope="bundle")), state)
    rate_events([call("y", 10, account=None)],
                book(voice_price(price_id="pw", included=D(100), allowance_scope="account")),
                state)
    assert set(state.used) == {AllowanceKey("bundle", "p1", "pv", P0),
                               AllowanceKey("account", "p1", "pw", P0)}


def test_each_period_has_its_own_bucket() -> None:
    state = Allowances()
    results = rate_events([call("mar", 100), call("apr", 100, period=P1)],
                          book(voice_price(included=D(100))), state)
    assert [rated(r).included for r in results] == [D(100), D(100)]
    assert len(state.used) == 2


def test_destination_restricted_allowance() -> None:
    price = voice_price(included=D(600), allowance_destinations=("DE",))
    state = Allowances()
    results = rate_events([call("mobile", 60, to="+4915112345"),
                           call("fixed", 60, to="+493099999", minutes=1)], book(price), state)
    mobile, fixed = rated(results[0]), rated(results[1])
    assert (mobile.destination, mobile.included, mobile.amount) == ("DE_MOBILE", D(0),
                                                                    D("0.20"))
    assert (fixed.destination, fixed.included, fixed.amount) == ("DE", D(60), D(0))
    assert state.used == {AllowanceKey("product", "p1", "pv", P0): D(60)}


def test_zero_quantity_costs_nothing_and_consumes_nothing() -> None:
    state = Allowances()
    prices = (voice_price(included=D(60)), api_price(included=D(5)))
    results = rate_events([call("v", 0), call("e", 0, usage_type="event",
                                              metric="api_calls")], book(*prices), state)
    assert [(rated(r).amount, rated(r).included) for r in results] == [(D(0), D(0))] * 2
    assert state.used == {} and state.metered == {}


def test_rejects() -> None:
    prices = (voice_price(included=D(60)), api_price())
    events = [call("unknown-type", 5, usage_type="data"),
              call("unknown-metric", 5, usage_type="event", metric="seats"),
              call("uncovered", 60, to="+3312345"),
              call("negative", -1)]
    state = Allowances()
    results = rate_events(events, book(*prices), state)
    assert all(isinstance(r, Unrated) for r in results)
    reasons = [(r.key, r.reason) for r in results if isinstance(r, Unrated)]
    assert reasons == [("unknown-type", "unrated_destination"),
                       ("unknown-metric", "unrated_destination"),
                       ("uncovered", "unrated_destination"),
                       ("negative", "invalid_quantity")]
    assert "no usage price for data" in results[0].detail  # type: ignore[union-attr]
    assert state.used == {}  # the uncovered call consumed nothing


def test_no_tariffs_and_unknown_plan_are_unrated() -> None:
    events = [call("a", 10)]
    no_tariffs = RatingBook(prices={"off": (voice_price(),)}, tariffs=None)
    unknown = book(voice_price(rating_plan="RP_NONE"))
    for b in (no_tariffs, unknown):
        [result] = rate_events(events, b, Allowances())
        assert isinstance(result, Unrated) and result.reason == "unrated_destination"


def test_sms_rated_per_message() -> None:
    price = UsagePrice(price_id="ps", offering_id="off", usage_type="sms", metric=None,
                       unit="message", scale=D(1), currency="EUR", rating_plan="RP_SMS",
                       included=D(2), tax_category="reduced")
    results = rate_events([call("s1", 1, usage_type="sms"), call("s2", 3, usage_type="sms",
                                                               minutes=1)],
                          book(price), Allowances())
    s1, s2 = rated(results[0]), rated(results[1])
    assert (s1.amount, s2.included, s2.charged, s2.amount) == (D(0), D(1), D(2), D("0.18"))
    assert s2.tax_category == "reduced"


def test_metered_event_allowance_then_incremental_price() -> None:
    graduated = parse_charge_model({"type": "graduated", "tiers": [
        {"upTo": "1000", "unitPrice": "0.01"}, {"upTo": None, "unitPrice": "0.005"}]})
    price = api_price(included=D(100), charge_model=graduated)
    state = Allowances()
    events = [call(f"e{i}", 400, usage_type="event", metric="api_calls", minutes=i)
              for i in range(4)]
    results = [rated(r) for r in rate_events(events, book(price), state)]
    assert [r.included for r in results] == [D(100), D(0), D(0), D(0)]
    assert [r.charged for r in results] == [D(300), D(400), D(400), D(400)]
    # cumulative charged 300, 700, 1100, 1500: P = 3, 7, 10.5, 12.5
    assert [r.amount for r in results] == [D(3), D(4), D("3.5"), D(2)]
    assert all(r.tariff == "graduated" and r.rate is None for r in results)
    assert state.metered == {MeteredKey("p1", "pa", P0): D(1500)}


def test_metered_per_minute_price_of_seconds() -> None:
    price = api_price(usage_type="voice", metric=None, unit="minute", scale=D(60),
                      charge_model=parse_charge_model({"type": "standard", "unitPrice": "1"}))
    results = [rated(r) for r in rate_events([call("a", 20), call("b", 40, minutes=1)],
                                             book(price), Allowances())]
    assert [r.amount for r in results] == [D("0.333333333333333333"),
                                           D("0.666666666666666667")]
    assert sum(r.amount for r in results) == D(1)


def test_metered_amount_out_of_range_is_invalid_quantity() -> None:
    price = api_price(charge_model=parse_charge_model({"type": "standard",
                                                       "unitPrice": "1000000000"}))
    [result] = rate_events([call("big", 10**12, usage_type="event", metric="api_calls")],
                           book(price), Allowances())
    assert isinstance(result, Unrated) and result.reason == "invalid_quantity"


def test_price_without_plan_or_model_is_unrated() -> None:
    [result] = rate_events([call("a", 10)], book(voice_price(rating_plan=None)),
                           Allowances())
    assert isinstance(result, Unrated) and "neither" in result.detail


def test_first_matching_price_wins() -> None:
    first, second = voice_price(price_id="first"), voice_price(price_id="second")
    [result] = rate_events([call("a", 10)], book(first, second), Allowances())
    assert rated(result).price_id == "first"
