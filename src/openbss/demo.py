"""``openbss demo``: realistic demo data, loaded idempotently."""

from __future__ import annotations

from openbss.catalog import demo as catalog_demo
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.service import ensure_tenant
from openbss.party import demo as party_demo


def load_demo(tenant_name: str = "default") -> list[str]:
    lines: list[str] = []
    with unit_of_work() as session:
        tenant, created = ensure_tenant(session, tenant_name)
        lines.append(f"tenant {tenant_name!r} " + ("created" if created else "ready"))
        ctx = system_context(session, tenant, actor="demo")
        lines += party_demo.load(ctx)
        lines += catalog_demo.load(ctx)
    return lines
