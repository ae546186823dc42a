"""``openbss catalog import FILE`` and ``openbss catalog export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openbss.core.cli_support import ready

catalog_app = typer.Typer(help="Import and export product catalogs (YAML/JSON).",
                          no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@catalog_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="Catalog file (.yaml, .yml or .json).")],
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
) -> None:
    """Import a catalog file in one transaction: all of it, or nothing.

    Matched by the file's keys: importing the same file again changes nothing; a changed
    item is updated (In design) or gets a new version (Active).
    """
    from openbss.catalog import importer
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work

    ready()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {file}: {exc.strerror}", highlight=False)
        raise typer.Exit(1) from None
    except UnicodeDecodeError:
        err.print(f"[red]error:[/red] {file} is not UTF-8 text (a catalog file is YAML or "
                  "JSON)", highlight=False)
        raise typer.Exit(1) from None
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
        counts = importer.import_catalog(ctx, data=importer.parse(text))
    err.print(f"imported {file} into tenant {tenant!r}: {importer.summary(counts)}",
              highlight=False)


@catalog_app.command("export")
def export_file(
    format: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
) -> None:
    """Write the tenant's whole catalog to stdout (re-imports with `catalog import`)."""
    from openbss.catalog import exporter, importer
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work

    if format not in ("yaml", "json"):
        err.print("[red]error:[/red] --format must be yaml or json", highlight=False)
        raise typer.Exit(1)
    ready()
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
        text = importer.dump(exporter.export_catalog(ctx), format)
    sys.stdout.write(text)
