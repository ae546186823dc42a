"""The pure part of the ledger: journal lines, the balance rule and the default chart.

An entry is a list of :class:`Line` in one currency; every line is a debit or a credit of
one account, named by its **role** (``receivable``, ``cash`` …, resolved to the tenant's
account code when posted) or directly by ``code:<account code>``. :func:`side` turns a
signed amount into a debit (positive) or a credit (negative), so the posting rules can be
written as sums. :func:`check_balanced` is the law every entry obeys: the debits equal the
credits, exactly (amounts are ``Decimal``, never rounded here).

No I/O, no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openbss.ledger.models import AccountType

ZERO = Decimal(0)


@dataclass(frozen=True)
class Line:
    """One debit or credit. ``account``: a role, or ``code:<code>``."""

    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    billing_account_id: str | None = None
    dimension: str | None = None


@dataclass(frozen=True)
class Entry:
    """An entry to post: ``source_key`` identifies the financial event (posting the same
    key twice posts once)."""

    kind: str
    source_type: str
    source_id: str
    source_key: str
    currency: str
    lines: Sequence[Line]
    memo: str | None = None
    billing_account_id: str | None = None
    reverses_id: str | None = None
    #: the business date it belongs to (default: the posting's date)
    on: date | None = None


def side(account: str, amount: Decimal, *, billing_account_id: str | None = None,
         dimension: str | None = None) -> Line:
    """A debit of ``amount`` if positive, a credit of ``-amount`` if negative."""
    if amount >= 0:
        return Line(account, debit=amount, billing_account_id=billing_account_id,
                    dimension=dimension)
    return Line(account, credit=-amount, billing_account_id=billing_account_id,
                dimension=dimension)


class UnbalancedEntry(ValueError):
    """An entry whose debits and credits differ: a defect of a posting rule."""


def check_balanced(lines: Iterable[Line]) -> tuple[Decimal, Decimal]:
    """(total debit, total credit) of the lines; raises :class:`UnbalancedEntry` unless
    they are equal and every line is a non-negative debit or credit, not both."""
    debit = credit = ZERO
    for line in lines:
        if line.debit < 0 or line.credit < 0 or (line.debit and line.credit):
            raise UnbalancedEntry(f"line on {line.account}: a line is a non-negative "
                                  f"debit or credit, not both ({line.debit}/{line.credit})")
        debit += line.debit
        credit += line.credit
    if debit != credit:
        raise UnbalancedEntry(f"debits {debit} != credits {credit}")
    return debit, credit


def compact(lines: Iterable[Line]) -> list[Line]:
    """Lines with the same account, billing account and dimension summed (debits net of
    credits) and zero lines dropped; order of first appearance kept."""
    totals: dict[tuple[str, str | None, str | None], Decimal] = {}
    for line in lines:
        key = (line.account, line.billing_account_id, line.dimension)
        totals[key] = totals.get(key, ZERO) + line.debit - line.credit
    return [side(account, amount, billing_account_id=ba, dimension=dim)
            for (account, ba, dim), amount in totals.items() if amount != 0]


def reverse(lines: Iterable[Line]) -> list[Line]:
    """The lines of the reversing entry: every debit a credit and every credit a debit."""
    return [Line(x.account, debit=x.credit, credit=x.debit,
                 billing_account_id=x.billing_account_id, dimension=x.dimension)
            for x in lines]


@dataclass(frozen=True)
class ChartAccount:
    code: str
    name: str
    type: AccountType
    role: str | None = None
    subledger: bool = False


#: The default chart of accounts, seeded for a tenant on first use (docs/ledger.md).
#: Receivable and customer credit are kept per billing account (the sub-ledger whose sum
#: per account is the account's balance).
DEFAULT_CHART: tuple[ChartAccount, ...] = (
    ChartAccount("1000", "Bank", AccountType.ASSET, "cash"),
    ChartAccount("1200", "Accounts receivable", AccountType.ASSET, "receivable", True),
    ChartAccount("2100", "Customer credit (unapplied payments)", AccountType.LIABILITY,
                 "customerCredit", True),
    ChartAccount("2200", "Tax payable", AccountType.LIABILITY, "taxPayable"),
    ChartAccount("3000", "Retained earnings", AccountType.EQUITY),
    ChartAccount("4000", "Service revenue", AccountType.REVENUE, "revenue"),
    ChartAccount("4100", "Usage revenue", AccountType.REVENUE, "usageRevenue"),
    ChartAccount("4200", "One-time and other charges", AccountType.REVENUE, "otherRevenue"),
    ChartAccount("4800", "Late fees", AccountType.REVENUE, "lateFees"),
    ChartAccount("6100", "Payment fees", AccountType.EXPENSE, "paymentFees"),
    ChartAccount("6200", "Bad debt (write-offs)", AccountType.EXPENSE, "writeOff"),
)

#: The roles the posting rules use: each must be played by one account of the chart.
ROLES: frozenset[str] = frozenset(a.role for a in DEFAULT_CHART if a.role)
