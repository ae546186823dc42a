"""Tests of the pure pricing calculator (openbss.catalog.pricing).

Worked examples come from Lago's public specs and docs (getlago/lago-api
``spec/services/charges/charge_models/*_service_spec.rb``; getlago.com/docs
``guide/plans/charges/charge-models/*``) and from Stripe's tiered-pricing docs; each table
row says where it comes from. Lago ranges ``from_value``/``to_value`` are written here as
our inclusive ``upTo`` bounds (``0-10, 11-20, 21-∞`` -> ``upTo`` 10, 20, null).
"""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from typing import Any, cast

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.catalog.pricing import (
    GraduatedChargeModel,
    PercentageChargeModel,
    PricingResult,
    StandardChargeModel,
    charge_model_adapter,
    parse_charge_model,
    price,
    price_graduated,
    price_percentage,
    price_volume,
)
from openbss.core.errors import ValidationError

D = Decimal


def model(params: dict[str, Any]) -> Any:
    return parse_charge_model(params)


def assert_consistent(result: PricingResult) -> None:
    """Every result: exact Decimal amount, equal to the sum of its lines, never negative."""
    assert isinstance(result.amount, Decimal)
    assert result.amount == sum((line.amount for line in result.lines), D(0))
    assert result.amount >= 0


# -- worked examples -------------------------------------------------------------------------

# Lago spec graduated_service_spec.rb: ranges 0-10 @10 +2, 11-20 @5 +3, 21-∞ @5 +3.
LAGO_GRADUATED = {
    "type": "graduated",
    "tiers": [
        {"upTo": "10", "unitPrice": "10", "flatFee": "2"},
        {"upTo": "20", "unitPrice": "5", "flatFee": "3"},
        {"upTo": None, "unitPrice": "5", "flatFee": "3"},
    ],
}
# Lago spec volume_service_spec.rb: ranges 0-100 @2 +10, 101-200 @1 +0, 201-∞ @0.5 +50.
LAGO_VOLUME = {
    "type": "volume",
    "tiers": [
        {"upTo": "100", "unitPrice": "2", "flatFee": "10"},
        {"upTo": "200", "unitPrice": "1", "flatFee": "0"},
        {"upTo": None, "unitPrice": "0.5", "flatFee": "50"},
    ],
}
# Lago docs charge-models/volume: 0-10,000 @0.0010, 10,001-50,000 @0.0008,
# 50,001-100,000 @0.0006, 100,001-∞ @0.0004, each +$10.
LAGO_DOCS_VOLUME = {
    "type": "volume",
    "tiers": [
        {"upTo": "10000", "unitPrice": "0.0010", "flatFee": "10"},
        {"upTo": "50000", "unitPrice": "0.0008", "flatFee": "10"},
        {"upTo": "100000", "unitPrice": "0.0006", "flatFee": "10"},
        {"upTo": None, "unitPrice": "0.0004", "flatFee": "10"},
    ],
}
# Lago spec graduated_percentage_service_spec.rb: 0-10 1% +200, 11-20 2% +300, 21-∞ 3% +400.
LAGO_GRADUATED_PERCENTAGE = {
    "type": "graduated_percentage",
    "tiers": [
        {"upTo": "10", "rate": "1", "flatFee": "200"},
        {"upTo": "20", "rate": "2", "flatFee": "300"},
        {"upTo": None, "rate": "3", "flatFee": "400"},
    ],
}
# Lago docs charge-models/graduated-percentage: 0-1,000 1% +$200, 1,001-10,000 2% +$300,
# 10,001-∞ 3% +$400.
LAGO_DOCS_GRADUATED_PERCENTAGE = {
    "type": "graduated_percentage",
    "tiers": [
        {"upTo": "1000", "rate": "1", "flatFee": "200"},
        {"upTo": "10000", "rate": "2", "flatFee": "300"},
        {"upTo": None, "rate": "3", "flatFee": "400"},
    ],
}
# Stripe docs (docs.stripe.com/subscriptions/pricing-models/tiered-pricing, "Typographic"):
# 1-5 fonts 7 USD, 6-10 6.5 USD, 11+ 6 USD.
STRIPE_TYPOGRAPHIC = [
    {"upTo": "5", "unitPrice": "7"},
    {"upTo": "10", "unitPrice": "6.5"},
    {"upTo": None, "unitPrice": "6"},
]
# Stripe docs (stripe.com/docs/billing/subscriptions/tiers): up_to 5 $5, 10 $4, 15 $3,
# 20 $2, inf $1.
STRIPE_TIERS = [
    {"upTo": "5", "unitPrice": "5"},
    {"upTo": "10", "unitPrice": "4"},
    {"upTo": "15", "unitPrice": "3"},
    {"upTo": "20", "unitPrice": "2"},
    {"upTo": None, "unitPrice": "1"},
]


def package(free_units: str) -> dict[str, Any]:
    # Lago spec package_service_spec.rb: amount 100, package_size 10.
    return {"type": "package", "packageSize": "10", "packagePrice": "100", "freeUnits": free_units}


QUANTITY_EXAMPLES = [
    # standard_service_spec.rb: 10 units at 5.12345 = 51.2345
    ({"type": "standard", "unitPrice": "5.12345"}, "10", "51.2345"),
    ({"type": "standard", "unitPrice": "5.12345"}, "0", "0"),
    # 8+ decimal unit prices stay exact (no spec: exactness requirement)
    ({"type": "standard", "unitPrice": "0.00000001"}, "3", "0.00000003"),
    ({"type": "standard", "unitPrice": "0.123456789012"}, "1000000", "123456.789012"),
    # graduated_service_spec.rb
    (LAGO_GRADUATED, "0", "2"),  # "applies the flat amount from the first tier"
    (LAGO_GRADUATED, "1", "12"),
    (LAGO_GRADUATED, "10", "102"),
    (LAGO_GRADUATED, "11", "110"),
    (LAGO_GRADUATED, "12", "115"),
    (LAGO_GRADUATED, "21", "163"),
    # decimal quantity across a boundary: graduated_service.rb counts q - from + 1 = 0.5
    (LAGO_GRADUATED, "10.5", "107.5"),
    # volume_service_spec.rb
    (LAGO_VOLUME, "0", "10"),  # "applies the flat amount from the first tier"
    (LAGO_VOLUME, "1", "12"),
    (LAGO_VOLUME, "100", "210"),
    (LAGO_VOLUME, "100.5", "100.5"),
    (LAGO_VOLUME, "101", "101"),
    (LAGO_VOLUME, "200", "200"),
    (LAGO_VOLUME, "300", "200"),
    # Lago docs volume: 65,000 API calls = 65,000 x $0.0006 + $10 = $49
    (LAGO_DOCS_VOLUME, "65000", "49"),
    # package_service_spec.rb
    (package("0"), "121", "1300"),
    (package("10"), "121", "1200"),
    (package("200"), "121", "0"),
    # package_service.rb: a started package counts; no units, no package
    (package("0"), "120", "1200"),
    (package("0"), "0", "0"),
    (package("0"), "0.5", "100"),
    # graduated_percentage_service_spec.rb
    (LAGO_GRADUATED_PERCENTAGE, "0", "200"),  # the first range's flat amount
    (LAGO_GRADUATED_PERCENTAGE, "1", "200.01"),
    (LAGO_GRADUATED_PERCENTAGE, "10", "200.1"),
    (LAGO_GRADUATED_PERCENTAGE, "11", "500.12"),
    (LAGO_GRADUATED_PERCENTAGE, "12", "500.14"),
    (LAGO_GRADUATED_PERCENTAGE, "21", "900.33"),
    # Lago docs graduated-percentage: transactions $500, $550, $4,000 cost $205, $306, $80,
    # i.e. the cumulative volumes 500, 1050, 5050 cost 205, 511, 591.
    (LAGO_DOCS_GRADUATED_PERCENTAGE, "500", "205"),
    (LAGO_DOCS_GRADUATED_PERCENTAGE, "1050", "511"),
    (LAGO_DOCS_GRADUATED_PERCENTAGE, "5050", "591"),
    # Stripe Typographic, volume-based table: 1 -> 7, 5 -> 35, 6 -> 39, 20 -> 120, 25 -> 150
    ({"type": "volume", "tiers": STRIPE_TYPOGRAPHIC}, "1", "7"),
    ({"type": "volume", "tiers": STRIPE_TYPOGRAPHIC}, "5", "35"),
    ({"type": "volume", "tiers": STRIPE_TYPOGRAPHIC}, "6", "39"),
    ({"type": "volume", "tiers": STRIPE_TYPOGRAPHIC}, "20", "120"),
    ({"type": "volume", "tiers": STRIPE_TYPOGRAPHIC}, "25", "150"),
    # Stripe Typographic graduated: 5 fonts = 35 USD (doc); 6 fonts = 35 + 6.5 (computed from
    # the doc's tiers: the stored excerpt did not include the graduated table's 6-font row)
    ({"type": "graduated", "tiers": STRIPE_TYPOGRAPHIC}, "5", "35"),
    ({"type": "graduated", "tiers": STRIPE_TYPOGRAPHIC}, "6", "41.5"),
    # Stripe tiers doc: volume 1 -> $5, 5 -> $25, 6 -> $24, 20 -> $40, 25 -> $25;
    # graduated 6 -> $29 ($25 for the first 5 + $4)
    ({"type": "volume", "tiers": STRIPE_TIERS}, "1", "5"),
    ({"type": "volume", "tiers": STRIPE_TIERS}, "5", "25"),
    ({"type": "volume", "tiers": STRIPE_TIERS}, "6", "24"),
    ({"type": "volume", "tiers": STRIPE_TIERS}, "20", "40"),
    ({"type": "volume", "tiers": STRIPE_TIERS}, "25", "25"),
    ({"type": "graduated", "tiers": STRIPE_TIERS}, "6", "29"),
]


@pytest.mark.parametrize(("params", "quantity", "expected"), QUANTITY_EXAMPLES)
def test_quantity_worked_examples(params: dict[str, Any], quantity: str, expected: str) -> None:
    result = price(model(params), quantity=D(quantity))
    assert result.amount == D(expected)
    assert_consistent(result)


# Lago spec percentage_service_spec.rb: 4 events, aggregation 800, running total
# [50, 150, 400] -> transaction amounts 50, 100, 250, 400; rate 1.3, fixed_amount 2.
LAGO_EVENTS = ["50", "100", "250", "400"]
# Lago spec, "when applying min / max amount per transaction": events 100, 1000, 10000,
# rate 1, max 12, min 1.75, fixed 0.
LAGO_MIN_MAX_EVENTS = ["100", "1000", "10000"]
LAGO_MIN_MAX_EVENTS_D = [D(e) for e in LAGO_MIN_MAX_EVENTS]
LAGO_MIN_MAX = {
    "rate": "1",
    "fixedFee": "0",
    "minPerTransaction": "1.75",
    "maxPerTransaction": "12",
}

PERCENTAGE_EXAMPLES = [
    # both free allowances: 2 free events, 250 free -> 550 * 1.3% + 2 * 2 = 11.15
    ({"rate": "1.3", "fixedFee": "2", "freeEvents": 3, "freeAmount": "250"}, LAGO_EVENTS, "11.15"),
    # "when free_units_per_events is nil"
    ({"rate": "1.3", "fixedFee": "2", "freeAmount": "250"}, LAGO_EVENTS, "11.15"),
    # "when free_units_per_total_aggregation is nil": 3 free events -> 400 * 1.3% + 2 = 7.2
    ({"rate": "1.3", "fixedFee": "2", "freeEvents": 3}, LAGO_EVENTS, "7.2"),
    # "when free units are not set": 800 * 1.3% + 4 * 2 = 18.4
    ({"rate": "1.3", "fixedFee": "2"}, LAGO_EVENTS, "18.4"),
    # "when rate is 0": 4 * 2 = 8
    ({"rate": "0", "fixedFee": "2"}, LAGO_EVENTS, "8"),
    # "when free_units_per_total_aggregation > last running total": events run out first
    ({"rate": "1.3", "fixedFee": "2", "freeEvents": 3, "freeAmount": "500"}, LAGO_EVENTS, "7.2"),
    # "when free_units_count > number of events"
    ({"rate": "1.3", "fixedFee": "2", "freeEvents": 5}, ["50", "100", "250"], "0"),
    # "when aggregation value is 0": no fixed fee either
    (
        {"rate": "1.3", "fixedFee": "2", "freeEvents": 3, "freeAmount": "250"},
        ["0", "0", "0", "0"],
        "0",
    ),
    ({"rate": "1.3", "fixedFee": "2"}, [], "0"),
    # min / max: 1.75 (min, 100 * 1% < 1.75) + 10 + 12 (max) = 23.75
    (LAGO_MIN_MAX, LAGO_MIN_MAX_EVENTS, "23.75"),
    # "with fixed_amount" 1: 2 + 11 + 12 = 25
    ({**LAGO_MIN_MAX, "fixedFee": "1.0"}, LAGO_MIN_MAX_EVENTS, "25"),
    # "with free units per events" 2: only 10000 pays, capped at 12
    ({**LAGO_MIN_MAX, "freeEvents": 2}, LAGO_MIN_MAX_EVENTS, "12"),
    # "with free units per total aggregation" 300: (1100 - 300) * 1% + 12 = 20
    ({**LAGO_MIN_MAX, "freeAmount": "300"}, LAGO_MIN_MAX_EVENTS, "20"),
    # "when both ... are applied" 3 events / 10000: (11100 - 10000) * 1% = 11
    ({**LAGO_MIN_MAX, "freeEvents": 3, "freeAmount": "10000"}, LAGO_MIN_MAX_EVENTS, "11"),
    # Lago docs charge-models/percentage: 1.2% + $0.10, first 3 events or $500 free:
    # the 4th transaction ($50) costs $0.10 + 1.2% of $50 = $0.70
    (
        {"rate": "1.2", "fixedFee": "0.10", "freeEvents": 3, "freeAmount": "500"},
        ["200", "100", "100", "50"],
        "0.70",
    ),
]


@pytest.mark.parametrize(("params", "events", "expected"), PERCENTAGE_EXAMPLES)
def test_percentage_worked_examples(
    params: dict[str, Any], events: list[str], expected: str
) -> None:
    result = price(model({"type": "percentage", **params}), events=[D(e) for e in events])
    assert result.amount == D(expected)
    assert_consistent(result)


def test_percentage_lines_match_lago_amount_details() -> None:
    # percentage_service_spec.rb amount_details: free_units 250, paid_units 550, free_events 2,
    # paid_events 2, percentage_rate_amount 7.15, fixed_fee_amount 4.
    params = {"type": "percentage", "rate": "1.3", "fixedFee": "2", "freeEvents": 3}
    result = price(model({**params, "freeAmount": "250"}), events=[D(e) for e in LAGO_EVENTS])
    percentage, fixed = result.lines
    assert percentage.kind == "percentage"
    assert (percentage.units, percentage.free_units) == (D(800), D(250))
    assert (percentage.paid_units, percentage.amount) == (D(550), D("7.15"))
    assert (fixed.kind, fixed.events, fixed.free_events, fixed.paid_events) == (
        "fixed_fee",
        4,
        2,
        2,
    )
    assert fixed.amount == 4


def test_percentage_min_max_adjustment_line() -> None:
    result = price(model({"type": "percentage", **LAGO_MIN_MAX}), events=LAGO_MIN_MAX_EVENTS_D)
    percentage, fixed, adjustment = result.lines
    assert percentage.amount == D("111")  # 1 + 10 + 100
    assert fixed.amount == 0
    assert adjustment.kind == "min_max_adjustment"
    assert adjustment.amount == D("23.75") - D("111")
    assert (adjustment.raised_to_min, adjustment.capped_at_max) == (1, 1)


def test_percentage_event_exactly_using_free_amount_pays_fixed_fee() -> None:
    # Lago counts a transaction as free only while the running total stays *below* the free
    # amount; the one reaching it pays the fixed fee (and the rate on nothing).
    m = model({"type": "percentage", "rate": "1", "fixedFee": "0.5", "freeAmount": "250"})
    result = price(m, events=[D(100), D(150), D(50)])
    assert result.amount == D("0.5") + (D("0.5") + D("0.5"))
    assert result.lines[1].free_events == 1


def test_percentage_min_is_not_applied_to_free_transactions() -> None:
    m = model({"type": "percentage", "rate": "1", "freeEvents": 2, "minPerTransaction": "3"})
    assert price(m, events=[D(1), D(1), D(1)]).amount == D(3)


def test_graduated_lines_match_lago_amount_details() -> None:
    # graduated_service_spec.rb, aggregation 21: three ranges 102 + 53 + 8
    result = price(model(LAGO_GRADUATED), quantity=D(21))
    assert [line.amount for line in result.lines] == [D(102), D(53), D(8)]
    assert [line.units for line in result.lines] == [D(10), D(10), D(1)]
    assert [line.flat_fee for line in result.lines] == [D(2), D(3), D(3)]
    bounds = [(line.from_, line.to) for line in result.lines]
    assert bounds == [(D(0), D(10)), (D(10), D(20)), (D(20), None)]
    # aggregation 10: stops in the first range (bound inclusive)
    assert [line.tier for line in price(model(LAGO_GRADUATED), quantity=D(10)).lines] == [0]
    # aggregation 0: the first range with its flat fee only (flat_unit_amount 2)
    zero = price(model(LAGO_GRADUATED), quantity=D(0))
    assert [(line.units, line.flat_fee, line.amount) for line in zero.lines] == [(D(0), D(2), D(2))]


def test_volume_zero_units_pay_the_first_flat_fee() -> None:
    # volume_service_spec.rb "when aggregation is 0": "applies the flat amount from the
    # first tier" (flat_unit_amount 10, per_unit_total_amount 0)
    result = price(model(LAGO_VOLUME), quantity=D(0))
    assert result.amount == 10
    assert result.lines[0].flat_fee == 10


def test_package_line() -> None:
    result = price(model(package("10")), quantity=D(121))
    (line,) = result.lines
    assert line.packages == 12
    assert (line.paid_units, line.free_units) == (D(111), D(10))


def test_result_serialises_to_camel_case_json() -> None:
    result = price(model(LAGO_GRADUATED), quantity=D("10.5"))
    data = json.loads(result.model_dump_json(by_alias=True, exclude_none=True))
    assert data["amount"] == "107.5"
    assert data["lines"][1]["from"] == "10"
    assert data["lines"][1]["unitPrice"] == "5"
    assert data["lines"][1]["to"] == "20"


def test_decimal_tier_bounds_are_continuous() -> None:
    # tier i covers (upTo[i-1], upTo[i]]
    tiers = [{"upTo": "10.5", "unitPrice": "2"}, {"upTo": None, "unitPrice": "1"}]
    volume = model({"type": "volume", "tiers": tiers})
    assert price(volume, quantity=D("10.5")).amount == D("21")
    assert price(volume, quantity=D("10.7")).amount == D("10.7")
    graduated = model({"type": "graduated", "tiers": tiers})
    assert price(graduated, quantity=D("10.7")).amount == D("21") + D("0.2")


# -- parsing ---------------------------------------------------------------------------------


def test_parse_json_numbers_and_snake_case() -> None:
    parsed = charge_model_adapter.validate_json(
        '{"type": "percentage", "rate": 1.3, "fixedFee": 2, "freeEvents": 3}'
    )
    assert isinstance(parsed, PercentageChargeModel)
    assert parsed.rate == D("1.3") and isinstance(parsed.rate, Decimal)
    assert parsed.fixed_fee == D(2)
    snake = parse_charge_model({"type": "standard", "unit_price": "0.123456789"})
    assert isinstance(snake, StandardChargeModel)
    assert snake.unit_price == D("0.123456789")


def test_models_can_be_built_directly() -> None:
    graduated = GraduatedChargeModel.model_validate(LAGO_GRADUATED)
    assert price_graduated(graduated, D(12)).amount == 115
    assert price(StandardChargeModel(unit_price=D("2.5")), quantity=4).amount == 10


# -- validation --------------------------------------------------------------------------------

TIER = {"unitPrice": "1"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        # unordered tiers
        (
            {
                "type": "graduated",
                "tiers": [{"upTo": "20", **TIER}, {"upTo": "10", **TIER}, {"upTo": None, **TIER}],
            },
            "tiers[1].upTo",
        ),
        # overlapping (equal) bounds
        (
            {
                "type": "volume",
                "tiers": [{"upTo": "10", **TIER}, {"upTo": "10", **TIER}, {"upTo": None, **TIER}],
            },
            "tiers[1].upTo",
        ),
        # bounded last tier
        (
            {"type": "graduated", "tiers": [{"upTo": "10", **TIER}, {"upTo": "20", **TIER}]},
            "tiers[1].upTo",
        ),
        # unbounded tier that is not the last one
        (
            {"type": "volume", "tiers": [{"upTo": None, **TIER}, {"upTo": None, **TIER}]},
            "tiers[0].upTo",
        ),
        # no tier
        ({"type": "graduated", "tiers": []}, "tiers"),
        # a zero / negative bound
        (
            {"type": "graduated", "tiers": [{"upTo": "0", **TIER}, {"upTo": None, **TIER}]},
            "tiers[0].upTo",
        ),
        # negative prices
        ({"type": "standard", "unitPrice": "-1"}, "unitPrice"),
        ({"type": "standard", "unit_price": "-1"}, "unitPrice"),
        (
            {"type": "graduated", "tiers": [{"upTo": None, "unitPrice": "-0.01"}]},
            "tiers[0].unitPrice",
        ),
        (
            {"type": "volume", "tiers": [{"upTo": None, "unitPrice": "1", "flatFee": "-3"}]},
            "tiers[0].flatFee",
        ),
        ({"type": "package", "packageSize": "10", "packagePrice": "-100"}, "packagePrice"),
        ({"type": "package", "packageSize": "0", "packagePrice": "100"}, "packageSize"),
        ({"type": "percentage", "rate": "-1"}, "rate"),
        ({"type": "percentage", "rate": "1", "freeEvents": -1}, "freeEvents"),
        (
            {"type": "percentage", "rate": "1", "minPerTransaction": "5", "maxPerTransaction": "2"},
            "maxPerTransaction",
        ),
        (
            {
                "type": "graduated_percentage",
                "tiers": [
                    {"upTo": "5", "rate": "1"},
                    {"upTo": "4", "rate": "1"},
                    {"upTo": None, "rate": "1"},
                ],
            },
            "tiers[1].upTo",
        ),
        # missing parameter
        ({"type": "standard"}, "unitPrice"),
        # not a number
        ({"type": "standard", "unitPrice": "abc"}, "unitPrice"),
        ({"type": "standard", "unitPrice": "NaN"}, "unitPrice"),
        # unknown type / no type
        ({"type": "tiered", "unitPrice": "1"}, "type"),
        ({"unitPrice": "1"}, "type"),
        # unknown parameters
        ({"type": "standard", "unitPrice": "1", "currency": "EUR"}, "currency"),
        (
            {"type": "graduated", "tiers": [{"upTo": None, "unitPrice": "1", "price": "2"}]},
            "tiers[0].price",
        ),
        ({"type": "percentage", "rate": "1", "freeUnits": "3"}, "freeUnits"),
    ],
)
def test_invalid_parameters_name_the_parameter(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_charge_model(params)
    assert info.value.field == field
    assert info.value.status == 422
    assert field in str(info.value)
    assert info.value.details and info.value.details[0]["field"] == field


def test_adapter_error_names_the_tier_parameter() -> None:
    bad = {
        "type": "graduated",
        "tiers": [{"upTo": "20", **TIER}, {"upTo": "10", **TIER}, {"upTo": None, **TIER}],
    }
    with pytest.raises(pydantic.ValidationError) as info:
        charge_model_adapter.validate_python(bad)
    assert "tiers[1].upTo" in str(info.value)


def test_quantity_and_events_inputs() -> None:
    standard = model({"type": "standard", "unitPrice": "1"})
    percentage = model({"type": "percentage", "rate": "1"})
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (standard, {"quantity": D(-1)}, "quantity"),
        (standard, {}, "quantity"),
        (standard, {"quantity": D(1), "events": [D(1)]}, "events"),
        (standard, {"quantity": D("Infinity")}, "quantity"),
        (percentage, {"quantity": D(1)}, "quantity"),
        (percentage, {}, "events"),
        (percentage, {"events": [D(1), D(-2)]}, "events[1]"),
    ]
    for charge, kwargs, field in cases:
        with pytest.raises(ValidationError) as info:
            price(charge, **kwargs)
        assert info.value.field == field, (charge, kwargs)
    with pytest.raises(TypeError):
        price(standard, quantity=cast(Any, 1.5))  # a float is a programming error
    with pytest.raises(TypeError):
        price_percentage(percentage, cast(Any, "123"))


def test_results_that_cannot_be_exact_are_refused() -> None:
    standard = model({"type": "standard", "unitPrice": "1.1"})
    with pytest.raises(ValidationError) as info:
        price(standard, quantity=D("1234567891" * 6))
    assert info.value.field == "quantity"
    huge = model({"type": "standard", "unitPrice": "1e999999"})
    with pytest.raises(ValidationError):
        price(huge, quantity=D(10))


def test_caller_decimal_context_is_irrelevant() -> None:
    m = model({"type": "standard", "unitPrice": "0.123456789"})
    with decimal.localcontext(decimal.Context(prec=3)):
        assert price(m, quantity=D("1000.001")).amount == D("123.456912456789")


# -- properties --------------------------------------------------------------------------------

quantities = st.decimals(
    min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False
)
prices = st.decimals(min_value=0, max_value=1_000, places=8, allow_nan=False, allow_infinity=False)
fees = st.decimals(min_value=0, max_value=1_000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn, price_key: str = "unitPrice") -> list[dict[str, Any]]:
    bounds = draw(
        st.lists(
            st.decimals(
                min_value="0.001", max_value=50_000, places=3, allow_nan=False, allow_infinity=False
            ),
            min_size=0,
            max_size=5,
            unique=True,
        )
    )
    uppers: list[Decimal | None] = [*sorted(bounds), None]
    return [
        {
            "upTo": None if upper is None else str(upper),
            price_key: str(draw(prices)),
            "flatFee": str(draw(fees)),
        }
        for upper in uppers
    ]


def reference_graduated(tiers: list[dict[str, Any]], q: Decimal, key: str = "unitPrice") -> Decimal:
    """Independent tier-by-tier summation (high-precision, per-tier formula)."""
    with decimal.localcontext(decimal.Context(prec=200)):
        total, lower = D(0), D(0)
        for tier in tiers:
            upper = None if tier["upTo"] is None else D(tier["upTo"])
            if q > lower or lower == 0:  # the first tier's flat fee is due at 0 too
                top = q if upper is None or q < upper else upper
                factor = D(tier[key]) if key == "unitPrice" else D(tier[key]) / 100
                total += (top - lower) * factor + D(tier["flatFee"])
            if upper is None:
                break
            lower = upper
        return total


@settings(deadline=None)
@given(tiers=tier_lists(), q=quantities)
def test_graduated_matches_reference_summation(tiers: list[dict[str, Any]], q: Decimal) -> None:
    result = price(model({"type": "graduated", "tiers": tiers}), quantity=q)
    assert_consistent(result)
    assert result.amount == reference_graduated(tiers, q)


@settings(deadline=None)
@given(tiers=tier_lists(price_key="rate"), q=quantities)
def test_graduated_percentage_matches_reference(tiers: list[dict[str, Any]], q: Decimal) -> None:
    result = price(model({"type": "graduated_percentage", "tiers": tiers}), quantity=q)
    assert_consistent(result)
    assert result.amount == reference_graduated(tiers, q, key="rate")


@settings(deadline=None)
@given(tiers=tier_lists(), a=quantities, b=quantities)
def test_graduated_is_monotone(tiers: list[dict[str, Any]], a: Decimal, b: Decimal) -> None:
    charge = model({"type": "graduated", "tiers": tiers})
    low, high = sorted((a, b))
    assert price(charge, quantity=low).amount <= price(charge, quantity=high).amount


@settings(deadline=None)
@given(tiers=tier_lists(), data=st.data())
def test_volume_and_graduated_agree_within_first_tier(
    tiers: list[dict[str, Any]], data: st.DataObject
) -> None:
    first = tiers[0]["upTo"]
    bound = D(first) if first is not None else D(100_000)
    q = data.draw(
        st.decimals(min_value=0, max_value=bound, places=3, allow_nan=False, allow_infinity=False)
    )
    graduated = price(model({"type": "graduated", "tiers": tiers}), quantity=q)
    volume = price(model({"type": "volume", "tiers": tiers}), quantity=q)
    assert graduated.amount == volume.amount


@settings(deadline=None)
@given(tiers=tier_lists(), q=quantities)
def test_volume_uses_the_tier_containing_the_quantity(
    tiers: list[dict[str, Any]], q: Decimal
) -> None:
    result = price_volume(model({"type": "volume", "tiers": tiers}), q)
    assert_consistent(result)
    (line,) = result.lines
    assert line.from_ is not None and (line.from_ < q or (q == 0 and line.tier == 0))
    assert line.to is None or q <= line.to


@settings(deadline=None)
@given(
    q=quantities,
    size=st.decimals(
        min_value="0.01", max_value=1_000, places=2, allow_nan=False, allow_infinity=False
    ),
    package_price=prices,
    free=quantities,
)
def test_package_rounds_up_to_whole_packages(
    q: Decimal, size: Decimal, package_price: Decimal, free: Decimal
) -> None:
    params = {
        "type": "package",
        "packageSize": str(size),
        "packagePrice": str(package_price),
        "freeUnits": str(free),
    }
    result = price(model(params), quantity=q)
    assert_consistent(result)
    (line,) = result.lines
    assert line.packages is not None
    paid = max(q - free, D(0))
    assert line.packages * size >= paid > (line.packages - 1) * size
    assert result.amount == line.packages * package_price


@settings(deadline=None)
@given(unit_price=prices, a=quantities, b=quantities, k=st.integers(min_value=0, max_value=1000))
def test_standard_is_linear(unit_price: Decimal, a: Decimal, b: Decimal, k: int) -> None:
    charge = model({"type": "standard", "unitPrice": str(unit_price)})

    def amount(q: Decimal) -> Decimal:
        result: Decimal = price(charge, quantity=q).amount
        return result

    assert amount(a + b) == amount(a) + amount(b)
    assert amount(k * a) == k * amount(a)
    assert amount(a) == a * unit_price


amounts = st.decimals(
    min_value="0.01", max_value=100_000, places=2, allow_nan=False, allow_infinity=False
)


@settings(deadline=None)
@given(
    rate=st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False),
    fixed=st.none() | fees,
    events=st.lists(amounts, max_size=20),
)
def test_percentage_of_a_list_is_the_sum_over_its_events(
    rate: Decimal, fixed: Decimal | None, events: list[Decimal]
) -> None:
    # Without free allowance or min/max, a list prices as the sum of its transactions
    # (transactions > 0: a zero-volume period costs nothing, see the module docstring).
    params: dict[str, Any] = {"type": "percentage", "rate": str(rate)}
    if fixed is not None:
        params["fixedFee"] = str(fixed)
    charge = model(params)
    whole = price(charge, events=events)
    assert_consistent(whole)
    assert whole.amount == sum((price(charge, events=[e]).amount for e in events), D(0))
    assert whole.amount == sum(events, D(0)) * rate / 100 + len(events) * (fixed or 0)


@settings(deadline=None)
@given(
    rate=st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False),
    fixed=st.none() | fees,
    free_events=st.none() | st.integers(min_value=0, max_value=10),
    free_amount=st.none() | fees,
    low=st.none() | fees,
    spread=st.none() | fees,
    events=st.lists(
        st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False),
        max_size=15,
    ),
)
def test_percentage_is_never_negative_and_bounded(
    rate: Decimal,
    fixed: Decimal | None,
    free_events: int | None,
    free_amount: Decimal | None,
    low: Decimal | None,
    spread: Decimal | None,
    events: list[Decimal],
) -> None:
    params: dict[str, Any] = {"type": "percentage", "rate": str(rate)}
    for key, value in [
        ("fixedFee", fixed),
        ("freeEvents", free_events),
        ("freeAmount", free_amount),
        ("minPerTransaction", low),
    ]:
        if value is not None:
            params[key] = value if isinstance(value, int) else str(value)
    if spread is not None:
        params["maxPerTransaction"] = str((low or 0) + spread)
    result = price(model(params), events=events)
    assert_consistent(result)
    paid = result.lines[1].paid_events
    assert paid is not None and paid + (result.lines[1].free_events or 0) == len(events)
    if spread is not None and sum(events, D(0)) > 0:
        assert result.amount <= paid * ((low or 0) + spread)


@settings(deadline=None)
@given(
    kind=st.sampled_from(["graduated", "volume"]),
    tiers=tier_lists(),
    q=quantities,
)
def test_tiered_results_are_consistent(kind: str, tiers: list[dict[str, Any]], q: Decimal) -> None:
    assert_consistent(price(model({"type": kind, "tiers": tiers}), quantity=q))
