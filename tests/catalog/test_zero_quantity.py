"""Pricing at zero quantity, checked against Lago's own specs (getlago/lago-api).

The hardening issue asked for "the first tier's flat fee when the aggregation is 0 (amount 2
for a first tier 0-10 at 10/unit with flat 2)". Lago's specs say the opposite, in every
version read (the current ``spec/services/charge_models/*_service_spec.rb`` and the older
``spec/services/charges/charge_models/``): at aggregation 0 graduated, volume and
graduated_percentage answer 0 ("does not apply the flat amount"), package answers 0, and
percentage answers 0 (no fixed fee). openbss follows Lago, so these pin Lago's worked
examples at 0 and at the first unit, where the flat fee does appear.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from openbss.catalog.pricing import parse_charge_model, price

# graduated_service_spec.rb: 0-10 @10 +2, 11-20 @5 +3, 21- @5 +3
GRADUATED = {"type": "graduated", "tiers": [
    {"upTo": "10", "unitPrice": "10", "flatFee": "2"},
    {"upTo": "20", "unitPrice": "5", "flatFee": "3"},
    {"upTo": None, "unitPrice": "5", "flatFee": "3"}]}
# volume_service_spec.rb: 0-100 @2 +10, 101-200 @1 +0, 201- @0.5 +50
VOLUME = {"type": "volume", "tiers": [
    {"upTo": "100", "unitPrice": "2", "flatFee": "10"},
    {"upTo": "200", "unitPrice": "1", "flatFee": "0"},
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
    (GRADUATED, "0", "0"),      # "when aggregation is 0": amount 0
    (GRADUATED, "1", "12"),     # "when aggregation is 1": 10 + flat 2
    (GRADUATED, "10", "102"),
    (GRADUATED, "11", "110"),   # the second tier's flat fee once it holds a unit
    (VOLUME, "0", "0"),         # "does not apply the flat amount"
    (VOLUME, "1", "12"),
    (VOLUME, "100", "210"),
    (GRADUATED_PERCENTAGE, "0", "0"),   # "does not apply the flat amount"
    (GRADUATED_PERCENTAGE, "1", "200.01"),
    (GRADUATED_PERCENTAGE, "11", "500.12"),
    (PACKAGE, "0", "0"),        # no package started
    (PACKAGE, "1", "100"),
    (PACKAGE, "121", "1300"),
    (STANDARD, "0", "0"),
])
def test_lago_worked_examples_around_zero(params: dict[str, Any], quantity: str,
                                          amount: str) -> None:
    assert price(parse_charge_model(params), quantity=D(quantity)).amount == D(amount)


def test_zero_units_list_the_first_tier_with_nothing_charged() -> None:
    # Lago's amount_details at 0: the first range, units 0, flat_unit_amount 0
    result = price(parse_charge_model(GRADUATED), quantity=D(0))
    [line] = result.lines
    assert (line.tier, line.units, line.flat_fee, line.amount) == (0, D(0), D(0), D(0))


def test_percentage_with_nothing_transacted_costs_nothing() -> None:
    # percentage_service_spec.rb "when aggregation value is 0": amount 0 despite a fixed
    # fee of 2.0 per transaction (fixed_fee_total_amount 0)
    model = parse_charge_model({"type": "percentage", "rate": "1.3", "fixedFee": "2",
                                "freeEvents": 3, "freeAmount": "250",
                                "minPerTransaction": "1.75"})
    assert price(model, events=[]).amount == 0
    assert price(model, events=[D(0)] * 4).amount == 0
