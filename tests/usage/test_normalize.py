"""usage.normalize: one raw record in normal form, or rejected with its reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbss.usage.normalize import (
    Normalized,
    Rejected,
    dedup_key,
    normalize,
    parse_duration,
    parse_volume,
)
from openbss.usage.settings import SourceSettings

BERLIN = SourceSettings(time_zone="Europe/Berlin", default_region="DE")
BASE = {"recordId": "r1", "usageType": "voice", "msisdn": "+4915112345678",
        "usageDate": "2026-01-15T10:00:00Z", "duration": "60"}


def run(raw: dict, settings: SourceSettings = BERLIN, **kw) -> Normalized | Rejected:
    return normalize(raw, source="sw1", settings=settings, default_region="US", **kw)


def ok(raw: dict, **kw) -> Normalized:
    result = run({**BASE, **raw}, **kw)
    assert isinstance(result, Normalized), result
    return result


def rejected(raw: dict, **kw) -> Rejected:
    result = run({**BASE, **raw}, **kw)
    assert isinstance(result, Rejected), result
    return result


@pytest.mark.parametrize(("given", "expected"), [
    ("2026-01-15T10:00:00Z", datetime(2026, 1, 15, 10, tzinfo=UTC)),
    ("2026-01-15T12:00:00+02:00", datetime(2026, 1, 15, 10, tzinfo=UTC)),
    ("2026-01-15 10:00:00", datetime(2026, 1, 15, 9, tzinfo=UTC)),  # Berlin, winter
    ("2026-07-15T10:00:00", datetime(2026, 7, 15, 8, tzinfo=UTC)),  # Berlin, summer
    ("2026-10-25 02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # ambiguous: first
    ("1768471200", datetime(2026, 1, 15, 10, tzinfo=UTC)),
    (1768471200, datetime(2026, 1, 15, 10, tzinfo=UTC)),
    ("1768471200.25", datetime(2026, 1, 15, 10, 0, 0, 250000, tzinfo=UTC)),
    ("2026-01-15 10:00:00.5", datetime(2026, 1, 15, 9, 0, 0, 500000, tzinfo=UTC)),
])
def test_dates_become_utc(given, expected) -> None:
    assert ok({"usageDate": given}).usage_date == expected


@pytest.mark.parametrize("bad", [None, "", "yesterday", "2026-02-30 10:00:00",
                                 "2026-03-29 02:30:00"])  # the last: skipped by DST
def test_bad_dates_are_malformed(bad) -> None:
    raw = {**BASE, "usageDate": bad}
    if bad is None:
        del raw["usageDate"]
    result = run(raw)
    assert isinstance(result, Rejected)
    assert (result.reason, result.field) == ("malformed", "usageDate")


def test_a_mapping_format_and_zone() -> None:
    got = ok({"usageDate": "15/01/2026 10.00"}, timestamp_format="%d/%m/%Y %H.%M",
             time_zone="America/New_York")
    assert got.usage_date == datetime(2026, 1, 15, 15, tzinfo=UTC)


@pytest.mark.parametrize(("alias", "kind"), [("call", "voice"), ("VOICE", "voice"),
                                             ("gprs", "data"), ("text", "sms"),
                                             ("SMS", "sms"), (" data ", "data")])
def test_usage_type_aliases(alias, kind) -> None:
    assert ok({"usageType": alias, "volume": "1", "count": "1"}).usage_type == kind


def test_unknown_type_and_event_without_metric() -> None:
    assert rejected({"usageType": "fax"}).field == "usageType"
    assert rejected({"usageType": "event"}).field == "metric"
    assert ok({"usageType": None, "metric": "apiCalls"}).usage_type == "event"


@pytest.mark.parametrize(("duration", "seconds"), [
    ("130s", 130), ("2m10s", 130), ("1h", 3600), ("1h2m3s", 3723), ("1500ms", "1.5"),
    ("0:02:10", 130), ("130", 130), (130, 130), ("2.5", "2.5"), ("0", 0), ("5min", 300),
])
def test_durations(duration, seconds) -> None:
    got = ok({"duration": duration})
    assert (got.quantity, got.unit) == (Decimal(seconds), "second")


@pytest.mark.parametrize(("volume", "octets"), [
    ("1024", 1024), ("10MB", 10_000_000), ("1.5 GiB", 1610612736), ("2kb", 2000),
    (512, 512),
])
def test_volumes(volume, octets) -> None:
    got = ok({"usageType": "data", "volume": volume})
    assert (got.quantity, got.unit) == (Decimal(octets), "byte")


def test_quantity_with_unit_and_counts() -> None:
    assert ok({"duration": None, "quantity": "2", "unit": "min"}).quantity == 120
    sms = ok({"usageType": "sms", "duration": None})
    assert (sms.quantity, sms.unit) == (1, "message")
    assert ok({"usageType": "sms", "count": "3"}).quantity == 3
    event = ok({"usageType": "event", "metric": "storage", "quantity": "2", "unit": "GB"})
    assert (event.quantity, event.unit) == (2_000_000_000, "byte")
    calls = ok({"usageType": "event", "metric": "api", "quantity": "7", "unit": "call"})
    assert (calls.quantity, calls.unit) == (7, "event")


@pytest.mark.parametrize("bad", ["-5", "NaN", "inf", "abc", "5 parsecs", "1e-12"])
def test_bad_quantities(bad) -> None:
    assert rejected({"duration": bad}).reason == "invalid_quantity"


def test_missing_quantity_of_voice_and_data() -> None:
    assert rejected({"duration": None}).field == "duration"
    assert rejected({"usageType": "data", "duration": None}).field == "volume"


def test_identifiers_and_numbers() -> None:
    got = ok({"msisdn": "0151 12345678", "calledNumber": "030 1234567",
              "callingNumber": "1002"})
    assert got.identifier_name == "msisdn"
    assert got.identifier_value == "+4915112345678"
    assert got.destination == "+49301234567"
    assert got.calling_number == "1002"  # an extension stays as dialled
    assert rejected({"msisdn": "12"}).reason == "malformed"
    other = run({k: v for k, v in BASE.items() if k != "msisdn"} | {"API_KEY": " k1 "})
    assert isinstance(other, Normalized)
    assert (other.identifier_name, other.identifier_value) == ("apiKey", "k1")
    none = run({k: v for k, v in BASE.items() if k != "msisdn"})
    assert isinstance(none, Rejected) and none.field == "identifier"


def test_an_overlong_number_is_malformed_not_cut_to_fit() -> None:
    # a 3,000-digit "+49…" string used to be kept as dialled, clipped to the column's
    # 64 characters at storage and rated by its +49 prefix
    assert ok({"calledNumber": "+49" + "1" * 61}).destination == "+49" + "1" * 61
    long = rejected({"calledNumber": "+49" + "1" * 3000})
    assert (long.reason, long.field) == ("malformed", "calledNumber")
    assert "3003 characters" in long.detail
    assert rejected({"callingNumber": "x" * 65}).field == "callingNumber"


def test_default_region_of_the_tenant() -> None:
    got = run({**BASE, "msisdn": "(201) 555-0123"}, SourceSettings())
    assert isinstance(got, Normalized) and got.identifier_value == "+12015550123"


def test_extra_keys_are_kept() -> None:
    assert ok({"disposition": "ANSWERED"}).extra == {"disposition": "ANSWERED"}


def test_dedup_keys() -> None:
    a = ok({})
    assert a.dedup_key == dedup_key({"recordId": "r1"}, "sw1", None)
    assert ok({"recordId": " r1 "}).dedup_key == a.dedup_key
    assert ok({"recordId": "r2"}).dedup_key != a.dedup_key
    fields = SourceSettings(dedup_fields=["msisdn", "usageDate"])
    one = run({**BASE, "recordId": "x"}, fields)
    two = run({**BASE, "recordId": "y"}, fields)
    assert one.dedup_key == two.dedup_key
    # no record id, no fields: the whole record identifies it
    bare = {k: v for k, v in BASE.items() if k != "recordId"}
    assert run(bare).dedup_key == run(dict(bare)).dedup_key
    assert run(bare).dedup_key != run({**bare, "duration": "61"}).dedup_key


@given(st.integers(min_value=0, max_value=10**6), st.integers(0, 59), st.integers(0, 59))
def test_duration_spellings_agree(hours: int, minutes: int, seconds: int) -> None:
    total = hours * 3600 + minutes * 60 + seconds
    assert parse_duration(f"{hours}h{minutes}m{seconds}s") == total
    assert parse_duration(f"{hours}:{minutes:02d}:{seconds:02d}") == total
    assert parse_duration(str(total)) == total
    assert parse_duration(f"{total * 1000}ms") == total


@given(st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False))
def test_volume_units_scale(value: Decimal) -> None:
    assert parse_volume(f"{value}KB") == parse_volume(str(value * 1000))
    assert parse_volume(f"{value}KiB") == parse_volume(str(value * 1024))


@given(st.dictionaries(st.sampled_from(["recordId", "usageDate", "usageType", "duration",
                                        "msisdn", "volume", "metric", "quantity", "x"]),
                       st.one_of(st.none(), st.text(max_size=12),
                                 st.integers(-5, 2_000_000_000))))
def test_never_raises(raw: dict) -> None:
    result = run(raw)
    assert isinstance(result, (Normalized, Rejected))
    if isinstance(result, Normalized):
        assert result.quantity >= 0 and result.usage_date.tzinfo is UTC
    else:
        assert result.reason in ("malformed", "invalid_quantity")
        assert len(result.dedup_key) == 64
