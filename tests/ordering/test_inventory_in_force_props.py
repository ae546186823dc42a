"""Property tests of ``inventory.in_force`` through the real tables: random sequences of
status, plan and quantity changes made with the use cases while a sandbox tenant's test
clock moves (sometimes not at all: several changes at one instant), then ``in_force`` for a
random period against a brute-force replay of what the product was at every instant.

Laws: a product's intervals are sorted and never overlap; their union is exactly the
product's life inside the period (active and pendingTerminate are in force, suspended is
its own kind, nothing before the start or after the termination); price version
(offering) and quantity are those of the last change before each instant; asking by the
product's identifier gives the same intervals. Each example runs in one transaction that
is rolled back, clock included.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbss.core.context import Context, system_context
from openbss.core.db import unit_of_work
from openbss.core.errors import ConflictError
from openbss.core.models import Tenant
from openbss.core.service import advance_clock
from openbss.ordering import inventory
from openbss.ordering.intervals import IntervalKind
from openbss.ordering.models import PRODUCT_STATES, ProductStatus
from openbss.ordering.schemas import Product as ProductIn

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IN_FORCE = {"active", "pendingTerminate"}
ACTIONS = ("suspend", "resume", "pendingTerminate", "terminate", "plan", "quantity")
STATUS_OF = {"suspend": "suspended", "resume": "active", "pendingTerminate":
             "pendingTerminate", "terminate": "terminated"}


class _Rollback(Exception):
    """Ends an example: its transaction (products, history, clock) is rolled back."""


@pytest.fixture
def world(make_tenant, client):  # type: ignore[no-untyped-def]
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    person = client.post("/tmf-api/partyManagement/v4/individual",
                         json={"givenName": "Prop", "familyName": "Erty"},
                         headers=tenant.headers()).json()
    account = client.post("/tmf-api/accountManagement/v4/billingAccount", json={
        "name": "Props", "currency": "EUR",
        "relatedParty": [{"id": person["id"], "@referredType": "Individual", "role": "owner"}],
    }, headers=tenant.headers()).json()
    offerings = [client.post("/tmf-api/productCatalogManagement/v4/productOffering",
                             json={"name": name, "lifecycleStatus": "Active"},
                             headers=tenant.headers()).json()["id"] for name in ("A", "B", "C")]
    return tenant.id, account["id"], offerings


step = st.tuples(st.sampled_from(ACTIONS),
                 st.sampled_from([0, 0, 1, 59, 3600, 86_400, 3 * 86_400]),
                 st.integers(0, 2), st.integers(1, 4))


def _context(session: Any, tenant_id: str) -> Context:
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    return system_context(session, tenant, actor="props")


def _replay(timeline: list[tuple[datetime, str, str, int]], start: datetime,
            end: datetime) -> list[tuple[datetime, datetime, str, str, int]]:
    """Brute force: the state at every elementary segment between change instants, the
    last change at an instant winning; equal neighbours merged, empty segments gone."""
    cuts = sorted({start, end, *(t for t, *_ in timeline if start < t < end)})
    out: list[tuple[datetime, datetime, str, str, int]] = []
    for lo, hi in pairwise(cuts):
        state = None
        for t, status, version, quantity in timeline:  # in the order the changes were made
            if t <= lo:
                state = (status, version, quantity)
        if state is None or state[0] not in IN_FORCE | {"suspended"}:
            continue
        kind = "suspended" if state[0] == "suspended" else "active"
        if out and out[-1][1] == lo and out[-1][2:] == (kind, state[1], state[2]):
            out[-1] = (out[-1][0], hi, *out[-1][2:])
        else:
            out.append((lo, hi, kind, state[1], state[2]))
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, max_size=12),
       window=st.tuples(st.integers(-2, 20), st.integers(1, 30)))
def test_in_force_matches_a_brute_force_replay(world, steps, window) -> None:  # type: ignore[no-untyped-def]
    tenant_id, account_id, offerings = world
    with contextlib.suppress(_Rollback), unit_of_work() as session:
        _example(session, tenant_id, account_id, offerings, steps, window)
        raise _Rollback


def _example(session: Any, tenant_id: str, account_id: str, offerings: list[str],
             steps: list[tuple[str, int, int, int]], window: tuple[int, int]) -> None:
    ctx = _context(session, tenant_id)
    start_at = ctx.now
    msisdn = f"+49151{abs(hash((tuple(steps), window))) % 10**8:08d}"
    row = inventory.create_product(ctx, data=ProductIn.model_validate({
        "status": "active", "billingAccount": {"id": account_id},
        "productOffering": {"id": offerings[0]}, "quantity": 1,
        "productCharacteristic": [{"name": "MSISDN", "value": msisdn}]}))
    timeline = [(start_at, "active", offerings[0], 1)]
    status, version, quantity = "active", offerings[0], 1
    for action, delay, which, amount in steps:
        if delay:
            advance_clock(ctx, seconds=delay)
            ctx = _context(session, tenant_id)
        patch: dict[str, Any]
        order: dict[str, Any] = {}
        new_status = STATUS_OF.get(action, status)
        if action in STATUS_OF:
            patch = {"status": new_status}
            if new_status == "pendingTerminate":
                patch["terminationDate"] = (ctx.now + timedelta(days=30)).isoformat()
            elif new_status == "terminated":
                patch["terminationDate"] = ctx.now.isoformat()
            elif status == "pendingTerminate":  # back to active or suspended
                patch["terminationDate"] = None
        elif action == "plan":
            patch = {"productOffering": {"id": offerings[which]}}
            order = {"order_id": "o", "order_item_id": str(len(timeline))}
        else:
            patch = {"quantity": amount}
        allowed = status != "terminated" and (
            new_status == status
            or ProductStatus(new_status) in PRODUCT_STATES.allowed(ProductStatus(status)))
        try:
            inventory.update_product(ctx, product_id=row.id, patch=patch, **order)
        except ConflictError:  # the state machine (or a final status) refuses it
            assert not allowed, (status, action)
            assert row.status == status
            continue
        assert allowed, (status, action)
        status = new_status
        version = offerings[which] if action == "plan" else version
        quantity = amount if action == "quantity" else quantity
        timeline.append((ctx.now, status, version, quantity))
        assert row.status == status
    period_start = start_at + timedelta(days=window[0])
    period_end = period_start + timedelta(days=window[1])

    def intervals(**how: Any) -> list[tuple[datetime, datetime, str, str, int]]:
        found = inventory.in_force(ctx, start=period_start, end=period_end, **how)
        return [(i.start, i.end, i.kind.value, i.price_version, i.quantity)
                for f in found if f.product_id == row.id for i in f.intervals]

    got = intervals(billing_account_id=account_id)
    assert got == _replay(timeline, period_start, period_end), timeline
    for a, b in pairwise(got):  # sorted, disjoint
        assert a[1] <= b[0]
    assert all(lo < hi for lo, hi, *_ in got)
    assert intervals(billing_account_id=account_id, include_suspended=False) == [
        i for i in got if i[2] == IntervalKind.ACTIVE]
    assert intervals(identifier=msisdn) == got  # the number was held all its life
