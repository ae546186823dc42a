"""Laws of the built-in tax engine (hypothesis): lines + tax = total exactly, document
rounding stays within one minor unit of the exact tax per rate, tax-inclusive gross is
preserved, for any lines, rates, categories and rounding modes."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.billing import tax
from openbss.billing.book import TaxableLine, TaxParty
from openbss.core.money import Money

rates = st.decimals(min_value=0, max_value=30, places=3, allow_nan=False,
                    allow_infinity=False)
amounts = st.integers(min_value=-10**7, max_value=10**7)  # minor units
currencies = st.sampled_from(["EUR", "JPY", "BHD"])
modes = st.sampled_from([ROUND_HALF_UP, ROUND_HALF_EVEN])
pers = st.sampled_from(["line", "document"])


@st.composite
def cases(draw: st.DrawFn) -> tuple[tax.BuiltInTaxEngine, str, list[TaxableLine]]:
    first, second = draw(rates), draw(rates)
    compound = draw(st.booleans())
    table = tax.parse_tax_table(
        "jurisdiction,category,rate,valid_from,valid_to,name,compound\n"
        f"XA,standard,{first},,,T1,false\n"
        f"XA,standard,{second},,,T2,{str(compound).lower()}\n"
        f"XA,reduced,{second},,,T1,false\n")
    currency = draw(currencies)
    lines = [TaxableLine(key=i, amount=Money.from_minor_units(units, currency),
                         tax_category=draw(st.sampled_from(["standard", "reduced", "zero",
                                                            "exempt"])),
                         tax_included=draw(st.booleans()))
             for i, units in enumerate(draw(st.lists(amounts, min_size=1, max_size=8)))]
    return tax.BuiltInTaxEngine(table), currency, lines


PARTY = TaxParty(country="XA")


def run(engine: tax.BuiltInTaxEngine, lines: list[TaxableLine], mode: str, per: str):  # type: ignore[no-untyped-def]
    return engine(seller=PARTY, buyer=PARTY, on=date(2025, 1, 1), lines=lines,
                  rounding=mode, per=per)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(cases(), modes, pers)
def test_lines_plus_tax_equals_total_exactly(case, mode, per) -> None:  # type: ignore[no-untyped-def]
    engine, currency, lines = case
    result = run(engine, lines, mode, per)
    excluded = Money.total((line.tax_excluded for line in result.lines), currency)
    included = Money.total((line.tax_included for line in result.lines), currency)
    taxes = Money.total((item.amount for item in result.breakdown), currency)
    assert excluded + taxes == included
    for line, taxed in zip(lines, result.lines, strict=True):
        assert taxed.tax_excluded.is_rounded() and taxed.tax_included.is_rounded()
        assert taxed.tax_included - taxed.tax_excluded == Money.total(
            (t.amount for t in taxed.taxes), currency)
        if line.tax_included:  # the gross is preserved exactly
            assert taxed.tax_included == line.amount
        else:
            assert taxed.tax_excluded == line.amount


@settings(max_examples=300, deadline=None)
@given(cases(), modes)
def test_document_tax_within_one_minor_unit_of_the_exact_tax(case, mode) -> None:  # type: ignore[no-untyped-def]
    engine, currency, lines = case
    line_result = run(engine, lines, mode, "line")
    doc_result = run(engine, lines, mode, "document")
    unit = Money.from_minor_units(1, currency).amount
    # the exact (unrounded) tax per rate, recomputed independently of the engine
    exact: dict[tuple[str, Decimal, str], Decimal] = {}
    for line in lines:
        rows = engine.table.rate("XA", line.tax_category, date(2025, 1, 1)) \
            if line.tax_category not in ("exempt", "zero") else []
        factor, taxes = Decimal(1), []
        for row in rows:
            base = Decimal(1) + sum(taxes, Decimal(0)) if row.compound else Decimal(1)
            taxes.append(base * row.rate / 100)
        factor += sum(taxes, Decimal(0))
        net = line.amount.amount / factor if line.tax_included else line.amount.amount
        for row, share in zip(rows, taxes, strict=True):
            key = (row.name, row.rate, row.category)
            exact[key] = exact.get(key, Decimal(0)) + net * share
    for item in doc_result.breakdown:
        if item.category == "zero":
            assert item.amount.is_zero()
            continue
        assert abs(item.amount.amount - exact[(item.name, item.rate, item.category)]) \
            <= unit / 2 + Decimal("1e-30")
    # line rounding: each line's tax within half a unit, so the breakdowns agree by
    # at most half a unit per line
    assert len(line_result.breakdown) == len(doc_result.breakdown)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**8), st.sampled_from(sorted(tax.EU_MEMBER_STATES)),
       modes, pers)
def test_builtin_table_inclusive_gross_preserved(units, country, mode, per) -> None:  # type: ignore[no-untyped-def]
    gross = Money.from_minor_units(units, "EUR")
    party = TaxParty(country=country)
    result = tax.tax_engine()(seller=party, buyer=party, on=date(2025, 3, 1),
                              lines=[TaxableLine(0, gross, tax_included=True)],
                              rounding=mode, per=per)  # type: ignore[arg-type]
    line = result.lines[0]
    assert line.tax_included == gross
    rate = result.breakdown[0].rate
    exact = gross.amount * rate / (100 + rate)
    assert abs((gross - line.tax_excluded).amount - exact) <= Decimal("0.005")
