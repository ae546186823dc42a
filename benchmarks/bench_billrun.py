"""Bill-run benchmark: N billing accounts with two products each and a month of rated
usage, one bill run through the real path (``billrun.execute``, as ``openbss billrun``
runs it), the PDF step measured on its own, and a set-based baseline measured in the
same run (an ``INSERT … SELECT`` of N rows into a scratch table, same database).

    .venv/bin/python benchmarks/bench_billrun.py            # N = 100,000 on SQLite
    .venv/bin/python benchmarks/bench_billrun.py --smoke    # N = 500 (CI)
    .venv/bin/python benchmarks/bench_billrun.py --postgres # on OPENBSS_DATABASE_URL's server

Prints ONE JSON line: invoices/s, seconds, peak RSS, the PDF step, the baseline and the
ratio. Target: ≥ 2,000 invoices/s (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import bench_database
from bench_rating import machine

FEB1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)


def build(url: str, n: int) -> str:
    """The data set, set-based: one executemany per table."""
    from sqlalchemy import insert

    from openbss.catalog.models import ProductOffering, ProductOfferingPrice
    from openbss.core.db import unit_of_work
    from openbss.core.service import create_tenant
    from openbss.ordering.models import Product, ProductHistory
    from openbss.party.models import Account
    from openbss.rating.models import RatedUsage

    with unit_of_work(url) as session:
        tenant_id = create_tenant(session, name="bench").id
        offerings = []
        for name, value in (("Mobile", "19.99"), ("Fibre", "39.90")):
            price = ProductOfferingPrice(
                tenant_id=tenant_id, name=f"{name} fee", lifecycle_status="Active",
                last_update=FEB1, price_type="recurring", currency="EUR",
                amount=Decimal(value), body={
                    "name": f"{name} fee", "priceType": "recurring",
                    "lifecycleStatus": "Active", "price": {"unit": "EUR", "value": value},
                    "recurringChargePeriodType": "month", "recurringChargePeriodLength": 1})
            session.add(price)
            session.flush()
            offering = ProductOffering(tenant_id=tenant_id, name=name,
                                       lifecycle_status="Active", last_update=FEB1,
                                       body={"name": name, "lifecycleStatus": "Active",
                                             "productOfferingPrice": [{"id": price.id}]})
            session.add(offering)
            session.flush()
            offerings.append(offering.id)
        conn = session.connection()
        accounts, products, history, rated = [], [], [], []
        for i in range(n):
            aid = f"ba{i:07d}"
            accounts.append({"id": aid, "tenant_id": tenant_id, "kind": "billingAccount",
                             "name": f"Account {i}", "state": "active", "currency": "EUR",
                             "paid_by_parent": False, "row_version": 1, "body": {
                                 "billStructure": {"cycleSpecification": {
                                     "frequency": "monthly", "anchorDay": 1}}}})
            for k, offering_id in enumerate(offerings):
                pid = f"p{i:07d}{k}"
                products.append({"id": pid, "tenant_id": tenant_id, "name": "product",
                                 "status": "active", "billing_account_id": aid,
                                 "offering_id": offering_id, "last_update": FEB1,
                                 "row_version": 1, "body": {}})
                history.append({"tenant_id": tenant_id, "product_id": pid, "seq": 1,
                                "at": FEB1, "change": "started", "status": "active",
                                "after": {"priceVersion": offering_id, "quantity": 1},
                                "actor": "bench"})
                rated.append({
                    "tenant_id": tenant_id, "usage_id": f"u{i:07d}{k}", "generation": 1,
                    "current": True, "product_id": pid, "billing_account_id": aid,
                    "usage_date": datetime(2026, 2, 15, tzinfo=UTC), "period_start": FEB1,
                    "period_end": MAR1, "usage_type": "voice", "metric": "seconds",
                    "quantity": Decimal(3600), "included": Decimal(0),
                    "charged": Decimal(3600), "amount": Decimal("1.23456789"),
                    "currency": "EUR", "price_id": "voice", "tax_category": "standard",
                    "rated_at": MAR1, "invoice_id": None, "correction": False})
        conn.execute(insert(Account), accounts)
        conn.execute(insert(Product), products)
        conn.execute(insert(ProductHistory), history)
        conn.execute(insert(RatedUsage), rated)
    return tenant_id


def baseline(url: str, n: int) -> float:
    """Seconds of a plain set-based INSERT … SELECT of N rows into a scratch table."""
    from sqlalchemy import text

    from openbss.core.db import get_engine

    with get_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE bench_scratch AS SELECT id, name, currency "
                          "FROM account WHERE 0 = 1"))
        started = time.perf_counter()
        conn.execute(text("INSERT INTO bench_scratch SELECT id, name, currency FROM account"))
        seconds = time.perf_counter() - started
        conn.execute(text("DROP TABLE bench_scratch"))
    return seconds


def pdf_step(url: str, tenant_id: str, limit: int, processes: int) -> dict[str, Any]:
    """The documents of up to ``limit`` of the run's invoices rendered and stored through
    ``invoices.render_documents`` (the step ``openbss billrun --documents`` runs after the
    run; the demo's path), timed alone."""
    from openbss.billing import invoices
    from openbss.billing.models import Invoice
    from openbss.core.context import load_tenant, system_context
    from openbss.core.db import unit_of_work

    with unit_of_work(url) as session:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        ctx = system_context(session, tenant, actor="bench")
        ids = [i for (i,) in session.query(Invoice.id).filter_by(tenant_id=tenant_id)
               .order_by(Invoice.id).limit(limit)]
        started = time.perf_counter()
        made = invoices.render_documents(ctx, ids, processes=processes)
        seconds = time.perf_counter() - started
    return {"documents": made, "processes": processes, "seconds": round(seconds, 3),
            "documents_per_s": round(made / seconds, 1) if seconds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="N = 500 (CI)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--pdf", type=int, default=2000,
                        help="invoices whose PDF is rendered after the run (0: none)")
    parser.add_argument("--pdf-processes", type=int, default=1)
    args = parser.parse_args()
    n = 500 if args.smoke else args.accounts
    _tmp, url, _pg, env = bench_database(args.database_url, args.postgres, "bench-billrun-")
    os.environ.update({k: env[k] for k in ("OPENBSS_DATABASE_URL", "OPENBSS_SECRET_KEY",
                                           "OPENBSS_HOME")})
    from openbss.core.config import get_settings

    get_settings.cache_clear()
    from openbss.billing import billrun
    from openbss.core.context import load_tenant, system_context
    from openbss.core.db import unit_of_work
    from openbss.core.migrate import upgrade

    upgrade(url)
    started = time.perf_counter()
    tenant_id = build(url, n)
    build_seconds = time.perf_counter() - started
    base = baseline(url, n)
    with unit_of_work(url) as session:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        run_id = billrun.create_run(system_context(session, tenant, actor="bench"),
                                    as_of=MAR1).id
    started = time.perf_counter()
    run = billrun.execute(run_id, tenant_id=tenant_id, url=url, workers=args.workers)
    seconds = time.perf_counter() - started
    doc = billrun.render_run(run)
    invoices = int(doc["results"]["invoices"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({
        "metric": "bill_run_invoices_per_s", "value": round(invoices / seconds, 1),
        "unit": "invoices/s", "n": n, "invoices": invoices, "seconds": round(seconds, 3),
        "state": doc["state"], "failures": len(doc["results"]["failures"]),
        "workers": args.workers, "peak_rss_mib": peak,
        "build_seconds": round(build_seconds, 3),
        "baseline_insert_select_seconds": round(base, 4),
        "ratio_to_baseline": round(seconds / base, 1) if base else None,
        "pdf": pdf_step(url, tenant_id, min(invoices, args.pdf), args.pdf_processes)
        if args.pdf else None,
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "machine": machine()}))


if __name__ == "__main__":
    main()
