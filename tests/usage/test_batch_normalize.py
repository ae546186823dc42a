"""usage.batch.normalize_frame equals usage.normalize.normalize, row by row, on random
input (the vectorized path computes the common forms with Polars)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.usage.batch import Reading, normalize_frame
from openbss.usage.normalize import Normalized, Rejected, normalize
from openbss.usage.settings import SourceSettings

DATES = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S+05:30")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")),
    st.integers(0, 4_000_000_000).map(str),
    st.sampled_from(["2026-03-29 02:30:00", "2026-10-25 02:30:00", "2026-03-08 02:30:00",
                     "2026-11-01 01:30:00", " 2026-01-15 10:00:00", "2026-02-30 10:00:00",
                     "2026-01-15", "soon", "", "2026-01-15 24:00:00", "1768471200.5",
                     # the edges of the accepted years (usage.normalize.FIRST_DATE/END_DATE)
                     "0001-01-01T00:00:00+05:30", "0001-01-01 00:00:00", "9999-12-31T23:59:59Z",
                     "8999-12-31T23:59:59Z", "9000-01-01T00:00:00Z", "1899-12-31T23:59:59Z",
                     "1900-01-01 00:00:00", "253402300799", "999999999999"]),
)
TYPES = st.sampled_from(["voice", "call", "SMS", "text", "gprs", "data", "event", "fax",
                         " voice ", "", None])
NUMBERS = st.one_of(st.integers(-3, 5000).map(str),
                    st.sampled_from(["130s", "2m10s", "1500ms", "0:02:10", "abc", "NaN",
                                     "1.5", " 60 ", "", "10MB", "1.5GiB", "3 KB", None,
                                     "1e-12"]))
MSISDNS = st.sampled_from(["+4915112345678", "015112345678", "0151 1234 5678", "12",
                           "+12015550123", "(201) 555-0123", " ", "", None])
CALLED = st.sampled_from(["+49301234567", "030 1234567", "1002", "0049 30 1234567",
                          "sip:1002@pbx", "", None,
                          # 64 characters are kept, 65 and more are malformed
                          "+49" + "1" * 61, "+49" + "1" * 62, "9" * 3000])
ROW = st.fixed_dictionaries({
    "recordId": st.one_of(st.none(), st.text("abc12 ", max_size=4)),
    "usageDate": DATES, "usageType": TYPES,
    "metric": st.sampled_from([None, "", "apiCalls", " storage "]),
    "duration": NUMBERS, "volume": NUMBERS,
    "quantity": st.one_of(st.none(), st.sampled_from(["1", "2.5", "-1", "x", ""])),
    "unit": st.sampled_from([None, "", "min", "GB", "call", "parsec"]),
    "count": st.sampled_from([None, "", "3", "-1"]),
    "msisdn": MSISDNS, "imsi": st.sampled_from([None, "", "262011234567890"]),
    "calledNumber": CALLED, "disposition": st.sampled_from([None, "ANSWERED"]),
})
SETTINGS = st.sampled_from([
    SourceSettings(time_zone="Europe/Berlin", default_region="DE"),
    SourceSettings(time_zone="America/New_York"),
    SourceSettings(),
    SourceSettings(time_zone="Europe/Berlin", dedup_fields=["msisdn", "usageDate"]),
])


def _scalar(raw: dict, reading: Reading) -> Normalized | Rejected:
    return normalize({k: v for k, v in raw.items() if v is not None}, source=reading.source,
                     settings=reading.settings, default_region=reading.default_region,
                     timestamp_format=reading.timestamp_format,
                     time_zone=reading.time_zone, units=reading.units or None)


def check(rows: list[dict], reading: Reading) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))
    accepted, rejected = normalize_frame(frame, reading, offset=10)
    by_row = {r["row"]: r for r in accepted.iter_rows(named=True)}
    rejects = dict(rejected)
    assert len(by_row) + len(rejects) == len(rows)
    for i, raw in enumerate(rows, start=10):
        want = _scalar(raw, reading)
        if isinstance(want, Rejected):
            got = rejects[i]
            assert (got.reason, got.field, got.detail, got.dedup_key) == (
                want.reason, want.field, want.detail, want.dedup_key), raw
            continue
        assert i in by_row, (raw, rejects.get(i))
        got_row = by_row[i]
        for name in ("record_id", "dedup_key", "usage_date", "usage_type", "metric",
                     "unit", "identifier_name", "identifier_value", "destination",
                     "source"):
            assert got_row[name] == getattr(want, name), (name, raw)
        assert Decimal(got_row["quantity"]) == want.quantity, raw


@settings(max_examples=60, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=40), SETTINGS)
def test_frame_equals_scalar(rows: list[dict], source_settings: SourceSettings) -> None:
    check(rows, Reading("sw1", source_settings, "US"))


@settings(max_examples=20, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=20))
def test_frame_equals_scalar_with_a_mapping_format(rows: list[dict]) -> None:
    reading = Reading("sw1", SourceSettings(), "DE", timestamp_format="%Y-%m-%d %H:%M:%S",
                      time_zone="Europe/Berlin", units={"duration": "ms"})
    check(rows, reading)


def test_columns_of_other_identifiers_and_extras() -> None:
    rows = [{"usageDate": "2026-01-15 10:00:00", "usageType": "voice", "duration": "5",
             "recordId": "1", "User Name": "alice", "column.duration": "9"},
            {"usageDate": "2026-01-15 10:00:00", "usageType": "voice", "duration": "5",
             "recordId": "2", "User Name": None, "column.duration": "9"}]
    check(rows, Reading("pbx", SourceSettings(), "US"))


def test_dates_outside_the_accepted_years_are_malformed() -> None:
    reading = Reading("sw1", SourceSettings(time_zone="Europe/Berlin"), "DE")
    dates = ["0001-01-01T00:00:00+14:00", "9999-12-01T00:00:00Z", "9000-01-01T00:00:00Z",
             "1899-12-31T23:59:59Z", "0001-01-01 00:00:00", "253402300799"]
    rows = [{"recordId": str(i), "usageDate": d, "usageType": "voice", "duration": "5",
             "msisdn": "+4915112345678"} for i, d in enumerate(dates)]
    rows.append({**rows[0], "recordId": "ok", "usageDate": "8999-12-31T23:59:59Z"})
    check(rows, reading)
    accepted, rejected = normalize_frame(pl.DataFrame(rows), reading)
    assert accepted["record_id"].to_list() == ["ok"]
    assert {(r.reason, r.field) for _, r in rejected} == {("malformed", "usageDate")}
    assert all("outside the years 1900–8999" in r.detail or "is not a date" in r.detail
               for _, r in rejected)
