"""Gapless invoice and credit-note numbers: ``INV-2026-000123``.

A number is ``f"{series}-{year}-{n:06d}"``: per tenant (the legal entity), series
(``settings.invoice_series`` / ``credit_note_series``) and year (the bill date's year in
the account's time zone), ``n`` counting from 1 without gap or repeat.

The counter is the :class:`~openbss.billing.models.InvoiceSequence` row, created on first
use and moved on by ``UPDATE … SET last_value = last_value + count RETURNING`` inside the
issuing transaction:

- a rollback of that transaction also rolls the counter back, so the numbers it took are
  given out again by the next issue (no gap);
- two transactions issuing in the same series serialize on the row lock (PostgreSQL) or
  on SQLite's single writer, so no number is given twice.

A pro-forma bill (``dry_run``) never calls this: it consumes no number.
"""

from __future__ import annotations

from openbss.billing import queries
from openbss.core.context import Context
from openbss.core.errors import ValidationError


def format_number(series: str, year: int, n: int) -> str:
    return f"{series}-{year}-{n:06d}"


def next_numbers(ctx: Context, *, series: str, year: int, count: int) -> list[str]:
    """The next ``count`` numbers of ``series`` in ``year``, in order, reserved in the
    caller's transaction (module docstring)."""
    if count < 0:
        raise ValidationError("count must not be negative", field="count")
    if count == 0:
        return []
    last = queries.reserve_numbers(ctx, series, year, count)
    return [format_number(series, year, n) for n in range(last - count + 1, last + 1)]
