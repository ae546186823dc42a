"""The party demo data loads, validates and is idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.models import Tenant
from openbss.party import demo
from openbss.party.models import Account, Customer, Party


def _load(tenant_id: str) -> list[str]:
    with unit_of_work() as session:
        return demo.load(system_context(session, session.get(Tenant, tenant_id)))


def test_demo_is_idempotent(client, tenant, tmf):
    first, second = _load(tenant.id), _load(tenant.id)
    assert all(line.endswith("created") for line in first)
    assert all(line.endswith("ready") for line in second)
    with unit_of_work() as s:
        def count(model):
            return s.scalar(select(func.count()).select_from(model).where(
                model.tenant_id == tenant.id))
        assert (count(Party), count(Customer), count(Account)) == (3, 3, 5)
    r = client.get("/tmf-api/accountManagement/v4/billingAccount?paidByParent=true",
                   headers=tenant.headers())
    assert len(r.json()) == 1
    tmf("TMF666", "BillingAccount", r.json())
    r = client.get("/tmf-api/partyManagement/v4/individual", headers=tenant.headers())
    tmf("TMF632", "Individual", r.json())
    assert {p["contactMedium"][1]["characteristic"]["phoneNumber"] for p in r.json()} == {
        "+4915123456789", "+442079460958"}
