"""A lifecycle change reads its row under the row lock (PostgreSQL: FOR NO KEY UPDATE), so a
concurrent change cannot be lost: the second waits, then checks the status the first left."""

from __future__ import annotations

import os
import threading
import time

import pytest
from catalog_helpers import P, post

from openbss.catalog.models import Category
from openbss.core.db import unit_of_work
from openbss.core.queries import get_owned

pytestmark = pytest.mark.skipif(
    not os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks are PostgreSQL's; SQLite has one writer at a time")

MERGE = {"Content-Type": "application/merge-patch+json"}


def test_a_lifecycle_change_waits_for_the_row_lock_and_sees_the_new_status(client, tenant):
    category = post(client, tenant, "category", {"name": "c", "lifecycleStatus": "Active"})
    result: dict[str, object] = {}

    def retire() -> None:
        r = client.patch(f"{P}/category/{category['id']}", json={"lifecycleStatus": "Retired"},
                         headers=tenant.headers(**MERGE))
        result["status"], result["body"] = r.status_code, r.json()

    with unit_of_work() as session:  # another writer holds the row and makes it Obsolete
        row = get_owned(session, Category, tenant.id, category["id"], "category", lock=True)
        worker = threading.Thread(target=retire)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), result  # the PATCH waits for the lock
        row.lifecycle_status = "Obsolete"
        row.body = {**row.body, "lifecycleStatus": "Obsolete"}
    worker.join(10)
    assert not worker.is_alive()
    assert result["status"] == 409, result
    body = result["body"]
    assert isinstance(body, dict) and body["code"] == "invalid_transition"
    assert body["details"][0]["from"] == "Obsolete"
