"""Payments benchmark: a bank statement (camt.053) with one transfer per open invoice,
imported through the real path (``collections.import_statement``, as ``openbss payments
import-statement`` runs it: parse, XSD check, match, record and allocate each payment,
post each ledger entry), against a baseline measured in the same run: parsing and
schema-validating the same file alone.

    .venv/bin/python benchmarks/bench_payments.py            # N = 5,000 on SQLite
    .venv/bin/python benchmarks/bench_payments.py --smoke    # N = 200 (CI)
    .venv/bin/python benchmarks/bench_payments.py --postgres # on OPENBSS_DATABASE_URL's server

The invoices come from a real bill run over bench_billrun's data set. Prints ONE JSON
line: entries/s, seconds, matched, the baseline and the ratio (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_billrun import MAR1, build
from bench_http import bench_database
from bench_rating import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--smoke", action="store_true", help="N = 200 (CI)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    n = 200 if args.smoke else args.accounts
    _tmp, url, _pg, env = bench_database(args.database_url, args.postgres, "bench-payments-")
    os.environ.update({k: env[k] for k in ("OPENBSS_DATABASE_URL", "OPENBSS_SECRET_KEY",
                                           "OPENBSS_HOME")})
    from openbss.core.config import get_settings

    get_settings.cache_clear()
    from openbss.billing import billrun
    from openbss.billing.models import Invoice
    from openbss.core import plugins
    from openbss.core.context import load_tenant, system_context
    from openbss.core.db import unit_of_work
    from openbss.core.migrate import upgrade
    from openbss.core.queries import scoped
    from openbss.ledger import reports
    from openbss.payments import bank, collections
    from openbss.payments.iso20022 import camt

    plugins.load()
    upgrade(url)
    tenant_id = build(url, n)
    with unit_of_work(url) as session:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        run_id = billrun.create_run(system_context(session, tenant, actor="bench"),
                                    as_of=MAR1).id
    billrun.execute(run_id, tenant_id=tenant_id, url=url)
    with unit_of_work(url) as session:
        ctx = system_context(session, load_tenant(session, tenant_id), actor="bench")
        bills = list(session.scalars(scoped(ctx, Invoice).where(Invoice.kind == "invoice")))
        movements = [bank.BankMovement(b.remaining_amount, b.currency, "transfer",
                                       date(2026, 3, 20), f"BENCH-{i}",
                                       debtor_name=f"Customer {i}",
                                       remittance=(f"Invoice {b.bill_no}",))
                     for i, b in enumerate(bills) if b.remaining_amount > 0]
    content = bank.write(message="camt.053", message_id="BENCH-1",
                         created_at=datetime(2026, 3, 21, tzinfo=UTC),
                         account_iban="DE89370400440532013000", currency="EUR",
                         movements=movements)
    started = time.perf_counter()
    parsed = camt.parse(content)
    base = time.perf_counter() - started
    assert len(parsed.movements) == len(movements)
    started = time.perf_counter()
    with unit_of_work(url) as session:
        ctx = system_context(session, load_tenant(session, tenant_id), actor="bench")
        result = collections.import_statement(ctx, content=content, filename="bench.xml")
        summary = dict(result.summary)
    seconds = time.perf_counter() - started
    with unit_of_work(url) as session:
        ctx = system_context(session, load_tenant(session, tenant_id), actor="bench")
        tb = reports.trial_balance(ctx)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({
        "metric": "statement_entries_per_s", "value": round(len(movements) / seconds, 1),
        "unit": "entries/s", "n": len(movements), "seconds": round(seconds, 3),
        "matched": summary["matched"], "unmatched": summary["unmatched"],
        "trial_balance_balanced": tb["totalDebit"] == tb["totalCredit"],
        "baseline_parse_validate_seconds": round(base, 4),
        "ratio_to_baseline": round(seconds / base, 1) if base else None,
        "peak_rss_mib": peak,
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "machine": machine()}))


if __name__ == "__main__":
    main()
