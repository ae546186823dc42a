"""How money is spread over bills (pure: no I/O, no clock).

- :func:`oldest_first`: an amount applied to open bills in the order given (oldest due
  first), each at most what it still owes; what is left is the payment's unapplied credit.
- :func:`checked`: explicit allocations (``paymentItem``) checked against the payment and
  the bills: every bill the account's and open, never more than it owes, never more in
  total than the payment.
- :func:`take_back`: which allocations a refund undoes when the payment's unapplied
  credit does not cover it (newest first).

The laws (tests/payments/test_allocation_laws.py): nothing is created or lost — the
allocations plus the rest equal the amount; no bill gets more than it owes; the order is
respected (a later bill gets something only when every earlier one is paid in full).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class OpenBill:
    id: str
    remaining: Decimal  # what it still owes, > 0


@dataclass(frozen=True)
class Spread:
    allocations: tuple[tuple[str, Decimal], ...]  # (bill id, amount > 0)
    rest: Decimal                                 # unapplied, >= 0


class AllocationError(ValueError):
    """An explicit allocation that cannot be made; ``field`` names the paymentItem."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def oldest_first(amount: Decimal, bills: Sequence[OpenBill]) -> Spread:
    if amount < 0:
        raise ValueError("an amount to allocate is not negative")
    left = amount
    out: list[tuple[str, Decimal]] = []
    for bill in bills:
        if left <= 0:
            break
        share = min(left, bill.remaining)
        if share > 0:
            out.append((bill.id, share))
            left -= share
    return Spread(tuple(out), left)


def checked(amount: Decimal, wanted: Sequence[tuple[str, Decimal]],
            bills: Mapping[str, OpenBill], *, prefix: str = "paymentItem") -> Spread:
    """Explicit allocations, summed per bill; ``bills``: the account's open bills."""
    per_bill: dict[str, Decimal] = {}
    for i, (bill_id, value) in enumerate(wanted):
        field = f"{prefix}[{i}]"
        if value <= 0:
            raise AllocationError(f"{field}.amount: must be more than zero", f"{field}.amount")
        if bill_id not in bills:
            raise AllocationError(f"{field}.item.id: {bill_id!r} is not an open bill of "
                                  "this billing account", f"{field}.item.id")
        per_bill[bill_id] = per_bill.get(bill_id, ZERO) + value
        if per_bill[bill_id] > bills[bill_id].remaining:
            raise AllocationError(f"{field}.amount: {per_bill[bill_id]} exceeds the "
                                  f"{bills[bill_id].remaining} still owed on the bill",
                                  f"{field}.amount")
    total = sum(per_bill.values(), ZERO)
    if total > amount:
        raise AllocationError(f"{prefix}: the items total {total}, more than the payment's "
                              f"{amount}", prefix)
    return Spread(tuple(per_bill.items()), amount - total)


def take_back(amount: Decimal, allocated: Sequence[tuple[str, Decimal]]) -> Spread:
    """Undo up to ``amount`` of ``allocated`` (bill id, net amount; oldest first), newest
    first; ``rest``: what could not be taken back."""
    left = amount
    out: list[tuple[str, Decimal]] = []
    for bill_id, value in reversed(allocated):
        if left <= 0:
            break
        share = min(left, value)
        if share > 0:
            out.append((bill_id, share))
            left -= share
    return Spread(tuple(out), left)
