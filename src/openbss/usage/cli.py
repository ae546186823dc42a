"""``openbss usage import FILE``, ``openbss usage rejects list|reprocess`` and
``openbss usage rerate``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from openbss.core.cli_support import fail, ready

usage_app = typer.Typer(help="Usage mediation: import CDR files, rejects, re-rating.",
                        no_args_is_help=True)
rejects_app = typer.Typer(help="Rejected usage records: list them, process them again.",
                          no_args_is_help=True)
usage_app.add_typer(rejects_app, name="rejects")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)



def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=False) + "\n")


@contextmanager
def _context(tenant: str) -> Iterator[Any]:
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError

    try:
        with unit_of_work() as session:
            yield system_context(session, tenant_by_name(session, tenant), actor="cli")
    except OpenBSSError as exc:
        fail(str(exc))


def _summary_table(title: str, data: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    for key in ("read", "accepted", "duplicates", "rejected", "rated"):
        table.add_row(key, str(data[key]))
    for reason, n in data["rejectedByReason"].items():
        table.add_row(f"  rejected {reason}", str(n))
    for currency, amount in data["amounts"].items():
        table.add_row(f"amount {currency}", amount)
    return table


@usage_app.command("import")
def import_usage(
    file: Annotated[Path, typer.Argument(help="The usage file (CSV or NDJSON).")],
    format: Annotated[str | None, typer.Option(
        "--format", help="csv or ndjson (default: the mapping's, or the file's suffix).")
    ] = None,
    mapping: Annotated[str, typer.Option(
        help="asterisk, freeswitch, generic or a MAPPING.yaml file.")] = "generic",
    source: Annotated[str | None, typer.Option(
        help="The source name (usage settings: time zone, region, dedup fields); "
             "default: the mapping's name.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the summary as one JSON object on stdout.")] = False,
) -> None:
    """Stream a usage file through mediation and rating, committing every chunk of
    100,000 records: normalise, deduplicate, guide, rate, store. Prints read, accepted,
    duplicates, rejected (by reason), rated and the amount per currency. Rejects are not
    failures (exit 0): list them with `openbss usage rejects list`."""
    import dataclasses

    from openbss.core.errors import OpenBSSError
    from openbss.usage import batch
    from openbss.usage.mapping import MappingError, load_mapping

    if format is not None and format not in ("csv", "ndjson"):
        raise typer.BadParameter("csv or ndjson", param_hint="--format")
    try:
        spec = load_mapping(mapping)
    except MappingError as exc:
        fail(f"mapping {exc} — see docs/usage-and-rating.md (Mediation) for the format")
        raise
    chosen = format or ("ndjson" if file.suffix.lower() in (".ndjson", ".jsonl")
                        and spec.name == "generic" else spec.format)
    spec = dataclasses.replace(spec, format=chosen)
    name = source or spec.name
    if not file.is_file():
        fail(f"cannot read {file}: " + ("a directory, not a file (import its files one by one)"
                                        if file.is_dir() else "no such file"))
    ready()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("importing {task.description}"), BarColumn(),
                        TextColumn("{task.fields[records]:,} records"),
                        TimeElapsedColumn(), console=err, transient=True,
                        disable=not err.is_terminal)
    try:
        with progress:
            task = progress.add_task(file.name, total=None, records=0)

            def advance(done: int, _rejected: int) -> None:
                progress.update(task, records=done)

            summary = batch.import_file(file, mapping=spec, source=name, tenant=tenant,
                                        progress=advance)
    except MappingError as exc:
        fail(f"{file}: {exc} (check --mapping and --format)")
        raise
    except OpenBSSError as exc:
        fail(str(exc))
        raise
    data = summary.to_json()
    if as_json:
        _emit(data)
    else:
        out.print(_summary_table(f"{file} ({spec.name}, source {name})", data))


def _reason(reason: str | None) -> str | None:
    from openbss.usage.models import RejectReason

    if reason is not None and reason not in {r.value for r in RejectReason}:
        raise typer.BadParameter(
            f"one of {', '.join(r.value for r in RejectReason)}", param_hint="--reason")
    return reason


@rejects_app.command("list")
def list_rejects(
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")
                     ] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")
                       ] = False,
) -> None:
    """The rejected records (oldest first) with their reason codes."""
    from openbss.usage import queries

    _reason(reason)
    ready()
    with _context(tenant) as ctx:
        rows = queries.rejects_page(ctx, reason=reason, after=None, limit=limit)
        items = [{"id": r.id, "source": r.source, "recordId": r.record_id,
                  "usageDate": r.usage_date.astimezone(UTC).isoformat().replace(
                      "+00:00", "Z") if r.usage_date else None,
                  "reason": r.reject_reason, "message": r.reject_detail} for r in rows]
    if as_json:
        _emit({"rejects": items, "count": len(items)})
        return
    table = Table(title=f"rejected usage ({len(items)})")
    for column in ("id", "source", "recordId", "usageDate", "reason", "message"):
        table.add_column(column)
    for item in items:
        table.add_row(*(str(item[c] or "") for c in ("id", "source", "recordId",
                                                      "usageDate", "reason", "message")))
    out.print(table)


@rejects_app.command("reprocess")
def reprocess_rejects(
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")
                       ] = False,
) -> None:
    """Process stored rejects again (after the missing product was ordered, a tariff
    added, a source's settings fixed): those that now guide and rate become rated."""
    from openbss.usage import batch

    _reason(reason)
    ready()
    with _context(tenant) as ctx:
        summary = batch.reprocess(ctx, reason=reason)
    data = summary.to_json()
    if as_json:
        _emit(data)
    else:
        out.print(_summary_table("reprocessed rejects", data))


def _instant(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a date (2026-01-01) or an ISO 8601 instant",
                                 param_hint=option) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@usage_app.command("rerate")
def rerate_usage(
    start: Annotated[str, typer.Option("--from", help="From this date/instant (UTC).")],
    end: Annotated[str, typer.Option("--to", help="Up to this date/instant (UTC), "
                                     "exclusive.")],
    account: Annotated[str | None, typer.Option(help="One billing account's usage.")
                       ] = None,
    all_accounts: Annotated[bool, typer.Option("--all", help="Every account's usage.")
                            ] = False,
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")
                       ] = False,
) -> None:
    """Re-rate the usage of whole billing periods after a tariff correction: a new
    generation of rated usage (the previous results stay in history; rows of invoiced
    periods are marked for correction by billing). Prints the difference."""
    from openbss.usage.rerate import rerate

    if (account is None) == (not all_accounts):
        raise typer.BadParameter("give --account ID or --all", param_hint="--account")
    lo, hi = _instant(start, "--from"), _instant(end, "--to")
    if hi <= lo:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    ready()
    with _context(tenant) as ctx:
        data = rerate(ctx, account_id=account, start=lo, end=hi).to_json()
    if as_json:
        _emit(data)
        return
    table = Table(title="re-rated usage", show_header=True)
    for column in ("currency", "before", "after", "difference"):
        table.add_column(column)
    for currency, diff in data["difference"].items():
        table.add_row(currency, data["before"].get(currency, "0"),
                      data["after"].get(currency, "0"), diff)
    out.print(f"records {data['records']}, rated {data['rated']}, unrated "
              f"{data['unrated']}, marked for correction {data['corrections']}")
    out.print(table)
