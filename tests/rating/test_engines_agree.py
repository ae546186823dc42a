"""Two engines, one meaning: the per-record engine (rating/engine.py) and the vectorized
one (rating/vector.py) give identical results, field by field, and leave identical
allowances — on hypothesis-randomized books (usage prices of every charge model and
telecom plans from random tariff sets, allowances of every scope, destination-restricted
ones included) and events (random order, times across two periods, zero and negative
quantities, unknown usage types and offerings, uncovered destinations), rated in two
consecutive batches (so state carried between runs is exercised), and on the CGRateS
tutorial tariff plan."""

from __future__ import annotations

import copy
import decimal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbss.catalog.pricing import ChargeModel, parse_charge_model
from openbss.rating import cgrates_csv, metered
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
from openbss.rating.tariff import (
    Binding,
    DestinationRate,
    RateSlot,
    TariffSet,
    Timing,
)
from openbss.rating.vector import (
    AMOUNT_TYPE,
    EVENT_SCHEMA,
    RESULT_SCHEMA,
    FrameStats,
    events_to_frame,
    frame_to_results,
    rate_frame,
)

D = Decimal
P0 = datetime(2026, 3, 1, tzinfo=UTC)
P1 = datetime(2026, 4, 1, tzinfo=UTC)
P2 = datetime(2026, 5, 1, tzinfo=UTC)
NUMBERS = ("+4915112345", "+4930123456", "+491701234", "+33612345678", "+12125551234",
           "+4915", "1002", "1003", "", None)
PRODUCTS = ("p1", "p2", "p3")
SCOPES = ("product", "bundle", "account")

# -- random tariffs -------------------------------------------------------------------------

small = st.decimals(min_value=0, max_value=2, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def rate_slots(draw: st.DrawFn) -> tuple[RateSlot, ...]:
    starts = sorted(set(draw(st.lists(st.sampled_from([60, 120, 300]), max_size=2))))
    slots = []
    for index, start in enumerate([0, *starts]):
        slots.append(RateSlot(
            connect_fee=draw(small) if index == 0 else D(0), rate=draw(small),
            rate_unit=D(draw(st.sampled_from([1, 60]))),
            rate_increment=D(draw(st.sampled_from([1, 6, 30, 60]))),
            group_interval_start=D(start)))
    return tuple(slots)


@st.composite
def tariff_sets(draw: st.DrawFn) -> TariffSet:
    destinations = {"DE_MOB": ("+4915", "+4917"), "DE": ("+49",), "FR": ("+33",),
                    "D1002": ("1002",), "D1003": ("1003",)}
    rates = {f"RT{i}": draw(rate_slots()) for i in range(3)}
    chosen = draw(st.lists(st.sampled_from([*destinations, "*any"]), min_size=1, max_size=4,
                           unique=True))

    def destination_rate(dest: str) -> DestinationRate:
        return DestinationRate(
            dest, draw(st.sampled_from(sorted(rates))),
            rounding_method=draw(st.sampled_from(["*up", "*down", "*middle"])),
            rounding_decimals=draw(st.integers(0, 6)),
            max_cost=draw(st.sampled_from([D(0), D(0), D("0.5"), D("1.25")])),
            max_cost_strategy=draw(st.sampled_from(["", "*disconnect", "*free"])))

    peak = Timing(week_days=(1, 2, 3, 4, 5), time="08:00:00")
    destination_rates = {"DR_ALL": tuple(destination_rate(d) for d in chosen),
                         "DR_PEAK": tuple(destination_rate(d) for d in chosen[:1])}
    plans = {"RP_A": (Binding("DR_ALL", "*any", D(10)),
                      *((Binding("DR_PEAK", "PEAK", D(20)),) if draw(st.booleans()) else ())),
             "RP_B": (Binding("DR_PEAK", "*any", D(10)),)}
    return TariffSet(currency="EUR", destinations=destinations, rates=rates,
                     destination_rates=destination_rates, timings={"PEAK": peak},
                     rating_plans=plans, time_zone=draw(st.sampled_from(["UTC",
                                                                         "Europe/Berlin"])))


# -- random books ---------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=50, places=3, allow_nan=False, allow_infinity=False)
bound = st.decimals(min_value=1, max_value=3000, places=1, allow_nan=False,
                    allow_infinity=False)


@st.composite
def tiers(draw: st.DrawFn, key: str) -> list[dict[str, object]]:
    bounds = sorted(set(draw(st.lists(bound, max_size=3))))
    return [{"upTo": None if b is None else str(b), key: str(draw(money)),
             "flatFee": str(draw(st.sampled_from([D(0), D(0), D(2), D("0.5")])))}
            for b in [*bounds, None]]


@st.composite
def charge_models(draw: st.DrawFn) -> ChargeModel:
    kind = draw(st.sampled_from(["standard", "graduated", "volume", "package", "percentage",
                                 "graduated_percentage"]))
    if kind == "standard":
        return parse_charge_model({"type": kind, "unitPrice": str(draw(money))})
    if kind == "package":
        return parse_charge_model({"type": kind, "packageSize": str(draw(bound)),
                                   "packagePrice": str(draw(money)),
                                   "freeUnits": str(draw(st.sampled_from([0, 0, 100])))})
    if kind == "percentage":
        params: dict[str, object] = {"type": kind, "rate": str(draw(money))}
        if draw(st.booleans()):
            params["fixedFee"] = str(draw(money))
        if draw(st.booleans()):
            params["freeEvents"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            params["freeAmount"] = str(draw(bound))
        if draw(st.booleans()):
            params["minPerTransaction"] = "0.5"
        if draw(st.booleans()):
            params["maxPerTransaction"] = "40"
        return parse_charge_model(params)
    return parse_charge_model({"type": kind, "tiers": draw(tiers(
        "rate" if kind == "graduated_percentage" else "unitPrice"))})


@st.composite
def usage_prices(draw: st.DrawFn, offering: str, index: int, usage_type: str,
                 metric: str | None) -> UsagePrice:
    telecom = usage_type in ("voice", "sms") and draw(st.integers(0, 3)) > 0
    unit = {"voice": draw(st.sampled_from(["minute", "second", "hour"])), "sms": "message",
            "data": draw(st.sampled_from(["GB", "MB", "KiB"])), "event": "call"}[usage_type]
    included = draw(st.sampled_from([D(0), D(60), D(150), D("500.5"), D(1000)]))
    destinations = draw(st.none() | st.lists(st.sampled_from(["DE", "DE_MOB", "FR", "D1002"]),
                                             min_size=1, max_size=2, unique=True))
    return UsagePrice(
        price_id=f"{offering}-{usage_type}-{metric}-{index}", offering_id=offering,
        usage_type=usage_type, metric=metric, unit=unit, scale=unit_scale(unit),
        currency="EUR", charge_model=None if telecom else draw(charge_models()),
        rating_plan=draw(st.sampled_from(["RP_A", "RP_A", "RP_B", "RP_MISSING"])) if telecom
        else None,
        included=included, allowance_scope=draw(st.sampled_from(SCOPES)),
        allowance_destinations=tuple(destinations) if destinations else None,
        tax_category=draw(st.sampled_from(["standard", "reduced"])))


@st.composite
def books(draw: st.DrawFn) -> RatingBook:
    prices: dict[str, tuple[UsagePrice, ...]] = {}
    for offering in ("o1", "o2"):
        kinds = draw(st.lists(st.sampled_from([("voice", None), ("sms", None), ("data", None),
                                               ("event", "api"), ("event", "seats"),
                                               ("event", None)]),
                              min_size=1, max_size=5))
        prices[offering] = tuple(draw(usage_prices(offering, i, t, m))
                                 for i, (t, m) in enumerate(kinds))
    tariffs = draw(st.none() | tariff_sets()) if draw(st.integers(0, 9)) == 0 else draw(
        tariff_sets())
    return RatingBook(prices=prices, tariffs=tariffs)


# -- random events --------------------------------------------------------------------------

quantities = st.one_of(
    st.integers(0, 400).map(D), st.sampled_from([D(0), D(0), D(-1), D(60), D(61), D(3600)]),
    st.decimals(min_value=0, max_value=200, places=3, allow_nan=False, allow_infinity=False),
    st.integers(0, 5 * 10**9).map(D))


@st.composite
def events(draw: st.DrawFn, prefix: str, book: RatingBook) -> list[UsageEvent]:
    offered = [(o, p.usage_type, p.metric) for o, ps in book.prices.items() for p in ps]
    count = draw(st.integers(0, 30))
    out = []
    for i in range(count):
        when = P0 + timedelta(seconds=draw(st.integers(0, 61 * 86400)))
        start, end = (P0, P1) if when < P1 else (P1, P2)
        if draw(st.integers(0, 9)) < 8:  # mostly events the book prices
            offering, usage_type, metric = draw(st.sampled_from(offered))
        else:
            offering = draw(st.sampled_from(["o1", "o2", "o3"]))
            usage_type = draw(st.sampled_from(["voice", "sms", "data", "event", "fax"]))
            metric = draw(st.sampled_from(["api", "seats", None]))
        out.append(UsageEvent(
            key=f"{prefix}{draw(st.integers(0, 10**6)):07d}-{i}", usage_date=when,
            usage_type=usage_type, metric=metric if usage_type == "event" else None,
            quantity=draw(quantities),
            destination=draw(st.sampled_from(NUMBERS[:4]) | st.sampled_from(NUMBERS)),
            product_id=draw(st.sampled_from(PRODUCTS)),
            billing_account_id=draw(st.sampled_from(["a1", "a2", None])),
            price_version=offering, period_start=start, period_end=end,
            bundle_id=draw(st.sampled_from(["b1", None, ""]))))
    return out


@st.composite
def starting_allowances(draw: st.DrawFn, book: RatingBook) -> Allowances:
    state = Allowances()
    for offered in book.prices.values():
        for price in offered:
            for holder in draw(st.lists(st.sampled_from([*PRODUCTS, "b1", "a1"]), max_size=2)):
                key = AllowanceKey(price.allowance_scope, holder, price.price_id, P0)
                state.granted[key] = draw(st.sampled_from([D(0), D(30), D(1000)]))
                state.used[key] = draw(st.sampled_from([D(0), D(10), D(2000)]))
            if price.charge_model is not None and draw(st.booleans()):
                key_m = MeteredKey("p1", price.price_id, P0)
                if metered.is_percentage(price.charge_model):
                    state.metered_events[key_m] = (draw(st.integers(0, 4)), D(draw(
                        st.integers(0, 900))))
                else:
                    state.metered[key_m] = D(draw(st.integers(0, 5000)))
    return state


def both(batch: list[UsageEvent], book: RatingBook, scalar_state: Allowances,
         vector_state: Allowances) -> tuple[list[RatedUsage | Unrated], pl.DataFrame]:
    scalar = rate_events(batch, book, scalar_state)
    frame = rate_frame(events_to_frame(batch), book, vector_state)
    return scalar, frame


def assert_same(scalar: list[RatedUsage | Unrated], frame: pl.DataFrame,
                batch: list[UsageEvent]) -> None:
    assert frame.schema == RESULT_SCHEMA
    assert frame["key"].to_list() == [e.key for e in batch]
    vector = frame_to_results(frame)
    for left, right in zip(scalar, vector, strict=True):
        assert type(left) is type(right), (left, right)
        assert left == right, (left, right)
        if isinstance(left, RatedUsage):
            # amounts equal as numbers and representable in the amount column
            assert isinstance(right, RatedUsage)
            with decimal.localcontext(decimal.Context(prec=80)):
                assert left.amount.quantize(D(1).scaleb(-AMOUNT_TYPE.scale)) == left.amount


def assert_same_state(left: Allowances, right: Allowances) -> None:
    assert left.granted == right.granted
    assert left.used == right.used
    assert left.metered == right.metered
    assert left.metered_events == right.metered_events


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_engines_agree(data: st.DataObject) -> None:
    book = data.draw(books())
    start = data.draw(starting_allowances(book))
    scalar_state, vector_state = copy.deepcopy(start), copy.deepcopy(start)
    for batch_name in ("a", "b"):
        batch = data.draw(events(batch_name, book))
        scalar, frame = both(batch, book, scalar_state, vector_state)
        assert_same(scalar, frame, batch)
        assert_same_state(scalar_state, vector_state)


# -- the CGRateS tutorial plan ------------------------------------------------------------

TUTORIAL = Path(__file__).resolve().parents[2] / "specs/cdr/cgrates-tutorial-tariffplan"


@pytest.mark.skipif(not TUTORIAL.is_dir(), reason="the CGRateS tutorial plan is not here")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engines_agree_on_the_cgrates_tutorial_plan(data: st.DataObject) -> None:
    tariffs = cgrates_csv.read_dir(TUTORIAL)
    plans = sorted(tariffs.rating_plans)
    prices = tuple(
        UsagePrice(price_id=f"voice-{plan}", offering_id=plan, usage_type="voice", metric=None,
                   unit="minute", scale=D(60), currency=tariffs.currency, rating_plan=plan,
                   included=data.draw(st.sampled_from([D(0), D(120), D(600)])),
                   allowance_scope=data.draw(st.sampled_from(SCOPES)),
                   allowance_destinations=data.draw(st.sampled_from(
                       [None, tuple(sorted(tariffs.destinations))[:1]])))
        for plan in plans)
    book = RatingBook(prices={p.offering_id: (p,) for p in prices}, tariffs=tariffs)
    batch = []
    for i in range(data.draw(st.integers(1, 30))):
        when = P0 + timedelta(seconds=data.draw(st.integers(0, 30 * 86400)))
        batch.append(UsageEvent(
            key=f"t{i}", usage_date=when, usage_type="voice", metric=None,
            quantity=D(data.draw(st.sampled_from([0, 1, 30, 60, 90, 130, 600, 3600]))),
            destination=data.draw(st.sampled_from(["1001", "1002", "1003", "1004", "1005",
                                                   "+4986517174963", "0049", "9999"])),
            product_id=data.draw(st.sampled_from(PRODUCTS)), billing_account_id="a1",
            price_version=data.draw(st.sampled_from(plans)), period_start=P0,
            period_end=P1, bundle_id=None))
    scalar_state, vector_state = Allowances(), Allowances()
    scalar, frame = both(batch, book, scalar_state, vector_state)
    assert_same(scalar, frame, batch)
    assert_same_state(scalar_state, vector_state)


# -- the frame itself -------------------------------------------------------------------------


def test_event_frame_round_trip_and_limits() -> None:
    event = UsageEvent(key="k", usage_date=P0, usage_type="voice", metric=None,
                       quantity=D("1.5"), destination="+49", product_id="p1",
                       billing_account_id=None, price_version="o1", period_start=P0,
                       period_end=P1)
    frame = events_to_frame([event])
    assert frame.schema == EVENT_SCHEMA
    assert frame["quantity"].to_list() == [D("1.5")]
    with pytest.raises(ValueError, match="more than 9 decimals"):
        events_to_frame([replace(event, quantity=D("1E-10"))])
    empty = rate_frame(events_to_frame([]), RatingBook(prices={}), Allowances())
    assert empty.height == 0 and empty.schema == RESULT_SCHEMA


def test_amount_column_holds_every_exact_amount() -> None:
    """The amount column is Decimal(38, 18): metered amounts are differences of values
    rounded to 18 places below 10^20 (AMOUNT_LIMIT), so they fit; telecom costs are rounded
    by the tariff to at most 12 decimals. The extremes survive the frame exactly."""
    assert AMOUNT_TYPE.scale == metered.AMOUNT_DECIMALS == 18
    assert AMOUNT_TYPE.precision == 38
    largest = D("99999999999999999999.999999999999999999")
    values = [largest, D("-99999999999999999999.999999999999999999"), D("1E-18"),
              D("0.333333333333333333")]
    assert pl.Series(values, dtype=AMOUNT_TYPE).to_list() == values
    with pytest.raises(metered.AmountOutOfRange):
        metered.to_amount(metered.AMOUNT_LIMIT, D(1))


def test_a_price_beyond_int128_is_priced_row_by_row_with_the_same_results() -> None:
    price = UsagePrice(price_id="huge", offering_id="o1", usage_type="event", metric="api",
                       unit="call", scale=D(1), currency="EUR",
                       charge_model=parse_charge_model({"type": "standard",
                                                        "unitPrice": "0.000000000000000001"}))
    book = RatingBook(prices={"o1": (price,)})
    batch = [UsageEvent(key=f"e{i}", usage_date=P0 + timedelta(minutes=i), usage_type="event",
                        metric="api", quantity=D("9.9E27"), destination=None, product_id="p1",
                        billing_account_id=None, price_version="o1", period_start=P0,
                        period_end=P1) for i in range(3)]
    scalar_state, vector_state = Allowances(), Allowances()
    stats = FrameStats()
    scalar = rate_events(batch, book, scalar_state)
    frame = rate_frame(events_to_frame(batch), book, vector_state, stats=stats)
    assert stats.fallback_rows == 3
    assert_same(scalar, frame, batch)
    assert_same_state(scalar_state, vector_state)
    assert [r.amount for r in scalar if isinstance(r, RatedUsage)] == [D("9.9E9")] * 3
