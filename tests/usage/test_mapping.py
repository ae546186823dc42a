"""usage.mapping: presets, MAPPING.yaml validation naming the key, CSV and NDJSON
readers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from openbss.usage.mapping import (
    MappingError,
    load_mapping,
    parse_mapping,
    read_csv,
    read_ndjson,
)

SPECS = Path(__file__).resolve().parents[2] / "specs" / "cdr"


def test_asterisk_preset_reads_master_csv() -> None:
    mapping = load_mapping("asterisk")
    [chunk] = list(read_csv(SPECS / "asterisk" / "Master.sample.csv", mapping))
    rows = chunk.to_dicts()
    assert rows[0]["recordId"] == "1768471200.1"
    assert rows[0]["usageDate"] == "2026-01-15 10:00:07"  # answered: the answer time
    assert rows[1]["usageDate"] == "2026-01-15 11:00:00"  # not answered: the start
    assert [r["duration"] for r in rows] == ["120", "0", "0"]  # billsec, not duration
    assert rows[0]["column.duration"] == "127"  # Asterisk's total is kept as extra
    assert rows[0]["accountNumber"] == "acct-1001"
    assert rows[0]["callingNumber"] == "1001" and rows[0]["calledNumber"] == "15551234567"
    assert {r["usageType"] for r in rows} == {"voice"}
    assert rows[2]["userfield"] == "promo-A" and rows[0]["disposition"] == "ANSWERED"


def test_freeswitch_preset_reads_the_example_template(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text('"Alice","1001","1002","default","2026-01-15 10:00:00",'
                    '"2026-01-15 10:00:05","2026-01-15 10:02:05","125","120",'
                    '"NORMAL_CLEARING","a1b2c3","","acct-1001","PCMU","PCMU"\n')
    [chunk] = list(read_csv(path, load_mapping("freeswitch")))
    [row] = chunk.to_dicts()
    assert (row["recordId"], row["usageDate"], row["duration"]) == (
        "a1b2c3", "2026-01-15 10:00:05", "120")
    assert row["accountNumber"] == "acct-1001" and row["calledNumber"] == "1002"
    assert row["column.duration"] == "125" and row["hangup_cause"] == "NORMAL_CLEARING"


def test_a_custom_mapping_by_position_with_constants(tmp_path: Path) -> None:
    path = tmp_path / "cdr.txt"
    path.write_text("x;+4915112345678;90;2026-01-15T10:00:00Z\n")
    mapping = parse_mapping({"header": False, "delimiter": ";",
                             "columns": {"recordId": 1, "MSISDN": 2, "duration": 3,
                                         "usageDate": 4},
                             "constants": {"usageType": "call"},
                             "units": {"duration": "ms"}})
    [chunk] = list(read_csv(path, mapping))
    assert chunk.to_dicts() == [{"recordId": "x", "msisdn": "+4915112345678",
                                 "duration": "90", "usageDate": "2026-01-15T10:00:00Z",
                                 "usageType": "call"}]
    assert mapping.units == {"duration": "ms"}


def test_the_generic_preset_is_the_identity(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("recordId,usageDate,msisdn,foo,source\n1,2026-01-15,+49151,bar,x\n")
    [chunk] = list(read_csv(path, load_mapping("generic")))
    assert chunk.columns == ["recordId", "usageDate", "msisdn", "foo"]  # source: --source


@pytest.mark.parametrize(("doc", "key"), [
    ({"colums": {}}, "colums"),
    ({"format": "xml"}, "format"),
    ({"header": "yes"}, "header"),
    ({"delimiter": ";;"}, "delimiter"),
    ({"columns": {"duraton": "billsec"}}, "columns.duraton"),
    ({"columns": {"duration": 0}}, "columns.duration"),
    ({"columns": {"duration": True}}, "columns.duration"),
    ({"fields": ["a", "b"], "header": False, "columns": {"duration": "c"}},
     "columns.duration"),
    ({"fields": ["a"], "header": False, "columns": {"duration": 2}}, "columns.duration"),
    ({"fields": ["a", "a"]}, "fields"),
    ({"header": False, "columns": {"duration": "billsec"}}, "fields"),
    ({"columns": {"usageType": "t"}, "usageType": "voice"}, "constants.usageType"),
    ({"constants": {"usageType": "voice"}, "usageType": "voice"}, "usageType"),
    ({"constants": {"colour": "red"}}, "constants.colour"),
    ({"timeZone": "Mars/Olympus"}, "timeZone"),
    ({"timestampFormat": "YYYY-MM-DD"}, "timestampFormat"),
    ({"units": {"count": "s"}}, "units.count"),
    ({"columns": {"msisdn": "a", "MSISDN": "b"}}, "columns.MSISDN"),
])
def test_bad_mappings_name_the_key(doc, key) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(doc)
    assert caught.value.key == key, str(caught.value)


def test_mapping_files(tmp_path: Path) -> None:
    good = tmp_path / "pbx.yaml"
    good.write_text("columns: {recordId: id, msisdn: caller}\nusageType: voice\n")
    mapping = load_mapping(str(good))
    assert mapping.name == "pbx" and mapping.columns["msisdn"] == ("caller",)
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [unclosed\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(str(bad))
    with pytest.raises(MappingError, match="cannot read mapping"):
        load_mapping(str(tmp_path / "missing.yaml"))


def test_a_column_the_file_does_not_have(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(MappingError, match="no column 'billsec'"):
        list(read_csv(path, parse_mapping({"columns": {"duration": "billsec"}})))


def test_ndjson_lines(tmp_path: Path) -> None:
    path = tmp_path / "u.ndjson"
    path.write_text(
        '{"usageDate": "2026-01-15T10:00:00Z", "usageType": "voice", "usageCharacteristic":'
        ' [{"name": "msisdn", "value": "+4915112345678"}, {"name": "duration",'
        ' "value": 1.5}]}\n'
        '\n'
        '{"recordId": "r2", "msisdn": "+4915112345678", "duration": "60"}\n'
        '[1, 2]\n'
        '{not json\n')
    [chunk] = list(read_ndjson(path))
    assert chunk[0] == {"usageDate": "2026-01-15T10:00:00Z", "usageType": "voice",
                        "msisdn": "+4915112345678", "duration": Decimal("1.5")}
    assert isinstance(chunk[0]["duration"], Decimal)  # exact, never a float
    assert chunk[1]["recordId"] == "r2"
    assert chunk[2:] == ["[1, 2]", "{not json"]
