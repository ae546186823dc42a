"""The pure validation rules of the party context: worked examples and laws."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.party import validation as v

# Valid VAT ids from the python-stdnum documentation and the EU VIES examples.
VALID_VAT = [
    ("DE136695976", None, "DE136695976"),
    ("136695976", "DE", "DE136695976"),
    ("NL004495445B01", "NL", "NL004495445B01"),
    ("FR 40 303 265 045", "FR", "FR40303265045"),
    ("BE0403019261", None, "BE0403019261"),
    ("EL094259216", None, "EL094259216"),
    ("094259216", "GR", "EL094259216"),
]
INVALID_VAT = [("DE136695970", None), ("NL004495446B01", "NL"), ("12345", None)]


@pytest.mark.parametrize(("number", "authority", "expected"), VALID_VAT)
def test_valid_vat_ids_are_compacted_with_their_prefix(number, authority, expected):
    assert v.vat_id(number, authority) == expected


@pytest.mark.parametrize(("number", "authority"), INVALID_VAT)
def test_invalid_vat_ids_are_refused(number, authority):
    with pytest.raises(v.InvalidValue):
        v.vat_id(number, authority)


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("+49 151 23456789", None, "+4915123456789"),
    ("0151 23456789", "DE", "+4915123456789"),
    ("(0151) 234-567-89", "DE", "+4915123456789"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("(415) 555-2671", "US", "+14155552671"),
])
def test_phone_numbers_become_e164(raw, region, expected):
    assert v.e164(raw, region) == expected


@pytest.mark.parametrize(("raw", "region"), [("12", "DE"), ("not a phone", "DE"),
                                             ("+49 1", None)])
def test_bad_phone_numbers_are_refused(raw, region):
    with pytest.raises(v.InvalidValue):
        v.e164(raw, region)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["DE", "GB", "US", "FR", "CH", "JP"]),
       st.sampled_from([phonenumbers.PhoneNumberType.MOBILE,
                        phonenumbers.PhoneNumberType.FIXED_LINE]))
def test_e164_is_idempotent_and_format_independent(region, kind):
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        return
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    canonical = v.e164(international, None)
    assert v.e164(national, region) == canonical  # any format, same key
    assert v.e164(canonical, None) == canonical  # idempotent


@pytest.mark.parametrize(("raw", "expected"), [("de", "DE"), ("DEU", "DE"), ("276", "DE"),
                                               ("Germany", "DE"), ("UK", "GB"), ("EL", "GR")])
def test_country_codes(raw, expected):
    assert v.country_code(raw) == expected


def test_subdivisions_and_unknowns():
    assert v.subdivision_code("CA", "US") == "US-CA"
    assert v.subdivision_code("Bayern", "DE") == "DE-BY"
    with pytest.raises(v.InvalidValue):
        v.subdivision_code("XX", "US")
    with pytest.raises(v.InvalidValue):
        v.country_code("Narnia")


def test_emails_time_zones_and_locales():
    assert v.email("Ada@Example.org") == "Ada@example.org"
    for bad in ("ada", "ada@", "@example.org", "a b@example.org"):
        with pytest.raises(v.InvalidValue):
            v.email(bad)
    assert v.time_zone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(v.InvalidValue):
        v.time_zone("Mars/Olympus")
    assert v.locale("de_DE") in ("de_DE", "de-DE")
