"""The hash-chained audit log, ``openbss audit verify`` and the other CLI commands."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from openbss.cli import app as cli
from openbss.core.db import unit_of_work
from openbss.core.models import ApiKey, AuditEntry

runner = CliRunner()
HUB = "/tmf-api/event/v4/hub"


def _make_rows(client, tenant, n=3):
    ids = []
    for i in range(n):
        r = client.post(HUB, json={"callback": f"http://127.0.0.1:1/{i}"},
                        headers=tenant.headers(**{"X-Request-Id": f"req-{i}"}))
        ids.append(r.json()["id"])
    return ids


def test_every_mutation_writes_an_audit_row_in_its_transaction(client, tenant):
    [hub_id] = _make_rows(client, tenant, 1)
    client.delete(f"{HUB}/{hub_id}", headers=tenant.headers())
    rows = client.get(f"/api/v1/audit?resourceId={hub_id}&sort=seq",
                      headers=tenant.headers("auditor")).json()
    assert [r["action"] for r in rows] == ["create", "delete"]
    created, deleted = rows
    assert created["actor"].startswith("apikey:") and created["requestId"] == "req-0"
    assert created["before"] is None and created["after"]["callback"].endswith("/0")
    assert deleted["before"]["id"] == hub_id and deleted["after"] is None
    assert deleted["prevHash"] == created["hash"]
    # a failed request leaves no audit row
    before = int(client.get("/api/v1/audit", headers=tenant.headers("auditor"))
                 .headers["X-Total-Count"])
    client.delete(f"{HUB}/does-not-exist", headers=tenant.headers())
    after = int(client.get("/api/v1/audit", headers=tenant.headers("auditor"))
                .headers["X-Total-Count"])
    assert before == after


def test_verify_passes_then_detects_an_altered_row(client, tenant):
    _make_rows(client, tenant)
    ok = runner.invoke(cli, ["audit", "verify", "--tenant", tenant.name])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    with unit_of_work() as session:
        session.execute(update(AuditEntry).where(
            AuditEntry.tenant_id == tenant.id, AuditEntry.seq == 3
        ).values(actor="mallory"))
    bad = runner.invoke(cli, ["audit", "verify", "--tenant", tenant.name])
    assert bad.exit_code == 1
    assert "at row 3" in bad.output and "hash" in bad.output


def test_verify_detects_a_deleted_row_and_a_truncated_tail(client, make_tenant):
    first, second = make_tenant(), make_tenant()
    _make_rows(client, first)
    _make_rows(client, second)
    with unit_of_work() as session:
        session.execute(delete(AuditEntry).where(
            AuditEntry.tenant_id == first.id, AuditEntry.seq == 2))
        last = session.scalar(select(AuditEntry.seq).where(
            AuditEntry.tenant_id == second.id).order_by(AuditEntry.seq.desc()).limit(1))
        session.execute(delete(AuditEntry).where(
            AuditEntry.tenant_id == second.id, AuditEntry.seq == last))
    out = runner.invoke(cli, ["audit", "verify", "--tenant", first.name])
    assert out.exit_code == 1 and "row 2 is missing" in out.output
    out = runner.invoke(cli, ["audit", "verify", "--tenant", second.name])
    assert out.exit_code == 1 and "deleted" in out.output


def test_apikey_create_prints_the_key_alone_and_stores_only_its_hash(tenant):
    result = runner.invoke(cli, ["apikey", "create", "--tenant", tenant.name,
                                 "--role", "finance"])
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert "\n" not in key and key.startswith("obss_")
    with unit_of_work() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == key.split("_")[1]))
        assert row is not None and row.role == "finance"
        assert key not in (row.key_hash, row.name, row.prefix)


def test_cli_failures_are_one_line_and_non_zero(tenant):
    for args in (["apikey", "create", "--tenant", tenant.name, "--role", "wizard"],
                 ["apikey", "create", "--tenant", "no-such-tenant"],
                 ["tenant", "create", tenant.name],
                 ["tenant", "create", "Bad Name!"]):
        proc = subprocess.run([sys.executable, "-m", "openbss", *args], capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr


def test_every_command_has_help():
    commands = [[], ["init"], ["migrate"], ["serve"], ["worker"], ["demo"], ["tenant"],
                ["tenant", "create"], ["tenant", "list"], ["apikey", "create"],
                ["apikey", "list"], ["apikey", "revoke"], ["audit", "verify"],
                ["db", "check"], ["catalog", "import"], ["catalog", "export"]]
    for args in commands:
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_tenant_create_sandbox_and_list(database_url):
    import uuid

    name = f"sbx-{uuid.uuid4().hex[:8]}"
    result = runner.invoke(cli, ["tenant", "create", name, "--sandbox",
                                 "--clock-start", "2026-01-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(cli, ["tenant", "list"])
    assert f"{name}\tsandbox, clock 2026-01-01T00:00:00Z" in listing.output


def test_init_is_idempotent_and_models_match_migrations(database_url):
    for _ in range(2):
        assert runner.invoke(cli, ["init"]).exit_code == 0
    result = runner.invoke(cli, ["db", "check"])
    assert result.exit_code == 0, result.output


def test_concurrent_writes_keep_one_unbroken_chain(client, tenant):
    """Parallel mutations in one tenant serialize on the chain head: every row lands,
    numbered without gaps, and the chain verifies."""
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> int:
        return client.post(HUB, json={"callback": f"http://127.0.0.1:1/c{i}"},
                           headers=tenant.headers()).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(write, range(30)))
    assert statuses == [201] * 30
    with unit_of_work() as session:
        seqs = list(session.scalars(select(AuditEntry.seq).where(
            AuditEntry.tenant_id == tenant.id).order_by(AuditEntry.seq)))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 30
    result = runner.invoke(cli, ["audit", "verify", "--tenant", tenant.name])
    assert result.exit_code == 0, result.output
