"""Worked examples of the built-in tax engine (openbss.billing.tax).

Numbers are worked by hand from the rules in the module docstring; the legal rules come
from Council Directive 2006/112/EC (Articles 58, 59, 196) and the European Commission's
"VAT rates applied in the Member States" table; the tax-inclusive split (tax = gross ×
rate / (100 + rate)) is the one Stripe documents for inclusive prices
(https://docs.stripe.com/tax/products-prices-tax-codes-tax-behavior).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest

from openbss.billing import tax
from openbss.billing.book import TaxableLine, TaxParty, TaxResult
from openbss.core.errors import ValidationError
from openbss.core.money import Money

ON = date(2025, 3, 1)
DE = TaxParty(country="DE", vat_id="DE136695976", business=True)
VALID_FR_VAT = "FR40303265045"  # a valid FR number (python-stdnum's test data)


def eur(value: str) -> Money:
    return Money(value, "EUR")


def lines(*amounts: str, category: str = "standard", included: bool = False) -> list[TaxableLine]:
    return [TaxableLine(key=i, amount=eur(a), tax_category=category, tax_included=included)
            for i, a in enumerate(amounts)]


def run(buyer: TaxParty, items: list[TaxableLine], *, seller: TaxParty = DE, on: date = ON,
        rounding: str = ROUND_HALF_UP, per: str = "line",
        engine: tax.BuiltInTaxEngine | None = None) -> TaxResult:
    engine = engine or tax.BuiltInTaxEngine()
    return engine(seller=seller, buyer=buyer, on=on, lines=items, rounding=rounding,
                  per=per)  # type: ignore[arg-type]


def total_tax(result: TaxResult) -> Decimal:
    return sum((item.amount.amount for item in result.breakdown), Decimal(0))


def test_de_standard_rate_on_100() -> None:
    result = run(TaxParty(country="DE"), lines("100.00"))
    assert result.lines[0].tax_included == eur("119.00")
    assert [(i.jurisdiction, i.rate, i.amount) for i in result.breakdown] == [
        ("DE", Decimal(19), eur("19.00"))]
    assert not result.reverse_charge and result.notes == ()


def test_tax_inclusive_119_splits_into_100_and_19() -> None:
    result = run(TaxParty(country="DE"), lines("119.00", included=True))
    line = result.lines[0]
    assert (line.tax_excluded, line.tax_included) == (eur("100.00"), eur("119.00"))
    assert result.breakdown[0].amount == eur("19.00")
    assert result.breakdown[0].taxable == eur("100.00")


@pytest.mark.parametrize(("rounding", "expected"), [(ROUND_HALF_UP, "0.03"),
                                                    (ROUND_HALF_EVEN, "0.02")])
def test_half_up_versus_half_even_on_a_half_cent(rounding: str, expected: str) -> None:
    # 0.10 × 25 % (DK) = 0.025, an x.xx5 tie: half-up → 0.03, half-even → 0.02
    result = run(TaxParty(country="DK"), lines("0.10"), rounding=rounding)
    assert result.breakdown[0].amount == eur(expected)


def test_line_rounding_three_lines_of_0_99() -> None:
    result = run(TaxParty(country="DE"), lines("0.99", "0.99", "0.99"), per="line")
    assert [line.taxes[0].amount for line in result.lines] == [eur("0.19")] * 3
    assert result.breakdown[0].amount == eur("0.57")


def test_document_rounding_three_lines_of_0_99() -> None:
    result = run(TaxParty(country="DE"), lines("0.99", "0.99", "0.99"), per="document")
    assert result.breakdown[0].amount == eur("0.56")  # 2.97 × 0.19 = 0.5643
    assert [line.taxes[0].amount for line in result.lines] == [
        eur("0.19"), eur("0.19"), eur("0.18")]


def test_reverse_charge_de_seller_fr_business_buyer() -> None:
    buyer = TaxParty(country="FR", vat_id=VALID_FR_VAT, business=True)
    result = run(buyer, lines("100.00"))
    assert result.reverse_charge
    assert result.breakdown == ()
    assert result.lines[0].tax_included == eur("100.00")
    assert tax.note_entries(result) == [{"key": "reverseCharge",
                                         "text": tax.NOTES["reverseCharge"]}]
    assert "Article 196 Council Directive 2006/112/EC" in result.notes[0]


def test_invalid_vat_id_is_charged_like_a_consumer() -> None:
    buyer = TaxParty(country="FR", vat_id="FR40303265046", business=True)  # bad check digits
    result = run(buyer, lines("100.00"))
    assert not result.reverse_charge
    assert [(i.jurisdiction, i.amount) for i in result.breakdown] == [("FR", eur("20.00"))]


def test_b2b_same_country_is_charged_domestic_vat() -> None:
    result = run(TaxParty(country="DE", vat_id="DE136695976", business=True), lines("10.00"))
    assert not result.reverse_charge
    assert result.breakdown[0].amount == eur("1.90")


def test_b2c_fr_buyer_of_a_de_seller_pays_french_vat() -> None:
    result = run(TaxParty(country="FR"), lines("100.00"))
    assert [(i.jurisdiction, i.name, i.rate, i.amount) for i in result.breakdown] == [
        ("FR", "TVA", Decimal(20), eur("20.00"))]


def test_buyer_in_the_us_pays_no_vat() -> None:
    result = run(TaxParty(country="US", business=False), lines("100.00"))
    assert result.breakdown == ()
    assert result.lines[0].tax_included == eur("100.00")
    assert [n["key"] for n in tax.note_entries(result)] == ["outsideScope"]


@pytest.mark.parametrize(("on", "rate", "amount"), [
    (date(2023, 12, 31), Decimal(20), "20.00"),
    (date(2024, 1, 1), Decimal(22), "22.00"),
    (date(2025, 7, 1), Decimal(24), "24.00"),
])
def test_effective_dating_estonia(on: date, rate: Decimal, amount: str) -> None:
    result = run(TaxParty(country="EE"), lines("100.00"), on=on)
    assert (result.breakdown[0].rate, result.breakdown[0].amount) == (rate, eur(amount))


def test_effective_dating_finland_and_slovakia() -> None:
    table = tax.builtin_table()
    assert [r.rate for r in table.rate("FI", "standard", date(2024, 8, 31))] == [Decimal(24)]
    assert [r.rate for r in table.rate("FI", "standard", date(2024, 9, 1))] == [
        Decimal("25.5")]
    assert [r.rate for r in table.rate("SK", "standard", date(2025, 1, 1))] == [Decimal(23)]


STACKED = """\
# source: test
jurisdiction,category,rate,valid_from,valid_to,name,compound
CA-QC,standard,5,,,GST,false
CA-QC,standard,9.975,,,QST,false
XC,standard,10,,,BASE,false
XC,standard,5,,,SURTAX,true
"""


def test_stacked_taxes() -> None:
    engine = tax.BuiltInTaxEngine(tax.parse_tax_table(STACKED))
    party = TaxParty(country="CA", region="QC")
    result = run(party, lines("100.00"), seller=party, engine=engine)
    assert [(i.name, i.amount) for i in result.breakdown] == [
        ("GST", Money("5.00", "EUR")), ("QST", Money("9.98", "EUR"))]
    assert result.lines[0].tax_included == eur("114.98")


def test_compound_tax_on_amount_plus_earlier_taxes() -> None:
    engine = tax.BuiltInTaxEngine(tax.parse_tax_table(STACKED))
    party = TaxParty(country="XC")
    result = run(party, lines("100.00"), seller=party, engine=engine)
    # BASE 10 % of 100 = 10.00; SURTAX 5 % of (100 + 10) = 5.50
    assert [(i.name, i.taxable, i.amount) for i in result.breakdown] == [
        ("BASE", eur("100.00"), eur("10.00")), ("SURTAX", eur("110.00"), eur("5.50"))]
    inclusive = run(party, lines("115.50", included=True), seller=party, engine=engine)
    assert inclusive.lines[0].tax_excluded == eur("100.00")


def test_exempt_buyer_and_exempt_category() -> None:
    result = run(TaxParty(country="DE", exempt=True), lines("100.00"))
    assert result.breakdown == () and result.lines[0].tax_included == eur("100.00")
    assert [n["key"] for n in tax.note_entries(result)] == ["exemptCustomer"]
    exempt_line = TaxableLine(key=1, amount=eur("50.00"), tax_category="exempt")
    mixed = run(TaxParty(country="DE"), [*lines("100.00"), exempt_line])
    assert [n["key"] for n in tax.note_entries(mixed)] == ["exemptSupply"]
    assert mixed.lines[1].tax_included == eur("50.00")
    assert total_tax(mixed) == Decimal("19.00")


def test_zero_category_is_listed_at_zero_percent() -> None:
    result = run(TaxParty(country="DE"), lines("40.00", category="zero"))
    assert [(i.jurisdiction, i.category, i.rate, i.taxable, i.amount)
            for i in result.breakdown] == [("DE", "zero", Decimal(0), eur("40.00"), eur("0"))]
    assert result.breakdown[0].name == "MwSt"


def test_negative_lines_reduce_the_tax() -> None:
    result = run(TaxParty(country="DE"), lines("100.00", "-30.00"))
    assert result.breakdown[0].amount == eur("13.30")
    assert result.lines[1].tax_included == eur("-35.70")


def test_region_rates_portugal_azores() -> None:
    result = run(TaxParty(country="PT", region="PT-20"), lines("100.00"))
    assert result.breakdown[0].jurisdiction == "PT-20"
    assert result.breakdown[0].amount == eur("16.00")


def test_unknown_category_names_the_line() -> None:
    with pytest.raises(ValidationError) as info:
        run(TaxParty(country="DK"), lines("1.00", "1.00", category="reduced"))
    assert info.value.field == "lines[0].taxCategory"


def test_bad_rounding_and_mixed_currencies() -> None:
    with pytest.raises(ValidationError) as info:
        run(TaxParty(country="DE"), lines("1.00"), rounding="nearest")
    assert info.value.field == "rounding"
    with pytest.raises(ValidationError) as info:
        run(TaxParty(country="DE"), [TaxableLine(0, eur("1")), TaxableLine(1, Money("1", "USD"))])
    assert info.value.field == "lines[1].amount"


# -- the table -------------------------------------------------------------------------


def test_builtin_table_has_the_27_member_states_and_metadata() -> None:
    table = tax.builtin_table()
    countries = {j for j in table.jurisdictions if "-" not in j}
    assert countries == tax.EU_MEMBER_STATES
    for country in countries:
        assert len(table.rate(country, "standard", ON)) == 1, country
    assert table.metadata["checked"] and "European Commission" in table.metadata["source"]


@pytest.mark.parametrize(("text", "field"), [
    ("jurisdiction,category,rate,valid_from,valid_to,name\nDE,standard,19,,,VAT\n",
     "t.csv:1:compound"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\nDEU,standard,19,,,VAT,false\n",
     "t.csv:2:jurisdiction"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\nDE,standard,x,,,VAT,false\n",
     "t.csv:2:rate"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\nDE,standard,19,,,VAT,false\n"
     "DE,standard,16,2020-07-01,2020-12-31,VAT,false\n", "t.csv:3:valid_from"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\n"
     "DE,standard,19,2021-01-01,2020-01-01,VAT,false\n", "t.csv:2:valid_to"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\nDE,standard,19,,,VAT,maybe\n",
     "t.csv:2:compound"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\nDE,standard,101,,,VAT,false\n",
     "t.csv:2:rate"),
    ("jurisdiction,category,rate,valid_from,valid_to,name,compound\nDE,standard,19,,,VAT\n",
     "t.csv:2:compound"),
])
def test_bad_rows_name_file_line_column(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        tax.parse_tax_table(text, source="t.csv")
    assert info.value.field == field


def test_load_a_tenant_table_from_a_path(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "mine.csv"  # type: ignore[operator]
    path.write_text(STACKED, encoding="utf-8")
    table = tax.load_tax_table(path)
    assert table.source == "mine.csv" and table.metadata == {"source": "test"}
    assert len(table.rate("CA-QC", "standard", ON)) == 2


# -- the port --------------------------------------------------------------------------


def test_registry_plugs_an_external_engine() -> None:
    calls: list[date] = []

    def external(**kwargs: object) -> TaxResult:
        calls.append(kwargs["on"])  # type: ignore[arg-type]
        return TaxResult(lines=(), breakdown=())

    tax.register_tax_engine("test-external", lambda: external, replace=True)
    engine = tax.tax_engine("test-external")
    engine(seller=DE, buyer=DE, on=ON, lines=[], rounding=ROUND_HALF_UP, per="line")
    assert calls == [ON]
    with pytest.raises(ValidationError):
        tax.register_tax_engine("test-external", lambda: external)
    with pytest.raises(ValidationError) as info:
        tax.tax_engine("nope")
    assert info.value.field == "taxEngine"
    assert isinstance(tax.tax_engine(), tax.BuiltInTaxEngine)


# -- the parties -------------------------------------------------------------------------


def test_tax_party_of_an_organization_with_a_vat_id() -> None:
    party = {"@type": "Organization", "contactMedium": [
        {"mediumType": "email", "characteristic": {"emailAddress": "a@b.example"}},
        {"mediumType": "postalAddress", "characteristic": {"country": "FR",
                                                            "city": "Paris"}}],
        "organizationIdentification": [{"identificationType": "VAT",
                                        "identificationId": "FR 40 303 265 045"}]}
    result = tax.tax_party_of({"name": "x"}, party)
    assert result == TaxParty(country="FR", vat_id=VALID_FR_VAT, business=True)


def test_tax_party_of_a_consumer_with_exemption_dates() -> None:
    account = {"taxIdentification": None, "contact": [{"contactMedium": [
        {"mediumType": "postalAddress", "characteristic": {"country": "pt",
                                                            "stateOrProvince": "20"}}]}],
        "taxExemption": [{"issuingJurisdiction": "PT",
                          "validFor": {"startDateTime": "2025-01-01T00:00:00Z",
                                       "endDateTime": "2025-07-01T00:00:00Z"}}]}
    party = {"@type": "Individual"}
    inside = tax.tax_party_of(account, party, on=date(2025, 3, 1))
    assert inside == TaxParty(country="PT", region="PT-20", exempt=True)
    assert not tax.tax_party_of(account, party, on=date(2025, 7, 1)).exempt
    unknown = tax.tax_party_of({}, {"@type": "Individual"})
    assert unknown == TaxParty(country="")
    assert tax.tax_party_of({}, None, default_country="DE").country == "DE"
    bad = {"contact": [{"contactMedium": [{"mediumType": "postalAddress",
                                           "characteristic": {"country": "Germany"}}]}]}
    with pytest.raises(ValidationError) as info:
        tax.tax_party_of(bad, None)
    assert info.value.field == "contactMedium.characteristic.country"


def test_unknown_buyer_location_is_taxed_at_the_seller() -> None:
    result = run(TaxParty(country=""), lines("100.00"))
    assert [(i.jurisdiction, i.amount) for i in result.breakdown] == [("DE", eur("19.00"))]
