"""cost_frame (vectorized) gives exactly what rate_plan gives, row by row, on random tariffs
and calls — timings, slots, increments, max cost, rounding, skips and errors included."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_telecom_properties import calls, tariffs

from openbss.core.errors import OpenBSSError
from openbss.rating import telecom_vector
from openbss.rating.cgrates_csv import read_dir
from openbss.rating.tariff import TariffSet
from openbss.rating.telecom import rate_plan
from openbss.rating.telecom_vector import cost_frame

TUTORIAL = Path(__file__).resolve().parents[2] / "specs/cdr/cgrates-tutorial-tariffplan"
ERRORS = {"UNAUTHORIZED_DESTINATION": "unrated_destination",
          "RATING_PLAN_NOT_FOUND": "rating_plan_not_found"}


def _frame(rows: list[dict[str, Any]], *, scale: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {"rating_plan": [r["rating_plan_id"] for r in rows],
         "destination": [r["destination"] for r in rows],
         "answer_time": [r["answer_time"] for r in rows],
         "usage": [r["usage"] for r in rows], "skip": [r["skip"] for r in rows],
         "usage_type": [r["usage_type"] for r in rows]},
        schema={"rating_plan": pl.Utf8, "destination": pl.Utf8,
                "answer_time": pl.Datetime("us", "UTC"), "usage": pl.Decimal(20, scale),
                "skip": pl.Decimal(20, scale), "usage_type": pl.Utf8})


def _scalar(t: TariffSet, row: dict[str, Any]) -> tuple[Any, ...]:
    try:
        c = rate_plan(t, **row)
    except OpenBSSError as exc:
        return (None, None, None, None, None, None, ERRORS[exc.code])
    return (c.cost, c.connect_fee, c.destination_id, c.destination_rate_id, c.rates_id,
            c.usage, None)


def _check(t: TariffSet, rows: list[dict[str, Any]]) -> None:
    out = cost_frame(t, _frame(rows))
    assert out.height == len(rows)
    assert out["usage"].to_list() == [r["usage"] for r in rows]  # same order
    got = out.select(list(telecom_vector.OUTPUT_COLUMNS)).rows()
    for row, vector in zip(rows, got, strict=True):
        assert vector == _scalar(t, row), row


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_cost_frame_equals_rate_plan_on_every_row(data: Any) -> None:
    t = data.draw(tariffs())
    rows = data.draw(st.lists(calls(t), min_size=1, max_size=25))
    _check(t, rows)


def test_tutorial_rows_and_the_one_by_one_count() -> None:
    t = read_dir(TUTORIAL)
    at = datetime(2014, 8, 4, 13, tzinfo=UTC)
    rows = [{"rating_plan_id": p, "destination": d, "answer_time": a, "usage": D(u),
             "skip": D(s), "usage_type": "voice"}
            for p, d, a, u, s in [
                ("RP_1001", "1002", at, 130, 0), ("RP_1001", "1003", at, 60, 0),
                ("RP_1001", "1002", at, 130, 70), ("RP_1001", "1009", at, 5, 0),
                ("NOPE", "1002", at, 5, 0), ("RP_SMS", "49", at, 1, 0),
                ("RP_1001", "1002", datetime(2014, 8, 4, 23, 59, 30, tzinfo=UTC), 90, 0),
                ("RP_1001", "1002", datetime(2014, 8, 4, 23, 59, 30, tzinfo=UTC), 2 * 86400,
                 0)]]
    out = cost_frame(t, _frame(rows))
    assert out["cost"].to_list()[:3] == [D("0.7169"), D("0.12"), D("0.1002")]
    assert out["error"].to_list()[3:5] == ["unrated_destination", "rating_plan_not_found"]
    assert out["rated_usage"].to_list()[1] == D(12)
    # the call crossing midnight is cut there in the frame; the one crossing two
    # midnights went through rate_plan
    assert telecom_vector.LAST_STATS.one_by_one == 1
    _check(t, rows)


def test_empty_frame_and_integer_columns() -> None:
    t = read_dir(TUTORIAL)
    empty = cost_frame(t, _frame([]))
    assert empty.height == 0 and "cost" in empty.columns
    f = pl.DataFrame({"rating_plan": ["RP_1001"], "destination": ["1002"],
                      "answer_time": [datetime(2014, 8, 4, 13, tzinfo=UTC)],
                      "usage": [130], "skip": [0]})
    assert cost_frame(t, f)["cost"].to_list() == [D("0.7169")]
