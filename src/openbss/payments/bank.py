"""A bank's side of a statement: write camt.053.001.02 (account statement) and
camt.054.001.02 (debit/credit notification) files for given movements.

openbss reads statements (:mod:`openbss.payments.iso20022.camt`); it never sends them. This
writer is what the demo's "bank" hands back after a SEPA collection or a bank transfer, and
what an operator uses to try a statement import before the bank's first real file
(``openbss payments demo-statement``-style scripts, tests). The files it writes validate
against the official XSDs (checked before they are returned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from openbss.payments.iso20022 import validate

#: ISO 20022 bank transaction codes (domain/family/sub-family) of the movements written here.
CODES = {
    "transfer": ("PMNT", "RCDT", "ESCT"),        # a received SEPA credit transfer
    "collection": ("PMNT", "IDDT", "ESDD"),      # a SEPA core direct debit collected
    "return": ("PMNT", "IDDT", "UPDD"),          # a direct debit returned (R-transaction)
}


@dataclass(frozen=True)
class BankMovement:
    """One booked movement on the creditor's account."""

    amount: Decimal
    currency: str
    kind: str                                  # a key of CODES
    booking_date: date
    reference: str                             # the bank's own reference (AcctSvcrRef)
    end_to_end_id: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None
    remittance: tuple[str, ...] = field(default_factory=tuple)
    return_code: str | None = None             # ISO 20022 return reason (AM04, MD06 …)
    mandate_id: str | None = None

    @property
    def direction(self) -> str:
        return "DBIT" if self.kind == "return" else "CRDT"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _amount(parent: etree._Element, tag: str, value: Decimal, currency: str) -> None:
    _sub(parent, tag, f"{value:.2f}").set("Ccy", currency)


def _bank_code(parent: etree._Element, kind: str) -> None:
    domain, family, sub = CODES[kind]
    code = _sub(_sub(parent, "BkTxCd"), "Domn")
    _sub(code, "Cd", domain)
    fam = _sub(code, "Fmly")
    _sub(fam, "Cd", family)
    _sub(fam, "SubFmlyCd", sub)


def _entry(parent: etree._Element, m: BankMovement) -> None:
    entry = _sub(parent, "Ntry")
    _amount(entry, "Amt", m.amount, m.currency)
    _sub(entry, "CdtDbtInd", m.direction)
    _sub(entry, "Sts", "BOOK")
    _sub(_sub(entry, "BookgDt"), "Dt", m.booking_date.isoformat())
    _sub(_sub(entry, "ValDt"), "Dt", m.booking_date.isoformat())
    _sub(entry, "AcctSvcrRef", m.reference)
    _bank_code(entry, m.kind)
    tx = _sub(_sub(entry, "NtryDtls"), "TxDtls")
    refs = _sub(tx, "Refs")
    _sub(refs, "AcctSvcrRef", m.reference)
    _sub(refs, "EndToEndId", m.end_to_end_id or "NOTPROVIDED")
    if m.mandate_id:
        _sub(refs, "MndtId", m.mandate_id)
    _amount(_sub(_sub(tx, "AmtDtls"), "TxAmt"), "Amt", m.amount, m.currency)
    if m.debtor_name or m.debtor_iban:
        parties = _sub(tx, "RltdPties")
        if m.debtor_name:
            _sub(_sub(parties, "Dbtr"), "Nm", m.debtor_name)
        if m.debtor_iban:
            _sub(_sub(_sub(parties, "DbtrAcct"), "Id"), "IBAN", m.debtor_iban)
    if m.remittance:
        info = _sub(tx, "RmtInf")
        for text in m.remittance:
            _sub(info, "Ustrd", text[:140])
    if m.return_code:
        _sub(_sub(_sub(tx, "RtrInf"), "Rsn"), "Cd", m.return_code)


def _balance(parent: etree._Element, code: str, value: Decimal, currency: str,
             on: date) -> None:
    bal = _sub(parent, "Bal")
    _sub(_sub(_sub(bal, "Tp"), "CdOrPrtry"), "Cd", code)
    _amount(bal, "Amt", abs(value), currency)
    _sub(bal, "CdtDbtInd", "DBIT" if value < 0 else "CRDT")
    _sub(_sub(bal, "Dt"), "Dt", on.isoformat())


def write(*, message: str, message_id: str, created_at: datetime, account_iban: str,
          currency: str, movements: Sequence[BankMovement],
          opening_balance: Decimal = Decimal(0)) -> bytes:
    """A ``camt.053.001.02`` (``message="camt.053"``) or ``camt.054.001.02``
    (``"camt.054"``) file of ``movements`` on ``account_iban``, checked against its XSD."""
    if message not in ("camt.053", "camt.054"):
        raise ValueError(f"message: camt.053 or camt.054, not {message!r}")
    name = f"{message}.001.02"
    root = etree.Element("Document", nsmap={None: validate.NAMESPACE_PREFIX + name})
    body = _sub(root, "BkToCstmrStmt" if message == "camt.053" else "BkToCstmrDbtCdtNtfctn")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", message_id)
    stamp = created_at.isoformat(timespec="seconds")
    _sub(header, "CreDtTm", stamp)
    report = _sub(body, "Stmt" if message == "camt.053" else "Ntfctn")
    _sub(report, "Id", message_id)
    _sub(report, "CreDtTm", stamp)
    _sub(_sub(_sub(report, "Acct"), "Id"), "IBAN", account_iban)
    if message == "camt.053":
        day = max((m.booking_date for m in movements), default=created_at.date())
        closing = opening_balance + sum(
            (m.amount if m.direction == "CRDT" else -m.amount for m in movements), Decimal(0))
        _balance(report, "OPBD", opening_balance, currency, day)
        _balance(report, "CLBD", closing, currency, day)
    for m in movements:
        _entry(report, m)
    # the namespace is the element's, so re-serialise for the qualified names
    content = etree.tostring(_qualified(root, validate.NAMESPACE_PREFIX + name),
                             xml_declaration=True, encoding="UTF-8", pretty_print=True)
    validate.check(content, name)
    return bytes(content)


def _qualified(root: etree._Element, namespace: str) -> etree._Element:
    for el in root.iter():
        if isinstance(el.tag, str) and not el.tag.startswith("{"):
            el.tag = f"{{{namespace}}}{el.tag}"
    return root
