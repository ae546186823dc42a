"""``openbss rating import-cgrates DIR`` and ``openbss rating export-cgrates DIR``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openbss.core.cli_support import fail, ready

rating_app = typer.Typer(help="Telecom tariffs: import and export CGRateS tariff plans.",
                         no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)



@rating_app.command("import-cgrates")
def import_cgrates(
    directory: Annotated[Path, typer.Argument(help="A CGRateS tariff-plan folder "
                                              "(Destinations.csv, Rates.csv …).")],
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    name: Annotated[str | None, typer.Option(
        help="Name of the tariff (default: the folder's name); replaces a tariff of "
             "that name.")] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of the rates (default: the tenant's default currency).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON "
                                          "object.")] = False,
) -> None:
    """Import a CGRateS tariff plan (Destinations, Rates, DestinationRates, Timings,
    RatingPlans, RatingProfiles) as one tariff of the tenant, in one transaction. Prints
    what it loaded per file and the files it ignored."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.rating import service

    ready()
    try:
        with unit_of_work() as session:
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            result = service.import_cgrates(ctx, directory=directory, name=name,
                                            currency=currency)
            summary = {"id": result.tariff.id, "name": result.tariff.name,
                       "currency": result.tariff.currency, "created": result.created,
                       "counts": result.counts, "ignored": result.ignored}
    except OpenBSSError as exc:
        where = f" ({exc.field})" if exc.field else ""
        fail(f"{exc.message}{where}")
        return
    if as_json:
        typer.echo(json.dumps(summary))
        return
    verb = "imported" if result.created else "replaced"
    out.print(f"{verb} tariff {summary['name']!r} ({summary['currency']}) into tenant "
              f"{tenant!r} from {directory}", highlight=False)
    for file, count in result.counts.items():
        out.print(f"  {file:<22} {count:>6}", highlight=False)
    if result.ignored:
        out.print(f"  ignored: {', '.join(result.ignored)}", highlight=False)


@rating_app.command("export-cgrates")
def export_cgrates(
    directory: Annotated[Path, typer.Argument(help="Folder to write (created if missing).")],
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    name: Annotated[str | None, typer.Option(
        help="The tariff to export (default: all the tenant's tariffs, merged).")] = None,
) -> None:
    """Write the tenant's tariffs as a CGRateS tariff-plan folder (imports back with
    ``import-cgrates``)."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.errors import OpenBSSError
    from openbss.rating import service

    ready()
    try:
        with unit_of_work() as session:
            ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
            counts = service.export_cgrates(ctx, directory=directory, name=name)
    except OpenBSSError as exc:
        where = f" ({exc.field})" if exc.field else ""
        fail(f"{exc.message}{where}")
        return
    out.print(f"exported {'tariff ' + repr(name) if name else 'all tariffs'} of tenant "
              f"{tenant!r} to {directory}", highlight=False)
    for file, count in counts.items():
        out.print(f"  {file:<22} {count:>6}", highlight=False)
