"""Month steps of a test clock keep the anchor day: 31 Jan -> 28 Feb -> 31 Mar -> 30 Apr."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openbss.core.errors import ValidationError
from openbss.core.periods import add_months


def _at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.mark.parametrize(("start", "months", "anchor", "expected"), [
    (_at(2026, 1, 31), 1, None, _at(2026, 2, 28)),
    (_at(2026, 2, 28), 1, 31, _at(2026, 3, 31)),
    (_at(2026, 3, 31), 1, 31, _at(2026, 4, 30)),
    (_at(2028, 1, 31), 1, 31, _at(2028, 2, 29)),  # leap year
    (_at(2028, 2, 29), 12, 29, _at(2029, 2, 28)),
    (_at(2029, 2, 28), 36, 29, _at(2032, 2, 29)),
    (_at(2026, 11, 30, 7), 3, 30, _at(2027, 2, 28, 7)),  # over a year end, time kept
    (_at(2026, 3, 31), -1, None, _at(2026, 2, 28)),
])
def test_add_months(start: datetime, months: int, anchor: int | None,
                    expected: datetime) -> None:
    assert add_months(start, months, anchor_day=anchor) == expected


def test_add_months_refuses_naive_and_out_of_range() -> None:
    with pytest.raises(ValidationError):
        add_months(datetime(2026, 1, 1), 1)
    with pytest.raises(ValidationError) as exc:
        add_months(_at(9999, 12, 1), 1)
    assert exc.value.field == "months"


def _advance(client, h, **body):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/testClock/advance", json=body, headers=h)
    assert r.status_code == 200, r.text
    return r.json()["now"]


def test_month_steps_from_the_31st_keep_the_anchor(client, make_tenant):
    h = make_tenant(sandbox=True, clock_start=_at(2026, 1, 31, 9)).headers()
    steps = [_advance(client, h, months=1) for _ in range(3)]
    assert steps == ["2026-02-28T09:00:00Z", "2026-03-31T09:00:00Z", "2026-04-30T09:00:00Z"]
    assert _advance(client, h, months=10) == "2027-02-28T09:00:00Z"
    assert _advance(client, h, months=1) == "2027-03-31T09:00:00Z"


def test_leap_years(client, make_tenant):
    h = make_tenant(sandbox=True, clock_start=_at(2028, 1, 31)).headers()
    assert _advance(client, h, months=1) == "2028-02-29T00:00:00Z"
    assert _advance(client, h, months=1) == "2028-03-31T00:00:00Z"
    h = make_tenant(sandbox=True, clock_start=_at(2028, 2, 29)).headers()
    assert _advance(client, h, months=12) == "2029-02-28T00:00:00Z"
    assert _advance(client, h, months=36) == "2032-02-29T00:00:00Z"


def test_other_moves_set_a_new_anchor(client, make_tenant):
    h = make_tenant(sandbox=True, clock_start=_at(2026, 1, 31)).headers()
    assert _advance(client, h, months=1) == "2026-02-28T00:00:00Z"
    assert _advance(client, h, days=1) == "2026-03-01T00:00:00Z"  # anchor now the 1st
    assert _advance(client, h, months=1) == "2026-04-01T00:00:00Z"
    assert _advance(client, h, to="2026-05-30T00:00:00Z") == "2026-05-30T00:00:00Z"
    assert _advance(client, h, months=9) == "2027-02-28T00:00:00Z"
    assert _advance(client, h, months=1) == "2027-03-30T00:00:00Z"
    # months and days together: the month step from the anchor, then the days
    assert _advance(client, h, months=1, days=2) == "2027-05-02T00:00:00Z"
