"""Demo data of this context (filled in by its issue)."""

from __future__ import annotations

from openbss.core.context import Context


def load(ctx: Context) -> list[str]:
    """Create this context's demo data unless it exists; return summary lines."""
    return []
