"""Hooks other contexts register to act on billing events in the same transaction.

Billing sits below payments and the ledger (docs/architecture.md): it never imports
them. They register here instead::

    from openbss.billing import hooks

    @hooks.register_issued
    def post(ctx, bills) -> None: ...   # bills: Sequence[IssuedBill]

``register_issued`` hooks run after every issued invoice and credit note (bill runs, on
demand, credit notes), inside the issuing transaction, after the rows are written: the
ledger posts the journal entry, payments uses the account's unapplied credit and
re-checks dunning. A hook that raises aborts the issue (nothing is half-posted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openbss.core.context import Context


@dataclass(frozen=True)
class IssuedBill:
    """One issued bill as inserted: ``bill`` has the ``customer_bill`` column values
    (``id``, ``kind``, ``bill_no``, ``billing_account_id``, ``currency``,
    ``tax_excluded``, ``tax_included``, ``remaining_amount``, ``bill_date``,
    ``payment_due_date``, ``corrects_id``, ``body``); ``lines`` the
    ``applied_billing_rate`` column values of each line (``id``, ``type``, ``product_id``,
    ``price_id``, ``billed_account_id``, ``tax_excluded``, ``tax_included``,
    ``source_key``, ``body`` with ``appliedTax``). ``applied`` is what a credit note
    took off the remaining amount of the bill it corrects (zero for an invoice)."""

    bill: Mapping[str, Any]
    lines: Sequence[Mapping[str, Any]]
    applied: Any = 0


IssuedHook = Callable[[Context, Sequence[IssuedBill]], None]
_issued: list[IssuedHook] = []


def register_issued(fn: IssuedHook) -> IssuedHook:
    if fn not in _issued:
        _issued.append(fn)
    return fn


def unregister(fn: Callable[..., Any]) -> None:
    """Remove a registered hook (tests)."""
    while fn in _issued:
        _issued.remove(fn)


def issued(ctx: Context, bills: Sequence[IssuedBill]) -> None:
    if not bills:
        return
    for fn in list(_issued):
        fn(ctx, bills)
