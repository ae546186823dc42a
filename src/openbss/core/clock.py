"""The one clock: every read of the time in openbss goes through this module.

Two kinds of time, kept apart:

* **Business time** is ``ctx.now``: :func:`tenant_now` of the request's tenant, fixed for the
  whole unit of work. A sandbox tenant's business time is its test clock (it only moves when
  ``POST /api/v1/testClock/advance`` moves it); every other tenant's is real UTC time. Services
  date what they do (validity, states, events) with ``ctx.now``, never with the functions below.
* **Infrastructure time** is real time whatever the tenant: token expiry, cache lifetimes,
  webhook delivery scheduling, key rotation stamps, bookkeeping ``created_at`` columns,
  request and job timings. It comes from :func:`utcnow`, :func:`epoch_seconds`,
  :func:`monotonic` and :func:`perf_counter`.

Nothing else in ``src/openbss`` reads the wall clock (``tests/test_one_clock.py`` scans the
source and fails otherwise). Callers use the functions as module attributes
(``clock.utcnow()``), so a test can replace real time in one place.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["ClockOwner", "epoch_seconds", "monotonic", "perf_counter", "tenant_now", "utcnow"]


class ClockOwner(Protocol):
    """What :func:`tenant_now` reads of a tenant (``core.models.Tenant``; not imported here:
    the models import the database layer, which imports this module)."""

    @property
    def sandbox(self) -> bool: ...

    @property
    def clock_time(self) -> datetime | None: ...


def utcnow() -> datetime:
    """Real time: the current instant, timezone-aware UTC (the only ``datetime.now``)."""
    return datetime.now(UTC)


def epoch_seconds() -> float:
    """Real time as seconds since the Unix epoch (JWT ``exp``/``iat`` arithmetic)."""
    return time.time()


def monotonic() -> float:
    """Seconds on a clock that never goes back: lifetimes of in-process caches, intervals."""
    return time.monotonic()


def perf_counter() -> float:
    """High-resolution seconds for measuring how long something took."""
    return time.perf_counter()


def tenant_now(tenant: ClockOwner) -> datetime:
    """The tenant's business time: its frozen test clock when a sandbox, else :func:`utcnow`."""
    if tenant.sandbox and tenant.clock_time is not None:
        return tenant.clock_time
    return utcnow()
