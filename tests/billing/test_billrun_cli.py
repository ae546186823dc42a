"""``openbss billrun``: the summary as one JSON object, the exit codes (0 completed, 1 bad
arguments or a failed run, 2 some accounts failed), dry runs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.billing.test_billrun import build, invoices
from typer.testing import CliRunner

from openbss.cli import app

runner = CliRunner()


def _run(tenant: Any, *args: str) -> Any:
    return runner.invoke(app, ["billrun", "--tenant", tenant.name, "--as-of", "2026-03-01",
                               "--json", *args])


def test_json_summary_and_exit_0(tenant: Any) -> None:
    ids = build(None, tenant.id, 3, prefix=f"{tenant.id[:8]}-")
    result = _run(tenant, *[x for a in ids for x in ("--account", a)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(doc) >= {"id", "href", "state", "asOf", "dryRun", "progress", "results",
                        "startedAt", "finishedAt"}
    assert doc["asOf"] == "2026-03-01T00:00:00Z" and doc["state"] == "completed"
    assert doc["progress"] == {"accountsTotal": 3, "accountsDone": 3}
    assert doc["results"]["accountsBilled"] == 3 and doc["results"]["failures"] == []
    issued = invoices(None, tenant.id)
    assert Decimal(doc["results"]["totals"]["EUR"]) == sum(a for _, _, a in issued)


def test_dry_run_and_all_accounts(tenant: Any) -> None:
    build(None, tenant.id, 2, prefix=f"{tenant.id[:8]}-")
    result = _run(tenant, "--dry-run")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["dryRun"] is True and doc["results"]["invoices"] == 2
    assert invoices(None, tenant.id) == []


def test_a_failed_account_exits_2(tenant: Any) -> None:
    build(None, tenant.id, 2, prefix=f"{tenant.id[:8]}-", bad=1)
    result = _run(tenant)
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert [f["billingAccount"] for f in doc["results"]["failures"]] == [
        f"{tenant.id[:8]}-00000"]


def test_bad_arguments_exit_1(tenant: Any) -> None:
    assert runner.invoke(app, ["billrun", "--tenant", tenant.name, "--as-of",
                               "March"]).exit_code == 1
    unknown = runner.invoke(app, ["billrun", "--tenant", tenant.name, "--account", "nope"])
    assert unknown.exit_code == 1 and "billingAccounts" in unknown.output
    for workers in ("0", "65", "100000"):  # (100,000 processes would hang the machine)
        many = runner.invoke(app, ["billrun", "--tenant", tenant.name, "--workers", workers])
        assert many.exit_code == 1 and "--workers" in many.output, many.output
    far = runner.invoke(app, ["billrun", "--tenant", tenant.name, "--as-of",
                              "0001-01-01T00:00:00+14:00"])
    assert far.exit_code == 1 and "outside the years" in far.output, far.output
    # Click's own usage errors exit 1 too, never 2 (which means "some accounts failed")
    for args in (["--workers", "abc"], ["--no-such-option"], ["--account"]):
        usage = runner.invoke(app, ["billrun", "--tenant", tenant.name, *args])
        assert usage.exit_code == 1, (args, usage.output)


def test_documents_are_rendered_after_the_run(tenant: Any) -> None:
    from openbss.billing.models import InvoiceDocument
    from openbss.core.db import unit_of_work

    ids = build(None, tenant.id, 3, prefix=f"{tenant.id[:8]}-")
    result = runner.invoke(app, ["billrun", "--tenant", tenant.name, "--as-of",
                                 "2026-03-01", "--documents"])
    assert result.exit_code == 0, result.output
    assert "3 bill documents (PDF) rendered" in result.output
    with unit_of_work() as session:
        docs = session.query(InvoiceDocument).filter_by(tenant_id=tenant.id).all()
        assert len(docs) == 3 and all(d.content.startswith(b"%PDF") for d in docs)
    # a run that issues nothing renders nothing; the documents stay as they were
    again = _run(tenant, "--documents", *[x for a in ids for x in ("--account", a)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["results"]["invoices"] == 0
