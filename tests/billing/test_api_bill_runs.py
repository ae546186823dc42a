"""``/api/v1/billRuns`` over HTTP: 202 with the run, then its state, progress and results;
the list; roles; hostile bodies name the field. (The bill run itself — idempotency,
partitions, resumption — is tested in test_billrun*.py.)"""

from __future__ import annotations

import time
from typing import Any

import pytest

from billing.issue_helpers import billing_account  # type: ignore[import-not-found]

RUNS = "/api/v1/billRuns"


def _wait(client, tenant, run_id: str, timeout: float = 60) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"{RUNS}/{run_id}", headers=tenant.headers("read_only"))
        assert r.status_code == 200, r.text
        if r.json()["state"] != "running" or time.monotonic() > deadline:
            return r.json()  # type: ignore[no-any-return]
        time.sleep(0.1)


@pytest.mark.parametrize(("body", "field"), [
    ({}, "asOf"), ({"asOf": "2026-03-01T00:00:00"}, "asOf"), ({"asOf": "soon"}, "asOf"),
    ({"asOf": "2026-03-01T00:00:00Z", "billingAccounts": []}, "billingAccounts"),
    ({"asOf": "2026-03-01T00:00:00Z", "billingAccounts": [""]}, "billingAccounts[0]"),
    ({"asOf": "2026-03-01T00:00:00Z", "billingAccounts": "a"}, "billingAccounts"),
    ({"asOf": "2026-03-01T00:00:00Z", "dryRun": "yes"}, "dryRun"),
    ({"asOf": "2026-03-01T00:00:00Z", "workers": 4}, "workers"),
])
def test_hostile_bodies_name_the_field(client, tenant, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post(RUNS, json=body, headers=tenant.headers("billing_ops"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


@pytest.mark.parametrize("role", ["sales_agent", "care_agent", "finance", "read_only",
                                  "partner"])
def test_only_billing_roles_start_runs(client, tenant, role) -> None:  # type: ignore[no-untyped-def]
    r = client.post(RUNS, json={"asOf": "2026-03-01T00:00:00Z"}, headers=tenant.headers(role))
    assert r.status_code == 403


def test_unknown_and_foreign_runs_are_not_found(client, tenant) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"{RUNS}/nope", headers=tenant.headers()).status_code == 404
    r = client.get(RUNS, headers=tenant.headers())
    assert r.status_code == 200 and r.json() == [] and r.headers["X-Total-Count"] == "0"


def test_a_run_is_accepted_and_followed(client, tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("openbss.billing.billrun")
    acc = billing_account(client, tenant)["id"]
    r = client.post(RUNS, json={"asOf": "2026-03-01T00:00:00Z", "billingAccounts": [acc],
                                "dryRun": True}, headers=tenant.headers("billing_ops"))
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["id"] and run["dryRun"] is True and run["asOf"] == "2026-03-01T00:00:00Z"
    assert run["state"] in ("running", "completed")
    done = _wait(client, tenant, run["id"])
    assert done["state"] == "completed", done
    assert done["results"]["failures"] == []
    listed = client.get(f"{RUNS}?state=completed", headers=tenant.headers())
    assert [x["id"] for x in listed.json()] == [run["id"]]
    assert client.get(f"{RUNS}/{run['id']}", headers=other_tenant.headers()).status_code == 404
    assert client.get(RUNS, headers=other_tenant.headers()).json() == []
