"""``openbss demo``: realistic demo data, loaded idempotently."""

from __future__ import annotations

from openbss.billing import demo as billing_demo
from openbss.catalog import demo as catalog_demo
from openbss.core.context import system_context
from openbss.core.db import unit_of_work
from openbss.core.queries import scoped
from openbss.core.service import ensure_tenant, set_tenant_defaults
from openbss.ordering import demo as ordering_demo
from openbss.party import demo as party_demo
from openbss.party.models import Party
from openbss.payments import demo as payments_demo

#: The demo's numbers and prices are German and in euros: a tenant that holds no parties
#: yet is set to this phone region and currency, so ``0151 …`` finds the demo's people.
DEMO_REGION, DEMO_CURRENCY = "DE", "EUR"


def load_demo(tenant_name: str = "default") -> list[str]:
    lines: list[str] = []
    with unit_of_work() as session:
        tenant, created = ensure_tenant(session, tenant_name, region=DEMO_REGION,
                                        currency=DEMO_CURRENCY)
        lines.append(f"tenant {tenant_name!r} " + ("created" if created else "ready"))
        ctx = system_context(session, tenant, actor="demo")
        empty = session.scalar(scoped(ctx, Party.id).limit(1)) is None
        if empty and set_tenant_defaults(ctx, region=DEMO_REGION, currency=DEMO_CURRENCY):
            lines.append(f"tenant {tenant_name!r}: phone region {DEMO_REGION}, currency "
                         f"{DEMO_CURRENCY} (the demo's data is German)")
        lines += party_demo.load(ctx)
        lines += catalog_demo.load(ctx)
        lines += ordering_demo.load(ctx)
        lines += billing_demo.load(ctx)
        lines += payments_demo.load(ctx)
    return lines
