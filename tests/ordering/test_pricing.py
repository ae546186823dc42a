"""Quote / order price calculation (openbss.ordering.pricing): worked examples, rules,
errors, and property tests of the laws (totals = sums, linear quantity scaling, discounts
never below zero).

Worked examples: the demo catalog's "Mobile L" (34.99 EUR a month, "Welcome offer: -50% for
3 months", src/openbss/catalog/demo_data/mobile.yaml), Stripe's documented behaviour of
stacked coupons (each applies to the amount left by the previous one; a 100 % coupon makes
an invoice 0, never negative) and per-seat pricing (quantity x unit amount).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.catalog.pricing import parse_charge_model
from openbss.core.errors import CurrencyMismatchError, ValidationError
from openbss.core.money import Money
from openbss.ordering.pricing import (
    AlterationSpec,
    ChargePeriod,
    PriceAmounts,
    PricedItem,
    PriceSpec,
    price_items,
    prices_from_catalog,
)

D = Decimal


def eur(value: str | int) -> Money:
    return Money(value, "EUR")


def monthly(pid: str, value: str, *alterations: AlterationSpec, currency: str = "EUR",
            length: int = 1, type_: Any = "month") -> PriceSpec:
    return PriceSpec(id=pid, name=pid, price_type="recurring", unit_price=Money(value, currency),
                     period=ChargePeriod(type_, length), alterations=alterations)


def one_time(pid: str, value: str, currency: str = "EUR") -> PriceSpec:
    return PriceSpec(id=pid, name=pid, price_type="oneTime", unit_price=Money(value, currency))


# -- worked examples ---------------------------------------------------------------------------

MOBILE_L = [
    {"id": "fee", "name": "Mobile L monthly fee", "priceType": "recurring",
     "price": {"unit": "EUR", "value": "34.99"}, "taxIncluded": True},
    {"id": "sim", "name": "SIM activation", "priceType": "oneTime",
     "price": {"unit": "EUR", "value": "10.00"}, "taxIncluded": True},
    {"id": "minutes", "name": "Minutes beyond 300", "priceType": "usage",
     "unitOfMeasure": {"amount": 1, "units": "minute"}, "price": {"unit": "EUR", "value": "0.05"},
     "taxIncluded": True},
    {"id": "promo", "name": "Welcome offer: -50% for 3 months", "priceType": "discount",
     "percentage": 50, "applicationDuration": 3,
     "popRelationship": [{"id": "fee", "relationshipType": "discount"}]},
]


def test_mobile_l_welcome_offer_quote() -> None:
    specs = prices_from_catalog(MOBILE_L)
    result = price_items([PricedItem(id="1", action="add", prices=specs)])
    fee, sim, minutes = result.items[0].lines
    # 50 % of 34.99 is 17.495: the discount rounds half-up to 17.50 (rounding point 2).
    assert fee.list_amount == eur("34.99")
    assert fee.price.duty_free == eur("17.49") == fee.price.tax_included
    assert fee.to_tmf() == {
        "name": "Mobile L monthly fee", "priceType": "recurring", "recurringChargePeriod": "month",
        "price": {"dutyFreeAmount": {"unit": "EUR", "value": D("17.49")},
                  "taxIncludedAmount": {"unit": "EUR", "value": D("17.49")}},
        "priceAlteration": [{
            "name": "Welcome offer: -50% for 3 months", "priceType": "recurring",
            "recurringChargePeriod": "month", "applicationDuration": 3,
            "price": {"percentage": D(50),
                      "dutyFreeAmount": {"unit": "EUR", "value": D("-17.50")},
                      "taxIncludedAmount": {"unit": "EUR", "value": D("-17.50")}},
            "productOfferingPrice": {"id": "promo", "name": "Welcome offer: -50% for 3 months"}}],
        "productOfferingPrice": {"id": "fee", "name": "Mobile L monthly fee"},
    }
    assert sim.price.duty_free == eur("10.00") and not sim.alterations
    # Usage: informational, zero, rated later; not in the totals.
    assert minutes.informational and minutes.price.duty_free == eur(0)
    assert minutes.unit_of_measure == "minute"
    assert "0.05 EUR per minute" in (minutes.description or "")
    assert result.totals_to_tmf() == [
        {"name": "Total recurring per month (EUR)", "priceType": "recurring",
         "recurringChargePeriod": "month",
         "price": {"dutyFreeAmount": {"unit": "EUR", "value": D("17.49")},
                   "taxIncludedAmount": {"unit": "EUR", "value": D("17.49")}}},
        {"name": "Total one-time (EUR)", "priceType": "oneTime",
         "price": {"dutyFreeAmount": {"unit": "EUR", "value": D("10.00")},
                   "taxIncludedAmount": {"unit": "EUR", "value": D("10.00")}}},
    ]


def test_two_lines_and_an_add_on_total_per_key() -> None:
    # Two Mobile L lines (quantity 2 on one item, one more on another) plus an add-on.
    specs = prices_from_catalog(MOBILE_L)
    boost = one_time("boost", "5.00")
    result = price_items([
        PricedItem(id="1", action="add", prices=specs, quantity=2),
        PricedItem(id="2", action="add", prices=specs),
        PricedItem(id="3", action="add", prices=(boost,)),
    ])
    # 2 x 34.99 = 69.98, -50 % = 34.99 exactly; the single line 17.49 (discount 17.50).
    assert result.item("1").lines[0].price.duty_free == eur("34.99")
    assert result.total("recurring", "month", "EUR").price.duty_free == eur("52.48")
    assert result.total("oneTime", None, "EUR").price.duty_free == eur("35.00")
    assert result.total("usage", None, "EUR") is None


def test_stripe_stacked_coupons_apply_to_the_remaining_amount() -> None:
    # Stripe: several discounts on one subscription apply one after the other, each to what
    # the previous left: 100 - 10 % = 90, - 20 % = 72 (not 100 - 30 % = 70).
    spec = monthly("plan", "100.00",
                   AlterationSpec(id="b", name="20 %", percentage=D(20), priority=2),
                   AlterationSpec(id="a", name="10 %", percentage=D(10), priority=1))
    line = price_items([PricedItem(id="1", action="add", prices=(spec,))]).items[0].lines[0]
    assert [a.id for a in line.alterations] == ["a", "b"]
    assert [a.price.duty_free for a in line.alterations] == [eur("-10.00"), eur("-18.00")]
    assert line.price.duty_free == eur("72.00")


def test_stripe_per_seat_pricing_and_an_absolute_discount_per_seat() -> None:
    # Stripe per-seat: quantity 5 x 12.00 = 60.00. Our absolute discount is per unit of the
    # altered price (Stripe's amount_off is per invoice; documented difference): 2.00 x 5.
    spec = monthly("seat", "12.00", AlterationSpec(id="d", name="2 off", amount=eur("2.00")))
    line = price_items([PricedItem(id="1", action="add", prices=(spec,), quantity=5)]
                       ).items[0].lines[0]
    assert line.list_amount == eur("60.00")
    assert line.alterations[0].price.duty_free == eur("-10.00")
    assert line.price.duty_free == eur("50.00")


def test_hundred_percent_and_oversized_absolute_discounts_give_zero() -> None:
    free = monthly("p", "9.99", AlterationSpec(id="f", name="free", percentage=D(100)))
    big = monthly("q", "9.99", AlterationSpec(id="g", name="-50", amount=eur("50")),
                  AlterationSpec(id="h", name="-10 %", percentage=D(10)))
    result = price_items([PricedItem(id="1", action="add", prices=(free, big))])
    first, second = result.items[0].lines
    assert first.price.duty_free == eur(0)
    assert first.alterations[0].price.duty_free == eur("-9.99")
    assert second.price.duty_free == eur(0)
    assert [a.price.duty_free for a in second.alterations] == [eur("-9.99"), eur(0)]
    assert result.total("recurring", "month", "EUR").price.duty_free == eur(0)


# -- actions, periods, currencies --------------------------------------------------------------


def test_actions_choose_the_charged_price_types() -> None:
    penalty = PriceSpec(id="etf", name="Early termination fee", price_type="penalty",
                        unit_price=eur("99.00"))
    prices = (monthly("fee", "20.00"), one_time("act", "10.00"), penalty)
    result = price_items([
        PricedItem(id="add", action="add", prices=prices),
        PricedItem(id="mod", action="modify", prices=prices),
        PricedItem(id="del", action="delete", prices=prices),
        PricedItem(id="early", action="delete", prices=prices, early_termination=True),
        PricedItem(id="same", action="noChange", prices=prices),
    ])
    kinds = {i.item_id: [line.price_type for line in i.lines] for i in result.items}
    assert kinds == {"add": ["recurring", "oneTime"], "mod": ["recurring"], "del": [],
                     "early": ["penalty"], "same": []}
    assert result.total("penalty", None, "EUR").price.duty_free == eur("99.00")
    assert result.total("recurring", "month", "EUR").price.duty_free == eur("40.00")


def test_periods_and_currencies_are_separate_totals() -> None:
    result = price_items([PricedItem(id="1", action="add", prices=(
        monthly("m", "10.00"), monthly("q", "25.00", length=3), monthly("y", "100", type_="year"),
        monthly("chf", "11.00", currency="CHF"), one_time("jpy", "500", currency="JPY"),
    ))])
    keys = [t.key for t in result.totals]
    assert keys == [("recurring", "month", "EUR"), ("recurring", "3 months", "EUR"),
                    ("recurring", "year", "EUR"), ("recurring", "month", "CHF"),
                    ("oneTime", None, "JPY")]
    assert result.totals[1].to_tmf()["recurringChargePeriod"] == "3 months"


def test_rounding_to_the_minor_unit_at_the_documented_points() -> None:
    # A sub-cent unit price is rounded once per line (half-up by default, configurable).
    spec = PriceSpec(id="x", name="x", price_type="oneTime", unit_price=eur("0.125"))
    assert price_items([PricedItem(id="1", action="add", prices=(spec,))]
                       ).items[0].lines[0].price.duty_free == eur("0.13")
    assert price_items([PricedItem(id="1", action="add", prices=(spec,))],
                       rounding="ROUND_HALF_EVEN").items[0].lines[0].price.duty_free == eur("0.12")
    # 0 decimals for JPY, 3 for BHD.
    yen = PriceSpec(id="y", name="y", price_type="oneTime", unit_price=Money("99.5", "JPY"))
    bhd = PriceSpec(id="b", name="b", price_type="oneTime", unit_price=Money("1.2345", "BHD"))
    lines = price_items([PricedItem(id="1", action="add", prices=(yen, bhd))]).items[0].lines
    assert [line.price.duty_free for line in lines] == [Money(100, "JPY"), Money("1.235", "BHD")]
    with pytest.raises(ValidationError) as err:
        price_items([], rounding="ROUND_SOMETIMES")
    assert err.value.field == "rounding"


def test_recurring_charge_model_prices_the_quantity() -> None:
    # A volume seat price (catalog chargeModel): 12 seats all at tier 2 = 120.00.
    model = parse_charge_model({"type": "volume", "tiers": [
        {"upTo": "10", "unitPrice": "12"}, {"upTo": "50", "unitPrice": "10"},
        {"upTo": None, "unitPrice": "8"}]})
    spec = PriceSpec(id="seats", name="Seats", price_type="recurring", charge_model=model,
                     currency="EUR")
    line = price_items([PricedItem(id="1", action="add", prices=(spec,), quantity=12)]
                       ).items[0].lines[0]
    assert line.price.duty_free == eur("120.00")
    percentage = parse_charge_model({"type": "percentage", "rate": "1"})
    spec = PriceSpec(id="pct", name="pct", price_type="recurring", charge_model=percentage,
                     currency="EUR")
    with pytest.raises(ValidationError) as err:
        price_items([PricedItem(id="1", action="add", prices=(spec,))],
                    item_field="productOrderItem")
    assert err.value.field == "productOrderItem[0].quantity"


def test_mixed_currencies_are_refused() -> None:
    with pytest.raises(CurrencyMismatchError) as err:
        monthly("fee", "10.00", AlterationSpec(id="d", name="d", amount=Money("1", "CHF")))
    assert err.value.field == "productOfferingPrice[d].price.unit"

    class WrongCurrencyTax:
        def __call__(self, amount: Money, spec: PriceSpec) -> PriceAmounts:
            other = Money(amount.amount, "USD")
            return PriceAmounts(other, other)

    with pytest.raises(CurrencyMismatchError) as err:
        price_items([PricedItem(id="1", action="add", prices=(monthly("f", "1"),))],
                    tax=WrongCurrencyTax())
    assert err.value.field == "quoteItem[0].quoteItemPrice"
    with pytest.raises(CurrencyMismatchError):
        PriceAmounts(eur(1), Money(1, "USD"))
    with pytest.raises(CurrencyMismatchError):
        _ = PriceAmounts(eur(1), eur(1)) + PriceAmounts(Money(1, "USD"), Money(1, "USD"))


# -- seams -------------------------------------------------------------------------------------


class TwentyPercentVat:
    """A billing-like calculator: 20 % on duty-free prices, extracted from tax-included ones."""

    def __call__(self, amount: Money, spec: PriceSpec) -> PriceAmounts:
        rate = D("0.20")
        if spec.tax_included:
            return PriceAmounts((amount / (1 + rate)).rounded(), amount, rate)
        return PriceAmounts(amount, (amount * (1 + rate)).rounded(), rate)


def test_tax_seam_default_and_custom() -> None:
    spec = monthly("fee", "10.00", AlterationSpec(id="d", name="d", percentage=D(10)))
    default = price_items([PricedItem(id="1", action="add", prices=(spec,))]).items[0].lines[0]
    assert default.price.tax_rate is None and "taxRate" not in default.to_tmf()["price"]
    assert default.price.duty_free == default.price.tax_included == eur("9.00")
    taxed = price_items([PricedItem(id="1", action="add", prices=(spec,))],
                        tax=TwentyPercentVat())
    line = taxed.items[0].lines[0]
    assert line.price == PriceAmounts(eur("9.00"), eur("10.80"), D("0.20"))
    assert line.to_tmf()["price"]["taxRate"] == D("0.20")
    assert line.alterations[0].price.tax_included == eur("-1.20")
    total = taxed.totals[0].price
    assert (total.duty_free, total.tax_included, total.tax_rate) == (eur("9.00"), eur("10.80"),
                                                                     D("0.20"))
    included = PriceSpec(id="c", name="c", price_type="oneTime", unit_price=eur("12.00"),
                         tax_included=True)
    line = price_items([PricedItem(id="1", action="add", prices=(included,))],
                       tax=TwentyPercentVat()).items[0].lines[0]
    assert (line.price.duty_free, line.price.tax_included) == (eur("10.00"), eur("12.00"))


def test_proration_seam_applies_to_recurring_before_rounding_and_discounts() -> None:
    seen: list[str] = []

    def half(item: PricedItem, spec: PriceSpec) -> Decimal:
        seen.append(spec.id)
        return D(15) / D(30)

    fee = monthly("fee", "19.99", AlterationSpec(id="d", name="-5", amount=eur("5")))
    result = price_items([PricedItem(id="1", action="add", prices=(fee, one_time("a", "10")))],
                         proration=half)
    fee_line, activation = result.items[0].lines
    assert seen == ["fee"]  # one-time prices are never prorated
    assert fee_line.list_amount == eur("10.00")  # 9.995 rounded half-up
    assert fee_line.price.duty_free == eur("5.00")
    assert activation.price.duty_free == eur("10")

    with pytest.raises(ValidationError) as err:
        price_items([PricedItem(id="1", action="add", prices=(fee,))],
                    proration=lambda item, spec: D("1.5"), item_field="productOrderItem")
    assert err.value.field == "productOrderItem[0].itemPrice"


# -- input errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(("item", "field"), [
    (PricedItem(id="1", action="add", prices=(), quantity=0), "productOrderItem[0].quantity"),
    (PricedItem(id="1", action="add", prices=(), quantity=True), "productOrderItem[0].quantity"),
    (PricedItem(id="1", action="add", prices=(), quantity="2"), "productOrderItem[0].quantity"),
    (PricedItem(id="1", action="remove", prices=()), "productOrderItem[0].action"),
    (PricedItem(id="1", action="add", prices=(), early_termination=True),
     "productOrderItem[0].action"),
])
def test_item_errors_name_the_field(item: PricedItem, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        price_items([item], item_field="productOrderItem")
    assert err.value.field == field


def test_huge_quantity_is_a_validation_error() -> None:
    spec = one_time("a", "1.000000000000000000000000000000000000001")
    with pytest.raises(ValidationError) as err:
        price_items([PricedItem(id="1", action="add", prices=(spec,), quantity=10**40 + 1)])
    assert err.value.field == "quoteItem[0].quantity"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"percentage": D(101)}, "productOfferingPrice[d].percentage"),
    ({"percentage": D(-1)}, "productOfferingPrice[d].percentage"),
    ({}, "productOfferingPrice[d].percentage"),
    ({"percentage": D(1), "amount": eur(1)}, "productOfferingPrice[d].percentage"),
    ({"amount": eur(-1)}, "productOfferingPrice[d].price.value"),
    ({"percentage": D(5), "application_duration": 0},
     "productOfferingPrice[d].applicationDuration"),
])
def test_alteration_errors(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        AlterationSpec(id="d", name="d", **kwargs)
    assert err.value.field == field


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"price_type": "discount", "unit_price": eur(1)}, "productOfferingPrice[p].priceType"),
    ({"price_type": "oneTime"}, "productOfferingPrice[p].price"),
    ({"price_type": "oneTime", "unit_price": eur(-1)}, "productOfferingPrice[p].price.value"),
    ({"price_type": "oneTime", "unit_price": eur(1), "currency": "USD"},
     "productOfferingPrice[p].price.unit"),
    ({"price_type": "recurring", "charge_model": parse_charge_model(
        {"type": "standard", "unitPrice": "1"})}, "productOfferingPrice[p].price.unit"),
    ({"price_type": "oneTime", "unit_price": eur(1), "period": ChargePeriod()},
     "productOfferingPrice[p].recurringChargePeriodType"),
])
def test_price_spec_errors(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        PriceSpec(id="p", name="p", **kwargs)
    assert err.value.field == field


def test_charge_period_errors() -> None:
    with pytest.raises(ValidationError) as err:
        ChargePeriod("fortnight")
    assert err.value.field == "recurringChargePeriodType"
    with pytest.raises(ValidationError) as err:
        ChargePeriod("month", 0)
    assert err.value.field == "recurringChargePeriodLength"


# -- from catalog documents --------------------------------------------------------------------


def test_prices_from_catalog_attaches_discounts() -> None:
    docs = [
        {"id": "fee", "name": "Fee", "priceType": "recurring", "price": {"unit": "EUR",
         "value": D("20")}, "recurringChargePeriodType": "month", "recurringChargePeriodLength": 3,
         "taxIncluded": True, "taxCategory": "reduced"},
        {"id": "act", "name": "Activation", "priceType": "oneTime",
         "price": {"unit": "EUR", "value": "10"}},
        {"id": "data", "name": "Data", "priceType": "usage", "price": {"unit": "EUR"},
         "unitOfMeasure": {"amount": "100", "units": "MB"},
         "chargeModel": {"type": "package", "packageSize": "1", "packagePrice": "2.00"}},
        {"id": "all", "name": "5 % on everything", "priceType": "discount", "percentage": "5"},
        {"id": "abs", "name": "-3 EUR", "priceType": "discount",
         "price": {"unit": "EUR", "value": "-3"}, "popRelationship": [{"id": "act"}]},
        {"id": "chf", "name": "-1 CHF", "priceType": "discount",
         "price": {"unit": "CHF", "value": "1"}},
    ]
    fee, act, data = prices_from_catalog(docs)
    assert fee.period == ChargePeriod("month", 3) and fee.tax_included
    assert fee.tax_category == "reduced"
    assert [a.id for a in fee.alterations] == ["all"]
    assert [a.id for a in act.alterations] == ["all", "abs"]
    assert act.alterations[1].amount == eur(3)  # the sign of an absolute discount is ignored
    assert data.alterations == () and data.unit_of_measure == "100 MB"
    assert data.charge_model is not None and data.currency == "EUR"
    line = price_items([PricedItem(id="1", action="add", prices=(act,))]).items[0].lines[0]
    assert line.price.duty_free == eur("6.50")  # 10 - 5 % = 9.50, - 3 = 6.50


@pytest.mark.parametrize(("doc", "field"), [
    ({"id": "x", "name": "x", "priceType": "oneTime", "price": {"unit": "EUR", "value": 1.5}},
     "productOfferingPrice[x].price.value"),
    ({"id": "x", "name": "x", "priceType": "oneTime", "price": {"unit": "EUR", "value": "abc"}},
     "productOfferingPrice[x].price.value"),
    ({"id": "x", "name": "x", "priceType": "discount", "price": {"value": "1"}},
     "productOfferingPrice[x].price.unit"),
    ({"id": "x", "name": "x", "priceType": "discount", "percentage": "NaN"},
     "productOfferingPrice[x].percentage"),
])
def test_prices_from_catalog_errors(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        prices_from_catalog([doc])
    assert err.value.field == field


# -- properties --------------------------------------------------------------------------------

cents = st.integers(0, 10**9).map(lambda c: D(c) / 100)
sub_cents = st.integers(0, 10**9).map(lambda c: D(c) / 10**6)
percentages = st.integers(0, 10000).map(lambda c: D(c) / 100)


@st.composite
def alterations(draw: st.DrawFn, currency: str) -> AlterationSpec:
    name = f"d{draw(st.integers(0, 10**6))}"
    priority = draw(st.none() | st.integers(0, 5))
    if draw(st.booleans()):
        return AlterationSpec(id=name, name=name, percentage=draw(percentages), priority=priority)
    return AlterationSpec(id=name, name=name, amount=Money(draw(sub_cents), currency),
                          priority=priority)


@st.composite
def specs(draw: st.DrawFn, with_alterations: bool = True) -> PriceSpec:
    currency = draw(st.sampled_from(["EUR", "CHF", "JPY", "BHD"]))
    kind = draw(st.sampled_from(["oneTime", "recurring", "usage", "penalty"]))
    alts = tuple(draw(st.lists(alterations(currency), max_size=3))) if with_alterations \
        and kind != "usage" else ()
    period = ChargePeriod(draw(st.sampled_from(["month", "year"])), draw(st.integers(1, 3))) \
        if kind == "recurring" else None
    name = f"p{draw(st.integers(0, 10**6))}"
    return PriceSpec(id=name, name=name, price_type=kind,
                     unit_price=Money(draw(sub_cents), currency), period=period, alterations=alts)


@st.composite
def items(draw: st.DrawFn) -> PricedItem:
    action = draw(st.sampled_from(["add", "modify", "delete", "noChange"]))
    return PricedItem(
        id=str(draw(st.integers(0, 999))), action=action,
        prices=tuple(draw(st.lists(specs(), max_size=4))), quantity=draw(st.integers(1, 1000)),
        early_termination=action == "delete" and draw(st.booleans()))


@settings(max_examples=100, deadline=None)
@given(st.lists(items(), max_size=6))
def test_totals_are_the_exact_sums_of_the_item_prices_per_key(order: list[PricedItem]) -> None:
    result = price_items(order)
    expected: dict[tuple[str, str | None, str], tuple[Decimal, Decimal]] = {}
    for item in result.items:
        for line in item.lines:
            assert line.price.duty_free.is_rounded()
            if line.informational:
                assert line.price_type == "usage" and line.price.duty_free.is_zero()
                continue
            duty, incl = expected.get(line.key, (D(0), D(0)))
            expected[line.key] = (duty + line.price.duty_free.amount,
                                  incl + line.price.tax_included.amount)
    got = {t.key: (t.price.duty_free.amount, t.price.tax_included.amount) for t in result.totals}
    assert got == expected
    assert all(t.price_type != "usage" for t in result.totals)
    assert len({t.key for t in result.totals}) == len(result.totals)


@settings(max_examples=100, deadline=None)
@given(specs(with_alterations=False), st.integers(1, 10**6))
def test_standard_prices_scale_linearly_with_quantity(spec: PriceSpec, quantity: int) -> None:
    # Unrounded: list amount at quantity q is q times the amount at 1 (before rounding).
    if spec.price_type in ("usage", "penalty"):
        return
    assert spec.unit_price is not None
    one = price_items([PricedItem(id="1", action="add", prices=(spec,))]).items[0].lines[0]
    many = price_items([PricedItem(id="1", action="add", prices=(spec,), quantity=quantity)]
                       ).items[0].lines[0]
    assert many.list_amount == (spec.unit_price * quantity).rounded()
    if spec.unit_price.is_rounded():
        assert many.price.duty_free == one.price.duty_free * quantity


@settings(max_examples=100, deadline=None)
@given(specs(), st.integers(1, 1000))
def test_alterations_never_make_a_line_negative(spec: PriceSpec, quantity: int) -> None:
    result = price_items([PricedItem(id="1", action="add", prices=(spec,), quantity=quantity,
                                     )])
    for line in result.items[0].lines:
        assert not line.price.duty_free.is_negative()
        assert line.price.duty_free <= line.list_amount
        assert all(not a.price.duty_free.is_positive() for a in line.alterations)
        assert line.list_amount + Money.total((a.price.duty_free for a in line.alterations),
                                              line.list_amount.currency) == line.price.duty_free
    assert all(not t.price.duty_free.is_negative() for t in result.totals)


@settings(max_examples=100, deadline=None)
@given(specs(with_alterations=False), st.lists(alterations("EUR"), max_size=3),
       st.integers(1, 100))
def test_a_full_discount_gives_zero_whatever_else_applies(
        spec: PriceSpec, others: list[AlterationSpec], quantity: int) -> None:
    if spec.price_type == "usage" or spec.currency != "EUR":
        return
    full = AlterationSpec(id="full", name="full", percentage=D(100))
    altered = PriceSpec(id=spec.id, name=spec.name, price_type=spec.price_type,
                        unit_price=spec.unit_price, period=spec.period,
                        alterations=(*others, full))
    action = "delete" if spec.price_type == "penalty" else "add"
    line = price_items([PricedItem(id="1", action=action, prices=(altered,), quantity=quantity,
                                   early_termination=action == "delete")]).items[0].lines[0]
    assert line.price.duty_free.is_zero()


def test_output_validates_against_the_tmf_price_definitions() -> None:
    from tmf_schema import assert_valid

    specs = prices_from_catalog(MOBILE_L)
    result = price_items([PricedItem(id="1", action="add", prices=specs, quantity=2)],
                         tax=TwentyPercentVat())
    item_prices = result.items[0].to_tmf()
    assert any("priceAlteration" in p for p in item_prices)
    assert_valid("TMF648-QuoteManagement-v4.0.0.swagger.json", "QuotePrice", item_prices)
    assert_valid("TMF648-QuoteManagement-v4.0.0.swagger.json", "QuotePrice",
                 result.totals_to_tmf())
    assert_valid("TMF622-ProductOrdering-v4.0.0.swagger.json", "OrderPrice", item_prices)
    assert_valid("TMF622-ProductOrdering-v4.0.0.swagger.json", "OrderPrice",
                 result.totals_to_tmf())
    # TMF637 ProductPrice names its alterations productPriceAlteration
    for price in item_prices:
        product_price = {k: v for k, v in price.items() if k != "priceAlteration"}
        if "priceAlteration" in price:
            product_price["productPriceAlteration"] = price["priceAlteration"]
        assert_valid("TMF637-ProductInventory-v4.0.0.swagger.json", "ProductPrice",
                     product_price)


def test_later_periods_drop_expired_discounts_and_one_off_lines() -> None:
    # "Welcome offer: -50% for 3 months": periods 0-2 at 17.49, from period 3 the list 34.99.
    specs = prices_from_catalog(MOBILE_L)
    order = [PricedItem(id="1", action="add", prices=specs)]

    def monthly_total(k: int) -> Money:
        total = price_items(order, period_index=k).total("recurring", "month", "EUR")
        assert total is not None
        return total.price.duty_free

    assert [monthly_total(k) for k in range(5)] == [eur("17.49")] * 3 + [eur("34.99")] * 2
    later = price_items(order, period_index=3)
    assert [line.price_type for line in later.items[0].lines] == ["recurring"]
    assert later.items[0].lines[0].alterations == ()
    # a discount without duration applies in every period; proration only in period 0
    fee = monthly("fee", "20.00", AlterationSpec(id="d", name="d", percentage=D(10)))
    item = [PricedItem(id="1", action="add", prices=(fee,))]
    assert price_items(item, period_index=7, proration=lambda i, s: D("0.5")
                       ).items[0].lines[0].price.duty_free == eur("18.00")
    assert price_items(item, proration=lambda i, s: D("0.5")
                       ).items[0].lines[0].price.duty_free == eur("9.00")
    for bad in (-1, True):
        with pytest.raises(ValidationError) as err:
            price_items(item, period_index=bad)
        assert err.value.field == "periodIndex"
