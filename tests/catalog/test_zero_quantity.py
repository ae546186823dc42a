"""Pricing at zero quantity, checked against Lago's current specs (getlago/lago-api).

``spec/services/charge_models/graduated_service_spec.rb`` "when aggregation is 0": "applies
the flat amount from the first tier" (amount 2 for 0-10 @10 +2; 0 when the first tier's flat
amount is 0); ``volume_service_spec.rb`` likewise (10 for 0-100 @2 +10);
``graduated_percentage_service.rb`` keeps the first range's flat amount at 0 units. Package,
standard and percentage charge nothing for nothing.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbss.catalog.pricing import parse_charge_model, price

# graduated_service_spec.rb: 0-10 @10 +2, 11-20 @5 +3, 21- @5 +3
GRADUATED = {"type": "graduated", "tiers": [
    {"upTo": "10", "unitPrice": "10", "flatFee": "2"},
    {"upTo": "20", "unitPrice": "5", "flatFee": "3"},
    {"upTo": None, "unitPrice": "5", "flatFee": "3"}]}
# "when first tier flat amount is zero": 0-0.01 @0 +0, 0.01-10 @10 +2, 11- @5 +3
GRADUATED_FREE_FIRST = {"type": "graduated", "tiers": [
    {"upTo": "0.01", "unitPrice": "0", "flatFee": "0"},
    {"upTo": "10", "unitPrice": "10", "flatFee": "2"},
    {"upTo": None, "unitPrice": "5", "flatFee": "3"}]}
# volume_service_spec.rb: 0-100 @2 +10, 101-200 @1 +0, 201- @0.5 +50
VOLUME = {"type": "volume", "tiers": [
    {"upTo": "100", "unitPrice": "2", "flatFee": "10"},
    {"upTo": "200", "unitPrice": "1", "flatFee": "0"},
    {"upTo": None, "unitPrice": "0.5", "flatFee": "50"}]}
VOLUME_FREE_FIRST = {"type": "volume", "tiers": [
    {"upTo": "1", "unitPrice": "0", "flatFee": "0"},
    {"upTo": "100", "unitPrice": "2", "flatFee": "10"},
    {"upTo": None, "unitPrice": "0.5", "flatFee": "50"}]}
# graduated_percentage_service_spec.rb: 0-10 1% +200, 11-20 2% +300, 21- 3% +400
GRADUATED_PERCENTAGE = {"type": "graduated_percentage", "tiers": [
    {"upTo": "10", "rate": "1", "flatFee": "200"},
    {"upTo": "20", "rate": "2", "flatFee": "300"},
    {"upTo": None, "rate": "3", "flatFee": "400"}]}
# package_service_spec.rb: 100 per package of 10
PACKAGE = {"type": "package", "packageSize": "10", "packagePrice": "100", "freeUnits": "0"}
STANDARD = {"type": "standard", "unitPrice": "5.12345"}


@pytest.mark.parametrize(("params", "quantity", "amount"), [
    (GRADUATED, "0", "2"),      # "applies the flat amount from the first tier"
    (GRADUATED, "1", "12"),     # "when aggregation is 1": 10 + flat 2
    (GRADUATED, "10", "102"),
    (GRADUATED, "11", "110"),   # the second tier's flat fee once it holds a unit
    (GRADUATED, "21", "163"),
    (GRADUATED_FREE_FIRST, "0", "0"),   # "when first tier flat amount is zero"
    (VOLUME, "0", "10"),        # "applies the flat amount from the first tier"
    (VOLUME, "1", "12"),
    (VOLUME, "100", "210"),
    (VOLUME, "101", "101"),
    (VOLUME, "300", "200"),
    (VOLUME_FREE_FIRST, "0", "0"),
    (GRADUATED_PERCENTAGE, "0", "200"),
    (GRADUATED_PERCENTAGE, "1", "200.01"),
    (GRADUATED_PERCENTAGE, "11", "500.12"),
    (GRADUATED_PERCENTAGE, "21", "900.33"),
    (PACKAGE, "0", "0"),        # no package started
    (PACKAGE, "1", "100"),
    (PACKAGE, "121", "1300"),
    (STANDARD, "0", "0"),
])
def test_lago_worked_examples_around_zero(params: dict[str, Any], quantity: str,
                                          amount: str) -> None:
    assert price(parse_charge_model(params), quantity=D(quantity)).amount == D(amount)


def test_zero_units_list_the_first_tier_with_its_flat_fee() -> None:
    # Lago's amount_details at 0: the first range, units 0, flat_unit_amount 2, total 2
    result = price(parse_charge_model(GRADUATED), quantity=D(0))
    [line] = result.lines
    assert (line.tier, line.units, line.flat_fee, line.amount) == (0, D(0), D(2), D(2))


@given(st.decimals(min_value=0, max_value=10**6, places=4))
def test_tiered_models_never_charge_less_than_at_zero(q: D) -> None:
    # the first tier's flat fee is a floor: more usage never costs less than none
    for params in (GRADUATED, GRADUATED_PERCENTAGE):
        model = parse_charge_model(params)
        assert price(model, quantity=q).amount >= price(model, quantity=D(0)).amount


def test_percentage_with_nothing_transacted_costs_nothing() -> None:
    # percentage_service_spec.rb "when aggregation value is 0": amount 0 despite a fixed
    # fee of 2.0 per transaction (fixed_fee_total_amount 0)
    model = parse_charge_model({"type": "percentage", "rate": "1.3", "fixedFee": "2",
                                "freeEvents": 3, "freeAmount": "250",
                                "minPerTransaction": "1.75"})
    assert price(model, events=[]).amount == 0
    assert price(model, events=[D(0)] * 4).amount == 0
