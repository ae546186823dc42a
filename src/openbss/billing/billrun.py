"""Bill runs: bill many accounts up to an as-of date, idempotently and resumably.

* :func:`bill_accounts` — in the caller's transaction: take the accounts' billing lock
  (:func:`openbss.party.accounts.lock_for_billing`: in id order, the children they pay
  for too; re-rating and deleting a manual charge take it as well), read their inputs
  (:func:`openbss.billing.junction.inputs_for`, inside the lock), calculate the missing
  lines (:func:`openbss.billing.calculator.calculate`) and issue one invoice per account
  that has any (:func:`openbss.billing.invoices.issue_many`).
  Because the calculation only proposes what is missing, billing an account again adds
  nothing: a run killed at any point and run again produces exactly what one
  uninterrupted run produces.
* :func:`submit` — create a run (state ``running``) and execute it in a background thread
  once the caller's transaction commits (``POST /api/v1/billRuns`` answers 202).
* :func:`execute` — run it synchronously (the CLI): the accounts in batches of
  :data:`BATCH`, each batch in its own transaction; a batch that fails is retried account
  by account, so one account's bad data is recorded (``BillRunAccount`` state
  ``failed`` with the reason, the run's ``failures``) and the run goes on; the next run
  retries it. ``workers`` > 1 spreads the accounts over processes by :func:`partition`.
* Events ``BillRunCreateEvent`` (started) and ``BillRunStateChangeEvent`` (finished)
  through the outbox, and audit rows, in the run's own transactions.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event as sa_event

from openbss.billing import junction, queries
from openbss.billing.models import (
    BILL_RUN_STATES,
    BillingCharge,
    BillRun,
    BillRunState,
    InvoiceLine,
)
from openbss.billing.paths import BILL_RUN_ITEM
from openbss.core import audit, clock, events, plugins
from openbss.core.context import Context, load_tenant, system_context
from openbss.core.db import refresh_statistics, unit_of_work
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.periods import to_utc
from openbss.core.runtime import batch_gc
from openbss.ordering.models import Product, ProductCharge, ProductHistory
from openbss.party import accounts
from openbss.party.models import Account
from openbss.rating.models import RatedUsage

__all__ = [
    "BATCH",
    "AccountOutcome",
    "bill_accounts",
    "execute",
    "partition",
    "render_run",
    "run_now",
    "submit",
]

API = "customerBillManagement"
#: Accounts billed per transaction.
BATCH = 200
#: A run over more accounts than this refreshes the planner's statistics of the tables it
#: reads as it goes (each batch then reads its accounts' rows by index, not the tenant's).
STATISTICS_FROM = 1000
READ_TABLES = tuple(m.__tablename__ for m in (
    Account, Product, ProductHistory, ProductCharge, BillingCharge, RatedUsage, InvoiceLine))


def partition(account_id: str, n: int) -> int:
    """The partition (0 … n-1) of a billing account: CRC-32 of its id modulo ``n`` —
    stable across processes and machines (not Python's salted ``hash``)."""
    if n < 1:
        raise ValidationError("the number of partitions must be at least 1", field="workers")
    return zlib.crc32(account_id.encode()) % n


@dataclass
class AccountOutcome:
    """One account's outcome: ``billed`` (``issued`` is the invoice), ``nothing`` to bill,
    or ``failed`` (``reason``)."""

    account_id: str
    state: str
    issued: Any = None
    reason: str | None = None

    @property
    def invoice_id(self) -> str | None:
        row = getattr(self.issued, "invoice", None)
        return getattr(row, "id", None)


def bill_accounts(ctx: Context, account_ids: Sequence[str], *, as_of: datetime,
                  dry_run: bool = False, bill_run_id: str | None = None
                  ) -> list[AccountOutcome]:
    """Bill the accounts up to ``as_of`` in the caller's transaction (module docstring).
    An account whose input or calculation fails is returned ``failed``; an error while
    issuing propagates (the caller retries account by account)."""
    from openbss.billing import calculator, invoices
    from openbss.billing import settings as billing_settings

    as_of = to_utc(as_of, "asOf")
    ids = sorted(set(account_ids))
    if not dry_run:
        accounts.lock_for_billing(ctx, ids)
    errors: dict[str, str] = {}
    inputs = junction.inputs_for(ctx, ids, until=as_of, errors=errors)
    settings = billing_settings.read(ctx)
    outcomes: dict[str, AccountOutcome] = {a: AccountOutcome(a, "failed", reason=r)
                                           for a, r in errors.items()}
    batch = []
    for account_id, item in inputs.items():
        try:
            lines = calculator.calculate(item, target=as_of, settings=settings)
        except Exception as exc:
            outcomes[account_id] = AccountOutcome(account_id, "failed", reason=_reason(exc))
            continue
        if lines:
            batch.append((item, lines))
        else:
            outcomes[account_id] = AccountOutcome(account_id, "nothing")
    issued = invoices.issue_many(ctx, batch, as_of=as_of, bill_run_id=bill_run_id,
                                 dry_run=dry_run) if batch else []
    for (item, _), bill in zip(batch, issued, strict=True):
        outcomes[item.terms.id] = AccountOutcome(item.terms.id, "billed", issued=bill)
    return [outcomes[a] for a in ids if a in outcomes]


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    where = getattr(exc, "field", None)
    return f"{message} ({where})" if where else str(message)


# -- the run ---------------------------------------------------------------------------------


def render_run(run: BillRun, base_url: str | None = None) -> dict[str, Any]:
    """The bill run as ``GET /api/v1/billRuns/{id}`` shows it."""
    if base_url is None:
        from openbss.core.config import get_settings

        base_url = get_settings().base_url
    results = run.results or {}
    return {
        "id": run.id, "href": base_url.rstrip("/") + BILL_RUN_ITEM.replace("{id}", run.id),
        "state": run.state, "asOf": junction.iso(run.as_of), "dryRun": bool(run.dry_run),
        "billingAccounts": run.requested,
        "progress": {"accountsTotal": run.accounts_total, "accountsDone": run.accounts_done},
        "results": {"accountsBilled": int(results.get("accountsBilled", 0)),
                    "invoices": int(results.get("invoices", 0)),
                    "totals": dict(results.get("totals") or {}),
                    "failures": list(results.get("failures") or [])},
        "startedAt": junction.iso(run.started_at),
        "finishedAt": junction.iso(run.finished_at) if run.finished_at else None,
        "@type": "BillRun",
    }


def create_run(ctx: Context, *, as_of: datetime, account_ids: Sequence[str] | None = None,
               dry_run: bool = False) -> BillRun:
    """A new run (state ``running``) in the caller's transaction, with its audit row and
    its started event. Unknown account ids are a 422 naming ``billingAccounts``."""
    as_of = to_utc(as_of, "asOf")
    requested = None
    if account_ids is not None:
        requested = sorted(set(account_ids))
        known = {a.id for a in queries.billing_accounts(ctx, requested)}
        missing = [a for a in requested if a not in known]
        if missing:
            raise ValidationError(f"billingAccounts: no billing account {missing[0]!r}",
                                  field="billingAccounts")
    run = BillRun(tenant_id=ctx.tenant_id, state=BillRunState.RUNNING.value, as_of=as_of,
                  dry_run=dry_run, requested=requested, accounts_total=0, accounts_done=0,
                  results={}, created_by=ctx.actor, started_at=clock.utcnow())
    ctx.session.add(run)
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="billRun", resource_id=run.id,
                 after={"asOf": junction.iso(as_of), "dryRun": dry_run,
                        "billingAccounts": requested})
    events.publish(ctx, api=API, event_type="BillRunCreateEvent", resource_name="billRun",
                   resource=render_run(run, ctx.base_url))
    return run


def _url_of(ctx: Context) -> str | None:
    from sqlalchemy.engine import make_url

    from openbss.core.config import get_settings

    bind: Any = ctx.session.get_bind()
    bound: str = bind.url.render_as_string(hide_password=False)
    configured = get_settings().database_url
    if make_url(configured).render_as_string(hide_password=False) == bound:
        return configured
    return bound


def submit(ctx: Context, *, as_of: datetime, account_ids: Sequence[str] | None = None,
           dry_run: bool = False) -> BillRun:
    """Create the run and execute it in a background thread (its own sessions) once the
    caller's transaction commits; returns at once with the run (state ``running``)."""
    run = create_run(ctx, as_of=as_of, account_ids=account_ids, dry_run=dry_run)
    run_id, tenant_id, url = run.id, ctx.tenant_id, _url_of(ctx)

    def start(_session: Any) -> None:
        threading.Thread(target=_execute_quietly, args=(run_id, tenant_id, url),
                         name=f"billrun-{run_id}", daemon=True).start()

    sa_event.listen(ctx.session, "after_commit", start, once=True)
    return run


def _execute_quietly(run_id: str, tenant_id: str, url: str | None) -> None:
    import structlog

    try:
        execute(run_id, tenant_id=tenant_id, url=url)
    except Exception:
        structlog.get_logger("openbss.billing").exception("bill run failed", run=run_id)


@dataclass
class _Summary:
    billed: int = 0
    invoices: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)

    def add(self, outcome: AccountOutcome) -> None:
        if outcome.state == "failed":
            self.failures.append({"billingAccount": outcome.account_id,
                                  "reason": outcome.reason or ""})
            return
        if outcome.state != "billed":
            return
        self.billed += 1
        self.invoices += 1
        bill = outcome.issued.bill
        amount = bill.get("taxIncludedAmount") or {}
        unit = str(amount.get("unit"))
        self.totals[unit] = self.totals.get(unit, Decimal(0)) + Decimal(str(amount["value"]))

    def merge(self, other: _Summary) -> None:
        self.billed += other.billed
        self.invoices += other.invoices
        for unit, value in other.totals.items():
            self.totals[unit] = self.totals.get(unit, Decimal(0)) + value
        self.failures.extend(other.failures)


def _context(session: Any, tenant_id: str, actor: str) -> Context:
    tenant = load_tenant(session, tenant_id)
    if tenant is None:
        raise NotFoundError(f"no tenant {tenant_id!r}", field="tenant")
    return system_context(session, tenant, actor=actor)


def _bill_batch(run: dict[str, Any], tenant_id: str, url: str | None, ids: list[str],
                summary: _Summary) -> None:
    """One batch in one transaction; if it fails, each account in its own, and an account
    that fails alone is recorded ``failed`` with the reason (billed again next run)."""
    try:
        outcomes = _bill_in_transaction(run, tenant_id, url, ids)
    except Exception as exc:
        if len(ids) > 1:
            for account_id in ids:
                _bill_batch(run, tenant_id, url, [account_id], summary)
            return
        outcomes = [AccountOutcome(ids[0], "failed", reason=_reason(exc))]
        _record(run, tenant_id, url, outcomes)
    for outcome in outcomes:
        summary.add(outcome)


def _rows(run: dict[str, Any], tenant_id: str, outcomes: Sequence[AccountOutcome]
          ) -> list[dict[str, Any]]:
    now = clock.utcnow()
    return [{"tenant_id": tenant_id, "bill_run_id": run["id"],
             "billing_account_id": o.account_id, "state": o.state,
             "invoice_id": o.invoice_id, "reason": o.reason, "finished_at": now}
            for o in outcomes]


def _bill_in_transaction(run: dict[str, Any], tenant_id: str, url: str | None,
                         ids: list[str]) -> list[AccountOutcome]:
    with unit_of_work(url) as session:
        ctx = _context(session, tenant_id, run["actor"])
        outcomes = bill_accounts(ctx, ids, as_of=run["as_of"], dry_run=run["dry_run"],
                                 bill_run_id=run["id"])
        queries.insert_run_accounts(ctx, _rows(run, tenant_id, outcomes))
        queries.add_run_progress(ctx, run["id"], len(ids))
        return outcomes


def _record(run: dict[str, Any], tenant_id: str, url: str | None,
            outcomes: Sequence[AccountOutcome]) -> None:
    with unit_of_work(url) as session:
        ctx = _context(session, tenant_id, run["actor"])
        queries.insert_run_accounts(ctx, _rows(run, tenant_id, outcomes))
        queries.add_run_progress(ctx, run["id"], len(outcomes))


def _bill_ids(run: dict[str, Any], tenant_id: str, url: str | None, ids: list[str],
              progress: Callable[[int], None] | None) -> _Summary:
    summary = _Summary()
    # the planner's statistics refreshed before the first batch and each time the work
    # done has doubled: the tables the batches read (invoice lines above all) grow as the
    # run goes, and stale statistics ("empty") make each batch scan them whole
    refresh_at: int | None = 0 if len(ids) > STATISTICS_FROM else None
    with batch_gc():  # millions of short-lived objects: collect cycles less often
        for start in range(0, len(ids), BATCH):
            if refresh_at is not None and start >= refresh_at:
                with unit_of_work(url) as session:
                    refresh_statistics(session, READ_TABLES)
                refresh_at = max(STATISTICS_FROM, 2 * start)
            chunk = ids[start:start + BATCH]
            _bill_batch(run, tenant_id, url, chunk, summary)
            if progress is not None:
                progress(len(chunk))
    return summary


def _worker(args: tuple[dict[str, Any], str, str | None, list[str]]) -> _Summary:
    run, tenant_id, url, ids = args
    plugins.load()  # a spawned process: the hooks of the contexts above billing
    return _bill_ids(run, tenant_id, url, ids, None)


def execute(run_id: str, *, tenant_id: str, url: str | None = None, workers: int = 1,
            progress: Callable[[int, int], None] | None = None) -> BillRun:
    """Execute a running run to its end (module docstring). ``progress(done, total)`` is
    called after each batch (workers = 1) or each partition (workers > 1). Accounts this
    run already finished are skipped (a run executed again goes on where it stopped)."""
    with unit_of_work(url) as session:
        ctx = _context(session, tenant_id, "system")
        row = queries.bill_run(ctx, run_id)
        if row.state != BillRunState.RUNNING.value:
            return row
        ids = list(row.requested) if row.requested is not None \
            else queries.invoiceable_account_ids(ctx)
        done = queries.run_account_ids(ctx, run_id)
        row.accounts_total = len(ids)
        run = {"id": row.id, "as_of": row.as_of, "dry_run": bool(row.dry_run),
               "actor": row.created_by}
    todo = [a for a in ids if a not in done]
    summary = _Summary()
    failed: str | None = None
    try:
        if workers <= 1:
            count = len(ids) - len(todo)

            def step(n: int) -> None:
                nonlocal count
                count += n
                if progress is not None:
                    progress(count, len(ids))

            summary = _bill_ids(run, tenant_id, url, todo, step)
        else:
            import multiprocessing

            parts = [[a for a in todo if partition(a, workers) == k] for k in range(workers)]
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                count = len(ids) - len(todo)
                for part, result in zip(parts, pool.imap(
                        _worker, [(run, tenant_id, url, p) for p in parts]), strict=True):
                    summary.merge(result)
                    count += len(part)
                    if progress is not None:
                        progress(count, len(ids))
    except Exception as exc:
        failed = _reason(exc)
    return _finish(run_id, tenant_id, url, summary, failed)


def _finish(run_id: str, tenant_id: str, url: str | None, summary: _Summary,
            failed: str | None) -> BillRun:
    with unit_of_work(url) as session:
        ctx = _context(session, tenant_id, "system")
        row = queries.bill_run(ctx, run_id)
        previous = row.results or {}
        totals = {u: Decimal(str(v)) for u, v in (previous.get("totals") or {}).items()}
        for unit, value in summary.totals.items():
            totals[unit] = totals.get(unit, Decimal(0)) + value
        failures = [f for f in queries.run_accounts(ctx, run_id) if f.state == "failed"]
        results: dict[str, Any] = {
            "accountsBilled": int(previous.get("accountsBilled", 0)) + summary.billed,
            "invoices": int(previous.get("invoices", 0)) + summary.invoices,
            "totals": {u: str(v) for u, v in sorted(totals.items())},
            "failures": [{"billingAccount": f.billing_account_id, "reason": f.reason or ""}
                         for f in failures]}
        if failed is not None:
            results["error"] = failed
        state = BillRunState.FAILED if failed is not None else BillRunState.COMPLETED
        BILL_RUN_STATES.check(row.state, state)
        row.state = state.value
        row.results = results
        row.finished_at = clock.utcnow()
        row.row_version = (row.row_version or 1) + 1
        session.flush()
        session.refresh(row)
        audit.record(ctx, action="update", resource_type="billRun", resource_id=run_id,
                     after={"state": row.state, "results": results})
        events.publish(ctx, api=API, event_type="BillRunStateChangeEvent",
                       resource_name="billRun", resource=render_run(row, ctx.base_url))
        return row


def run_now(ctx: Context, *, as_of: datetime, account_ids: Sequence[str] | None = None,
            dry_run: bool = False) -> BillRun:
    """A whole run in the caller's transaction (the demo, small tenants): created,
    executed batch by batch (each batch in a savepoint; a failing batch is retried
    account by account) and finished, with its events and audit rows."""
    row = create_run(ctx, as_of=as_of, account_ids=account_ids, dry_run=dry_run)
    ids = list(row.requested) if row.requested is not None \
        else queries.invoiceable_account_ids(ctx)
    row.accounts_total = len(ids)
    run = {"id": row.id, "as_of": row.as_of, "dry_run": bool(row.dry_run),
           "actor": row.created_by}
    summary = _Summary()

    def attempt(chunk: list[str]) -> list[AccountOutcome]:
        savepoint = ctx.session.begin_nested()
        try:
            outcomes = bill_accounts(ctx, chunk, as_of=row.as_of, dry_run=row.dry_run,
                                     bill_run_id=row.id)
        except Exception:
            savepoint.rollback()
            raise
        savepoint.commit()
        return outcomes

    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        try:
            outcomes = attempt(chunk)
        except Exception:
            outcomes = []
            for account_id in chunk:
                try:
                    outcomes.extend(attempt([account_id]))
                except Exception as exc:
                    outcomes.append(AccountOutcome(account_id, "failed",
                                                   reason=_reason(exc)))
        queries.insert_run_accounts(ctx, _rows(run, ctx.tenant_id, outcomes))
        for outcome in outcomes:
            summary.add(outcome)
    row.accounts_done = len(ids)
    results: dict[str, Any] = {
        "accountsBilled": summary.billed, "invoices": summary.invoices,
        "totals": {u: str(v) for u, v in sorted(summary.totals.items())},
        "failures": summary.failures}
    BILL_RUN_STATES.check(row.state, BillRunState.COMPLETED)
    row.state = BillRunState.COMPLETED.value
    row.results = results
    row.finished_at = clock.utcnow()
    ctx.session.flush()
    audit.record(ctx, action="update", resource_type="billRun", resource_id=row.id,
                 after={"state": row.state, "results": results})
    events.publish(ctx, api=API, event_type="BillRunStateChangeEvent",
                   resource_name="billRun", resource=render_run(row, ctx.base_url))
    return row
