"""The CGRateS CSV reader/writer and the TariffSet JSON round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from openbss.core.errors import ValidationError
from openbss.rating.cgrates_csv import ignored_files, read_dir, write_dir
from openbss.rating.tariff import RateSlot, TariffSet

TUTORIAL = Path(__file__).resolve().parents[2] / "specs/cdr/cgrates-tutorial-tariffplan"


def test_reads_the_tutorial_plan() -> None:
    t = read_dir(TUTORIAL)
    assert t.destinations["DST_1002"] == ("1002",)
    assert t.rates["RT_20CNT"] == (RateSlot(D("0.4"), D("0.2"), D(60), D(60), D(0)),
                                   RateSlot(D(0), D("0.1"), D(60), D(1), D(60)))
    dr = t.destination_rates["DR_1003_MAXCOST_DISC"][0]
    assert (dr.max_cost, dr.max_cost_strategy, dr.rounding_method, dr.rounding_decimals) == (
        D("0.12"), "*disconnect", "*up", 4)
    assert t.destination_rates["DR_SMS"][0].destination_id == "*any"
    assert [b.destination_rates_id for b in t.rating_plans["RP_1001"]] == [
        "DR_1002_20CNT", "DR_1003_MAXCOST_DISC"]
    p = t.rating_profiles[0]
    assert (p.tenant, p.category, p.subject, p.activation_time, p.rating_plan_id) == (
        "cgrates.org", "call", "1001", datetime(2014, 1, 14, tzinfo=UTC), "RP_1001")
    assert len(t.rating_profiles) == 8
    assert t.count_rates == {"RT_SMS", "RT_MMS"}
    assert "Attributes.csv" in ignored_files(TUTORIAL)
    assert "Rates.csv" not in ignored_files(TUTORIAL)


def test_round_trip_read_write_read(tmp_path: Path) -> None:
    t = read_dir(TUTORIAL)
    write_dir(t, tmp_path)
    again = read_dir(tmp_path)
    assert again == t
    rates = (tmp_path / "Rates.csv").read_text().splitlines()
    assert rates[0] == "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart"
    assert "RT_20CNT,0.4,0.2,60s,60s,0s" in rates
    assert "RT_SMS,0,0.01,1,1,0" in rates  # counts stay counts


def test_json_round_trip() -> None:
    t = read_dir(TUTORIAL)
    text = json.dumps(t.to_dict())
    assert TariffSet.from_dict(json.loads(text)) == t


def test_timings_and_old_profile_layout(tmp_path: Path) -> None:
    (tmp_path / "Destinations.csv").write_text("#Id,Prefix\nDST_DE,49\nDST_DE,+49\n")
    (tmp_path / "Rates.csv").write_text("#Id,...\nRT,0.1,1.2,1m,1m,0\nRT,,1.2,1m,1s,1m\n")
    (tmp_path / "DestinationRates.csv").write_text("#\nDR,DST_DE,RT,*middle,2,,\n")
    (tmp_path / "Timings.csv").write_text(
        "#Id,Years,Months,MonthDays,WeekDays,Time\n"
        "PEAK,*any,*any,*any,1;2;3;4;5,08:00:00\nNEW_YEAR,*any,1,1,*any,00:00:00\n")
    (tmp_path / "RatingPlans.csv").write_text("#\nRP,DR,PEAK,10\nRP,DR,NEW_YEAR,20\n")
    (tmp_path / "RatingProfiles.csv").write_text(
        "#Direction,Tenant,Category,Subject,ActivationTime,RatingPlanId,Fallback\n"
        "*out,t,call,*any,2019-03-01T00:00:00Z,RP,a;b\n")
    t = read_dir(tmp_path, currency="USD", time_zone="Europe/Berlin")
    assert t.currency == "USD" and t.time_zone == "Europe/Berlin"
    assert t.destinations["DST_DE"] == ("49", "+49")
    assert t.rates["RT"][1].connect_fee == 0 and t.rates["RT"][1].group_interval_start == 60
    assert t.timings["PEAK"].week_days == (1, 2, 3, 4, 5)
    assert t.timings["NEW_YEAR"].months == (1,) and t.timings["NEW_YEAR"].month_days == (1,)
    assert t.rating_profiles[0].fallback_subjects == ("a", "b")
    write_dir(t, tmp_path / "out")
    assert read_dir(tmp_path / "out", currency="USD", time_zone="Europe/Berlin") == t


@pytest.mark.parametrize(("file", "content", "field"), [
    ("Rates.csv", "RT,0.1,abc,60s,60s,0s\n", "Rates.csv:1:Rate"),
    ("Rates.csv", "RT,0.1,0.2,60s,-1s,0s\n", "Rates.csv:1:RateIncrement"),
    ("Rates.csv", "RT,0.1,0.2,60s,0s,0s\n", "rates[RT][0].rateIncrement"),
    ("DestinationRates.csv", "DR,DST,RT,*up,x,0,\n", "DestinationRates.csv:1:RoundingDecimals"),
    ("DestinationRates.csv", "DR,DST,RT,*sideways,4,0,\n",
     "destinationRates[DR][0].roundingMethod"),
    ("DestinationRates.csv", "DR,NOPE,RT,*up,4,0,\n", "destinationRates[DR][0].destinationId"),
    ("RatingProfiles.csv", "t,call,1,yesterday,RP,\n", "RatingProfiles.csv:1:ActivationTime"),
    ("Timings.csv", "T,*any,13,*any,*any,00:00:00\n", "timings[T].months"),
    ("Timings.csv", "T,*any,*any,*any,*any,25:00:00\n", "timings[T].time"),
])
def test_bad_rows_name_file_line_and_column(tmp_path: Path, file: str, content: str,
                                            field: str) -> None:
    base = {"Destinations.csv": "DST,1\n", "Rates.csv": "RT,0,0.1,60s,1s,0s\n",
            "DestinationRates.csv": "DR,DST,RT,*up,4,0,\n", "RatingPlans.csv": "RP,DR,*any,10\n",
            "RatingProfiles.csv": "t,call,1,2020-01-01T00:00:00Z,RP,\n"}
    base[file] = content
    for name, text in base.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValidationError) as err:
        read_dir(tmp_path)
    assert err.value.field == field


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        read_dir(tmp_path / "missing")
    assert err.value.field == "directory"


def test_from_dict_names_the_path() -> None:
    d = read_dir(TUTORIAL).to_dict()
    d["rates"]["RT_10CNT"][1]["rateIncrement"] = "0"
    with pytest.raises(ValidationError) as err:
        TariffSet.from_dict(d)
    assert err.value.field == "rates[RT_10CNT][1].rateIncrement"
    d = read_dir(TUTORIAL).to_dict()
    d["rates"]["RT_10CNT"][0]["rate"] = 0.1  # a float is refused (money is exact)
    with pytest.raises(ValidationError) as err:
        TariffSet.from_dict(d)
    assert err.value.field == "rates[RT_10CNT][0].rate"
    with pytest.raises(ValidationError) as err:
        TariffSet.from_dict({"bogus": 1})
    assert err.value.field == "bogus"


def test_merge() -> None:
    t = read_dir(TUTORIAL)
    assert t.merge(t) == t
    d = t.to_dict()
    other = TariffSet.from_dict({**d, "destinations": {**d["destinations"], "DST_1002": ["9"]}})
    with pytest.raises(ValidationError) as err:
        t.merge(other)
    assert err.value.field == "destinations[DST_1002]"
    extra = TariffSet(destinations={"DST_X": ("77",)})
    merged = t.merge(extra)
    assert merged.destinations["DST_X"] == ("77",) and "DST_1002" in merged.destinations
