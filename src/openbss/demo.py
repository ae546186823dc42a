"""``openbss demo``: realistic demo data, loaded idempotently."""

from __future__ import annotations

from openbss.core.db import unit_of_work
from openbss.core.service import ensure_tenant


def load_demo(tenant_name: str = "default") -> list[str]:
    lines: list[str] = []
    with unit_of_work() as session:
        _tenant, created = ensure_tenant(session, tenant_name)
        lines.append(f"tenant {tenant_name!r} " + ("created" if created else "ready"))
    return lines
