"""The hooks later contexts register into (billing, ordering, …), at import time::

    from openbss.party import hooks

    @hooks.register_balance_provider
    def open_invoices(ctx, account) -> Money | None: ...   # owed, in the account currency

    @hooks.register_close_check
    def active_subscriptions(ctx, account) -> str | None: ...  # reason, or None

    @hooks.register_erasure_check
    def open_disputes(ctx, party) -> str | None: ...  # reason, or None

The account balance is :class:`openbss.core.money.Money` — an amount always travels with
its currency; a provider answering in another currency than the account's is a
:class:`~openbss.core.errors.CurrencyMismatchError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import CurrencyMismatchError
from openbss.core.money import Money
from openbss.party.models import Account, Party

BalanceProvider = Callable[[Context, Account], Money | None]
CloseCheck = Callable[[Context, Account], str | None]
ErasureCheck = Callable[[Context, Party], str | None]
_balance_providers: list[BalanceProvider] = []
_close_checks: list[CloseCheck] = []
_erasure_checks: list[ErasureCheck] = []


def register_balance_provider(fn: BalanceProvider) -> BalanceProvider:
    """Register ``fn(ctx, account) -> Money | None``: an amount the account owes (in its
    currency). The account balance is the sum of all providers (zero with none)."""
    if fn not in _balance_providers:
        _balance_providers.append(fn)
    return fn


def register_close_check(fn: CloseCheck) -> CloseCheck:
    """Register ``fn(ctx, account) -> str | None``; a string is a reason the account may
    not be closed (or its owner anonymised), e.g. ``"2 active subscriptions"``."""
    if fn not in _close_checks:
        _close_checks.append(fn)
    return fn


def register_erasure_check(fn: ErasureCheck) -> ErasureCheck:
    """Register ``fn(ctx, party) -> str | None``: a reason the person may not be
    anonymised yet (beyond the checks of their accounts)."""
    if fn not in _erasure_checks:
        _erasure_checks.append(fn)
    return fn


def unregister_hook(fn: Callable[..., Any]) -> None:
    """Remove a registered hook (tests, plugin unloading)."""
    for registry in (_balance_providers, _close_checks, _erasure_checks):
        while fn in registry:
            registry.remove(fn)


def account_balance(ctx: Context, account: Account) -> Money:
    """What ``account`` owes, in its currency: the sum of every provider's amount."""
    total = Money.zero(account.currency)
    for provider in _balance_providers:
        amount = provider(ctx, account)
        if amount is None:
            continue
        if not isinstance(amount, Money):
            raise TypeError(f"balance provider {provider!r} must return Money or None, "
                            f"not {type(amount).__name__}")
        if amount.currency != account.currency:
            raise CurrencyMismatchError(
                f"accountBalance: a balance in {amount.currency} for account {account.id}, "
                f"which bills in {account.currency}", field="accountBalance")
        total = total + amount
    return total


def account_blockers(ctx: Context, account: Account) -> list[str]:
    """Why ``account`` may not be closed now, from the hooks (empty: it may)."""
    reasons: list[str] = []
    balance = account_balance(ctx, account)
    if balance.amount != 0:
        reasons.append(f"billing account {account.id} has an open balance of "
                       f"{balance.amount} {balance.currency}")
    for check in _close_checks:
        reason = check(ctx, account)
        if reason:
            reasons.append(reason)
    return reasons


def erasure_blockers(ctx: Context, party: Party) -> list[str]:
    """Why ``party`` may not be anonymised now, from the erasure checks."""
    reasons: list[str] = []
    for check in _erasure_checks:
        reason = check(ctx, party)
        if reason:
            reasons.append(reason)
    return reasons
