"""core.queries: statements built by the scoped helpers only ever see one tenant."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func

from openbss.core.db import unit_of_work
from openbss.core.errors import NotFoundError
from openbss.core.models import ApiKey, HubSubscription, Tenant
from openbss.core.queries import (
    find_owned,
    get_owned,
    scoped,
    scoped_delete,
    scoped_update,
)


def _subscription(tenant_id: str, query: str) -> HubSubscription:
    return HubSubscription(tenant_id=tenant_id, api="partyManagement", secret="s",
                           callback="https://example.com/cb", query=query)


@pytest.fixture
def two_tenants(database_url: str) -> tuple[str, str]:
    with unit_of_work() as session:
        ids = []
        for _ in range(2):
            tenant = Tenant(name=f"q-{uuid.uuid4().hex[:10]}")
            session.add(tenant)
            session.flush()
            ids.append(tenant.id)
        for tid in ids:
            session.add_all([_subscription(tid, "a"), _subscription(tid, "b")])
    return ids[0], ids[1]


def test_scoped_select_sees_only_its_tenant(two_tenants: tuple[str, str]) -> None:
    mine, theirs = two_tenants
    with unit_of_work() as session:
        rows = session.scalars(scoped(mine, HubSubscription)).all()
        assert {r.tenant_id for r in rows} == {mine} and len(rows) == 2
        queries = session.scalars(scoped(theirs, HubSubscription.query)).all()
        assert sorted(queries) == ["a", "b"]
        count = session.scalar(scoped(mine, func.count(), of=[HubSubscription]))
        assert count == 2


def test_scoped_update_and_delete_touch_only_their_tenant(two_tenants: tuple[str, str]) -> None:
    mine, theirs = two_tenants
    with unit_of_work() as session:
        session.execute(scoped_update(mine, HubSubscription).values(query="changed"))
        session.execute(scoped_delete(mine, HubSubscription).where(
            HubSubscription.api == "partyManagement"))
    with unit_of_work() as session:
        assert session.scalars(scoped(mine, HubSubscription)).all() == []
        assert sorted(session.scalars(scoped(theirs, HubSubscription.query))) == ["a", "b"]


def test_get_owned_answers_404_for_another_tenants_row(two_tenants: tuple[str, str]) -> None:
    mine, theirs = two_tenants
    with unit_of_work() as session:
        row = session.scalars(scoped(theirs, HubSubscription)).first()
        assert row is not None
        assert get_owned(session, HubSubscription, theirs, row.id, "hub").id == row.id
        assert find_owned(session, HubSubscription, mine, row.id) is None
        with pytest.raises(NotFoundError) as caught:
            get_owned(session, HubSubscription, mine, row.id, "hub")
        assert caught.value.field == "id" and row.id in caught.value.message


def test_a_statement_without_a_tenant_owned_table_cannot_be_built() -> None:
    with pytest.raises(TypeError):
        scoped("t", func.count())
    with pytest.raises(TypeError):
        scoped_update("t", Tenant)  # the tenant table itself has no tenant_id
    assert "tenant_id" in str(scoped("t", ApiKey.id).compile())
