"""The SEPA direct debit initiation file (ISO 20022 ``pain.008.001.08``, or the 2009
``pain.008.001.02`` many banks still take), built with lxml. Pure: the caller gives the
message id, the creation instant and the transactions.

One ``PmtInf`` per sequence type (``FRST``, ``RCUR``, ``OOFF``, ``FNAL``), each with the
requested collection date, the creditor, its account and agent, and the creditor
identifier; one ``DrctDbtTxInf`` per transaction (end-to-end id, amount, mandate, debtor).
The two versions differ in the agent's BIC element (``BICFI`` in .08, ``BIC`` in .02).
``NbOfTxs`` and ``CtrlSum`` are exact (amounts have exactly two decimals; an amount with
more is refused, never rounded). Texts are reduced to the SEPA character set.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.iso7064 import mod_97_10

from openbss.payments.iso20022 import validate

VERSIONS = {"08": "pain.008.001.08", "02": "pain.008.001.02"}
SEQUENCE_ORDER = ("FRST", "RCUR", "OOFF", "FNAL")
CENT = Decimal("0.01")
MAX_ID = 35
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


class CreditorInvalid(ValueError):
    """The creditor settings cannot make a valid SEPA file (names the setting)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Creditor:
    name: str
    iban: str
    bic: str | None
    creditor_id: str


@dataclass(frozen=True)
class DebitTransaction:
    end_to_end_id: str
    amount: Decimal
    currency: str
    sequence_type: str
    mandate_id: str
    signature_date: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str | None
    remittance: str


@dataclass(frozen=True)
class Group:
    sequence_type: str
    transactions: tuple[DebitTransaction, ...]

    @property
    def total(self) -> Decimal:
        return sum((t.amount for t in self.transactions), Decimal("0.00"))


@dataclass(frozen=True)
class Built:
    content: bytes
    message_id: str
    version: str  # the message name, e.g. pain.008.001.08
    groups: tuple[Group, ...]
    total: Decimal
    transactions: int

    def payment_info_id(self, sequence_type: str) -> str:
        return payment_info_id(self.message_id, sequence_type)


def sepa_text(value: str, limit: int) -> str:
    """``value`` in the SEPA character set (accents dropped, anything else a space),
    at most ``limit`` characters."""
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"\s+", " ", _NOT_SEPA.sub(" ", plain)).strip()
    return cleaned[:limit]


def end_to_end_id(bill_no: str, attempt: int) -> str:
    """The end-to-end id of the ``attempt``-th collection of a bill (0: the first):
    the bill number, then ``<bill number>-R<n>`` (at most 35 characters: the bill
    number is shortened from the left when it must be, the suffix never)."""
    base = sepa_text(bill_no, MAX_ID).replace(" ", "")
    if attempt <= 0:
        return base[:MAX_ID]
    suffix = f"-R{attempt}"
    return base[-(MAX_ID - len(suffix)):] + suffix if len(base) + len(suffix) > MAX_ID \
        else base + suffix


def payment_info_id(message_id: str, sequence_type: str) -> str:
    return f"{message_id[:MAX_ID - 5]}-{sequence_type}"


def check_creditor_id(value: str, field: str = "creditor.creditorId") -> str:
    """A SEPA creditor identifier: country, two check digits (ISO 7064 mod 97-10 over the
    national identifier and the country), a three-character business code, the national
    identifier. Returns it normalised (upper case, no spaces)."""
    cid = re.sub(r"\s+", "", value or "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}", cid):
        raise CreditorInvalid(field, f"{value!r} is not a SEPA creditor identifier "
                                     "(CCkkZZZnnnnn…)")
    if not mod_97_10.is_valid(cid[7:] + cid[:4]):
        raise CreditorInvalid(field, f"{cid}: check digits {cid[2:4]} are wrong (ISO 7064 "
                                     "mod 97-10)")
    return cid


def check_iban(value: str, field: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise CreditorInvalid(field, f"{value!r} is not a valid IBAN: {exc}") from None


def check_bic(value: str | None, field: str) -> str | None:
    if not value:
        return None
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise CreditorInvalid(field, f"{value!r} is not a valid BIC: {exc}") from None


def checked_creditor(name: str, iban: str, bic: str | None, creditor_id: str) -> Creditor:
    """The creditor settings validated and normalised (:class:`CreditorInvalid`)."""
    clean_name = sepa_text(name, 70)
    if not clean_name:
        raise CreditorInvalid("creditor.name", "empty once reduced to the SEPA characters")
    return Creditor(name=clean_name, iban=check_iban(iban, "creditor.iban"),
                    bic=check_bic(bic, "creditor.bic"),
                    creditor_id=check_creditor_id(creditor_id))


def group(transactions: Sequence[DebitTransaction]) -> tuple[Group, ...]:
    """The transactions grouped by sequence type (FRST, RCUR, OOFF, FNAL order), each
    group in the order given."""
    out = []
    for seq in SEQUENCE_ORDER:
        items = tuple(t for t in transactions if t.sequence_type == seq)
        if items:
            out.append(Group(seq, items))
    unknown = {t.sequence_type for t in transactions} - set(SEQUENCE_ORDER)
    if unknown:
        raise ValueError(f"unknown sequence type(s) {sorted(unknown)}")
    return tuple(out)


def amount_text(amount: Decimal) -> str:
    """Exactly two decimals; more (or a non-positive amount) is refused."""
    if amount <= 0:
        raise ValueError(f"amount {amount} must be positive")
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount {amount} has more than two decimals")
    return f"{amount.quantize(CENT):f}"


def _sub(parent: etree._Element, tag: str, text: str | None = None,
         **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, **attrs)
    if text is not None:
        el.text = text
    return el


def _agent(parent: etree._Element, tag: str, bic: str | None, version: str) -> None:
    fin = _sub(_sub(parent, tag), "FinInstnId")
    if bic:
        _sub(fin, "BICFI" if version == "08" else "BIC", bic)
    else:  # IBAN-only (allowed within the EEA)
        _sub(_sub(fin, "Othr"), "Id", "NOTPROVIDED")


def build(*, message_id: str, created_at: datetime, creditor: Creditor, collection_date: date,
          transactions: Sequence[DebitTransaction], version: str = "08",
          local_instrument: str = "CORE", batch_booking: bool = True) -> Built:
    """The pain.008 document of ``transactions``, validated against its official XSD
    (an invalid document raises :class:`validate.SchemaViolation`: a defect, not an
    input error)."""
    if version not in VERSIONS:
        raise ValueError(f"version {version!r}: one of {sorted(VERSIONS)}")
    if not transactions:
        raise ValueError("a pain.008 file needs at least one transaction")
    if not 1 <= len(message_id) <= MAX_ID:
        raise ValueError("message id: 1 to 35 characters")
    ids = [t.end_to_end_id for t in transactions]
    if len(set(ids)) != len(ids):
        raise ValueError("end-to-end ids must be unique within the file")
    for t in transactions:
        if t.currency != "EUR":
            raise ValueError(f"{t.end_to_end_id}: SEPA direct debits are in EUR, not "
                             f"{t.currency}")
        if not 1 <= len(t.end_to_end_id) <= MAX_ID or not 1 <= len(t.mandate_id) <= MAX_ID:
            raise ValueError(f"{t.end_to_end_id}: end-to-end and mandate ids: 1 to 35 chars")
    name = VERSIONS[version]
    groups = group(transactions)
    total = sum((t.amount for t in transactions), Decimal("0.00"))
    ns = f"{validate.NAMESPACE_PREFIX}{name}"
    root = etree.Element("Document", nsmap={None: ns})
    # elements are created without a namespace, then moved into it (one default ns)
    body = _sub(root, "CstmrDrctDbtInitn")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.replace(microsecond=0, tzinfo=None).isoformat())
    _sub(header, "NbOfTxs", str(len(transactions)))
    _sub(header, "CtrlSum", amount_text(total))
    _sub(_sub(header, "InitgPty"), "Nm", creditor.name)
    for grp in groups:
        info = _sub(body, "PmtInf")
        _sub(info, "PmtInfId", payment_info_id(message_id, grp.sequence_type))
        _sub(info, "PmtMtd", "DD")
        _sub(info, "BtchBookg", "true" if batch_booking else "false")
        _sub(info, "NbOfTxs", str(len(grp.transactions)))
        _sub(info, "CtrlSum", amount_text(grp.total))
        kind = _sub(info, "PmtTpInf")
        _sub(_sub(kind, "SvcLvl"), "Cd", "SEPA")
        _sub(_sub(kind, "LclInstrm"), "Cd", local_instrument)
        _sub(kind, "SeqTp", grp.sequence_type)
        _sub(info, "ReqdColltnDt", collection_date.isoformat())
        _sub(_sub(info, "Cdtr"), "Nm", creditor.name)
        _sub(_sub(_sub(info, "CdtrAcct"), "Id"), "IBAN", creditor.iban)
        _agent(info, "CdtrAgt", creditor.bic, version)
        _sub(info, "ChrgBr", "SLEV")
        other = _sub(_sub(_sub(_sub(info, "CdtrSchmeId"), "Id"), "PrvtId"), "Othr")
        _sub(other, "Id", creditor.creditor_id)
        _sub(_sub(other, "SchmeNm"), "Prtry", "SEPA")
        for t in grp.transactions:
            tx = _sub(info, "DrctDbtTxInf")
            _sub(_sub(tx, "PmtId"), "EndToEndId", t.end_to_end_id)
            _sub(tx, "InstdAmt", amount_text(t.amount), Ccy=t.currency)
            mandate = _sub(_sub(tx, "DrctDbtTx"), "MndtRltdInf")
            _sub(mandate, "MndtId", t.mandate_id)
            _sub(mandate, "DtOfSgntr", t.signature_date.isoformat())
            _agent(tx, "DbtrAgt", t.debtor_bic, version)
            _sub(_sub(tx, "Dbtr"), "Nm", sepa_text(t.debtor_name, 70) or "NOTPROVIDED")
            _sub(_sub(_sub(tx, "DbtrAcct"), "Id"), "IBAN", t.debtor_iban)
            _sub(_sub(tx, "RmtInf"), "Ustrd", sepa_text(t.remittance, 140) or t.end_to_end_id)
    for el in root.iter():
        if isinstance(el.tag, str) and not el.tag.startswith("{"):
            el.tag = f"{{{ns}}}{el.tag}"
    validate.check(root, name)
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Built(content=content, message_id=message_id, version=name, groups=groups,
                 total=total, transactions=len(transactions))
