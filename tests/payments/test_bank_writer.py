"""The bank-side statement writer (payments/bank.py): its files validate against the
official camt XSDs and read back, through openbss's own parser, as what was written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.payments import bank
from openbss.payments.iso20022 import camt, validate

IBAN = "DE02120300000000202051"
WHEN = datetime(2026, 12, 6, 6, tzinfo=UTC)

movement = st.builds(
    bank.BankMovement,
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
    currency=st.just("EUR"),
    kind=st.sampled_from(sorted(bank.CODES)),
    booking_date=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    reference=st.text("ABCDEFGHJK0123456789", min_size=4, max_size=20),
    end_to_end_id=st.one_of(st.none(), st.text("ABC-0123456789", min_size=3, max_size=35)),
    debtor_name=st.one_of(st.none(), st.just("Lena Schneider")),
    debtor_iban=st.one_of(st.none(), st.just("DE75512108001245126199")),
    remittance=st.lists(st.just("INV-2026-000001"), max_size=1).map(tuple),
    return_code=st.one_of(st.none(), st.sampled_from(["AM04", "MD06", "MS02"])),
)


@pytest.mark.parametrize("message", ["camt.053", "camt.054"])
@settings(max_examples=25, deadline=None)
@given(moves=st.lists(movement, max_size=5, unique_by=lambda m: m.reference))
def test_written_statements_validate_and_read_back(message: str,
                                                   moves: list[bank.BankMovement]) -> None:
    content = bank.write(message=message, message_id="DEMO-1", created_at=WHEN,
                         account_iban=IBAN, currency="EUR", movements=moves)
    assert validate.errors(content, f"{message}.001.02") == []
    read = camt.parse(content)
    assert read.format == f"{message}.001.02"
    assert read.account_iban == IBAN and read.entries == len(moves)
    for wrote, got in zip(moves, read.movements, strict=True):
        assert (got.amount, got.currency, got.direction) == (
            wrote.amount, "EUR", wrote.direction)
        assert got.end_to_end_id == wrote.end_to_end_id
        assert got.return_code == wrote.return_code
        assert got.remittance == wrote.remittance
        assert got.key == f"ref:{wrote.reference}"
        assert got.is_return == (wrote.kind == "return" or wrote.return_code is not None)


def test_statement_balances_follow_the_movements() -> None:
    moves = [bank.BankMovement(Decimal("100.00"), "EUR", "transfer", date(2026, 12, 5), "R1"),
             bank.BankMovement(Decimal("30.50"), "EUR", "return", date(2026, 12, 5), "R2",
                               return_code="AM04")]
    content = bank.write(message="camt.053", message_id="S1", created_at=WHEN,
                         account_iban=IBAN, currency="EUR", movements=moves,
                         opening_balance=Decimal("10.00"))
    text = content.decode()
    assert '<Amt Ccy="EUR">10.00</Amt>' in text          # OPBD
    assert '<Amt Ccy="EUR">79.50</Amt>' in text          # CLBD = 10 + 100 - 30.50


def test_unknown_message_is_refused() -> None:
    with pytest.raises(ValueError, match=r"camt\.053 or camt\.054"):
        bank.write(message="camt.052", message_id="X", created_at=WHEN, account_iban=IBAN,
                   currency="EUR", movements=[])
