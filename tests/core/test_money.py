"""Money: worked examples and the laws of exact money arithmetic."""

from __future__ import annotations

import decimal
import pickle
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbss.core.errors import CurrencyMismatchError, ValidationError
from openbss.core.money import (
    DEFAULT_ROUNDING,
    ROUNDING_MODES,
    Money,
    currency_exponent,
    is_currency,
    round_amount,
)

EUR = "EUR"
CURRENCIES = ["EUR", "USD", "JPY", "BHD", "KWD", "CLF", "ISK", "GBP"]


def eur(amount: str) -> Money:
    return Money(amount, EUR)


def amounts(values: list[Money]) -> list[str]:
    return [str(m.amount) for m in values]


# --------------------------------------------------------------------------------------------
# Construction and validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (" 0.001 ", Decimal("0.001")),
        (7, Decimal(7)),
        (Decimal("-3.14159265358979323846"), Decimal("-3.14159265358979323846")),
        ("1E+3", Decimal(1000)),
    ],
)
def test_construction_accepts_decimal_int_and_decimal_strings(
    amount: Decimal | int | str, expected: Decimal
) -> None:
    money = Money(amount, EUR)
    assert money.amount == expected
    assert isinstance(money.amount, Decimal)
    assert money.currency == EUR


@pytest.mark.parametrize("amount", [0.1, 1.0, float("nan")])
def test_float_amount_is_refused(amount: float) -> None:
    with pytest.raises(TypeError, match="float"):
        Money(amount, EUR)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [True, None, [1], b"1"])
def test_other_types_are_refused(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, EUR)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount", ["NaN", "sNaN", "Infinity", "-Infinity", Decimal("NaN"), Decimal("-Inf"), "abc", ""]
)
def test_non_finite_or_malformed_amounts_are_refused(amount: Decimal | str) -> None:
    with pytest.raises(ValidationError) as info:
        Money(amount, EUR)
    assert info.value.field == "amount"


@pytest.mark.parametrize("currency", ["eur", "EURO", "ZZZ", "", "E", 978])
def test_unknown_currency_is_refused(currency: object) -> None:
    with pytest.raises(ValidationError) as info:
        Money(1, currency)  # type: ignore[arg-type]
    assert info.value.field == "currency"
    assert not is_currency(currency)


def test_money_is_immutable_hashable_and_picklable() -> None:
    money = eur("1.5")
    with pytest.raises(AttributeError):
        money.amount = Decimal(2)  # type: ignore[misc]
    assert money == eur("1.50")
    assert hash(money) == hash(eur("1.50"))
    assert len({money, eur("1.50"), Money("1.5", "USD")}) == 2
    assert money != Money("1.5", "USD")
    assert pickle.loads(pickle.dumps(money)) == money
    assert str(money) == "1.5 EUR"


# --------------------------------------------------------------------------------------------
# Currency exponents and rounding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("JPY", 0), ("ISK", 0), ("EUR", 2), ("USD", 2), ("BHD", 3), ("KWD", 3), ("CLF", 4)],
)
def test_currency_exponent_comes_from_cldr(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent
    assert Money(1, currency).exponent == exponent


def test_currency_exponent_of_unknown_currency() -> None:
    with pytest.raises(ValidationError):
        currency_exponent("ABC")


def test_default_rounding_is_half_up() -> None:
    assert DEFAULT_ROUNDING == ROUND_HALF_UP


@pytest.mark.parametrize(
    ("amount", "currency", "rounding", "expected"),
    [
        ("1.005", "EUR", ROUND_HALF_UP, "1.01"),
        ("1.005", "EUR", ROUND_HALF_EVEN, "1.00"),
        ("1.015", "EUR", ROUND_HALF_EVEN, "1.02"),
        ("-1.005", "EUR", ROUND_HALF_UP, "-1.01"),
        ("1.009", "EUR", ROUND_DOWN, "1.00"),
        ("2.5", "JPY", ROUND_HALF_UP, "3"),
        ("2.5", "JPY", ROUND_HALF_EVEN, "2"),
        ("0.0005", "BHD", ROUND_HALF_UP, "0.001"),
        ("0.00005", "CLF", ROUND_HALF_UP, "0.0001"),
        ("33.3333333333333333333333", "EUR", ROUND_HALF_UP, "33.33"),
        ("7", "EUR", ROUND_HALF_UP, "7.00"),
    ],
)
def test_round_amount(amount: str, currency: str, rounding: str, expected: str) -> None:
    result = round_amount(Decimal(amount), currency, rounding)
    assert str(result) == expected
    assert str(Money(amount, currency).rounded(rounding).amount) == expected


def test_unknown_rounding_mode_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        round_amount(Decimal(1), EUR, "ROUND_RANDOM")
    assert info.value.field == "rounding"


def test_round_amount_refuses_floats() -> None:
    with pytest.raises(TypeError):
        round_amount(1.005, EUR)  # type: ignore[arg-type]


def test_minor_units() -> None:
    assert eur("12.34").to_minor_units() == 1234
    assert eur("-0.05").to_minor_units() == -5
    assert Money(1500, "JPY").to_minor_units() == 1500
    assert Money("1.234", "BHD").to_minor_units() == 1234
    assert Money.from_minor_units(1234, EUR) == eur("12.34")
    assert str(Money.from_minor_units(1234, "BHD").amount) == "1.234"
    assert Money.from_minor_units(-7, "JPY") == Money(-7, "JPY")
    with pytest.raises(ValidationError):
        eur("0.001").to_minor_units()
    with pytest.raises(TypeError):
        Money.from_minor_units(12.0, EUR)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------------


def test_arithmetic_examples() -> None:
    assert eur("0.10") + eur("0.20") == eur("0.30")
    assert eur("0.10") - eur("0.30") == eur("-0.20")
    assert -eur("1.5") == eur("-1.5")
    assert abs(eur("-1.5")) == eur("1.5")
    assert eur("19.99") * 3 == eur("59.97")
    assert 3 * eur("19.99") == eur("59.97")
    assert eur("100") * Decimal("0.19") == eur("19")
    assert eur("0.00012345") * Decimal("0.5") == eur("0.000061725")  # full precision kept
    assert eur("100") / 4 == eur("25")
    assert eur("1") / Decimal("8") == eur("0.125")
    assert eur("30") / eur("120") == Decimal("0.25")
    assert (eur("100") / 3).amount == Decimal("33." + "3" * 58)
    assert (eur("100") / 3).rounded() == eur("33.33")


def test_arithmetic_does_not_depend_on_the_global_context() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = ROUND_DOWN
        assert eur("1234.5678") + eur("0.0001") == eur("1234.5679")
        assert eur("1234.56") * 7 == eur("8641.92")
        assert Money.total([eur("999.99"), eur("0.01")], EUR) == eur("1000")
        assert round_amount(Decimal("123456.785"), EUR) == Decimal("123456.79")


def test_inexact_results_raise_instead_of_rounding() -> None:
    huge = Money(Decimal("1" * 60), EUR)
    with pytest.raises(decimal.Inexact):
        huge + eur("0.01")


def test_zero_and_total() -> None:
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money.zero(EUR).is_zero()
    assert eur("-0.00").is_zero()
    assert not eur("0.01").is_zero()
    assert Money.total([], EUR) == Money.zero(EUR)
    assert Money.total([eur("1.10"), eur("2.20"), eur("-0.30")], EUR) == eur("3.00")
    assert Money.total((eur(x) for x in ["0.1"] * 10), EUR) == eur("1")
    with pytest.raises(CurrencyMismatchError):
        Money.total([eur("1"), Money(1, "USD")], EUR)
    with pytest.raises(CurrencyMismatchError):
        Money.total([eur("1")], "USD")


def test_currency_mismatch() -> None:
    usd = Money(1, "USD")
    with pytest.raises(CurrencyMismatchError) as info:
        eur("1") + usd
    assert info.value.field == "currency"
    assert isinstance(info.value, ValidationError)
    with pytest.raises(CurrencyMismatchError):
        eur("1") - usd
    with pytest.raises(CurrencyMismatchError):
        eur("1") < usd
    with pytest.raises(CurrencyMismatchError):
        eur("1") >= usd
    with pytest.raises(CurrencyMismatchError):
        eur("1") / usd


def test_comparisons() -> None:
    assert eur("1.00") < eur("1.01") <= eur("1.01") < eur("2")
    assert eur("2") > eur("-3") >= eur("-3")
    assert max([eur("1"), eur("3"), eur("2")]) == eur("3")
    assert eur("1").is_positive() and eur("-1").is_negative()
    with pytest.raises(TypeError):
        eur("1") < 2  # type: ignore[operator]


@pytest.mark.parametrize("factor", [1.5, 0.0, float("inf")])
def test_float_factors_are_refused(factor: float) -> None:
    with pytest.raises(TypeError, match="float"):
        eur("1") * factor  # type: ignore[operator]
    with pytest.raises(TypeError):
        factor * eur("1")  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        eur("1") / factor  # type: ignore[operator]


def test_bad_operands() -> None:
    with pytest.raises(TypeError):
        eur("1") * eur("2")  # type: ignore[operator]
    with pytest.raises(TypeError):
        eur("1") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        eur("1") * "2"  # type: ignore[operator]
    with pytest.raises(ZeroDivisionError):
        eur("1") / 0
    with pytest.raises(ZeroDivisionError):
        eur("1") / eur("0")
    with pytest.raises(ValidationError):
        eur("1") * Decimal("NaN")


# --------------------------------------------------------------------------------------------
# Allocation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "ratios", "expected"),
    [
        # Exact shares 1.5 and 3.5 cents: floors 1 + 3, the spare cent goes to the largest
        # remainder; remainders tie (0.5, 0.5) so the earlier share gets it.
        ("0.05", "EUR", [3, 7], ["0.02", "0.03"]),
        # Fowler's Money example: 5 cents split 70/30 -> 4 and 1 (same tie rule).
        ("0.05", "EUR", [70, 30], ["0.04", "0.01"]),
        # Largest remainder (not "first shares"): exact 3.33.. and 6.66.. cents -> 3 and 7.
        ("0.10", "EUR", [1, 2], ["0.03", "0.07"]),
        ("100", "EUR", [1, 1, 1], ["33.34", "33.33", "33.33"]),
        ("-0.05", "EUR", [3, 7], ["-0.02", "-0.03"]),
        ("-100.00", "EUR", [1, 1, 1], ["-33.34", "-33.33", "-33.33"]),
        ("1000", "JPY", [1, 1, 1], ["334", "333", "333"]),
        ("1.000", "BHD", [1, 1, 1], ["0.334", "0.333", "0.333"]),
        ("10.00", "EUR", [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")], ["5", "2.5", "2.5"]),
        ("0.01", "EUR", [0, 1, 0], ["0", "0.01", "0"]),
        ("0.03", "EUR", [1, 1, 1, 1, 1], ["0.01", "0.01", "0.01", "0", "0"]),
        ("0", "EUR", [1, 2], ["0", "0"]),
    ],
)
def test_allocate_examples(
    amount: str, currency: str, ratios: list[Decimal | int], expected: list[str]
) -> None:
    shares = Money(amount, currency).allocate(ratios)
    assert shares == [Money(x, currency) for x in expected]
    assert Money.total(shares, currency) == Money(amount, currency)


def test_split() -> None:
    assert amounts(eur("100").split(3)) == ["33.34", "33.33", "33.33"]
    assert eur("0.05").split(1) == [eur("0.05")]
    assert eur("0.05").split(10) == [eur("0.01")] * 5 + [eur("0")] * 5
    with pytest.raises(ValidationError):
        eur("1").split(0)
    with pytest.raises(TypeError):
        eur("1").split(2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ratios", [[], [0, 0], [-1, 2], [Decimal("NaN")], [Decimal("Infinity"), 1]]
)
def test_allocate_refuses_bad_ratios(ratios: list[Decimal | int]) -> None:
    with pytest.raises(ValidationError) as info:
        eur("1").allocate(ratios)
    assert info.value.field == "ratios"


def test_allocate_refuses_float_ratios_and_unrounded_amounts() -> None:
    with pytest.raises(TypeError, match="float"):
        eur("1").allocate([0.3, 0.7])  # type: ignore[list-item]
    with pytest.raises(ValidationError) as info:
        eur("0.005").allocate([1, 1])
    assert info.value.field == "amount"


def test_format() -> None:
    assert eur("1234.5").format() == "€1,234.50"
    assert eur("1234.5").format("de_DE") == "1.234,50\xa0€"
    assert Money(1500, "JPY").format("en") == "¥1,500"


# --------------------------------------------------------------------------------------------
# Laws
# --------------------------------------------------------------------------------------------

currencies = st.sampled_from(CURRENCIES)
decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False
)
# Amounts as rated usage carries them: up to 12 decimal places (results stay exact).
precise = st.decimals(
    min_value=Decimal("-1e12"),
    max_value=Decimal("1e12"),
    places=12,
    allow_nan=False,
    allow_infinity=False,
)


@st.composite
def on_minor_unit(draw: st.DrawFn) -> Money:
    currency = draw(currencies)
    return Money.from_minor_units(draw(st.integers(-(10**12), 10**12)), currency)


@given(
    on_minor_unit(),
    st.lists(
        st.one_of(
            st.integers(0, 1000),
            st.decimals(min_value=0, max_value=1000, places=4),
        ),
        min_size=1,
        max_size=12,
    ).filter(lambda ratios: sum(ratios) > 0),
)
def test_allocate_is_exact_and_fair(money: Money, ratios: list[Decimal | int]) -> None:
    shares = money.allocate(ratios)
    assert len(shares) == len(ratios)
    assert Money.total(shares, money.currency) == money
    unit = Fraction(1, 10**money.exponent)
    total_ratio = sum(Fraction(r) for r in ratios)
    for share, ratio in zip(shares, ratios, strict=True):
        assert share.currency == money.currency
        assert share.is_rounded()
        exact = Fraction(money.amount) * Fraction(ratio) / total_ratio
        assert abs(Fraction(share.amount) - exact) < unit
        if ratio == 0:
            assert share.is_zero()
    assert [-s for s in shares] == (-money).allocate(ratios)


@given(on_minor_unit(), st.integers(1, 50))
def test_split_parts_differ_by_at_most_one_minor_unit(money: Money, parts: int) -> None:
    shares = money.split(parts)
    assert Money.total(shares, money.currency) == money
    units = [s.to_minor_units() for s in shares]
    assert max(units) - min(units) <= 1


@given(decimals, currencies, st.sampled_from(sorted(ROUNDING_MODES)))
def test_rounding_is_idempotent_and_within_one_unit(
    amount: Decimal, currency: str, rounding: str
) -> None:
    once = round_amount(amount, currency, rounding)
    assert round_amount(once, currency, rounding) == once
    assert Money(once, currency).is_rounded()
    unit = Fraction(1, 10 ** currency_exponent(currency))
    assert abs(Fraction(once) - Fraction(amount)) < unit  # exact, whatever the global context


@given(decimals, currencies)
def test_half_up_rounds_to_nearest(amount: Decimal, currency: str) -> None:
    rounded = Money(amount, currency).rounded()
    half_unit = Fraction(1, 2 * 10 ** currency_exponent(currency))
    assert abs(Fraction(rounded.amount) - Fraction(amount)) <= half_unit
    assert Money(-amount, currency).rounded() == -rounded  # symmetric about zero


@given(precise, precise, precise)
def test_addition_is_associative_and_commutative(a: Decimal, b: Decimal, c: Decimal) -> None:
    x, y, z = eur(str(a)), eur(str(b)), Money(c, EUR)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert x + Money.zero(EUR) == x
    assert x - x == Money.zero(EUR)
    assert (x + y) - y == x
    assert Money.total([x, y, z], EUR) == x + y + z


@given(precise, st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_multiplication_distributes(a: Decimal, m: int, n: int) -> None:
    x = eur(str(a))
    assert x * (m + n) == x * m + x * n
    assert x * Decimal(m) == x * m


@given(st.integers(-(10**15), 10**15), currencies)
def test_minor_units_round_trip(units: int, currency: str) -> None:
    assert Money.from_minor_units(units, currency).to_minor_units() == units


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_refused_everywhere(value: float) -> None:
    with pytest.raises(TypeError):
        Money(value, EUR)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        eur("1") * value  # type: ignore[operator]
    with pytest.raises(TypeError):
        eur("1") / value  # type: ignore[operator]
    with pytest.raises(TypeError):
        eur("1").allocate([value])  # type: ignore[list-item]
