"""The worker loop terminates ``pendingTerminate`` products whose terminationDate has come
(the pass ``ordering.terminations`` that :func:`orchestration.register_worker_pass`
registers next to the fulfilment pass), by the tenant's business clock."""

from __future__ import annotations

from openbss.core import worker
from openbss.ordering import orchestration
from ordering.test_inventory_changes import (  # type: ignore[import-not-found]
    INV,
    MERGE,
    _account,
    _advance,
    _monthly,
    _product,
)
from ordering.test_inventory_changes import sandbox as sandbox


def test_the_registered_worker_passes_terminate_a_due_product(client, sandbox, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(worker, "PERIODIC", {})
    orchestration.register_worker_pass()  # what `openbss worker` and `serve` register
    assert set(worker.PERIODIC) == {"ordering.fulfilment", "ordering.terminations"}
    product = _product(client, sandbox, _account(client, sandbox),
                       _monthly(client, sandbox, "M", "20.00"))
    when = "2026-01-12T00:00:00Z"
    r = client.patch(f"{INV}/{product['id']}", headers=sandbox.headers(**MERGE),
                     json={"status": "pendingTerminate", "terminationDate": when})
    assert r.status_code == 200, r.text
    worker.run_periodic()  # business time 2026-01-10: not yet
    got = client.get(f"{INV}/{product['id']}", headers=sandbox.headers()).json()
    assert got["status"] == "pendingTerminate"
    _advance(client, sandbox, days=2)  # 2026-01-12T09:00 passes the date
    assert worker.run_periodic() >= 1
    got = client.get(f"{INV}/{product['id']}", headers=sandbox.headers()).json()
    assert got["status"] == "terminated" and got["terminationDate"] == when
    history = client.get(f"/api/v1/products/{product['id']}/history",
                         headers=sandbox.headers()).json()
    assert history[-1]["change"] == "terminated" and history[-1]["at"] == when
