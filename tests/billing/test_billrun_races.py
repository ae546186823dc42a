"""A bill run and what changes under it: a re-rate of the usage it is billing waits for it
(the accounts' billing lock), so its invoice holds the rows the re-rate replaces and the
next invoice bills only the difference — never the usage twice; and if a source changes
anyway between reading and marking, the run fails that account (retried next time)
instead of billing it twice."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from tests.ordering.test_inventory_changes import context
from tests.rating.test_service import GB, T0, Line  # type: ignore[attr-defined]

from openbss.billing import billrun, junction
from openbss.billing.models import Invoice, InvoiceLine
from openbss.rating import service
from openbss.rating.models import RatedUsage

APRIL_BERLIN = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 1 April, Europe/Berlin
HOLD = 0.5  # seconds the bill run keeps its transaction open after issuing


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def _usage_billed(sandbox: Any, account_id: str) -> list[tuple[str, Decimal]]:
    """``(type, tax-excluded amount)`` of the usage lines of the account's invoices (a
    re-rating correction is an ``adjustment``), oldest first."""
    with context(sandbox) as ctx:
        rows = ctx.session.query(InvoiceLine).join(
            Invoice, Invoice.id == InvoiceLine.invoice_id).filter(
            Invoice.tenant_id == ctx.tenant_id, Invoice.billing_account_id == account_id,
            InvoiceLine.type.in_(["usage", "adjustment"])).order_by(
            Invoice.bill_no, InvoiceLine.id).all()
        return [(r.type, Decimal(r.tax_excluded)) for r in rows]


@pytest.mark.skipif(
    not os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks are PostgreSQL's; SQLite has one writer at a time")
def test_a_rerate_during_a_bill_run_waits_and_is_billed_as_a_correction(client, sandbox):  # type: ignore[no-untyped-def]
    line = Line(client, sandbox)
    account = line.account["id"]
    with context(sandbox) as ctx:  # 2 GB with 1 GB included: 1 GB at 2 EUR
        service.rate_events(ctx, [line.usage("r1", T0, 2 * GB)])
    issued = threading.Event()
    out: dict[str, Any] = {}

    def bill_run() -> None:
        with context(sandbox) as ctx:
            out["run"] = billrun.bill_accounts(ctx, [account], as_of=APRIL_BERLIN)
            issued.set()
            time.sleep(HOLD)  # still uncommitted: a re-rate now must wait

    thread = threading.Thread(target=bill_run)
    thread.start()
    try:
        assert issued.wait(20)
        started = time.monotonic()
        with context(sandbox) as ctx:  # the record corrected to 3 GB: 2 GB at 2 EUR
            report = service.rerate(ctx, [line.usage("r1", T0, 3 * GB)])
        waited = time.monotonic() - started
    finally:
        thread.join(20)
    [outcome] = out["run"]
    assert outcome.state == "billed"
    assert waited >= HOLD * 0.8, "the re-rate did not wait for the bill run"
    assert report.corrections == 1  # it saw the row the run had invoiced
    with context(sandbox) as ctx:
        rows = ctx.session.query(RatedUsage).filter_by(
            tenant_id=ctx.tenant_id, usage_id="r1").order_by(RatedUsage.generation).all()
        assert [(r.generation, r.current, r.correction, r.invoice_id is not None,
                 Decimal(r.amount)) for r in rows] == [
            (1, False, False, True, Decimal(2)), (2, True, True, False, Decimal(4))]
        billrun.bill_accounts(ctx, [account], as_of=APRIL_BERLIN)
    # the 3 GB billed once: 2 EUR for the 2 GB read, 2 EUR more for the correction
    assert _usage_billed(sandbox, account) == [("usage", Decimal("2.00")),
                                               ("adjustment", Decimal("2.00"))]


def test_a_source_changed_between_reading_and_marking_fails_the_account(
        client, sandbox, monkeypatch):  # type: ignore[no-untyped-def]
    """What the billing lock prevents, forced: the rated row is retired (as a re-rate
    that did not take the lock would) after the run read it. The run does not issue an
    invoice whose usage could be billed again; it reports the account, and the next run
    bills it."""
    line = Line(client, sandbox)
    account = line.account["id"]
    with context(sandbox) as ctx:
        service.rate_events(ctx, [line.usage("r1", T0, 2 * GB)])
    read = junction.inputs_for

    def read_then_retire(ctx, *args, **kwargs):  # type: ignore[no-untyped-def]
        inputs = read(ctx, *args, **kwargs)
        ctx.session.execute(update(RatedUsage).where(RatedUsage.tenant_id == ctx.tenant_id)
                            .values(current=False))
        return inputs

    monkeypatch.setattr(junction, "inputs_for", read_then_retire)
    with context(sandbox) as ctx:
        run_id = billrun.create_run(ctx, as_of=APRIL_BERLIN, account_ids=[account]).id
    doc = billrun.render_run(billrun.execute(run_id, tenant_id=sandbox.id))
    assert doc["state"] == "completed" and doc["results"]["invoices"] == 0
    [failure] = doc["results"]["failures"]
    assert failure["billingAccount"] == account
    assert "changed while they were issued" in failure["reason"]
    assert "rated usage rows: 0 of 1" in failure["reason"]
    assert _usage_billed(sandbox, account) == []
    monkeypatch.undo()
    with context(sandbox) as ctx:
        run_id = billrun.create_run(ctx, as_of=APRIL_BERLIN, account_ids=[account]).id
    again = billrun.render_run(billrun.execute(run_id, tenant_id=sandbox.id))
    assert again["results"]["invoices"] == 1 and again["results"]["failures"] == []
    assert _usage_billed(sandbox, account) == [("usage", Decimal("2.00"))]
