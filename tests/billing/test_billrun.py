"""Bill runs: idempotent (running twice adds nothing), one failing account reported while
the rest are billed, dry runs issue nothing and consume no number, two runs at once never
bill an account twice, and a run killed with SIGKILL and run again ends exactly like one
uninterrupted run (on file SQLite databases, through ``openbss billrun``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openbss.billing import billrun
from openbss.billing.models import BillRunAccount, Invoice, InvoiceSequence
from openbss.catalog.models import ProductOffering, ProductOfferingPrice
from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.ordering.models import Product, ProductHistory
from openbss.party.models import Account

FEB1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)


def build(url: str | None, tenant_id: str, n: int, *, prefix: str = "acct",
          bad: int = 0) -> list[str]:
    """``n`` billing accounts (monthly on the 1st, UTC), each with one product on a 10 EUR
    monthly plan started on 1 Feb; the first ``bad`` accounts' products name an offering
    that does not exist (bad data)."""
    ids = []
    with unit_of_work(url) as session:
        price = ProductOfferingPrice(
            tenant_id=tenant_id, name="fee", lifecycle_status="Active", last_update=FEB1,
            price_type="recurring", currency="EUR", amount=Decimal("10.00"), body={
                "name": "fee", "priceType": "recurring", "lifecycleStatus": "Active",
                "price": {"unit": "EUR", "value": "10.00"},
                "recurringChargePeriodType": "month", "recurringChargePeriodLength": 1})
        session.add(price)
        session.flush()
        offering = ProductOffering(
            tenant_id=tenant_id, name="Basic", lifecycle_status="Active", last_update=FEB1,
            body={"name": "Basic", "lifecycleStatus": "Active",
                  "productOfferingPrice": [{"id": price.id}]})
        session.add(offering)
        session.flush()
        for i in range(n):
            account_id = f"{prefix}{i:05d}"
            session.add(Account(id=account_id, tenant_id=tenant_id, kind="billingAccount",
                                name=f"Account {i}", state="active", currency="EUR",
                                body={"billStructure": {"cycleSpecification": {
                                    "frequency": "monthly", "anchorDay": 1}}}))
            product = Product(tenant_id=tenant_id, name="Basic", status="active",
                              billing_account_id=account_id, last_update=FEB1, body={})
            session.add(product)
            session.flush()
            version = "no-such-offering" if i < bad else offering.id
            session.add(ProductHistory(tenant_id=tenant_id, product_id=product.id, seq=1,
                                       at=FEB1, change="started", status="active",
                                       after={"priceVersion": version, "quantity": 1},
                                       actor="test"))
            ids.append(account_id)
    return ids


def run(url: str | None, tenant_id: str, *, as_of: datetime = MAR1,
        accounts: list[str] | None = None, dry_run: bool = False) -> Any:
    with unit_of_work(url) as session:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        ctx = system_context(session, tenant, actor="test")
        created = billrun.create_run(ctx, as_of=as_of, account_ids=accounts,
                                     dry_run=dry_run)
        run_id = created.id
    return billrun.execute(run_id, tenant_id=tenant_id, url=url)


def invoices(url: str | None, tenant_id: str) -> list[tuple[str, str, Decimal]]:
    with unit_of_work(url) as session:
        rows = session.query(Invoice).filter_by(tenant_id=tenant_id).all()
        return sorted((r.billing_account_id, r.bill_no, Decimal(r.tax_included))
                      for r in rows)


def test_partition_is_stable_and_spreads() -> None:
    ids = [f"acct{i:05d}" for i in range(1000)]
    parts = [billrun.partition(a, 4) for a in ids]
    assert parts == [billrun.partition(a, 4) for a in ids]
    assert set(parts) == {0, 1, 2, 3} and min(parts.count(k) for k in range(4)) > 150
    assert billrun.partition("acct00000", 1) == 0


def test_running_twice_adds_nothing(tenant: Any) -> None:
    ids = build(None, tenant.id, 5, prefix=f"{tenant.id[:8]}-")
    first = run(None, tenant.id, accounts=ids)
    doc = billrun.render_run(first)
    assert doc["state"] == "completed" and doc["results"]["invoices"] == 5
    assert doc["progress"] == {"accountsTotal": 5, "accountsDone": 5}
    issued = invoices(None, tenant.id)
    assert len(issued) == 5
    total = sum((amount for _, _, amount in issued), Decimal(0))
    assert Decimal(doc["results"]["totals"]["EUR"]) == total
    again = billrun.render_run(run(None, tenant.id, accounts=ids))
    assert again["results"]["invoices"] == 0 and again["state"] == "completed"
    assert invoices(None, tenant.id) == issued


def test_a_failing_account_is_reported_and_the_rest_billed(tenant: Any) -> None:
    ids = build(None, tenant.id, 4, prefix=f"{tenant.id[:8]}-", bad=1)
    doc = billrun.render_run(run(None, tenant.id, accounts=ids))
    assert doc["state"] == "completed"
    assert doc["results"]["invoices"] == 3
    [failure] = doc["results"]["failures"]
    assert failure["billingAccount"] == ids[0] and "no-such-offering" in failure["reason"]
    with unit_of_work() as session:
        states = {r.billing_account_id: r.state for r in session.query(BillRunAccount)
                  .filter_by(tenant_id=tenant.id, bill_run_id=doc["id"])}
    assert states == {ids[0]: "failed", ids[1]: "billed", ids[2]: "billed",
                      ids[3]: "billed"}


def test_a_dry_run_issues_nothing_and_consumes_no_number(tenant: Any) -> None:
    ids = build(None, tenant.id, 3, prefix=f"{tenant.id[:8]}-")
    doc = billrun.render_run(run(None, tenant.id, accounts=ids, dry_run=True))
    assert doc["results"]["invoices"] == 3 and doc["dryRun"] is True
    assert Decimal(doc["results"]["totals"]["EUR"]) > 0
    assert invoices(None, tenant.id) == []
    with unit_of_work() as session:
        assert session.query(InvoiceSequence).filter_by(tenant_id=tenant.id).count() == 0
    run(None, tenant.id, accounts=ids)
    numbers = [n for _, n, _ in invoices(None, tenant.id)]
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == [1, 2, 3]


def test_two_runs_at_once_bill_each_account_once(tenant: Any) -> None:
    ids = build(None, tenant.id, 30, prefix=f"{tenant.id[:8]}-")
    threads = [threading.Thread(target=run, args=(None, tenant.id), kwargs={
        "accounts": ids}) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    issued = invoices(None, tenant.id)
    assert sorted(a for a, _, _ in issued) == ids  # one invoice per account


def _database(tmp: Path, name: str, n: int) -> tuple[str, str, dict[str, str]]:
    from openbss.core.migrate import upgrade
    from openbss.core.service import create_tenant

    url = f"sqlite:///{tmp / name}"
    upgrade(url)
    with unit_of_work(url) as session:
        tenant = create_tenant(session, name="default")
        tenant_id = tenant.id
    build(url, tenant_id, n)
    env = {**os.environ, "OPENBSS_DATABASE_URL": url}
    return url, tenant_id, env


def _count(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM customer_bill").fetchone()[0])


def _billrun(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "openbss", "billrun", "--as-of",
                             "2026-03-01", "--json", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_and_run_again_is_one_uninterrupted_run(tmp_path: Path) -> None:
    n = 1000
    url_a, tenant_a, env_a = _database(tmp_path, "a.db", n)
    url_b, tenant_b, env_b = _database(tmp_path, "b.db", n)

    whole = _billrun(env_b)
    assert whole.wait(240) == 0, whole.stderr.read() if whole.stderr else ""

    victim = _billrun(env_a)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if _count(tmp_path / "a.db") >= 1:  # the first batch is committed
            break
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    partial = len(invoices(url_a, tenant_a))
    assert 0 < partial < n, partial  # killed mid-way
    again = _billrun(env_a)
    assert again.wait(240) == 0, again.stderr.read() if again.stderr else ""

    a, b = invoices(url_a, tenant_a), invoices(url_b, tenant_b)
    assert len(a) == len(b) == n
    assert [(acct, amount) for acct, _, amount in a] == [(acct, amount) for acct, _, amount in b]
    numbers = sorted(int(no.rsplit("-", 1)[1]) for _, no, _ in a)
    assert numbers == list(range(1, n + 1))  # gapless, no duplicate


def test_documents_of_a_run_are_rendered_once_in_batches(tenant: Any, monkeypatch: Any
                                                         ) -> None:
    """``invoices.render_documents`` (the step after a run) stores one PDF per bill, the
    same bytes the download renders, skips bills that have one, ignores other tenants'
    ids and audits each document it stored."""
    from openbss.billing import invoices as bills
    from openbss.billing.models import InvoiceDocument
    from openbss.core.models import AuditEntry

    ids = build(None, tenant.id, 5, prefix=f"{tenant.id[:8]}-")
    run(None, tenant.id, accounts=ids)
    monkeypatch.setattr(bills, "DOCUMENT_CHUNK", 2)  # several chunks
    with unit_of_work() as session:
        t = load_tenant(session, tenant.id)
        assert t is not None
        ctx = system_context(session, t, actor="test")
        bill_ids = sorted(r.id for r in session.query(Invoice).filter_by(tenant_id=tenant.id))
        first = bills.document(ctx, bill_id=bill_ids[0]).content  # one already downloaded
        assert bills.render_documents(ctx, [*bill_ids, "no-such-bill"]) == 4
        assert bills.render_documents(ctx, bill_ids) == 0
        docs = {d.invoice_id: d for d in session.query(InvoiceDocument)
                .filter_by(tenant_id=tenant.id)}
        assert sorted(docs) == bill_ids and docs[bill_ids[0]].content == first
        assert all(d.content.startswith(b"%PDF") for d in docs.values())
        # the bytes are those the download renders for the same bill
        session.query(InvoiceDocument).filter_by(invoice_id=bill_ids[1]).delete()
        assert bills.document(ctx, bill_id=bill_ids[1]).content == docs[bill_ids[1]].content
    with unit_of_work() as session:  # audit rows are chained when the transaction commits
        rendered = [e.resource_id for e in session.query(AuditEntry).filter_by(
            tenant_id=tenant.id, action="render", resource_type="invoiceDocument")]
        # one per document stored, and bill 1's again for its second rendering above
        assert sorted(rendered) == sorted([*bill_ids, bill_ids[1]])
