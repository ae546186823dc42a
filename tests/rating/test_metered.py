"""Generic metered usage (rating/metered.py): period-incremental pricing with every
catalog charge model. Worked examples from Lago's charge-model pages, and properties:
however a period's usage is split into records, their amounts add up to the catalog price
of the period total."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.catalog.pricing import ChargeModel, parse_charge_model, price
from openbss.rating import metered
from openbss.rating.book import Allowances, MeteredKey

D = Decimal
KEY = MeteredKey("prod-1", "price-1", datetime(2026, 1, 1, tzinfo=UTC))


def amounts(model: ChargeModel, charged: list[Decimal], scale: Decimal = D(1),
            allowances: Allowances | None = None) -> list[Decimal]:
    state = allowances if allowances is not None else Allowances()
    model_b = metered.base_unit_model(model, scale)
    return [metered.price_charged(model_b, scale, key=KEY, charged=c, allowances=state)
            for c in charged]


# -- Lago's worked examples ------------------------------------------------------------


def test_standard_lago_example() -> None:
    # https://getlago.com/docs/guide/plans/charges/charge-models/standard
    # "$0.05 per API call … 1,000 API calls … $0.05 x 1,000 = $50"
    model = parse_charge_model({"type": "standard", "unitPrice": "0.05"})
    result = amounts(model, [D(400), D(1), D(599)])
    assert result == [D("20"), D("0.05"), D("29.95")]
    assert sum(result) == D(50)


def test_graduated_lago_example() -> None:
    # https://getlago.com/docs/guide/plans/charges/charge-models/graduated
    # "$1 per unit for the first 100 units, then $0.50 per unit for the next 100 calls and
    # finally, $0.10 for any additional unit": 250 calls = 100 + 50 + 5 = $155.
    model = parse_charge_model({"type": "graduated", "tiers": [
        {"upTo": "100", "unitPrice": "1"}, {"upTo": "200", "unitPrice": "0.50"},
        {"upTo": None, "unitPrice": "0.10"}]})
    result = amounts(model, [D(90), D(20), D(100), D(40)])
    # 90 at $1; 10 at $1 + 10 at $0.50; 90 at $0.50 + 10 at $0.10; 40 at $0.10
    assert result == [D(90), D(15), D(46), D(4)]
    assert sum(result) == D(155) == price(model, D(250)).amount


def test_volume_lago_example_and_a_cheaper_tier_gives_a_negative_amount() -> None:
    # https://getlago.com/docs/guide/plans/charges/charge-models/volume
    # tiers 0-10,000 @0.0010, -50,000 @0.0008, -100,000 @0.0006, ∞ @0.0004, each +$10:
    # "65,000 API calls would cost 65,000 x $0.0006 + $10 = $49"
    model = parse_charge_model({"type": "volume", "tiers": [
        {"upTo": "10000", "unitPrice": "0.0010", "flatFee": "10"},
        {"upTo": "50000", "unitPrice": "0.0008", "flatFee": "10"},
        {"upTo": "100000", "unitPrice": "0.0006", "flatFee": "10"},
        {"upTo": None, "unitPrice": "0.0004", "flatFee": "10"}]})
    result = amounts(model, [D(10000), D(40000), D(15000)])
    # P(10,000) = 20; P(50,000) = 50; P(65,000) = 49
    assert result == [D(20), D(30), D(-1)]
    assert sum(result) == D(49)


def test_package_lago_example() -> None:
    # https://getlago.com/docs/guide/plans/charges/charge-models/package
    # "$5 per 100 units and offer the first 100 units … 201 units would cost $0 + $5 + $5
    # = $10"
    model = parse_charge_model({"type": "package", "packageSize": "100", "packagePrice": "5",
                                "freeUnits": "100"})
    result = amounts(model, [D(100), D(1), D(99), D(1)])
    assert result == [D(0), D(5), D(0), D(5)]
    assert sum(result) == D(10)


def test_graduated_percentage_lago_example_per_transaction() -> None:
    # https://getlago.com/docs/guide/plans/charges/charge-models/graduated-percentage
    # tiers 0-1,000 1% +$200, 1,001-10,000 2% +$300, ∞ 3% +$400: "a first transaction at
    # $500 would cost $205.00; a second at $550 … $306.00; a third at $4,000 … $80.00"
    model = parse_charge_model({"type": "graduated_percentage", "tiers": [
        {"upTo": "1000", "rate": "1", "flatFee": "200"},
        {"upTo": "10000", "rate": "2", "flatFee": "300"},
        {"upTo": None, "rate": "3", "flatFee": "400"}]})
    assert amounts(model, [D(500), D(550), D(4000)]) == [D(205), D(306), D(80)]


def test_percentage_lago_parameters_first_3_events_or_500_free() -> None:
    # https://getlago.com/docs/guide/plans/charges/charge-models/percentage
    # "1.2% on transactions", "$0.10 per transaction", "the first 3 events or $500 are
    # free". Transactions 100, 300, 200, 50: the first two are free (400 < 500); the third
    # reaches $500 and pays 1.2% of its 100 above it + 0.10 = 1.30; the fourth pays
    # 1.2% of 50 + 0.10 = 0.70.
    model = parse_charge_model({"type": "percentage", "rate": "1.2", "fixedFee": "0.10",
                                "freeEvents": 3, "freeAmount": "500"})
    events = [D(100), D(300), D(200), D(50)]
    result = amounts(model, events)
    assert result == [D(0), D(0), D("1.30"), D("0.70")]
    assert sum(result) == price(model, events=events).amount


def test_per_minute_price_of_seconds_is_rounded_once_per_period() -> None:
    # 130 s + 50 s at 0.10 per minute: 180 s = 3 minutes = 0.30 in total; the records are
    # 0.21666…67 and 0.08333…33 (to 18 places), adding up to exactly 0.30.
    model = parse_charge_model({"type": "standard", "unitPrice": "0.10"})
    first, second = amounts(model, [D(130), D(50)], scale=D(60))
    assert first == D("0.216666666666666667")
    assert second == D("0.083333333333333333")
    assert first + second == D("0.30")


def test_gigabyte_tiers_in_bytes() -> None:
    # graduated per GB: first 10 GB at 1, then 0.5; 12.5 GB in bytes, in three records
    model = parse_charge_model({"type": "graduated", "tiers": [
        {"upTo": "10", "unitPrice": "1"}, {"upTo": None, "unitPrice": "0.5"}]})
    gb = D(10) ** 9
    result = amounts(model, [D(4) * gb, D("7.5") * gb, D(1) * gb], scale=gb)
    assert result == [D(4), D("6.75"), D("0.5")]
    assert sum(result) == price(model, D("12.5")).amount


def test_first_tier_flat_fee_is_paid_once_by_the_first_charged_event() -> None:
    model = parse_charge_model({"type": "graduated", "tiers": [
        {"upTo": "10", "unitPrice": "10", "flatFee": "2"},
        {"upTo": None, "unitPrice": "5", "flatFee": "3"}]})
    assert amounts(model, [D(5), D(5), D(1)]) == [D(52), D(50), D(8)]


def test_state_continues_across_calls() -> None:
    model = parse_charge_model({"type": "package", "packageSize": "10", "packagePrice": "1"})
    state = Allowances()
    assert amounts(model, [D(3)], allowances=state) == [D(1)]
    assert state.metered[KEY] == D(3)
    assert amounts(model, [D(7), D(1)], allowances=state) == [D(0), D(1)]
    assert state.metered[KEY] == D(11)


def test_percentage_state_counts_transactions() -> None:
    model = parse_charge_model({"type": "percentage", "rate": "10", "freeEvents": 1})
    state = Allowances()
    assert amounts(model, [D(5), D(10)], allowances=state) == [D(0), D(1)]
    assert state.metered_events[KEY] == (2, D(15))


def test_amount_out_of_range() -> None:
    model = parse_charge_model({"type": "standard", "unitPrice": "1000000"})
    with pytest.raises(metered.AmountOutOfRange) as caught:
        amounts(model, [D(10) ** 15])
    assert caught.value.field == "quantity"


# -- properties ----------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False,
                    allow_infinity=False)
rate = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False,
                   allow_infinity=False)
bound = st.decimals(min_value=1, max_value=500, places=2, allow_nan=False,
                    allow_infinity=False)
quantity = st.decimals(min_value=0, max_value=300, places=3, allow_nan=False,
                       allow_infinity=False).filter(lambda d: d > 0)


@st.composite
def tiers(draw: st.DrawFn, key: str, value: st.SearchStrategy[Decimal]) -> list[dict[str, object]]:
    bounds = sorted(set(draw(st.lists(bound, min_size=0, max_size=3))))
    out: list[dict[str, object]] = []
    for upper in [*bounds, None]:
        out.append({"upTo": None if upper is None else str(upper), key: str(draw(value)),
                    "flatFee": str(draw(money))})
    return out


@st.composite
def quantity_models(draw: st.DrawFn) -> ChargeModel:
    kind = draw(st.sampled_from(["standard", "graduated", "volume", "package",
                                 "graduated_percentage"]))
    if kind == "standard":
        return parse_charge_model({"type": kind, "unitPrice": str(draw(money))})
    if kind == "package":
        return parse_charge_model({"type": kind, "packageSize": str(draw(bound)),
                                   "packagePrice": str(draw(money)),
                                   "freeUnits": str(draw(st.sampled_from([D(0), D(5)])))})
    if kind == "graduated_percentage":
        return parse_charge_model({"type": kind, "tiers": draw(tiers("rate", rate))})
    return parse_charge_model({"type": kind, "tiers": draw(tiers("unitPrice", money))})


@st.composite
def percentage_models(draw: st.DrawFn) -> ChargeModel:
    params: dict[str, object] = {"type": "percentage", "rate": str(draw(rate))}
    for name, value in (("fixedFee", money), ("freeAmount", bound)):
        if draw(st.booleans()):
            params[name] = str(draw(value))
    if draw(st.booleans()):
        params["freeEvents"] = draw(st.integers(0, 4))
    low = draw(st.none() | money)
    high = draw(st.none() | money)
    if low is not None and high is not None and low > high:
        low, high = high, low
    if low is not None:
        params["minPerTransaction"] = str(low)
    if high is not None:
        params["maxPerTransaction"] = str(high)
    return parse_charge_model(params)


@settings(max_examples=300, deadline=None)
@given(model=quantity_models(), parts=st.lists(quantity, min_size=1, max_size=8))
def test_any_split_adds_up_to_the_price_of_the_period_total(
        model: ChargeModel, parts: list[Decimal]) -> None:
    assert sum(amounts(model, parts)) == price(model, sum(parts)).amount


@settings(max_examples=300, deadline=None)
@given(model=percentage_models(), parts=st.lists(quantity, min_size=1, max_size=8))
def test_percentage_transactions_add_up_to_the_catalog_price(
        model: ChargeModel, parts: list[Decimal]) -> None:
    assert sum(amounts(model, parts)) == price(model, events=parts).amount


@settings(max_examples=200, deadline=None)
@given(model=quantity_models(), seconds=st.lists(st.integers(1, 20_000), min_size=1,
                                                  max_size=8),
       scale=st.sampled_from([D(60), D(3600), D(1000), D(1024) ** 2]))
def test_scaled_units_add_up_to_the_exact_price_rounded_once(
        model: ChargeModel, seconds: list[int], scale: Decimal) -> None:
    """Per-minute (or per-MiB …) prices of base-unit records: the records add up to the
    exact rational price of the period total, rounded half-even to 18 places once."""
    parts = [D(s) for s in seconds]
    total = sum(parts)
    model_b = metered.base_unit_model(model, scale)
    exact = Fraction(price(model_b, total).amount) / Fraction(scale)
    assert sum(amounts(model, parts, scale=scale)) == metered.to_amount(
        D(exact.numerator) / 1, D(exact.denominator))
    # and the base-unit model is the model: price(model, C/scale) == price(model_b, C)/scale
    # whenever C/scale is a finite decimal
    if (total.scaleb(18) / scale) == (total.scaleb(18) / scale).to_integral_value():
        assert Fraction(price(model, total / scale).amount) == exact


@settings(max_examples=200, deadline=None)
@given(value=st.decimals(min_value=-10**6, max_value=10**6, places=30, allow_nan=False,
                         allow_infinity=False),
       scale=st.sampled_from([D(1), D(3), D(60), D(7)]))
def test_to_amount_rounds_half_even_to_18_places(value: Decimal, scale: Decimal) -> None:
    result = metered.to_amount(value, scale)
    assert result.as_tuple().exponent == -18
    error = Fraction(result) - Fraction(value) / Fraction(scale)
    assert abs(error) <= Fraction(1, 2 * 10**18)
