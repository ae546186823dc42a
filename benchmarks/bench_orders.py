"""Benchmark: TMF622 product orders through a real ``openbss serve``, until completed.

Starts, on loopback only, with the process helpers of ``bench_http.py``:

- ``openbss serve`` (uvicorn, its worker thread runs the fulfilment passes) on a fresh
  database (a temporary SQLite file, or a new PostgreSQL database on the server of
  ``--database-url`` / ``--postgres``, dropped afterwards), after ``openbss init``,
  ``openbss demo`` and ``openbss apikey create --role admin``;
- bench_http's trivial FastAPI app with the same uvicorn settings (the baseline: its
  req/s under the same client gives the ratio).

Then ``--concurrency`` keep-alive clients (raw asyncio streams, one connection each) POST
``--n`` product orders — each a new Mobile L line with its own MSISDN on the demo's
"Nordwind Logistik — Munich depot" account, with an ``Idempotency-Key`` — and the
script polls ``GET productOrder?state=acknowledged,inProgress`` (``X-Total-Count``) until
none is open. Prints ONE JSON line: orders/s accepted, p50/p99 POST latency, seconds until
all are completed, completed/s, the server's CPU per order (from /proc: during the POSTs,
and until all are completed — API and worker thread together), the trivial baseline's
req/s and the ratio, machine info, and the targets (p99 <= 50 ms, >= 300 orders/s
accepted) with met true/false.

    .venv/bin/python benchmarks/bench_orders.py [--n 2000] [--concurrency 50]
    .venv/bin/python benchmarks/bench_orders.py --postgres     # uses OPENBSS_DATABASE_URL
    .venv/bin/python benchmarks/bench_orders.py --database-url postgresql://u@h:p/db
    .venv/bin/python benchmarks/bench_orders.py --smoke        # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_http import (  # noqa: E402  (the sibling script, imported by path)
    HOST,
    _python_load,
    bench_database,
    cpu_seconds,
    drop_postgres_database,
    http,
    start_servers,
    stop,
)

PO = "/tmf-api/productOrderingManagement/v4/productOrder"
P99_TARGET_MS = 50.0
ACCEPTED_TARGET = 300.0
ACCOUNT = "Nordwind Logistik — Munich depot"


def order_body(offering_id: str, account_id: str, n: int, run: int) -> bytes:
    msisdn = f"+49152{run:02d}{n:06d}"
    return json.dumps({
        "externalId": f"bench-{run}-{n}", "billingAccount": {"id": account_id},
        "productOrderItem": [{
            "id": "1", "action": "add", "productOffering": {"id": offering_id},
            "product": {"productCharacteristic": [{"name": "MSISDN", "value": msisdn}]}}],
    }).encode()


async def post_orders(port: int, key: str, offering_id: str, account_id: str, n: int,
                      concurrency: int) -> dict[str, Any]:
    """POST ``n`` orders over ``concurrency`` keep-alive connections; latencies and errors."""
    latencies: list[float] = []
    errors: list[str] = []
    run = secrets.randbelow(100)
    queue = iter(range(n))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for i in queue:
                body = order_body(offering_id, account_id, i, run)
                head = (f"POST {PO} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                        f"Idempotency-Key: bench-{run}-{i}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                started = time.perf_counter()
                writer.write(head + body)
                answer = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in answer.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                payload = await reader.readexactly(length) if length else b""
                latencies.append(time.perf_counter() - started)
                status = int(answer.split(b" ", 2)[1])
                if status != 201:
                    errors.append(f"{status} {payload[:300].decode(errors='replace')}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(min(concurrency, n))))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 \
            if latencies else 0.0

    return {"seconds": elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": latencies[-1] * 1000 if latencies else 0.0, "errors": errors}


def open_orders(base: str, key: str) -> int:
    req = urllib.request.Request(
        f"{base}{PO}?state=acknowledged,inProgress,pending,held&limit=1&fields=id",
        headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return int(r.headers["X-Total-Count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="orders to POST")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes (default 1 on SQLite, 2 on PostgreSQL)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL URL: a fresh database is created on its server")
    parser.add_argument("--postgres", action="store_true",
                        help="PostgreSQL from OPENBSS_DATABASE_URL (see scripts/pg-throwaway)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait for all orders to complete")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.concurrency = 20, min(args.concurrency, 5)
    tmp, database_url, pg_name, env = bench_database(args.database_url, args.postgres,
                                                     "openbss-bench-orders-")
    workers = args.workers or (2 if pg_name else 1)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        key, port, trivial_port = start_servers(tmp, env, workers, procs)
        base = f"http://{HOST}:{port}"

        name = urllib.parse.quote("Mobile L")
        _, offerings = http("GET", f"{base}/tmf-api/productCatalogManagement/v4/"
                            f"productOffering?name={name}&lifecycleStatus=Active&fields=id",
                            key)
        _, accounts = http("GET", f"{base}/tmf-api/accountManagement/v4/billingAccount?"
                           f"name={urllib.parse.quote(ACCOUNT)}&fields=id", key)
        if not offerings or not accounts:
            sys.exit("the demo loaded no 'Mobile L' offering or no Munich depot account")
        offering_id, account_id = offerings[0]["id"], accounts[0]["id"]

        baseline = asyncio.run(_python_load(
            trivial_port, {"name": "trivial", "method": "GET", "path": "/item",
                           "headers": {}}, args.concurrency, 1 if args.smoke else 3))
        # warm-up (imports, caches, pools): a few orders, not measured
        asyncio.run(post_orders(port, key, offering_id, account_id, 5, 5))
        while open_orders(base, key) > 1:  # the demo's future-dated order stays open
            time.sleep(0.2)

        cpu_start = cpu_seconds(procs[0].pid)
        started = time.perf_counter()
        posted = asyncio.run(post_orders(port, key, offering_id, account_id, args.n,
                                         args.concurrency))
        cpu_posted = cpu_seconds(procs[0].pid)
        remaining = open_orders(base, key) - 1
        deadline = started + args.timeout
        while remaining > 0 and time.perf_counter() < deadline:
            time.sleep(0.1)
            remaining = open_orders(base, key) - 1
        all_done = time.perf_counter() - started
        cpu_done = cpu_seconds(procs[0].pid)
    finally:
        for proc in procs:
            stop(proc)
        if pg_name is not None:
            drop_postgres_database(database_url, pg_name)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    accepted = (args.n - len(posted["errors"])) / posted["seconds"] if posted["seconds"] else 0.0
    trivial_rps = baseline["requests"] / baseline["seconds"] if baseline["seconds"] else 0.0

    def cpu_ms_per_order(until: float | None) -> float | None:
        # the server process's CPU (API and its worker thread; uvicorn workers included)
        if cpu_start is None or until is None or not args.n:
            return None
        return round((until - cpu_start) * 1000 / args.n, 2)

    targets = {f"post_p99_ms<={P99_TARGET_MS:g}": posted["p99_ms"] <= P99_TARGET_MS,
               f"accepted_per_s>={ACCEPTED_TARGET:g}": accepted >= ACCEPTED_TARGET}
    print(json.dumps({
        "metric": "product_orders_accepted_per_second",
        "value": round(accepted, 1),
        "unit": "orders/s",
        "n": args.n,
        "concurrency": args.concurrency,
        "post_p50_ms": round(posted["p50_ms"], 2),
        "post_p99_ms": round(posted["p99_ms"], 2),
        "post_max_ms": round(posted["max_ms"], 2),
        "post_seconds": round(posted["seconds"], 3),
        "seconds_to_all_completed": round(all_done, 3),
        "completed_per_s": round(args.n / all_done, 1) if all_done else 0.0,
        "not_completed": max(remaining, 0),
        "server_cpu_ms_per_order_post_phase": cpu_ms_per_order(cpu_posted),
        "server_cpu_ms_per_order_to_completed": cpu_ms_per_order(cpu_done),
        "trivial_rps": round(trivial_rps, 1),
        "ratio_to_trivial": round(accepted / trivial_rps, 4) if trivial_rps else None,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, "
                   f"Python {platform.python_version()}",
        "database": "postgresql" if pg_name else "sqlite",
        "workers": workers,
        "targets": targets,
        "errors": len(posted["errors"]),
        "first_errors": posted["errors"][:3],
    }, ensure_ascii=False))
    if posted["errors"] or remaining > 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
