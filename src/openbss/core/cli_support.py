"""What every context's command group shares: the readiness check the ``openbss`` command
hands in (secret key, database — so no context imports the top floor) and the one way a
command fails with a message."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
_checks: list[Callable[[], None]] = []


def require_ready(check: Callable[[], None]) -> None:
    """Called once by ``openbss.cli`` with its readiness check."""
    if check not in _checks:
        _checks.append(check)


def ready() -> None:
    """Run the readiness check before a command touches the database."""
    if not _checks:
        raise RuntimeError("context commands run under the openbss command (openbss.cli), "
                           "which registers its readiness check with require_ready")
    for check in _checks:
        check()


def fail(message: str) -> None:
    """Print ``error: message`` on stderr and exit 1."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)
