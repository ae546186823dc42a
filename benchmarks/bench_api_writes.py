"""Benchmark: audited, idempotent writes through the whole HTTP stack.

Each request is a POST that authenticates an API key, stores a row, appends a
hash-chained audit row and commits with its Idempotency-Key — the path every
business mutation of openbss takes. Runs in-process (no network) on a throwaway
SQLite database (or ``OPENBSS_DATABASE_URL``).

    .venv/bin/python benchmarks/bench_api_writes.py [--n 2000] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args()
    n = 50 if args.smoke else args.n
    tmp = tempfile.mkdtemp(prefix="openbss-bench-")
    os.environ.setdefault("OPENBSS_HOME", tmp)
    os.environ.setdefault("OPENBSS_DATABASE_URL", f"sqlite:///{tmp}/bench.db")
    os.environ.setdefault("OPENBSS_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("OPENBSS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("OPENBSS_WEBHOOK_ALLOW_PRIVATE", "true")  # hubs on 127.0.0.1

    from fastapi.testclient import TestClient
    from rich.progress import Progress

    from openbss.app import create_app
    from openbss.core.auth import create_api_key
    from openbss.core.db import unit_of_work
    from openbss.core.migrate import upgrade
    from openbss.core.service import create_tenant

    upgrade()
    with unit_of_work() as session:
        tenant = create_tenant(session, name=f"bench-{int(time.time())}")
        key = create_api_key(session, tenant=tenant, role="admin")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app()) as client, Progress(disable=args.smoke,
                                                      transient=True) as progress:
        task = progress.add_task("POST /hub", total=n)
        start = time.perf_counter()
        for i in range(n):
            r = client.post("/tmf-api/event/v4/hub",
                            json={"callback": f"http://127.0.0.1:1/{i}"},
                            headers={**headers, "Idempotency-Key": f"bench-{i}"})
            if r.status_code != 201:
                sys.exit(f"unexpected {r.status_code}: {r.text}")
            progress.advance(task)
        elapsed = time.perf_counter() - start
    print(json.dumps({
        "metric": "audited_writes_per_second",
        "value": round(n / elapsed, 1),
        "unit": "req/s",
        "n": n,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}",
        "database": os.environ["OPENBSS_DATABASE_URL"].split(":")[0],
    }))


if __name__ == "__main__":
    main()
