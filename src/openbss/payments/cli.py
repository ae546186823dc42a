"""``openbss payments``: SEPA direct-debit files out, bank statements in.

- ``openbss payments sepa-export --collection-date DATE [--output FILE] [--version 08|02]``
  writes the pain.008 file of every due bill of the accounts with an active mandate (to
  ``--output``, default ``sepa-<message id>.xml`` in the current directory) and prints
  what it holds. Nothing due: no file, exit 0 with a message.
- ``openbss payments import-statement FILE [--json]`` imports a camt.053 / camt.054 file;
  ``--json`` prints ``{"entries", "matched", "unmatched", "returned", "duplicates"}``.
  The same file twice changes nothing (every entry counts as a duplicate).

Exit codes: 0 done; 1 bad arguments, an unreadable file or invalid settings (the message
says which field).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openbss.core.cli_support import fail, ready

payments_app = typer.Typer(help="Payments: SEPA direct-debit files and bank statements.",
                           no_args_is_help=True)
dunning_app = typer.Typer(help="Dunning: chase overdue accounts.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
Tenant = Annotated[str, typer.Option(help="Tenant name.")]


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date (YYYY-MM-DD): {value!r}")
        raise


@payments_app.command("sepa-export")
def sepa_export(
    collection_date: Annotated[str, typer.Option(
        "--collection-date", help="The day the bank collects (YYYY-MM-DD).")],
    output: Annotated[Path | None, typer.Option(help="Where to write the XML.")] = None,
    version: Annotated[str, typer.Option(help="08: pain.008.001.08 (the EPC rulebook's); "
                                              "02: pain.008.001.02.")] = "08",
    tenant: Tenant = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")
                       ] = False,
) -> None:
    """Write the pain.008 direct-debit file of every due bill with an active mandate."""
    from openbss.core import jsonx
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.payments import collections

    day = _day(collection_date, "--collection-date")
    ready()
    try:
        with unit_of_work() as session, err.status(
                f"collecting the invoices due by {day}"):
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            result = collections.export(ctx, collection_date=day, version=version)
            doc = collections.render_export(ctx, result)
            content = result.collection.content if result.collection else None
            message_id = result.collection.message_id if result.collection else None
    except OpenBSSError as exc:
        fail(f"{exc.message}" + (f" ({exc.field})" if exc.field else ""))
        return
    if content is not None:
        target = output or Path(f"sepa-{message_id}.xml")
        target.write_bytes(content)
        doc["output"] = str(target)
    if as_json:
        typer.echo(jsonx.dumps(doc))
    elif content is None:
        err.print(f"nothing is due for collection on {day}: no file written", highlight=False)
    else:
        err.print(f"wrote {doc['output']}: {doc['version']}, {doc['transactions']} "
                  f"transactions, {doc['total']['value']} EUR, collection date {day}",
                  highlight=False)
        for g in doc["groups"]:
            err.print(f"  {g['sequenceType']}: {g['transactions']} transactions, "
                      f"{g['total']['value']} EUR", highlight=False)


@payments_app.command("import-statement")
def import_statement(
    file: Annotated[Path, typer.Argument(help="A camt.053 or camt.054 XML file.")],
    tenant: Tenant = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")
                       ] = False,
) -> None:
    """Import a bank statement and match its entries to bills and payments."""
    from openbss.core import jsonx
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.payments import collections
    from openbss.payments.iso20022.camt import MAX_BYTES

    if not file.is_file():
        fail(f"FILE: {file} does not exist")
    if file.stat().st_size > MAX_BYTES:
        fail(f"FILE: {file} is larger than {MAX_BYTES} bytes")
    content = file.read_bytes()
    ready()
    try:
        with unit_of_work() as session, err.status(
                f"importing {file.name} ({len(content) // 1024} KiB): matching entries, "
                "recording payments"):
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            result = collections.import_statement(ctx, content=content, filename=file.name)
            summary = dict(result.summary)
    except OpenBSSError as exc:
        fail(f"{exc.message}" + (f" ({exc.field})" if exc.field else ""))
        return
    if as_json:
        typer.echo(jsonx.dumps({k: summary[k] for k in collections.SUMMARY_KEYS}))
        return
    note = "" if result.created else " (imported before: nothing changed)"
    err.print(f"{file.name}: {summary['entries']} entries — {summary['matched']} matched, "
              f"{summary['unmatched']} unmatched (GET /api/v1/payments/statementEntries?"
              f"state=unmatched), {summary['returned']} returned, {summary['duplicates']} "
              f"duplicates{note}", highlight=False)


@dunning_app.command("run")
def dunning_run(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Run as of this day (YYYY-MM-DD); default: the tenant's today.")
                     ] = None,
    tenant: Tenant = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")
                       ] = False,
) -> None:
    """Run every dunning step that is due (idempotent: a step never runs twice)."""
    from openbss.core import jsonx
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.payments import dunning

    day = _day(as_of, "--as-of") if as_of else None
    ready()
    try:
        with unit_of_work() as session, err.status("dunning: looking for overdue accounts"):
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            summary = dunning.run(ctx, as_of=day or ctx.now.date())
    except OpenBSSError as exc:
        fail(f"{exc.message}" + (f" ({exc.field})" if exc.field else ""))
        return
    if as_json:
        typer.echo(jsonx.dumps(summary))
        return
    err.print(f"dunning as of {summary['asOf']}: {summary['accounts']} overdue accounts, "
              f"{summary['casesOpened']} cases opened, {summary['casesClosed']} closed, "
              f"{summary['held']} on hold, {len(summary['actions'])} steps", highlight=False)
    for a in summary["actions"]:
        err.print(f"  {a['billingAccount']}: {a['action']} (day {a['daysOverdue']})",
                  highlight=False)
