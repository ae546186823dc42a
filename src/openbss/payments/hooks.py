"""In-context hooks of payments: what changed an account's balance (a payment received
or undone, a credit note, a refund) is announced with :func:`balance_changed`, in the same
transaction; dunning registers :func:`register_balance_changed` to close a case whose
debt is cleared and resume the services it suspended."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from openbss.core.context import Context

BalanceChanged = Callable[[Context, list[str]], None]
_listeners: list[BalanceChanged] = []


def register_balance_changed(fn: BalanceChanged) -> BalanceChanged:
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def balance_changed(ctx: Context, account_ids: Iterable[str]) -> None:
    ids = sorted(set(account_ids))
    if not ids:
        return
    for fn in list(_listeners):
        fn(ctx, ids)
