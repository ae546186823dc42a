"""Audit rows are chained when their transaction commits: a rolled-back savepoint or
transaction leaves no row and no gap, and (PostgreSQL) the chain head's lock is held by
the commit only, so another writer of the tenant is never kept waiting for work."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from openbss.cli import app as cli
from openbss.core import audit
from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.core.models import AuditEntry

runner = CliRunner()


def _record(session, tenant_id: str, resource_id: str) -> None:
    tenant = load_tenant(session, tenant_id)
    assert tenant is not None
    audit.record(system_context(session, tenant), action="create",
                 resource_type="probe", resource_id=resource_id, after={"n": resource_id})


def _ids(tenant_id: str) -> list[tuple[int, str]]:
    with unit_of_work() as session:
        return [(r.seq, r.resource_id) for r in session.scalars(
            select(AuditEntry).where(AuditEntry.tenant_id == tenant_id,
                                     AuditEntry.resource_type == "probe")
            .order_by(AuditEntry.seq))]


def _verified(name: str) -> None:
    result = runner.invoke(cli, ["audit", "verify", "--tenant", name])
    assert result.exit_code == 0, result.output


def test_savepoints_keep_or_drop_their_rows(tenant):
    with unit_of_work() as session:
        _record(session, tenant.id, "a")
        with session.begin_nested():
            _record(session, tenant.id, "kept")
        savepoint = session.begin_nested()
        _record(session, tenant.id, "dropped")
        with session.begin_nested():
            _record(session, tenant.id, "dropped-inner")
        savepoint.rollback()
        _record(session, tenant.id, "b")
    rows = _ids(tenant.id)
    assert [r for _, r in rows] == ["a", "kept", "b"]
    seqs = [s for s, _ in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # no gap where the savepoint was
    _verified(tenant.name)


def test_a_rolled_back_transaction_leaves_nothing_and_the_next_continues(tenant):
    with pytest.raises(RuntimeError), unit_of_work() as session:
        _record(session, tenant.id, "lost")
        raise RuntimeError("the request failed")
    with unit_of_work() as session:  # a session that closes without committing
        _record(session, tenant.id, "closed")
        session.rollback()
        _record(session, tenant.id, "after-rollback")
    assert [r for _, r in _ids(tenant.id)] == ["after-rollback"]
    _verified(tenant.name)


def test_two_tenants_in_one_transaction_get_their_own_chains(make_tenant):
    one, two = make_tenant(), make_tenant()
    with unit_of_work() as session:
        for i in range(3):
            _record(session, one.id, f"one-{i}")
            _record(session, two.id, f"two-{i}")
    assert [r for _, r in _ids(one.id)] == ["one-0", "one-1", "one-2"]
    assert [r for _, r in _ids(two.id)] == ["two-0", "two-1", "two-2"]
    _verified(one.name)
    _verified(two.name)


def test_a_writer_does_not_wait_for_another_writers_open_transaction(database_url, tenant):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time whatever the audit log does")
    recorded, finish = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with unit_of_work() as session:
            _record(session, tenant.id, "slow")
            recorded.set()
            finish.wait(10)  # the rest of a long request's work

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert recorded.wait(10)
        started = time.monotonic()
        with unit_of_work() as session:
            _record(session, tenant.id, "fast")
        waited = time.monotonic() - started
    finally:
        finish.set()
        thread.join(10)
    assert waited < 5, f"the second writer waited {waited:.1f} s for the first one's work"
    assert [r for _, r in _ids(tenant.id)] == ["fast", "slow"]  # chained in commit order
    _verified(tenant.name)
