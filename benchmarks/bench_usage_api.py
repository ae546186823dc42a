"""Benchmark: usage records per second through ``POST /api/v1/usage/bulk`` of a real
``openbss serve``.

Starts, on loopback only, with the process helpers of ``bench_http.py``:

- ``openbss serve`` on a fresh database (a temporary SQLite file, or a new PostgreSQL
  database on the server of ``--database-url`` / ``--postgres`` / ``OPENBSS_BENCH_PG``,
  dropped afterwards), after ``openbss init``, ``openbss demo`` and an admin key;
- bench_http's trivial FastAPI app with the same uvicorn settings (the baseline).

Set-up through the API (not measured): a voice usage price (0.02 EUR per minute, 100
minutes included per month), an offering with it, and ``--lines`` mobile lines (each its
own MSISDN) on one demo billing account. Then ``--concurrency`` keep-alive clients POST
``--n`` voice records in requests of ``--batch`` records (a JSON array of TMF635 usages,
each with its own recordId, spread over the lines, 1-600 s to a German number) — every
record normalised, deduplicated, guided to its line, rated (allowance first) and stored.
Prints ONE JSON line: records/s, requests/s, p50/p99 request latency, the server's CPU
per record, what the results said (accepted / duplicate / rejected), the trivial
baseline's req/s, machine info and the target (>= 50,000 records/s) with met true/false.

    .venv/bin/python benchmarks/bench_usage_api.py [--n 100000] [--batch 1000]
    .venv/bin/python benchmarks/bench_usage_api.py --postgres   # OPENBSS_DATABASE_URL
    OPENBSS_BENCH_PG=postgresql://u@h:p/db .venv/bin/python benchmarks/bench_usage_api.py
    .venv/bin/python benchmarks/bench_usage_api.py --smoke      # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
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

BULK = "/api/v1/usage/bulk"
CATALOG = "/tmf-api/productCatalogManagement/v4"
TARGET = 50_000.0
ACCOUNT = "Nordwind Logistik — Munich depot"


def set_up(base: str, key: str, lines: int, run: int) -> list[str]:
    """A priced voice offering and ``lines`` active lines on the demo account; their
    MSISDNs."""
    _, pop = http("POST", f"{base}{CATALOG}/productOfferingPrice", key, {
        "name": "Bench voice", "priceType": "usage", "usageType": "voice",
        "lifecycleStatus": "Active", "unitOfMeasure": {"amount": 1, "units": "minute"},
        "price": {"unit": "EUR", "value": "0.02"},
        "includedQuantity": {"amount": 100, "units": "minute"}})
    _, offering = http("POST", f"{base}{CATALOG}/productOffering", key, {
        "name": f"Bench Mobile {run}", "lifecycleStatus": "Active",
        "productOfferingPrice": [{"id": pop["id"]}]})
    _, accounts = http("GET", f"{base}/tmf-api/accountManagement/v4/billingAccount?"
                       f"name={urllib.parse.quote(ACCOUNT)}&fields=id", key)
    if not accounts:
        sys.exit("the demo loaded no Munich depot account")
    msisdns = [f"+49157{run:02d}{i:06d}" for i in range(lines)]
    for msisdn in msisdns:
        http("POST", f"{base}/tmf-api/productInventory/v4/product", key, {
            "name": "Bench line", "status": "active", "billingAccount": {"id": accounts[0]["id"]},
            "productOffering": {"id": offering["id"]},
            "productCharacteristic": [{"name": "MSISDN", "value": msisdn}]})
    return msisdns


def bodies(msisdns: list[str], n: int, batch: int, run: int, start: datetime) -> list[bytes]:
    """``n`` voice records in JSON arrays of ``batch``, generated before the clock runs."""
    rng = random.Random(run)
    out = []
    for first in range(0, n, batch):
        records = []
        for i in range(first, min(first + batch, n)):
            at = start + timedelta(milliseconds=i)
            records.append({
                "usageDate": at.isoformat().replace("+00:00", "Z"), "usageType": "voice",
                "usageCharacteristic": [
                    {"name": "recordId", "value": f"bench-{run}-{i}"},
                    {"name": "msisdn", "value": msisdns[i % len(msisdns)]},
                    {"name": "calledNumber", "value": f"+4930{rng.randrange(10**7):07d}"},
                    {"name": "duration", "value": rng.randint(1, 600)}]})
        out.append(json.dumps(records).encode())
    return out


async def post_bulk(port: int, key: str, payloads: list[bytes],
                    concurrency: int) -> dict[str, Any]:
    """POST every payload over ``concurrency`` keep-alive connections."""
    latencies: list[float] = []
    errors: list[str] = []
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    reasons: dict[str, int] = {}
    queue = iter(payloads)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**24)
        try:
            for body in queue:
                head = (f"POST {BULK} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
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
                if status != 200:
                    errors.append(f"{status} {payload[:300].decode(errors='replace')}")
                    continue
                result = json.loads(payload)
                for name in counts:
                    counts[name] += result[name]
                for r in result["results"]:
                    if r.get("reason"):
                        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(min(concurrency, len(payloads)))))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 \
            if latencies else 0.0

    return {"seconds": elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": latencies[-1] * 1000 if latencies else 0.0, "errors": errors,
            "counts": counts, "reasons": reasons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="records to POST")
    parser.add_argument("--batch", type=int, default=1000, help="records per request")
    parser.add_argument("--lines", type=int, default=200, help="mobile lines to guide to")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes (default 1 on SQLite, 2 on PostgreSQL)")
    parser.add_argument("--database-url", default=os.environ.get("OPENBSS_BENCH_PG"),
                        help="a PostgreSQL URL: a fresh database is created on its server "
                        "(default OPENBSS_BENCH_PG)")
    parser.add_argument("--postgres", "--pg", action="store_true",
                        help="PostgreSQL from OPENBSS_DATABASE_URL (see scripts/pg-throwaway)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.batch, args.lines = 2000, 500, 10
    tmp, database_url, pg_name, env = bench_database(args.database_url, args.postgres,
                                                     "openbss-bench-usage-")
    workers = args.workers or (2 if pg_name else 1)
    procs: list[subprocess.Popen[bytes]] = []
    run = secrets.randbelow(100)
    try:
        key, port, trivial_port = start_servers(tmp, env, workers, procs)
        base = f"http://{HOST}:{port}"
        msisdns = set_up(base, key, args.lines, run)
        # the lines started when they were created: usage from a second later
        start = datetime.now(UTC) + timedelta(seconds=1)
        warm = bodies(msisdns, min(args.batch, 200), min(args.batch, 200), run + 100, start)
        payloads = bodies(msisdns, args.n, args.batch, run, start)
        baseline = asyncio.run(_python_load(
            trivial_port, {"name": "trivial", "method": "GET", "path": "/item",
                           "headers": {}}, args.concurrency, 1 if args.smoke else 3))
        asyncio.run(post_bulk(port, key, warm, 1))  # imports, caches: not measured
        cpu_start = cpu_seconds(procs[0].pid)
        posted = asyncio.run(post_bulk(port, key, payloads, args.concurrency))
        cpu_end = cpu_seconds(procs[0].pid)
    finally:
        for proc in procs:
            stop(proc)
        if pg_name is not None:
            drop_postgres_database(database_url, pg_name)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    seconds = posted["seconds"]
    records_per_s = args.n / seconds if seconds else 0.0
    trivial_rps = baseline["requests"] / baseline["seconds"] if baseline["seconds"] else 0.0
    cpu_us = None
    if cpu_start is not None and cpu_end is not None and args.n:
        cpu_us = round((cpu_end - cpu_start) * 1e6 / args.n, 1)
    counts = posted["counts"]
    print(json.dumps({
        "metric": "usage_records_per_second_bulk_api",
        "value": round(records_per_s, 1),
        "unit": "records/s",
        "n": args.n,
        "batch": args.batch,
        "lines": args.lines,
        "concurrency": args.concurrency,
        "requests_per_s": round(len(payloads) / seconds, 2) if seconds else 0.0,
        "request_p50_ms": round(posted["p50_ms"], 1),
        "request_p99_ms": round(posted["p99_ms"], 1),
        "request_max_ms": round(posted["max_ms"], 1),
        "seconds": round(seconds, 3),
        "server_cpu_us_per_record": cpu_us,
        "accepted": counts["accepted"], "duplicates": counts["duplicates"],
        "rejected": counts["rejected"], "rejected_by_reason": posted["reasons"],
        "trivial_rps": round(trivial_rps, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, "
                   f"Python {platform.python_version()}",
        "database": "postgresql" if pg_name else "sqlite",
        "workers": workers,
        "targets": {f"records_per_s>={TARGET:g}": records_per_s >= TARGET},
        "errors": len(posted["errors"]),
        "first_errors": posted["errors"][:3],
    }, ensure_ascii=False))
    if posted["errors"] or counts["accepted"] != args.n:
        sys.exit(1)


if __name__ == "__main__":
    main()
