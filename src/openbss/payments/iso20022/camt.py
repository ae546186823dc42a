"""Reading bank statements (``camt.053``) and debit/credit notifications (``camt.054``),
versions ``.001.02`` and ``.001.08``, into flat :class:`Movement` rows. Pure.

The file is parsed XXE-safe (no DTD, no entities, no network; any ``<!DOCTYPE`` is
refused outright, so a billion-laughs file never expands), at most :data:`MAX_BYTES`,
then validated against the official XSD of its namespace. One movement per ``Ntry`` —
or per ``TxDtls`` of a batch entry whose transactions carry their own amounts.

A movement's ``key`` identifies it across files: the bank's ``AcctSvcrRef`` (of the
transaction, else of the entry plus the transaction's position), else a hash of the
booking date, amount, currency, direction and references.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from openbss.payments.iso20022 import validate

MAX_BYTES = 20 * 1024 * 1024
FORMATS = ("camt.053.001.02", "camt.053.001.08", "camt.054.001.02", "camt.054.001.08")
#: bank transaction codes of a returned direct debit (creditor's and debtor's side)
RETURN_CODES = frozenset({"PMNT/RDDT/UPDD", "PMNT/IDDT/UPDD", "PMNT/RDDT/RRTN"})


class StatementUnreadable(ValueError):
    """The file is not a readable camt document (``element`` names where)."""

    def __init__(self, message: str, element: str = "Document") -> None:
        super().__init__(message)
        self.element = element


class FormatUnsupported(ValueError):
    pass


@dataclass(frozen=True)
class Movement:
    key: str
    index: str                  # "3" (the 3rd entry) or "3.2" (its 2nd transaction)
    direction: str              # CRDT | DBIT
    amount: Decimal
    currency: str
    status: str                 # BOOK | PDNG | INFO
    reversal: bool
    booking_date: date | None
    value_date: date | None
    bank_code: str | None       # PMNT/RCDT/ESCT …
    account_servicer_ref: str | None
    end_to_end_id: str | None
    payment_info_id: str | None  # the batch's PmtInfId (a SEPA collection's group)
    batch_message_id: str | None
    mandate_id: str | None
    remittance: tuple[str, ...]
    debtor_name: str | None
    debtor_iban: str | None
    return_code: str | None
    return_info: str | None

    @property
    def is_return(self) -> bool:
        return (self.return_code is not None or self.reversal
                or (self.direction == "DBIT" and self.bank_code in RETURN_CODES))


@dataclass(frozen=True)
class Statement:
    format: str
    message_id: str | None
    account_iban: str | None
    entries: int
    movements: tuple[Movement, ...] = field(default_factory=tuple)


def _reject_dtd(content: bytes) -> None:
    head = content[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in content.upper():
        raise StatementUnreadable("DTDs and entity declarations are not allowed in a "
                                  "statement file", "DOCTYPE")


def parse_xml(content: bytes) -> etree._Element:
    if len(content) > MAX_BYTES:
        raise StatementUnreadable(f"the file is larger than {MAX_BYTES} bytes")
    if not content.strip():
        raise StatementUnreadable("the file is empty")
    _reject_dtd(content)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        return etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise StatementUnreadable(f"not well-formed XML: {exc}") from None


def message_name(root: etree._Element) -> str:
    qname = etree.QName(root)
    ns = qname.namespace or ""
    name = ns.removeprefix(validate.NAMESPACE_PREFIX)
    if qname.localname != "Document" or name not in FORMATS:
        raise FormatUnsupported(
            f"{ns or qname.localname!r} is not a statement openbss reads; supported: "
            + ", ".join(FORMATS))
    return name


def parse(content: bytes) -> Statement:
    """The statement in ``content``: :class:`StatementUnreadable` for a malformed or
    schema-invalid file, :class:`FormatUnsupported` for another message."""
    root = parse_xml(content)
    name = message_name(root)
    problems = validate.errors(root, name)
    if problems:
        path = problems[0].partition(": ")[0]
        element = path.rsplit("/", 1)[-1].split(":")[-1] or "Document"
        raise StatementUnreadable(f"not a valid {name}: {problems[0]}", element)
    ns = {"c": f"{validate.NAMESPACE_PREFIX}{name}"}
    reports = root.xpath("c:*/c:Stmt | c:*/c:Ntfctn", namespaces=ns)
    movements: list[Movement] = []
    count = 0
    iban: str | None = None
    for report in reports:
        iban = iban or _text(report, "c:Acct/c:Id/c:IBAN", ns)
        for entry in report.xpath("c:Ntry", namespaces=ns):
            count += 1
            movements.extend(_movements(entry, str(count), ns))
    seen: set[str] = set()
    for n, m in enumerate(movements):  # a key the bank repeated within one file
        if m.key in seen:
            movements[n] = replace(m, key=f"{m.key}@{m.index}")
        seen.add(movements[n].key)
    return Statement(format=name, message_id=_text(root, "c:*/c:GrpHdr/c:MsgId", ns),
                     account_iban=iban, entries=count, movements=tuple(movements))


def _text(el: etree._Element, path: str, ns: dict[str, str]) -> str | None:
    found = el.xpath(path, namespaces=ns)
    if not found:
        return None
    value = found[0].text if isinstance(found[0], etree._Element) else str(found[0])
    value = (value or "").strip()
    return value or None


def _amount(el: etree._Element | None, where: str) -> tuple[Decimal, str] | None:
    if el is None:
        return None
    try:
        value = Decimal((el.text or "").strip())
    except InvalidOperation:
        raise StatementUnreadable(f"{where}: {el.text!r} is not an amount", "Amt") from None
    return value, el.get("Ccy", "")


def _first(el: etree._Element, paths: list[str], ns: dict[str, str]) -> etree._Element | None:
    for path in paths:
        found = el.xpath(path, namespaces=ns)
        if found:
            return found[0]
    return None


def _date(el: etree._Element, path: str, ns: dict[str, str]) -> date | None:
    value = _text(el, f"{path}/c:Dt", ns) or _text(el, f"{path}/c:DtTm", ns)
    return date.fromisoformat(value[:10]) if value else None


def _bank_code(el: etree._Element, ns: dict[str, str]) -> str | None:
    domain = _text(el, "c:BkTxCd/c:Domn/c:Cd", ns)
    family = _text(el, "c:BkTxCd/c:Domn/c:Fmly/c:Cd", ns)
    sub = _text(el, "c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", ns)
    return "/".join(p for p in (domain, family, sub) if p) or None


def _movements(entry: etree._Element, index: str, ns: dict[str, str]) -> list[Movement]:
    total = _amount(_first(entry, ["c:Amt"], ns), f"entry {index}")
    assert total is not None  # the XSD requires Ntry/Amt
    direction = _text(entry, "c:CdtDbtInd", ns) or "CRDT"
    status = _text(entry, "c:Sts/c:Cd", ns) or _text(entry, "c:Sts", ns) or "BOOK"
    reversal = (_text(entry, "c:RvslInd", ns) or "").lower() in ("true", "1")
    booking = _date(entry, "c:BookgDt", ns)
    value_date = _date(entry, "c:ValDt", ns)
    entry_ref = _text(entry, "c:AcctSvcrRef", ns)
    entry_code = _bank_code(entry, ns)
    batch_pmt = _text(entry, "c:NtryDtls/c:Btch/c:PmtInfId", ns)
    batch_msg = _text(entry, "c:NtryDtls/c:Btch/c:MsgId", ns)
    details = entry.xpath("c:NtryDtls/c:TxDtls", namespaces=ns)
    amounts = [_amount(_first(tx, ["c:Amt", "c:AmtDtls/c:TxAmt/c:Amt",
                                   "c:AmtDtls/c:InstdAmt/c:Amt"], ns), f"entry {index}")
               for tx in details]
    split = len(details) > 1 and all(a is not None for a in amounts)
    if not split:
        # one movement: the entry, with its only transaction's details (if any)
        tx = details[0] if len(details) == 1 else None
        return [_movement(entry, tx, index, total, direction, status, reversal, booking,
                          value_date, entry_ref, entry_code, batch_pmt, batch_msg, ns, 0)]
    out = []
    for n, (tx, amount) in enumerate(zip(details, amounts, strict=True), start=1):
        assert amount is not None
        out.append(_movement(entry, tx, f"{index}.{n}", amount, direction, status, reversal,
                             booking, value_date, entry_ref, entry_code, batch_pmt,
                             batch_msg, ns, n))
    return out


def _movement(entry: etree._Element, tx: etree._Element | None, index: str,
              amount: tuple[Decimal, str], direction: str, status: str, reversal: bool,
              booking: date | None, value_date: date | None, entry_ref: str | None,
              entry_code: str | None, batch_pmt: str | None, batch_msg: str | None,
              ns: dict[str, str], position: int) -> Movement:
    scope = tx if tx is not None else entry
    tx_ref = _text(tx, "c:Refs/c:AcctSvcrRef", ns) if tx is not None else None
    e2e = _text(tx, "c:Refs/c:EndToEndId", ns) if tx is not None else None
    if e2e == "NOTPROVIDED":
        e2e = None
    pmt = (_text(tx, "c:Refs/c:PmtInfId", ns) if tx is not None else None) or batch_pmt
    remittance: list[str] = []
    if tx is not None:
        remittance += [r for r in (v.text.strip() for v in tx.xpath(
            "c:RmtInf/c:Ustrd | c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", namespaces=ns)
            if v.text) if r]
    remittance += [r for r in (v.text.strip() for v in entry.xpath(
        "c:AddtlNtryInf", namespaces=ns) if v.text) if r]
    party = "c:RltdPties/c:Dbtr"
    name = (_text(scope, f"{party}/c:Nm", ns) or _text(scope, f"{party}/c:Pty/c:Nm", ns)) \
        if tx is not None else None
    iban = _text(scope, "c:RltdPties/c:DbtrAcct/c:Id/c:IBAN", ns) if tx is not None else None
    code = (_bank_code(tx, ns) if tx is not None else None) or entry_code
    return_code = (_text(tx, "c:RtrInf/c:Rsn/c:Cd", ns) or _text(tx, "c:RtrInf/c:Rsn/c:Prtry",
                                                                  ns)) if tx is not None else None
    return_info = " ".join(v.text.strip() for v in tx.xpath("c:RtrInf/c:AddtlInf",
                                                            namespaces=ns)
                           if v.text) or None if tx is not None else None
    mandate = _text(tx, "c:Refs/c:MndtId", ns) if tx is not None else None
    if tx_ref:
        key = f"ref:{tx_ref}"
    elif entry_ref:
        key = f"ref:{entry_ref}" + (f"#{position}" if position else "")
    else:
        digest = hashlib.sha256("|".join(str(p) for p in (
            booking, amount[0], amount[1], direction, e2e, pmt, batch_msg, *remittance,
            name, iban, return_code, index if not (e2e or remittance) else "")).encode())
        key = f"hash:{digest.hexdigest()[:48]}"
    return Movement(
        key=key, index=index, direction=direction, amount=amount[0], currency=amount[1],
        status=status, reversal=reversal, booking_date=booking, value_date=value_date,
        bank_code=code, account_servicer_ref=tx_ref or entry_ref, end_to_end_id=e2e,
        payment_info_id=pmt, batch_message_id=batch_msg, mandate_id=mandate,
        remittance=tuple(remittance), debtor_name=name,
        debtor_iban=iban.replace(" ", "").upper() if iban else None,
        return_code=return_code, return_info=return_info)
