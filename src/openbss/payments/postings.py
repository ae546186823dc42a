"""The journal entries of payments (pure: built here, posted by the ledger in the same
transaction as the change they record). docs/ledger.md has the table.

Receivable and customer credit lines carry the billing account (the sub-ledger), so an
account's balance — what it owes minus its unapplied credit — is always its receivable
minus its customer credit in the ledger.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from openbss.ledger.book import Entry, Line, side

ZERO = Decimal(0)


def _entry(kind: str, source_type: str, source_id: str, key: str, currency: str,
           lines: list[Line], account: str, on: date | None, memo: str | None = None
           ) -> Entry:
    return Entry(kind=kind, source_type=source_type, source_id=source_id, source_key=key,
                 currency=currency, lines=lines, memo=memo, billing_account_id=account,
                 on=on)


def _fee(fee: Decimal) -> list[Line]:
    return [side("paymentFees", fee), side("cash", -fee)] if fee else []


def receipt(*, payment_id: str, account: str, currency: str, amount: Decimal,
            allocated: Decimal, fee: Decimal = ZERO, on: date | None = None,
            memo: str | None = None) -> Entry:
    """Money received: Dr cash / Cr receivable (what was allocated to bills) / Cr customer
    credit (the rest); a gateway fee: Dr payment fees / Cr cash."""
    lines = [side("cash", amount),
             side("receivable", -allocated, billing_account_id=account),
             side("customerCredit", -(amount - allocated), billing_account_id=account),
             *_fee(fee)]
    return _entry("payment", "payment", payment_id, f"payment:{payment_id}", currency, lines,
                  account, on, memo)


def credit_applied(*, payment_id: str, account: str, currency: str, amount: Decimal,
                   key: str, on: date | None = None) -> Entry:
    """Unapplied credit applied to a bill: Dr customer credit / Cr receivable."""
    lines = [side("customerCredit", amount, billing_account_id=account),
             side("receivable", -amount, billing_account_id=account)]
    return _entry("creditApplied", "payment", payment_id, key, currency, lines, account, on)


def reversal(*, payment_id: str, account: str, currency: str, reopened: Decimal,
             credit: Decimal, kind: str, fee: Decimal = ZERO, on: date | None = None,
             memo: str | None = None) -> Entry:
    """A returned debit or a chargeback: the bills' receivable comes back (Dr receivable),
    the unapplied credit goes (Dr customer credit), the money leaves (Cr cash); a
    chargeback fee: Dr payment fees / Cr cash."""
    lines = [side("receivable", reopened, billing_account_id=account),
             side("customerCredit", credit, billing_account_id=account),
             side("cash", -(reopened + credit)), *_fee(fee)]
    return _entry(kind, "payment", payment_id, f"payment:{payment_id}:{kind}", currency,
                  lines, account, on, memo)


def refund(*, refund_id: str, account: str, currency: str, from_credit: Decimal,
           reopened: Decimal, on: date | None = None, memo: str | None = None) -> Entry:
    """Money paid back: Dr customer credit (from the unapplied part) / Dr receivable (from
    bills it had paid, which owe it again) / Cr cash."""
    lines = [side("customerCredit", from_credit, billing_account_id=account),
             side("receivable", reopened, billing_account_id=account),
             side("cash", -(from_credit + reopened))]
    return _entry("refund", "refund", refund_id, f"refund:{refund_id}", currency, lines,
                  account, on, memo)


def write_off(*, bill_id: str, account: str, currency: str, amount: Decimal, key: str,
              on: date | None = None, memo: str | None = None) -> Entry:
    """Bad debt: Dr write-off expense / Cr receivable."""
    lines = [side("writeOff", amount),
             side("receivable", -amount, billing_account_id=account)]
    return _entry("writeOff", "customerBill", bill_id, key, currency, lines, account, on,
                  memo)
