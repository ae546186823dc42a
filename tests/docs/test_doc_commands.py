"""Every command of the ```bash blocks of README.md and docs/tour.md runs, as written,
against a real server holding the demo data — so the docs cannot drift from the code.

The harness does what ``scripts/run`` does, in a fresh data directory: ``openbss init``,
``openbss demo``, an admin key (``openbss apikey create``) and ``openbss serve`` on a free
port. Each block then runs as one bash script (``set -e -o pipefail``) with the data
directory as its working directory (``.venv``, ``examples`` and ``specs`` link to the
repository's, so ``.venv/bin/openbss …`` and the sample files resolve, and the files the
docs write land there). The blocks of one document share a terminal session: variables
and functions a block defines are there in the next block (``KEY``, ``H``, ids captured
with ``$(…)``). The docs' ``localhost:8000`` / ``127.0.0.1:8000`` become the free port;
the key just made is in ``var/admin-key`` (where ``scripts/run`` keeps it: the tour reads
it from there) and replaces the README's ``KEY=obss_...``.

A command fails the test when it exits non-zero, or when curl gets an HTTP error — unless
the doc shows that error on purpose with a ``# → 409 …`` comment (then it must answer
exactly that). The tour runs first, on the demo as ``openbss demo`` left it (its
excerpts describe that), then the README.

The harness always uses SQLite: it checks the docs, not the database, so the CI pass on
PostgreSQL (``OPENBSS_DATABASE_URL=postgresql://…`` in the environment) skips it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from doc_blocks import Block, Command, bash_blocks, last_reached, outputs, script

REPO = Path(__file__).resolve().parents[2]
#: In this order: the tour shows the demo as loaded, before the README's commands add to it.
DOCS = ("docs/tour.md", "README.md")

pytestmark = pytest.mark.skipif(
    os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"),
    reason="checks the docs' commands (always on SQLite), not the database: once is enough")

#: Commands not run, by how they start, and why. Everything else runs.
SKIPPED = {
    "scripts/run": "installs into ./.venv and serves on port 8000 in the foreground: the "
                   "harness does its steps itself (init, demo, apikey create, serve)",
    "scripts/test": "the whole test suite, this test included",
}

#: Text of the docs replaced before running: (document, text, replacement). Each must
#: still be found (test_every_table_entry_is_used), so the table stays this small.
REWRITES = [
    ("README.md", "KEY=obss_...", 'KEY="$OBSS_DOC_KEY"'),
    # the README shows the retry of a delivery that failed: the harness made one
    # (a listener that is down) before the README runs
    ("README.md", "eventDeliveries/<id>/retry", "eventDeliveries/$OBSS_DEAD_DELIVERY/retry"),
]

#: Files the docs read that a reader brings along: name in the working directory ->
#: the repository's file copied there.
FILES = {
    # "your bank's statement": a public camt.053 sample (it matches nothing of the demo)
    "camt053.xml": "tests/payments/samples/camt.053.001.02_FFFS-sample.xml",
}

#: What some commands are shown to answer: (document, a piece of the command, a piece of
#: its output, compared without whitespace).
EXPECTED = [
    ("README.md", "curl -s localhost:8000/health", '"status":"ok"'),
    ("README.md", "localhost:8000/api/v1/pricing/preview", '"amount": "130"'),
    ("README.md", "localhost:8000/api/v1/pricing/preview", '"roundedAmount": "130.00"'),
    ("README.md", "catalog import examples/catalog-mobile.yaml",
     "created: 0, updated: 0, new version: 0, unchanged: 26"),
    ("README.md", "localhost:8000/api/v1/rating/cost", '"cost": "0.7169"'),
    ("README.md", "localhost:8000/api/v1/rating/cost", '"ratingPlan": "RP_1001"'),
    ("README.md", "$Q/quote -d", '"state": "inProgress"'),
    ("README.md", "/order -d '{}'", '"state": "acknowledged"'),
    ("README.md", 'ORDER?fields=state,milestone', '"state": "completed"'),
    ("README.md", "$O/cancelProductOrder", '"code": "order_not_cancellable"'),
    ("README.md", "$P/payment -d", '"status": "done"'),
    ("README.md", "SKEY\" -H 'Content-Type", '"now": "2026-02-28T00:00:00Z"'),
    ("docs/tour.md", "api/v1/testClock", '"sandbox": true'),
    ("docs/tour.md", "/prices?currency=EUR", '"name": "Data beyond 50 GB"'),
    ("docs/tour.md", "/eligibility?customerType=individual&country=GB", '"eligible": false'),
    ("docs/tour.md", "$O/productOrder?fields=externalId,state",
     '"externalId": "demo-nordwind-future", "state": "acknowledged"'),
    ("docs/tour.md", "/products/$LINE/history", '"change": "plan_changed"'),
    ("docs/tour.md", "/products/$FIBRE/charges", '"kind": "earlyTerminationFee"'),
    ("docs/tour.md", "usage rejects list --json", '"reason": "product_inactive"'),
    ("docs/tour.md", "head -c 8 lena-first-bill.pdf", "%PDF-"),
    ("docs/tour.md", "category=creditNote",
     '"reason": "Goodwill credit: network maintenance on the first weekend"'),
    ("docs/tour.md", "statementEntries?state=unmatched", '"name": "M. Unbekannt"'),
    ("docs/tour.md", "dunning/cases", '"action": "suspend"'),
    ("docs/tour.md", "ledger/trialBalance", '"balanced": true'),
    ("docs/tour.md", "reconcile --json", '"ok": true'),
    ("docs/tour.md", "reconciliation?period=$MONTH", '"ok": true'),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass
class Harness:
    home: Path
    env: dict[str, str]
    port: int
    key: str
    failed: dict[str, str] = field(default_factory=dict)
    used: set[tuple[str, str, str]] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (start, where)

    def api(self, method: str, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.key}",
                     **({"Content-Type": "application/json"} if data else {})})
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def openbss(self, *args: str) -> str:
        result = subprocess.run([str(self.home / ".venv/bin/openbss"), *args],
                                cwd=self.home, env=self.env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def dead_delivery(self) -> str:
        """A delivery that failed for good (the listener is down), for the README's retry.
        The listener stays registered (its deliveries would go with it)."""
        if "OBSS_DEAD_DELIVERY" in self.env:
            return self.env["OBSS_DEAD_DELIVERY"]
        hub = self.api("POST", "/tmf-api/partyManagement/v4/hub",
                       {"callback": f"http://127.0.0.1:{_free_port()}/down"})
        assert isinstance(hub, dict)
        self.api("POST", "/tmf-api/partyManagement/v4/individual",
                 {"givenName": "Listener", "familyName": "Down"})
        deadline = time.monotonic() + 30
        while True:
            dead = self.api("GET", "/api/v1/eventDeliveries?status=dead&fields=id")
            if isinstance(dead, list) and dead:
                break
            assert time.monotonic() < deadline, "no delivery died (worker not running?)"
            time.sleep(0.3)
        self.env["OBSS_DEAD_DELIVERY"] = str(dead[0]["id"])
        return self.env["OBSS_DEAD_DELIVERY"]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    home = tmp_path_factory.mktemp("docs-home")
    for name in (".venv", "examples", "specs"):
        (home / name).symlink_to(REPO / name, target_is_directory=True)
    for name, source in FILES.items():
        shutil.copy(REPO / source, home / name)
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENBSS_", "PYTEST_", "COV_"))}
    env.update({
        "OPENBSS_HOME": str(home),
        "OPENBSS_DATABASE_URL": f"sqlite:///{home / 'openbss.db'}",   # always SQLite
        "OPENBSS_SECRET_KEY": "docs-test-secret-key-" + "x" * 32,
        "OPENBSS_WEBHOOK_ALLOW_PRIVATE": "true",   # as scripts/run
        "OPENBSS_BASE_URL": f"http://127.0.0.1:{port}",   # hrefs the docs follow
        "OPENBSS_LOG_LEVEL": "WARNING",
        "OPENBSS_WEBHOOK_MAX_ATTEMPTS": "1",   # the README's failed delivery dies at once
        "NO_COLOR": "1",
    })
    harness = Harness(home, env, port, key="")
    harness.openbss("init")
    harness.openbss("demo")
    harness.key = harness.openbss("apikey", "create", "--tenant", "default",
                                  "--role", "admin").strip()
    env["OBSS_DOC_KEY"] = harness.key
    (home / "var").mkdir(exist_ok=True)   # where scripts/run keeps the key it printed
    (home / "var" / "admin-key").write_text(harness.key + "\n", encoding="utf-8")
    (home / "var" / "admin-key").chmod(0o600)
    log = (home / "serve.log").open("w")
    server = subprocess.Popen(
        [str(home / ".venv/bin/openbss"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (home / "serve.log").read_text()
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield harness
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


BLOCKS: list[Block] = [block for doc in DOCS for block in bash_blocks(REPO / doc, doc)]


def _rewrite(harness: Harness, doc: str, text: str) -> str:
    for where, old, new in REWRITES:
        if where == doc and old in text:
            text = text.replace(old, new)
            harness.used.add((where, old, new))
    for host in ("localhost", "127.0.0.1"):
        text = text.replace(f"{host}:8000", f"{host}:{harness.port}")
    return text


def _skip_reason(cmd: Command) -> str | None:
    for start, reason in SKIPPED.items():
        if cmd.first_line.startswith(start):
            return reason
    return None


def _describe(block: Block, cmd: Command | None, output: str | None) -> str:
    where = f"{block.path}:{cmd.line}" if cmd else block.name
    return (f"\n--- block {block.name}:\n{block.text}\n--- failing command ({where}):\n"
            f"{cmd.text if cmd else '?'}\n--- its output:\n{output}\n")


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_doc_block(harness: Harness, block: Block) -> None:
    if block.path in harness.failed:
        pytest.skip(f"an earlier block of {block.path} failed ({harness.failed[block.path]})")
    if "eventDeliveries/<id>/retry" in block.text:
        harness.dead_delivery()
    planned: list[tuple[Command, str | None]] = []
    for cmd in block.commands:
        reason = _skip_reason(cmd)
        if reason:
            harness.skipped.append((cmd.first_line.split()[0], f"{block.path}:{cmd.line}"))
            planned.append((cmd, None))
            continue
        text = _rewrite(harness, block.path, cmd.text)
        if cmd.expected_status() and not text.lstrip().startswith("curl "):
            raise AssertionError(f"{block.path}:{cmd.line}: an expected HTTP error is only "
                                 "understood on a command that starts with curl")
        planned.append((cmd, text))
    source = script(planned)
    state = harness.home / f"state-{block.path.replace('/', '-')}.sh"
    path = harness.home / f"block-{block.path.replace('/', '-')}-{block.line}.sh"
    path.write_text(source, encoding="utf-8")
    started = time.monotonic()
    result = subprocess.run(["bash", str(path)], cwd=harness.home,
                            env={**harness.env, "OBSS_STATE": str(state)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=240)
    elapsed = time.monotonic() - started
    path.with_suffix(".out").write_text(result.stdout, encoding="utf-8")
    found = outputs(result.stdout, len(planned))
    harness.ran.add(block.name)
    if result.returncode != 0:
        reached = last_reached(result.stdout)
        cmd = planned[reached][0] if reached is not None else None
        harness.failed[block.path] = f"{block.name}, exit {result.returncode}"
        pytest.fail(f"exit {result.returncode} after {elapsed:.1f}s"
                    + _describe(block, cmd, found[reached] if reached is not None
                                else result.stdout))
    for doc, piece, fragment in EXPECTED:
        if doc != block.path:
            continue
        for (cmd, text), output in zip(planned, found, strict=True):
            if text is None or piece not in cmd.text:
                continue
            harness.used.add((doc, piece, fragment))
            if _squash(fragment) not in _squash(output or ""):
                harness.failed[block.path] = f"{block.name}: an answer differs"
                pytest.fail(f"the doc shows {fragment!r} in the answer of this command"
                            + _describe(block, cmd, output))


def test_every_table_entry_is_used(harness: Harness) -> None:
    """REWRITES and EXPECTED name text the docs still contain: a stale entry fails."""
    if len(harness.ran) < len(BLOCKS):
        pytest.skip("not every block ran")
    stale = [entry for entry in [*REWRITES, *EXPECTED] if entry not in harness.used]
    assert not stale, stale
    unused = [start for start in SKIPPED if start not in {s for s, _ in harness.skipped}]
    assert not unused, ("skipped commands the docs no longer have", unused)
