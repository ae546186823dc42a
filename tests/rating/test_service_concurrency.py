"""Two raters on one allowance at the same time (PostgreSQL: SQLite has one writer at a
time): the second waits for the first's counter lock — also when the counter did not exist
yet and both create it — and consumes only what is left; the allowance is never used
twice."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from tests.ordering.test_inventory_changes import context
from tests.rating.test_service import GB, T0, Line  # type: ignore[attr-defined]

from openbss.rating import service
from openbss.rating.book import RatedUsage as Rated
from openbss.rating.models import AllowanceCounter

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks are PostgreSQL's; SQLite has one writer at a time")

HOLD = 0.5  # seconds the first rater keeps its transaction open


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


@pytest.mark.parametrize("existing", [False, True])
def test_two_concurrent_raters_never_use_the_allowance_twice(client, sandbox, existing):  # type: ignore[no-untyped-def]
    """``existing``: the month's counter was created before (by an earlier record of 1 kB);
    otherwise both raters find none and both create it."""
    line = Line(client, sandbox)
    before = 1000 if existing else 0
    if existing:
        with context(sandbox) as ctx:
            service.rate_events(ctx, [line.usage("early", T0 - timedelta(hours=1), before)])
    first_rated = threading.Event()
    out: dict[str, Any] = {}

    def first() -> None:
        with context(sandbox) as ctx:
            out["first"] = service.rate_events(ctx, [line.usage("a", T0, 700_000_000)])
            first_rated.set()
            time.sleep(HOLD)  # still uncommitted: the counter row stays locked

    def second() -> None:
        first_rated.wait(10)
        started = time.monotonic()
        with context(sandbox) as ctx:
            out["second"] = service.rate_events(
                ctx, [line.usage("b", T0 + timedelta(minutes=1), 700_000_000)])
        out["waited"] = time.monotonic() - started

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    (a,), (b,) = out["first"], out["second"]
    assert isinstance(a, Rated) and isinstance(b, Rated)
    assert a.included == 700_000_000
    assert b.included == 300_000_000 - before  # only what was left
    assert b.charged == 400_000_000 + before
    assert out["waited"] >= HOLD * 0.8  # it waited for the first's lock
    with context(sandbox) as ctx:
        counters = ctx.session.query(AllowanceCounter).filter_by(
            tenant_id=ctx.tenant_id, holder=line.product["id"], scope="product").all()
        assert [c.used for c in counters] == [GB]
