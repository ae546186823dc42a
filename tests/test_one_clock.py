"""One clock: business time is ``ctx.now`` and real time is read only in ``core/clock.py``.

The scan parses every module of ``src/openbss`` and fails on any read of the wall clock
(``datetime.now``/``utcnow``/``today``, ``date.today``, ``time.time``/``monotonic``/
``perf_counter`` and their ``_ns`` forms, ``loop.time()``, SQL ``func.now()`` ...) outside the
places allowed below, each with its reason. The behaviour tests show that replacing
``clock.utcnow`` moves every tenant's business time and the webhook delivery schedule,
while a sandbox tenant's business time stays on its test clock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import pytest
from sqlalchemy import select

import openbss
from openbss.core import clock

SRC = Path(openbss.__file__).resolve().parent

#: Paths (relative to ``src/openbss``, glob patterns) that may read the wall clock, and why.
ALLOWED: dict[str, str] = {
    "core/clock.py": "the clock module itself: the one place that reads real time",
    "migrations/versions/*.py": "migrations are frozen history: they must not import "
                                "application modules that may change after they ran",
}

#: Functions of :mod:`time` that read a clock (``sleep`` waits and is allowed).
TIME_READERS = frozenset({
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
    "process_time", "process_time_ns", "thread_time", "thread_time_ns", "clock_gettime",
    "clock_gettime_ns", "localtime", "gmtime", "ctime", "asctime", "strftime",
})
#: Class methods of ``datetime.datetime`` / ``datetime.date`` that read the clock.
DATETIME_READERS = frozenset({"now", "utcnow", "today"})
#: Any ``x.<name>()`` call with these names reads some clock (``loop.time()``,
#: ``pendulum.now()``, ``Timestamp.utcnow()``) unless ``x`` is ``openbss.core.clock``.
CALL_READERS = DATETIME_READERS | {"time", "time_ns", "monotonic", "perf_counter"}
#: SQL functions that read the database server's clock.
SQL_READERS = frozenset({"now", "current_timestamp", "current_date", "current_time",
                         "localtimestamp", "localtime", "sysdate", "utc_timestamp"})


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """Every wall-clock read in ``source``: (line, what)."""
    tree = ast.parse(source)
    time_modules: set[str] = set()       # names bound to the time module
    datetime_modules: set[str] = set()   # names bound to the datetime module
    datetime_classes: set[str] = set()   # names bound to datetime.datetime / datetime.date
    clock_modules: set[str] = set()      # names bound to openbss.core.clock
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name == "time":
                    time_modules.add(bound)
                elif alias.name == "datetime":
                    datetime_modules.add(bound)
                elif alias.name == "openbss.core.clock" and alias.asname:
                    clock_modules.add(alias.asname)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.module == "time" and alias.name in TIME_READERS:
                    found.append((node.lineno, f"from time import {alias.name}"))
                elif node.module == "datetime" and alias.name in {"datetime", "date"}:
                    datetime_classes.add(bound)
                elif node.module == "openbss.core" and alias.name == "clock":
                    clock_modules.add(bound)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            path = _dotted(node)
            if path is None:
                continue
            head, name = path[:-1], path[-1]
            time_read = len(head) == 1 and head[0] in time_modules and name in TIME_READERS
            datetime_read = name in DATETIME_READERS and (
                (len(head) == 1 and head[0] in datetime_classes)
                or (len(head) == 2 and head[0] in datetime_modules
                    and head[1] in {"datetime", "date"}))
            sql_read = bool(head) and head[-1] == "func" and name.lower() in SQL_READERS
            if time_read or datetime_read or sql_read:
                found.append((node.lineno, ".".join(path)))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in CALL_READERS):
            path = _dotted(node.func)
            receiver = path[:-1] if path else None
            # the clock module is the allowed way; time/datetime were reported as attributes
            if receiver and receiver[0] in (clock_modules | time_modules | datetime_modules
                                            | datetime_classes):
                continue
            found.append((node.lineno, f"{ast.unparse(node.func)}()"))
    return sorted(set(found))


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), path


def _allowed(relative: str) -> bool:
    return any(fnmatch(relative, pattern) for pattern in ALLOWED)


def test_nothing_outside_the_clock_module_reads_the_wall_clock() -> None:
    offences = [
        f"src/openbss/{relative}:{line}: {what}"
        for relative, path in _modules() if not _allowed(relative)
        for line, what in wall_clock_reads(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], (
        "read time through openbss.core.clock (business time: ctx.now):\n" + "\n".join(offences))


def test_every_allowed_place_exists_and_reads_the_clock() -> None:
    """An allow-list entry that matches nothing (or no longer reads time) is stale."""
    for pattern in ALLOWED:
        matches = [path for relative, path in _modules() if fnmatch(relative, pattern)]
        assert matches, pattern
        assert any(wall_clock_reads(p.read_text(encoding="utf-8")) for p in matches), pattern


@pytest.mark.parametrize("source", [
    "import time\nx = time.time()",
    "import time as t\nx = t.monotonic()",
    "import time\nx = time.perf_counter_ns()",
    "from time import monotonic",
    "from time import time as now",
    "from datetime import datetime\nx = datetime.now()",
    "from datetime import datetime as DT, UTC\nx = DT.now(UTC)",
    "from datetime import datetime\nx = datetime.utcnow()",
    "from datetime import date\nx = date.today()",
    "import datetime\nx = datetime.datetime.now()",
    "import datetime as dt\nx = dt.date.today()",
    "from datetime import datetime\nf = datetime.now",  # passed as a default factory
    "import asyncio\nx = asyncio.get_running_loop().time()",
    "x = loop.time()",
    "import pendulum\nx = pendulum.now()",
    "from sqlalchemy import func\nx = func.now()",
    "import sqlalchemy as sa\nx = sa.func.current_timestamp()",
])
def test_the_scan_finds_each_spelling_of_a_clock_read(source: str) -> None:
    assert wall_clock_reads(source), source


@pytest.mark.parametrize("source", [
    "from openbss.core import clock\nx = clock.utcnow()\ny = clock.monotonic()",
    "import openbss.core.clock as c\nx = c.perf_counter()",
    "import time\ntime.sleep(0.1)",
    "from datetime import datetime, UTC\nx = datetime(2026, 1, 1, tzinfo=UTC)",
    "from datetime import datetime\nx = datetime.fromisoformat('2026-01-01T00:00:00+00:00')",
    "x = ctx.now\ny = tenant.clock_time",
])
def test_the_scan_leaves_clock_free_code_alone(source: str) -> None:
    assert wall_clock_reads(source) == []


# --- behaviour: one source of real time, business time on top of it ------------------------

FROZEN = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def frozen_real_time(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(clock, "utcnow", lambda: FROZEN)
    return FROZEN


def test_a_production_tenants_business_time_is_the_clock_modules_real_time(
        client, tenant, frozen_real_time) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/testClock", headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["now"] == "2031-05-06T07:08:09Z"


def test_a_sandbox_tenant_stays_on_its_test_clock(
        client, make_tenant, frozen_real_time) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_tenant(sandbox=True, clock_start=datetime(2026, 3, 1, tzinfo=UTC))
    r = client.get("/api/v1/testClock", headers=sandbox.headers())
    assert r.status_code == 200, r.text
    assert r.json()["now"] == "2026-03-01T00:00:00Z"


def test_a_sandbox_created_without_a_start_starts_at_real_time(
        client, make_tenant, frozen_real_time) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_tenant(sandbox=True)
    r = client.get("/api/v1/testClock", headers=sandbox.headers())
    assert r.json()["now"] == "2031-05-06T07:08:09Z"


def test_events_carry_business_time_and_deliveries_are_due_at_real_time(
        client, make_tenant, frozen_real_time) -> None:  # type: ignore[no-untyped-def]
    from openbss.core.db import unit_of_work
    from openbss.core.models import EventDelivery, OutboxEvent

    sandbox = make_tenant(sandbox=True, clock_start=datetime(2026, 3, 1, tzinfo=UTC))
    h = sandbox.headers()
    r = client.post("/tmf-api/event/v4/hub", json={"callback": "http://127.0.0.1:9/hook"},
                    headers=h)
    assert r.status_code == 201, r.text
    client.post("/api/v1/testClock/advance", json={"days": 1}, headers=h).raise_for_status()
    with unit_of_work() as session:
        [event] = session.scalars(select(OutboxEvent).where(
            OutboxEvent.tenant_id == sandbox.id,
            OutboxEvent.event_type == "TestClockAdvanceEvent"))
        [delivery] = session.scalars(select(EventDelivery).where(
            EventDelivery.tenant_id == sandbox.id))
        assert event.event_time == datetime(2026, 3, 2, tzinfo=UTC)  # business time
        assert delivery.next_attempt_at == FROZEN  # real time, from the clock module
