"""``openbss reconcile [--period 2026-11] [--currency EUR] [--tenant NAME] [--json]``: the
revenue-assurance control (docs/revenue-assurance.md).

Exit codes: 0 everything reconciles; 2 a control found differences (listed); 1 bad
arguments or no database.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from openbss.core.cli_support import fail, ready


def reconcile(
    period: Annotated[str | None, typer.Option(
        help="A month (2026-11) or a year (2026); default: everything.")] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of the stage amounts (default: the tenant's).")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")
                       ] = False,
) -> None:
    """Reconcile usage → rating → billing → payments → ledger; exit 2 on differences."""
    from openbss.assurance import service
    from openbss.core import jsonx
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError

    ready()
    err = Console(stderr=True, soft_wrap=True)
    try:
        with unit_of_work() as session, err.status("reconciling …"):
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            report = service.reconcile(ctx, period=period, currency=currency)
    except OpenBSSError as exc:
        fail(exc.message)
        return
    if as_json:
        typer.echo(jsonx.dumps(report))
    else:
        _print(report)
    if not report["ok"]:
        raise typer.Exit(2)


def _print(report: dict[str, Any]) -> None:
    console = Console()
    title = f"reconciliation {report['period'] or '(all periods)'} — {report['currency']}"
    stages = Table(title=title)
    for col in ("stage", "count", "amount"):
        stages.add_column(col, justify="left" if col == "stage" else "right")
    for s in report["stages"]:
        stages.add_row(s["name"], str(s["count"]), s["amount"] or "")
    console.print(stages)
    if report["rejectedByReason"]:
        console.print("rejected by reason: " + ", ".join(
            f"{k} {v}" for k, v in report["rejectedByReason"].items()), highlight=False)
    controls = Table(title="controls")
    for col in ("control", "result", "differences"):
        controls.add_column(col)
    for c in report["checks"]:
        n = len(c["differences"]) + c.get("moreDifferences", 0)
        controls.add_row(c["name"], "ok" if c["ok"] else "[red]DIFFERENCES[/red]",
                         str(n) if n else "")
    console.print(controls)
    for c in report["checks"]:
        for d in c["differences"]:
            fields = ", ".join(f"{k}={v}" for k, v in d.items() if k != "problem")
            console.print(f"{c['name']}: {d.get('problem')} ({fields})", highlight=False,
                          soft_wrap=True)
        if c.get("moreDifferences"):
            console.print(f"{c['name']}: … and {c['moreDifferences']} more", highlight=False)
    console.print("reconciled" if report["ok"] else "[red]NOT reconciled[/red]")
