"""Harness of the end-to-end stories: a real ``openbss serve`` subprocess (with its worker
thread, which provisions orders and runs the daily passes), the ``openbss`` command line
as subprocesses, and an HTTP client — nothing of openbss is imported.

The database:

- SQLite: a file of the harness's own (``sqlite:///<tmp>/e2e.db``);
- PostgreSQL (``OPENBSS_DATABASE_URL=postgresql…`` in the environment, as CI's second
  run sets it): a private database created next to the suite's in the same cluster with
  ``createdb`` (dropped at the end), so that the server's worker thread — which works
  for *every* tenant of its database: provisioning steps, webhook deliveries, dunning —
  never takes work from the tests running concurrently in other xdist workers. When no
  ``createdb`` is found or it is refused, or with ``OPENBSS_E2E_SHARED_DATABASE=1``, the
  suite's database itself is used; the stories isolate themselves by tenant.

The server lives for the tests of this package (``scope="package"``) and is stopped
(terminate, then kill) when they are done. When a test fails, the last lines of the
server's stderr are attached to its report.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import pytest

#: the ``openbss`` entry point of the virtualenv running the tests
OPENBSS = Path(sys.executable).with_name("openbss")
CLI_TIMEOUT = 180.0
START_TIMEOUT = 90.0
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}

_RUNNING: list[Server] = []


def parse(text: str) -> Any:
    """JSON with every number that has a fraction as an exact ``Decimal`` (never a
    float): money is compared exactly."""
    return json.loads(text, parse_float=Decimal)


def _encode(value: Any) -> Any:
    # Decimals go out as JSON numbers: the shortest float repr of a 2-decimal amount is
    # its exact digits ("40.87").
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def dumps(body: Any) -> str:
    return json.dumps(body, default=_encode)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the database ------------------------------------------------------------------------------

def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _pg_args(url: str) -> tuple[list[str], dict[str, str], str]:
    """``createdb``/``dropdb`` connection arguments, environment and database name of a
    SQLAlchemy PostgreSQL URL."""
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "localhost", "-p", str(parts.port or 5432)]
    if parts.username:
        args += ["-U", unquote(parts.username)]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return args, env, parts.path.lstrip("/")


def _private_postgres(url: str) -> tuple[str, Callable[[], None]] | None:
    """A database of our own in the cluster of ``url`` and how to drop it; None when it
    cannot be made (no ``createdb``, no privilege)."""
    createdb, dropdb = _pg_tool("createdb"), _pg_tool("dropdb")
    if createdb is None or dropdb is None:
        return None
    args, env, suite_db = _pg_args(url)
    name = f"openbss_e2e_{secrets.token_hex(4)}"
    made = subprocess.run([createdb, *args, "--maintenance-db", suite_db or "postgres", name],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    if made.returncode != 0:
        sys.stderr.write(f"e2e: createdb failed ({made.stderr.strip()}); using the "
                         "suite's database\n")
        return None

    def drop() -> None:
        subprocess.run([dropdb, *args, "--maintenance-db", suite_db or "postgres",
                        "--if-exists", name], env=env, capture_output=True, timeout=60,
                       check=False)

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}")), drop


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """The lock the suite's ``database_url`` fixture (tests/conftest.py) holds while it
    migrates a shared database: ``openbss init`` waits for it instead of racing it."""
    name = "openbss-migrate-" + hashlib.sha256(url.encode()).hexdigest()[:16] + ".lock"
    with (Path(tempfile.gettempdir()) / name).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _database(home: Path) -> tuple[str, Callable[[], None]]:
    url = os.environ.get("OPENBSS_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return f"sqlite:///{home / 'e2e.db'}", lambda: None
    if os.environ.get("OPENBSS_E2E_SHARED_DATABASE") != "1":
        private = _private_postgres(url)
        if private is not None:
            return private
    return url, lambda: None


# -- the server and the command line -----------------------------------------------------------

@dataclass
class Server:
    """A running ``openbss serve`` and the environment its CLI commands share."""

    base_url: str
    database_url: str
    env: dict[str, str]
    home: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _ready: bool = False

    def cli(self, *args: str, check: bool = True,
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``openbss ARGS…`` with the server's environment; ``check``: fail the test
        (with the command's output) unless it exits 0."""
        result = subprocess.run([str(OPENBSS), *args], env=self.env, cwd=self.home,
                                capture_output=True, text=True, timeout=timeout,
                                check=False)
        if check and result.returncode != 0:
            pytest.fail(f"openbss {' '.join(args)} exited {result.returncode}\n"
                        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        """``openbss ARGS… --json`` (exit 0) and its stdout parsed (exact decimals)."""
        result = self.cli(*args, "--json")
        try:
            return parse(result.stdout)
        except ValueError:
            pytest.fail(f"openbss {' '.join(args)} --json printed no JSON:\n{result.stdout}")

    def log_tail(self, lines: int = 150) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(the server wrote nothing)"

    def start(self) -> None:
        """Launch ``openbss serve`` (see :meth:`wait_ready`)."""
        port = int(urlsplit(self.base_url).port or 0)
        with self.log.open("wb") as err:
            self.process = subprocess.Popen(
                [str(OPENBSS), "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", "1"],
                env=self.env, cwd=self.home, stdout=subprocess.DEVNULL, stderr=err)

    def wait_ready(self) -> None:
        """Until ``GET /ready`` answers 200 (at once when it did before)."""
        if self._ready:
            return
        assert self.process is not None, "the server was not started"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"openbss serve exited {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    self._ready = True
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"openbss serve was not ready after {START_TIMEOUT:.0f} s:"
                                   f"\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def _secret_key() -> str:
    key = os.environ.get("OPENBSS_SECRET_KEY", "")
    return key if len(key.encode()) >= 32 else secrets.token_urlsafe(48)


@pytest.fixture(scope="package")
def openbss_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``openbss init`` then ``openbss serve`` on a free port. The server boots while
    the caller goes on with the command line (which needs only the database); call
    ``wait_ready()`` before the first HTTP request (``make_sandbox_tenant`` does)."""
    home = tmp_path_factory.mktemp("e2e-home")
    database_url, drop_database = _database(home)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ,
           "OPENBSS_HOME": str(home),
           "OPENBSS_DATABASE_URL": database_url,
           "OPENBSS_SECRET_KEY": _secret_key(),
           "OPENBSS_WEBHOOK_ALLOW_PRIVATE": "true",
           "OPENBSS_LOG_LEVEL": "WARNING",
           "OPENBSS_BASE_URL": base_url,
           # the worker sleeps this long only when it found nothing to do: orders
           # complete sooner than with the default second
           "OPENBSS_WORKER_POLL_SECONDS": "0.2"}
    server = Server(base_url=base_url, database_url=database_url, env=env, home=home,
                    log=home / "serve.stderr.log")
    try:
        with _migration_lock(database_url):
            server.cli("init")
        server.start()
        _RUNNING.append(server)
        yield server
    finally:
        if server in _RUNNING:
            _RUNNING.remove(server)
        server.stop()
        drop_database()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test's report shows what the server logged."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and _RUNNING:
        report.sections.append(("openbss serve stderr (last lines)", _RUNNING[-1].log_tail()))


# -- tenants and their HTTP client -------------------------------------------------------------

class Api:
    """An ``httpx.Client`` bound to one API key; every helper checks the status and
    parses the answer with exact decimals."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"})

    def request(self, method: str, path: str, *, expect: int | None = 200,
                **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if expect is not None and response.status_code != expect:
            pytest.fail(f"{method} {path} answered {response.status_code}, expected "
                        f"{expect}:\n{response.text[:3000]}")
        return response

    def send(self, method: str, path: str, body: Any, *, expect: int | None = 200,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """A JSON body (exact decimals) and the raw response."""
        return self.request(method, path, expect=expect, content=dumps(body),
                            headers={"Content-Type": "application/json", **(headers or {})})

    def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        return parse(self.request("GET", path, expect=expect, params=params or None).text)

    def post(self, path: str, body: Any = None, expect: int = 201,
             params: dict[str, Any] | None = None) -> Any:
        response = self.request("POST", path, expect=expect, params=params,
                                content=dumps({} if body is None else body),
                                headers={"Content-Type": "application/json"})
        return parse(response.text)

    def patch(self, path: str, body: Any, expect: int = 200) -> Any:
        return parse(self.request("PATCH", path, expect=expect, content=dumps(body),
                                  headers=MERGE_PATCH).text)

    def close(self) -> None:
        self.http.close()


@dataclass
class Tenant:
    name: str
    key: str
    api: Api


@pytest.fixture(scope="package")
def make_sandbox_tenant(openbss_server: Server) -> Iterator[Callable[..., Tenant]]:
    """``make_sandbox_tenant(clock_start, region=, currency=)``: ``openbss tenant create
    e2e-<hex> --sandbox …`` and an admin key (``openbss apikey create``, printed alone on
    stdout), with a client using it."""
    made: list[Tenant] = []

    def make(clock_start: str, *, region: str = "DE", currency: str = "EUR") -> Tenant:
        name = f"e2e-{secrets.token_hex(4)}"
        openbss_server.cli("tenant", "create", name, "--sandbox", "--clock-start",
                           clock_start, "--region", region, "--currency", currency)
        key = openbss_server.cli("apikey", "create", "--tenant", name,
                                 "--role", "admin").stdout.strip()
        assert key.startswith("obss_") and "\n" not in key, key
        openbss_server.wait_ready()
        tenant = Tenant(name=name, key=key, api=Api(openbss_server.base_url, key))
        made.append(tenant)
        return tenant

    yield make
    for tenant in made:
        tenant.api.close()
