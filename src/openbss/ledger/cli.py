"""``openbss ledger``: the books for finance.

- ``openbss ledger export --period 2026-11 [--format csv] [--output FILE]``: the journal
  lines of the period as CSV (stdout by default), for import into an ERP / general ledger;
- ``openbss ledger trial-balance [--from DATE] [--to DATE] [--currency EUR] [--json]``.

Exit codes: 0; 1 bad arguments; 2 the trial balance does not balance (a defect: report it).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openbss.core.cli_support import fail, ready

ledger_app = typer.Typer(help="The double-entry ledger: exports and the trial balance.",
                         no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
Tenant = Annotated[str, typer.Option(help="Tenant name.")]


@ledger_app.command("export")
def export(
    period: Annotated[str, typer.Option(help="A month (2026-11) or a year (2026).")],
    format: Annotated[str, typer.Option("--format", help="csv")] = "csv",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")
                      ] = None,
    tenant: Tenant = "default",
) -> None:
    """Export the journal lines of a period."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.ledger import reports

    if format != "csv":
        fail(f"--format: {format!r} is not supported (csv)")
    ready()
    try:
        start, end = reports.period_bounds(period, field="--period")
        with unit_of_work() as session:
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            chunks = list(reports.export_csv(ctx, start=start, end=end))
    except OpenBSSError as exc:
        fail(exc.message)
        return
    text = "".join(chunks)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}: {len(chunks) - 1} journal lines of {period}",
                  highlight=False)


@ledger_app.command("trial-balance")
def trial_balance(
    from_: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")
                     ] = None,
    to: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD).")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code.")] = None,
    tenant: Tenant = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Debits and credits per account."""
    from openbss.core import jsonx
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.ledger import reports

    try:
        start = date.fromisoformat(from_) if from_ else None
        end = date.fromisoformat(to) if to else None
    except ValueError:
        fail("--from/--to: dates as YYYY-MM-DD")
        return
    ready()
    try:
        with unit_of_work() as session:
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            tb = reports.trial_balance(ctx, start=start, end=end, currency=currency)
    except OpenBSSError as exc:
        fail(exc.message)
        return
    if as_json:
        typer.echo(jsonx.dumps(tb))
    else:
        table = Table(title=f"trial balance {tb['currency'] or ''}")
        for col in ("code", "name", "debit", "credit", "balance"):
            table.add_column(col, justify="right" if col in ("debit", "credit", "balance")
                             else "left")
        for a in tb["accounts"]:
            table.add_row(a["code"], a["name"], str(a["debit"]), str(a["credit"]),
                          str(a["balance"]))
        table.add_row("", "total", str(tb["totalDebit"]), str(tb["totalCredit"]), "")
        Console().print(table)
    if not tb["balanced"]:
        raise typer.Exit(2)
