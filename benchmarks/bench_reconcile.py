"""Reconciliation benchmark: ``openbss reconcile`` (``assurance.service.reconcile``: every
stage and control) over N billing accounts with two products, two usage records and their
ratings each, after a real bill run (bench_billrun's data set plus the usage records), and
a baseline measured in the same run: the ledger's trial balance over the same journal
(one streamed pass over every journal line).

    .venv/bin/python benchmarks/bench_reconcile.py            # N = 20,000 on SQLite
    .venv/bin/python benchmarks/bench_reconcile.py --smoke    # N = 300 (CI)
    .venv/bin/python benchmarks/bench_reconcile.py --postgres # on OPENBSS_DATABASE_URL's server

Prints ONE JSON line: records/s (usage records + invoices + journal lines checked per
second), seconds, whether it reconciled, the baseline and the ratio (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_billrun import FEB1, MAR1, build
from bench_http import bench_database
from bench_rating import machine


def usage_records(url: str, tenant_id: str) -> int:
    """The usage record behind each rated row of the data set (rated, set-based)."""
    from sqlalchemy import insert, select

    from openbss.core.db import unit_of_work
    from openbss.rating.models import RatedUsage
    from openbss.usage.models import UsageRecord

    with unit_of_work(url) as session:
        rows = session.execute(select(RatedUsage.usage_id, RatedUsage.product_id,
                                      RatedUsage.billing_account_id, RatedUsage.usage_date)
                               .where(RatedUsage.tenant_id == tenant_id)).all()
        session.connection().execute(insert(UsageRecord), [{
            "id": usage_id, "tenant_id": tenant_id, "source": "bench", "dedup_key": usage_id,
            "record_id": usage_id, "usage_date": at, "usage_type": "voice",
            "quantity": 3600, "unit": "s", "identifier_name": "msisdn",
            "identifier_value": usage_id, "status": "rated", "product_id": product_id,
            "billing_account_id": account_id, "received_at": FEB1, "last_update": FEB1,
            "row_version": 1, "duplicates": 0} for usage_id, product_id, account_id, at in rows])
        session.commit()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help="N = 300 (CI)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    n = 300 if args.smoke else args.accounts
    _tmp, url, _pg, env = bench_database(args.database_url, args.postgres, "bench-reconcile-")
    os.environ.update({k: env[k] for k in ("OPENBSS_DATABASE_URL", "OPENBSS_SECRET_KEY",
                                           "OPENBSS_HOME")})
    from openbss.core.config import get_settings

    get_settings.cache_clear()
    from openbss.assurance import service
    from openbss.billing import billrun
    from openbss.core import plugins
    from openbss.core.context import load_tenant, system_context
    from openbss.core.db import unit_of_work
    from openbss.core.migrate import upgrade
    from openbss.ledger import reports

    plugins.load()
    upgrade(url)
    tenant_id = build(url, n)
    records = usage_records(url, tenant_id)
    with unit_of_work(url) as session:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        run_id = billrun.create_run(system_context(session, tenant, actor="bench"),
                                    as_of=MAR1).id
    billrun.execute(run_id, tenant_id=tenant_id, url=url)
    with unit_of_work(url) as session:
        ctx = system_context(session, load_tenant(session, tenant_id), actor="bench")
        started = time.perf_counter()
        tb = reports.trial_balance(ctx)
        base = time.perf_counter() - started
        started = time.perf_counter()
        report = service.reconcile(ctx)
        seconds = time.perf_counter() - started
    stages = {s["name"]: s for s in report["stages"]}
    lines = sum(1 for _ in tb["accounts"])
    checked = records + stages["invoiced"]["count"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({
        "metric": "reconciled_records_per_s", "value": round(checked / seconds, 1),
        "unit": "usage records + invoices / s", "accounts": n, "usage_records": records,
        "invoices": stages["invoiced"]["count"], "seconds": round(seconds, 3),
        "ok": report["ok"],
        "failed_checks": [c["name"] for c in report["checks"] if not c["ok"]],
        "baseline_trial_balance_seconds": round(base, 4), "ledger_accounts": lines,
        "ratio_to_baseline": round(seconds / base, 1) if base else None,
        "peak_rss_mib": peak,
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "machine": machine()}))


if __name__ == "__main__":
    main()
