"""``openbss billrun``: bill the tenant's accounts up to a date, with a progress bar.

``--as-of``: an ISO instant (``2026-03-01T00:00:00Z``) or a date (that day's 00:00 UTC);
default the tenant's clock now. ``--documents``: then render and store the PDF of every
bill the run issued (a step of its own, with its own progress bar). Exit codes: 0 the run
completed and every account was billed (or had nothing to bill); 1 the run failed (or bad
arguments); 2 the run completed but some accounts failed (listed in the summary; the next
run retries them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openbss.core.cli_support import fail, ready

err = Console(stderr=True, soft_wrap=True)
#: the most worker processes a bill run starts
MAX_WORKERS = 64


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--as-of: not a date or an ISO instant: {value!r}")
        raise
    if moment.tzinfo is None:
        fail("--as-of: an instant needs its offset (Z or +hh:mm)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        fail(f"--as-of: {value!r} is outside the years 1-9999 in UTC")
        raise


def billrun(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Bill up to this instant or date (a date: 00:00 UTC); default: "
                        "the tenant's clock now.")] = None,
    account: Annotated[list[str] | None, typer.Option(
        "--account", help="A billing account id (repeatable; default: all).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Calculate, issue nothing.")
                       ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (accounts partitioned "
                                              "by id), 1 to 64.")] = 1,
    documents: Annotated[bool, typer.Option(
        "--documents", help="Then render and store the PDF of every bill the run issued "
                            "(over --workers processes).")] = False,
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's summary as one "
                                                         "JSON object.")] = False,
) -> None:
    """Run a bill run: every billing account (or those given) billed up to --as-of."""
    from openbss.billing import billrun as runs
    from openbss.core import jsonx
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError

    moment = _as_of(as_of)
    if not 1 <= workers <= MAX_WORKERS:
        fail(f"--workers: between 1 and {MAX_WORKERS}, got {workers}")
    ready()
    try:
        with unit_of_work() as session:
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            run = runs.create_run(ctx, as_of=moment or ctx.now, account_ids=account or None,
                                  dry_run=dry_run)
            run_id, tenant_id = run.id, ctx.tenant_id
    except OpenBSSError as exc:
        fail(f"{exc.message}" + (f" ({exc.field})" if exc.field else ""))
        return
    with Progress(TextColumn("bill run"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=as_json) as bar:
        task = bar.add_task("accounts", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        finished = runs.execute(run_id, tenant_id=tenant_id, workers=workers,
                                progress=progress)
    made = _documents(run_id, tenant_id, workers, quiet=as_json) \
        if documents and not dry_run else None
    doc = runs.render_run(finished)
    if as_json:
        typer.echo(jsonx.dumps(doc))
    else:
        results = doc["results"]
        err.print(f"bill run {doc['id']} {doc['state']}: {results['accountsBilled']} "
                  f"accounts billed, {results['invoices']} invoices, totals "
                  f"{results['totals']}", highlight=False)
        for failure in results["failures"]:
            err.print(f"  failed {failure['billingAccount']}: {failure['reason']}",
                      highlight=False)
        if made is not None:
            err.print(f"{made} bill documents (PDF) rendered", highlight=False)
    if doc["state"] != "completed":
        raise typer.Exit(1)
    if doc["results"]["failures"]:
        raise typer.Exit(2)


def _documents(run_id: str, tenant_id: str, processes: int, *, quiet: bool) -> int:
    """The PDFs of the run's bills, rendered and stored after the run, with a progress bar."""
    from openbss.billing import invoices, queries
    from openbss.core.context import load_tenant, system_context
    from openbss.core.db import unit_of_work

    with unit_of_work() as session, Progress(
            TextColumn("documents"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=quiet) as bar:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        ctx = system_context(session, tenant, actor="cli")
        ids = queries.run_invoice_ids(ctx, run_id)
        task = bar.add_task("documents", total=len(ids))
        return invoices.render_documents(
            ctx, ids, processes=processes,
            progress=lambda done, total: bar.update(task, completed=done, total=total))
