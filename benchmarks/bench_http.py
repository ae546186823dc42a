"""Benchmark: the HTTP request path of a real ``openbss serve``, against a trivial app.

Starts, in one run, on loopback only:

- ``openbss serve`` on a fresh database (a temporary SQLite file, or a new, dropped
  afterwards, PostgreSQL database on the server of ``--database-url`` / ``--postgres``),
  after ``openbss init``, ``openbss demo`` and ``openbss apikey create --role admin``;
- a trivial FastAPI app (one ``async`` endpoint answering a small JSON object) served by
  the same ``uvicorn.run`` settings and worker count,

then drives both with a load generator — ``wrk`` when it is installed (Debian package
``wrk``; this script installs nothing), else a built-in asyncio keep-alive client — for:

- ``trivial``: ``GET /item`` of the trivial app (the reference for every ratio);
- ``get_one``: ``GET productOffering/{id}`` of a demo offering;
- ``get_page``: ``GET productOffering?limit=20``;
- ``post``: an audited, idempotent ``POST productOffering`` (a fresh ``Idempotency-Key``
  per request);
- ``patch``: a merge-patch of one offering's ``description`` (audited too).

Prints ONE JSON line: each scenario's req/s, p50/p99 latency, ratio to ``trivial`` and
the server's CPU time per request (``cpu_ms_per_request``, from /proc),
the targets and whether they were met, and whether the audit chain still verifies.

    .venv/bin/python benchmarks/bench_http.py [--duration 10] [--connections 16]
    .venv/bin/python benchmarks/bench_http.py --postgres      # uses OPENBSS_DATABASE_URL
    .venv/bin/python benchmarks/bench_http.py --database-url postgresql://u@h:p/db
    .venv/bin/python benchmarks/bench_http.py --smoke         # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TARGETS = {"get_one": 0.50, "get_page": 0.30, "post": 0.25}
POST_P99_TARGET_MS = 25.0


# --- the trivial reference app --------------------------------------------------------

def trivial_app() -> Any:
    """The reference: FastAPI with one trivial endpoint, nothing else."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/item")
    async def item() -> dict[str, str]:
        return {"id": "1", "name": "trivial"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- processes ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def openbss_command() -> list[str]:
    script = Path(sys.executable).with_name("openbss")
    return [str(script)] if script.exists() else [sys.executable, "-m", "openbss"]


def run_cli(args: list[str], env: dict[str, str], cwd: str) -> str:
    done = subprocess.run([*openbss_command(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"openbss {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server on port {port} exited ({proc.returncode}):\n"
                     f"{log.read_text(errors='replace')[-3000:]}")
        with suppress(OSError), \
                urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    sys.exit(f"server on port {port} did not answer /health within {timeout} s")


def start_servers(tmp: Path, env: dict[str, str], workers: int,
                  procs: list[subprocess.Popen[bytes]]) -> tuple[str, int, int]:
    """``openbss init`` + ``demo`` + an admin key in ``tmp``, then a real ``openbss serve``
    and the trivial reference app on loopback (appended to ``procs``, which the caller
    stops): ``(admin key, openbss port, trivial port)``."""
    run_cli(["init"], env, str(tmp))
    run_cli(["demo"], env, str(tmp))
    key = run_cli(["apikey", "create", "--role", "admin", "--name", "bench"], env,
                  str(tmp)).strip().splitlines()[-1]
    port, trivial_port = free_port(), free_port()
    server_log, trivial_log = tmp / "serve.log", tmp / "trivial.log"
    with server_log.open("wb") as out:
        procs.append(subprocess.Popen(
            [*openbss_command(), "serve", "--host", HOST, "--port", str(port),
             "--workers", str(workers)], env=env, cwd=tmp, stdout=out,
            stderr=subprocess.STDOUT))
    with trivial_log.open("wb") as out:
        procs.append(subprocess.Popen(
            [sys.executable, "-c",
             "import uvicorn; uvicorn.run('bench_http:trivial_app', factory=True, "
             f"host={HOST!r}, port={trivial_port}, workers={workers}, "
             f"log_level='warning', app_dir={str(HERE)!r})"],
            env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT))
    wait_ready(port, procs[0], server_log)
    wait_ready(trivial_port, procs[1], trivial_log)
    return key, port, trivial_port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http(method: str, url: str, key: str, body: dict[str, Any] | None = None,
         content_type: str = "application/json") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read() or b"null")


def fresh_postgres_database(url: str) -> tuple[str, str]:
    """Create an empty database next to the one ``url`` names; return its URL and name."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    name = f"openbss_bench_{secrets.token_hex(4)}"
    engine = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def bench_database(database_url: str | None, postgres: bool, prefix: str
                   ) -> tuple[Path, str, str | None, dict[str, str]]:
    """The database of a benchmark run: a temporary SQLite file, or a fresh PostgreSQL
    database on the server of ``database_url`` (``postgres``: of OPENBSS_DATABASE_URL);
    ``(temporary directory, database URL, PostgreSQL database to drop or None, the
    server's environment)``. Exits with a message on a bad URL."""
    base_url = database_url
    if postgres and base_url is None:
        base_url = os.environ.get("OPENBSS_DATABASE_URL", "")
        if not base_url.startswith("postgresql"):
            sys.exit("--postgres needs OPENBSS_DATABASE_URL=postgresql://… "
                     "(source scripts/pg-throwaway && pg_start)")
    if base_url is not None and not base_url.startswith("postgresql"):
        sys.exit("--database-url must be a postgresql:// URL (SQLite is the default)")
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    pg_name = None
    if base_url:
        url, pg_name = fresh_postgres_database(base_url)
    else:
        url = f"sqlite:///{tmp}/var/openbss.db"
    env = {**os.environ, "OPENBSS_DATABASE_URL": url,
           "OPENBSS_SECRET_KEY": os.environ.get("OPENBSS_BENCH_SECRET_KEY")
           or secrets.token_hex(32), "OPENBSS_HOME": str(tmp)}
    return tmp, url, pg_name, env


# --- load generators ------------------------------------------------------------------

WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"errors": %d, "non2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def wrk_script(scenario: dict[str, Any]) -> str:
    """A wrk Lua script: fixed request, or a fresh Idempotency-Key / body per request."""
    headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}"
                        for k, v in scenario["headers"].items())
    lines = [f"local method, path = {lua_string(scenario['method'])}, "
             f"{lua_string(scenario['path'])}",
             f"local headers = {{{headers}}}",
             f"local run = {lua_string(secrets.token_hex(4))}",
             "local count = 0",
             "local threads = 0",
             "function setup(thread) threads = threads + 1; thread:set('tid', threads) end"]
    template = scenario.get("body_template")
    if template is None:
        lines.append("function request() return wrk.format(method, path, headers) end")
    else:
        lines += [
            f"local template = {lua_string(template)}",
            "function request()",
            "  count = count + 1",
            "  local unique = run .. '-' .. tostring(tid) .. '-' .. count",
            "  headers['Idempotency-Key'] = unique" if scenario.get("idempotent") else "",
            "  local body = string.gsub(template, '{n}', unique)",
            "  return wrk.format(method, path, headers, body)",
            "end",
        ]
    return "\n".join(lines) + WRK_DONE


def run_wrk(port: int, scenario: dict[str, Any], args: argparse.Namespace,
            workdir: Path) -> dict[str, Any]:
    script = workdir / f"{scenario['name']}.lua"
    script.write_text(wrk_script(scenario))
    done = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
         "--timeout", "10s", "-s", str(script), f"http://{HOST}:{port}{scenario['path']}"],
        capture_output=True, text=True, timeout=args.duration + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"wrk failed for {scenario['name']}:\n{done.stdout}{done.stderr}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    return {"requests": raw["requests"], "seconds": raw["duration_us"] / 1e6,
            "p50_ms": raw["p50_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "errors": raw["errors"] + raw["non2xx"]}


async def _python_load(port: int, scenario: dict[str, Any], connections: int,
                       duration: float) -> dict[str, Any]:
    """A keep-alive HTTP/1.1 client on raw asyncio streams (used when wrk is missing)."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    run = secrets.token_hex(4)
    deadline = time.perf_counter() + duration

    def request_bytes() -> bytes:
        nonlocal counter
        counter += 1
        headers = dict(scenario["headers"])
        body = b""
        if scenario.get("body_template") is not None:
            unique = f"{run}-{counter}"
            body = scenario["body_template"].replace("{n}", unique).encode()
            if scenario.get("idempotent"):
                headers["Idempotency-Key"] = unique
        head = f"{scenario['method']} {scenario['path']} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request_bytes())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if status >= 400:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 \
            if latencies else 0.0

    return {"requests": len(latencies), "seconds": elapsed, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "errors": errors}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` and its live child processes (uvicorn's workers)
    from /proc; None where there is no /proc."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    try:
        stats = {int(d): Path(f"/proc/{d}/stat").read_text()
                 for d in os.listdir("/proc") if d.isdigit()
                 and Path(f"/proc/{d}/stat").exists()}
    except OSError:
        return None
    if pid not in stats:
        return None
    for other, stat in stats.items():
        fields = stat.rpartition(")")[2].split()
        if other == pid or int(fields[1]) == pid:  # fields[1]: the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def run_load(port: int, scenario: dict[str, Any], args: argparse.Namespace,
             workdir: Path, pid: int | None = None) -> dict[str, Any]:
    cpu_before = cpu_seconds(pid) if pid else None
    if args.client == "wrk":
        result = run_wrk(port, scenario, args, workdir)
    else:
        result = asyncio.run(_python_load(port, scenario, args.connections, args.duration))
    cpu_after = cpu_seconds(pid) if pid else None
    rps = result["requests"] / result["seconds"] if result["seconds"] else 0.0
    out = {"rps": round(rps, 1), "p50_ms": round(result["p50_ms"], 2),
           "p99_ms": round(result["p99_ms"], 2), "requests": result["requests"],
           "errors": result["errors"]}
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        # the server's CPU time per answered request (moves less than req/s on a
        # shared machine)
        out["cpu_ms_per_request"] = round(
            (cpu_after - cpu_before) * 1000 / result["requests"], 3)
    return out


# --- the run --------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes (default 1 on SQLite, 2 on PostgreSQL)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL URL: a fresh database is created on its server")
    parser.add_argument("--postgres", action="store_true",
                        help="PostgreSQL from OPENBSS_DATABASE_URL (see scripts/pg-throwaway)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.connections = 1, min(args.connections, 4)
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    base_url = args.database_url
    if args.postgres and base_url is None:
        base_url = os.environ.get("OPENBSS_DATABASE_URL", "")
        if not base_url.startswith("postgresql"):
            sys.exit("--postgres needs OPENBSS_DATABASE_URL=postgresql://… "
                     "(source scripts/pg-throwaway && pg_start)")
    if base_url is not None and not base_url.startswith("postgresql"):
        sys.exit("--database-url must be a postgresql:// URL (SQLite is the default)")
    workers = args.workers or (2 if base_url else 1)

    tmp = Path(tempfile.mkdtemp(prefix="openbss-bench-http-"))
    pg_name = None
    if base_url:
        database_url, pg_name = fresh_postgres_database(base_url)
    else:
        database_url = f"sqlite:///{tmp}/var/openbss.db"
    env = {**os.environ, "OPENBSS_DATABASE_URL": database_url,
           "OPENBSS_SECRET_KEY": os.environ.get("OPENBSS_BENCH_SECRET_KEY")
           or secrets.token_hex(32), "OPENBSS_HOME": str(tmp),
           "OPENBSS_WEBHOOK_ALLOW_PRIVATE": "true"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        key, port, trivial_port = start_servers(tmp, env, workers, procs)

        c = "/tmf-api/productCatalogManagement/v4"
        base = f"http://{HOST}:{port}"
        _, offerings = http("GET", f"{base}{c}/productOffering?limit=1&fields=id", key)
        if not offerings:
            sys.exit("the demo loaded no productOffering")
        _, target = http("POST", f"{base}{c}/productOffering", key,
                         {"name": "bench patch target", "description": "before"})
        auth = {"Authorization": f"Bearer {key}"}
        scenarios: list[tuple[int, dict[str, Any]]] = [
            (trivial_port, {"name": "trivial", "method": "GET", "path": "/item",
                            "headers": {}}),
            (port, {"name": "get_one", "method": "GET",
                    "path": f"{c}/productOffering/{offerings[0]['id']}", "headers": auth}),
            (port, {"name": "get_page", "method": "GET", "path": f"{c}/productOffering?limit=20",
                    "headers": auth}),
            (port, {"name": "post", "method": "POST", "path": f"{c}/productOffering",
                    "headers": {**auth, "Content-Type": "application/json"},
                    "body_template": '{"name": "bench {n}", "description": "load test"}',
                    "idempotent": True}),
            (port, {"name": "patch", "method": "PATCH",
                    "path": f"{c}/productOffering/{target['id']}",
                    "headers": {**auth, "Content-Type": "application/merge-patch+json"},
                    "body_template": '{"description": "patched {n}"}'}),
        ]
        # a short warm-up of each path (imports, caches, connection pools), not measured
        warm = argparse.Namespace(**{**vars(args), "duration": 1})
        for scenario_port, scenario in scenarios:
            run_load(scenario_port, scenario, warm, tmp)
        pids = {port: procs[0].pid, trivial_port: procs[1].pid}
        results = {scenario["name"]: run_load(scenario_port, scenario, args, tmp,
                                              pids[scenario_port])
                   for scenario_port, scenario in scenarios}
        for proc in procs:
            stop(proc)
        verify = subprocess.run([*openbss_command(), "audit", "verify"], env=env, cwd=tmp,
                                capture_output=True, text=True, timeout=600)
    finally:
        for proc in procs:
            stop(proc)
        if pg_name is not None and base_url is not None:
            drop_postgres_database(database_url, pg_name)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    reference = results["trivial"]["rps"] or 1.0
    for result in results.values():
        result["ratio"] = round(result["rps"] / reference, 3)
    targets = {f"{name}_ratio>={goal}": results[name]["ratio"] >= goal
               for name, goal in TARGETS.items()}
    targets[f"post_p99_ms<={POST_P99_TARGET_MS:g}"] = \
        results["post"]["p99_ms"] <= POST_P99_TARGET_MS
    if not base_url:
        targets["post_rps>=400"] = results["post"]["rps"] >= 400
    errors = sum(r["errors"] for r in results.values())
    print(json.dumps({
        "metric": "http_audited_post_per_second",
        "value": results["post"]["rps"],
        "unit": "req/s",
        "n": sum(r["requests"] for r in results.values()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, "
                   f"Python {platform.python_version()}",
        "database": "postgresql" if base_url else "sqlite",
        "workers": workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "client": args.client,
        "details": results,
        "targets": targets,
        "audit_verified": verify.returncode == 0,
        "errors": errors,
    }))
    if errors or verify.returncode != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
