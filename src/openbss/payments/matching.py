"""How a bank statement movement is matched (pure: the caller looks the candidates up).

Credits, in this order:

1. the end-to-end id of a pending SEPA collection payment → ``complete`` it; or a batch
   whose ``PmtInfId`` (or batch message id) names one of our collections → ``complete``
   every pending payment of it;
2. the remittance information naming the number of an open bill → ``bill`` (a bank
   transfer allocated to that bill, at most its remaining amount);
3. the exact amount of one open bill whose account holds the debtor's IBAN or carries
   the debtor's name → ``payer``;
4. else ``unmatched`` (the manual matching queue).

Returned direct debits (a return reason, a reversal indicator, a ``…/UPDD`` debit) are
matched by the original end-to-end id: a pending payment is ``fail``-ed, a done one
``reverse``-d; other debits are ``ignored``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openbss.payments.iso20022.camt import Movement

#: ISO 20022 external return reason codes of SEPA R-transactions (what a user reads)
RETURN_REASONS = {
    "AC01": "incorrect account number", "AC04": "account closed",
    "AC06": "account blocked", "AG01": "transaction forbidden on this account",
    "AG02": "invalid bank operation code", "AM04": "insufficient funds",
    "AM05": "duplicate collection", "BE05": "creditor identifier unknown",
    "CNOR": "creditor bank not registered", "DNOR": "debtor bank not registered",
    "FF01": "invalid file format", "MD01": "no valid mandate",
    "MD02": "mandate data missing or wrong", "MD06": "refund requested by the debtor",
    "MD07": "debtor deceased", "MS02": "refused by the debtor",
    "MS03": "reason not specified", "RC01": "BIC incorrect", "RR01": "regulatory reason",
    "RR02": "regulatory reason", "RR03": "regulatory reason", "RR04": "regulatory reason",
    "SL01": "specific service of the debtor bank", "CUST": "requested by the customer",
}
PENDING = ("pendingAuthorization", "authorized")
_TOKEN = re.compile(r"[A-Z0-9]+(?:[-/_.][A-Z0-9]+)*")


@dataclass(frozen=True)
class PaymentRef:
    id: str
    status: str
    amount: Decimal
    currency: str
    account_id: str


@dataclass(frozen=True)
class BillRef:
    id: str
    bill_no: str
    account_id: str
    remaining: Decimal
    currency: str
    due_date: date | None


@dataclass(frozen=True)
class Decision:
    """``action``: complete, bill, payer, fail, reverse, unmatched, ignored."""

    action: str
    state: str  # the statement entry's state: matched, returned, unmatched, ignored
    payment_ids: tuple[str, ...] = ()
    bill_id: str | None = None
    account_id: str | None = None
    amount: Decimal | None = None
    reason: str | None = None
    rule: str | None = None  # endToEndId, collection, remittance, amountAndPayer …


def return_reason(code: str | None, info: str | None) -> str:
    """``AC01 incorrect account number`` (+ the bank's additional text)."""
    label = RETURN_REASONS.get(code or "", "returned") if code else "returned"
    text = f"{code} {label}" if code else "returned direct debit"
    return f"{text} ({info})" if info else text


def tokens(texts: Iterable[str]) -> set[str]:
    """Candidate references in remittance texts (upper case words with - / _ .)."""
    found: set[str] = set()
    for text in texts:
        upper = text.upper()
        found.update(_TOKEN.findall(upper))
        found.add(upper.strip())
    return found


def _normal_name(value: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (value or "").lower())


def decide(movement: Movement, *, by_end_to_end: Mapping[str, PaymentRef],
           by_collection: Mapping[str, Sequence[PaymentRef]],
           bills_by_no: Mapping[str, BillRef], bills_by_amount: Sequence[BillRef],
           ibans: Mapping[str, Sequence[tuple[str, str]]],
           account_names: Mapping[str, str]) -> Decision:
    """The decision for one movement. ``by_collection`` maps a PmtInfId (and a collection's
    message id) to its payments; ``bills_by_amount`` are open bills whose remaining equals
    some movement's amount; ``ibans`` account → [(iban, owner)]."""
    if movement.status == "PDNG":
        return Decision("ignored", "ignored", reason="pending at the bank (Sts PDNG)")
    if movement.is_return:
        return _return(movement, by_end_to_end)
    if movement.direction != "CRDT":
        return Decision("ignored", "ignored", reason="a debit that is not a return")
    e2e = movement.end_to_end_id
    if e2e and e2e in by_end_to_end and by_end_to_end[e2e].status in PENDING:
        ref = by_end_to_end[e2e]
        if ref.currency == movement.currency and ref.amount == movement.amount:
            return Decision("complete", "matched", (ref.id,), rule="endToEndId")
    for key in (movement.payment_info_id, movement.batch_message_id):
        batch = [p for p in by_collection.get(key or "", ()) if p.status in PENDING]
        if key and batch and sum((p.amount for p in batch), Decimal(0)) == movement.amount \
                and all(p.currency == movement.currency for p in batch):
            return Decision("complete", "matched", tuple(p.id for p in batch),
                            rule="collection")
    named = sorted({bills_by_no[t].id: bills_by_no[t] for t in tokens(movement.remittance)
                    if t in bills_by_no}.values(), key=_due_order)
    named = [b for b in named if b.currency == movement.currency and b.remaining > 0]
    if named:
        bill = named[0]
        return Decision("bill", "matched", bill_id=bill.id, account_id=bill.account_id,
                        amount=min(movement.amount, bill.remaining), rule="remittance")
    candidates = [b for b in bills_by_amount if b.remaining == movement.amount
                  and b.currency == movement.currency and _payer(movement, b, ibans,
                                                                 account_names)]
    if len({b.account_id for b in candidates}) == 1:
        bill = sorted(candidates, key=_due_order)[0]
        return Decision("payer", "matched", bill_id=bill.id, account_id=bill.account_id,
                        amount=movement.amount, rule="amountAndPayer")
    why = "several open bills fit" if candidates else "no reference, bill or payer found"
    return Decision("unmatched", "unmatched", reason=why)


def _due_order(bill: BillRef) -> tuple[date, str]:
    return (bill.due_date or date.max, bill.bill_no)


def _payer(movement: Movement, bill: BillRef, ibans: Mapping[str, Sequence[tuple[str, str]]],
           account_names: Mapping[str, str]) -> bool:
    held = ibans.get(bill.account_id, ())
    if movement.debtor_iban and any(i.replace(" ", "").upper() == movement.debtor_iban
                                    for i, _ in held):
        return True
    name = _normal_name(movement.debtor_name)
    if not name:
        return False
    return name == _normal_name(account_names.get(bill.account_id)) or any(
        name == _normal_name(owner) for _, owner in held)


def _return(movement: Movement, by_end_to_end: Mapping[str, PaymentRef]) -> Decision:
    reason = return_reason(movement.return_code, movement.return_info)
    ref = by_end_to_end.get(movement.end_to_end_id or "")
    if ref is None:
        return Decision("unmatched", "unmatched",
                        reason=f"{reason}: no payment with this end-to-end id")
    if ref.status in PENDING:
        return Decision("fail", "returned", (ref.id,), reason=reason, rule="endToEndId")
    if ref.status == "done":
        return Decision("reverse", "returned", (ref.id,), reason=reason, rule="endToEndId")
    return Decision("ignored", "returned", (ref.id,), reason=f"{reason}: payment already "
                                                             f"{ref.status}")
