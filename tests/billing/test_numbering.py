"""Gapless invoice numbers: sequential per tenant, series and year; a rollback gives its
numbers back; concurrent issuers never share or skip a number (SQLite and PostgreSQL:
the suite runs on whichever ``OPENBSS_DATABASE_URL`` names)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from openbss.billing import numbering
from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import ValidationError


def _numbers(tenant: Any, *, series: str = "INV", year: int = 2026, count: int = 1,
             fail: bool = False) -> list[str]:
    with unit_of_work() as session:
        ctx = system_context(session, load_tenant(session, tenant.id))  # type: ignore[arg-type]
        got = numbering.next_numbers(ctx, series=series, year=year, count=count)
        if fail:
            raise RuntimeError("the issuing transaction fails after taking numbers")
        return got


def test_format_is_series_year_and_six_digits() -> None:
    assert numbering.format_number("INV", 2026, 123) == "INV-2026-000123"
    assert numbering.format_number("CN", 2027, 1_234_567) == "CN-2027-1234567"


def test_numbers_follow_each_other_per_series_and_year(tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    assert _numbers(tenant, count=3) == ["INV-2026-000001", "INV-2026-000002",
                                         "INV-2026-000003"]
    assert _numbers(tenant) == ["INV-2026-000004"]
    # another series, another year and another tenant each count on their own
    assert _numbers(tenant, series="CN") == ["CN-2026-000001"]
    assert _numbers(tenant, year=2027) == ["INV-2027-000001"]
    assert _numbers(other_tenant) == ["INV-2026-000001"]
    assert _numbers(tenant, count=0) == []


def test_negative_count_is_refused(tenant) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        _numbers(tenant, count=-1)
    assert exc.value.field == "count"


def test_a_rollback_leaves_no_gap(tenant) -> None:  # type: ignore[no-untyped-def]
    assert _numbers(tenant, count=2) == ["INV-2026-000001", "INV-2026-000002"]
    with pytest.raises(RuntimeError):
        _numbers(tenant, count=5, fail=True)
    # the five numbers the failed transaction took are given out again
    assert _numbers(tenant, count=2) == ["INV-2026-000003", "INV-2026-000004"]


def test_first_use_rolled_back_creates_no_row_and_no_gap(tenant) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError):
        _numbers(tenant, series="X", fail=True)
    assert _numbers(tenant, series="X") == ["X-2026-000001"]


def test_concurrent_issuers_get_every_number_once(tenant) -> None:  # type: ignore[no-untyped-def]
    threads_n, per_thread = 8, 5
    got: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def work(i: int) -> None:
        try:
            start.wait()
            for j in range(per_thread):
                if (i + j) % 4 == 0:  # every fourth transaction rolls back
                    with pytest.raises(RuntimeError):
                        _numbers(tenant, fail=True)
                    continue
                numbers = _numbers(tenant)
                with lock:
                    got.extend(numbers)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    committed = sum(1 for i in range(threads_n) for j in range(per_thread) if (i + j) % 4)
    assert len(got) == committed
    assert sorted(got) == [f"INV-2026-{n:06d}" for n in range(1, committed + 1)]
