"""A status change reads its row under the row lock (PostgreSQL: FOR NO KEY UPDATE), so a
concurrent change cannot be lost: the second waits, then sees the first one's status."""

from __future__ import annotations

import os
import threading
import time

import pytest

from openbss.core.db import unit_of_work
from openbss.core.queries import get_owned
from openbss.party.models import Account

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks are PostgreSQL's; SQLite has one writer at a time")

BA = "/tmf-api/accountManagement/v4/billingAccount"
MERGE = {"Content-Type": "application/merge-patch+json"}


def test_a_state_change_waits_for_the_row_lock_and_sees_the_new_state(
        client, tenant, make_account):
    account = make_account(tenant)
    result: dict[str, object] = {}

    def suspend() -> None:
        r = client.patch(f"{BA}/{account['id']}", json={"state": "suspended"},
                         headers=tenant.headers("billing_ops", **MERGE))
        result["status"], result["body"] = r.status_code, r.json()

    with unit_of_work() as session:  # another writer holds the row and closes it
        row = get_owned(session, Account, tenant.id, account["id"], "billingAccount",
                        lock=True)
        worker = threading.Thread(target=suspend)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), result  # the PATCH waits for the lock
        row.state = "closed"
    worker.join(10)
    assert not worker.is_alive()
    assert result["status"] == 409, result
    body = result["body"]
    assert isinstance(body, dict) and body["code"] == "invalid_transition"
    assert body["details"][0]["from"] == "closed"
