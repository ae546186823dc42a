"""Use cases of SEPA direct debit collection and bank statement import.

- :func:`export`: the pain.008 file of every due bill of the accounts with a collectable
  mandate; each transaction is recorded as a ``pendingAuthorization`` payment (so a bill
  is never collected twice while it is in flight) and the mandates are marked presented
  (FRST → RCUR).
- :func:`import_statement`: a camt.053 / camt.054 file; each movement is matched
  (:mod:`openbss.payments.matching`) and acted on: a collection credited completes its
  payments, a bank transfer naming a bill (or paying a bill's exact amount from a known
  payer) is recorded, a returned direct debit fails or reverses its payment; the rest
  waits in the manual matching queue (:func:`match_entry`).

Nothing here commits: the request's unit of work (or the CLI's) does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, type_coerce

from openbss.billing.invoices import money
from openbss.billing.models import Invoice
from openbss.core import audit, crypto
from openbss.core.context import Context
from openbss.core.db import new_id
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.money import Money
from openbss.core.permissions import PERSONAL, allowed
from openbss.core.queries import get_owned, scoped
from openbss.core.tmf import ListParams, apply_filters, href, iso, paginate
from openbss.party.models import Account
from openbss.payments import matching, settings
from openbss.payments.errors import (
    EntryNotMatchable,
    SepaCreditorInvalid,
    StatementFormatUnsupported,
    StatementUnreadable,
)
from openbss.payments.iso20022 import camt, pain008
from openbss.payments.models import (
    BankStatement,
    EntryState,
    Payment,
    SepaCollection,
    StatementEntry,
)
from openbss.payments.paths import (
    ENTRY_ITEM,
    SEPA_COLLECTION_FILE,
    SEPA_COLLECTIONS_PATH,
    STATEMENT_ITEM,
    STATEMENTS_PATH,
)

CHANNEL_SEPA = "sepaDirectDebit"
CHANNEL_TRANSFER = "bankTransfer"
GATEWAY_SEPA = "sepa"
VERSIONS = {"08": "pain.008.001.08", "02": "pain.008.001.02",
            "pain.008.001.08": "pain.008.001.08", "pain.008.001.02": "pain.008.001.02"}
SUMMARY_KEYS = ("entries", "matched", "unmatched", "returned", "duplicates")
_CHUNK = 900


def _numeric(column: Any) -> Any:
    return type_coerce(column, Numeric(asdecimal=True)) + 0


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)] or [[]]


# -- SEPA export -------------------------------------------------------------------------------


@dataclass
class ExportResult:
    collection: SepaCollection | None
    collection_date: date
    version: str
    groups: list[dict[str, Any]]
    total: Decimal
    transactions: int
    payment_ids: list[str]


def _creditor(ctx: Context) -> tuple[pain008.Creditor, settings.PaymentSettings]:
    conf = settings.read(ctx)
    c = conf.creditor
    try:
        creditor = pain008.checked_creditor(c.name, c.iban, c.bic, c.creditor_id)
    except pain008.CreditorInvalid as exc:
        raise SepaCreditorInvalid(f"settings payments.{exc}", field=exc.field) from None
    return creditor, conf


def _attempts(ctx: Context, account_ids: Sequence[str]) -> set[str]:
    """The end-to-end ids already used by SEPA payments of these accounts."""
    used: set[str] = set()
    for part in _chunks(list(account_ids)):
        used.update(e for e in ctx.session.scalars(
            scoped(ctx, Payment.end_to_end_id).where(
                Payment.billing_account_id.in_(part), Payment.gateway == GATEWAY_SEPA))
            if e)
    return used


def due_bills(ctx: Context, *, account_ids: Sequence[str], on: date) -> list[Invoice]:
    """Invoices of these accounts with something owed, due on or before ``on``, in EUR,
    oldest due first (one query per 900 accounts)."""
    rows: list[Invoice] = []
    for part in _chunks(list(account_ids)):
        rows.extend(ctx.session.scalars(scoped(ctx, Invoice).where(
            Invoice.billing_account_id.in_(part), Invoice.kind == "invoice",
            Invoice.currency == "EUR", _numeric(Invoice.remaining_amount) > 0,
            Invoice.payment_due_date.is_not(None), Invoice.payment_due_date <= on)))
    return sorted(rows, key=lambda r: (r.billing_account_id, r.payment_due_date or on,
                                       r.bill_no))


def export(ctx: Context, *, collection_date: date, version: str = "08") -> ExportResult:
    """Collect every due bill of the accounts with a collectable mandate (see the module
    docstring). ``version``: ``08`` (pain.008.001.08, default) or ``02``."""
    from openbss.payments import methods, service

    name = VERSIONS.get(version)
    if name is None:
        raise ValidationError(f"version: {version!r} is not one of 08, 02", field="version")
    short = name[-2:]
    if collection_date < ctx.now.date():
        raise ValidationError(f"collectionDate: {collection_date} is in the past (today is "
                              f"{ctx.now.date()})", field="collectionDate")
    creditor, conf = _creditor(ctx)
    mandates = methods.collectable_mandates(ctx, on=collection_date)
    empty = ExportResult(None, collection_date, name, [], Decimal("0.00"), 0, [])
    if not mandates:
        return empty
    pending = service.pending_bill_ids(ctx, list(mandates))
    bills = [b for b in due_bills(ctx, account_ids=list(mandates), on=collection_date)
             if b.id not in pending]
    if not bills:
        return empty
    used = _attempts(ctx, list(mandates))
    transactions: list[pain008.DebitTransaction] = []
    bill_of: dict[str, Invoice] = {}
    for bill in bills:
        mandate = mandates[bill.billing_account_id]
        attempt = 0
        while (e2e := pain008.end_to_end_id(bill.bill_no, attempt)) in used:
            attempt += 1
        used.add(e2e)
        bill_of[e2e] = bill
        transactions.append(pain008.DebitTransaction(
            end_to_end_id=e2e, amount=bill.remaining_amount, currency=bill.currency,
            sequence_type=mandate.sequence_type, mandate_id=mandate.mandate_id,
            signature_date=mandate.signature_date, debtor_name=mandate.owner,
            debtor_iban=mandate.iban, debtor_bic=mandate.bic, remittance=bill.bill_no))
    row_id = new_id()
    message_id = f"OBSS-{ctx.now:%Y%m%d%H%M%S}-{row_id[:10].upper()}"
    built = pain008.build(message_id=message_id, created_at=ctx.now, creditor=creditor,
                          collection_date=collection_date, transactions=transactions,
                          version=short, local_instrument=conf.sepa.local_instrument,
                          batch_booking=conf.sepa.batch_booking)
    row = SepaCollection(id=row_id, tenant_id=ctx.tenant_id, message_id=message_id,
                         version=name, collection_date=collection_date,
                         transactions=built.transactions, currency="EUR", total=built.total,
                         content=built.content, created_by=ctx.actor, created_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    batch: list[service.NewPayment] = []
    for grp in built.groups:
        for t in grp.transactions:
            bill = bill_of[t.end_to_end_id]
            mandate = mandates[bill.billing_account_id]
            batch.append(service.NewPayment(
                id=new_id(), account_id=bill.billing_account_id,
                amount=Money(t.amount, t.currency), source_key=f"sepa:{t.end_to_end_id}",
                allocations=((bill.id, t.amount),), channel=CHANNEL_SEPA,
                status="pendingAuthorization", gateway=GATEWAY_SEPA,
                method_id=mandate.method_id, end_to_end_id=t.end_to_end_id,
                collection_id=row.id,
                body={"sequenceType": grp.sequence_type, "mandateId": mandate.mandate_id,
                      "paymentInfoId": built.payment_info_id(grp.sequence_type),
                      "collectionDate": collection_date.isoformat()}))
    recorded = service.record_many(ctx, batch)  # one write per table for the whole file
    payment_ids = [recorded[item.id] for item in batch]
    methods.mark_presented(ctx, method_ids=sorted({m.method_id for m in mandates.values()
                                                   if any(b.billing_account_id == m.account_id
                                                          for b in bills)}))
    groups = _groups(built)
    audit.record(ctx, action="create", resource_type="sepaCollection", resource_id=row.id,
                 after={"messageId": message_id, "version": name,
                        "collectionDate": collection_date.isoformat(),
                        "transactions": built.transactions, "total": str(built.total),
                        "groups": [{**g, "total": str(g["total"]["value"])} for g in groups],
                        "payments": payment_ids})
    return ExportResult(row, collection_date, name, groups, built.total, built.transactions,
                        payment_ids)


def _groups(built: pain008.Built) -> list[dict[str, Any]]:
    return [{"sequenceType": g.sequence_type, "paymentInfoId":
             built.payment_info_id(g.sequence_type), "transactions": len(g.transactions),
             "total": money(g.total, "EUR")} for g in built.groups]


def render_export(ctx: Context, result: ExportResult) -> dict[str, Any]:
    if result.collection is None:
        return {"transactions": 0, "collectionDate": result.collection_date.isoformat(),
                "version": result.version, "total": money(Decimal("0.00"), "EUR"),
                "groups": [], "message": "nothing is due for collection: no file written"}
    return {**render_collection(ctx, result.collection), "groups": result.groups,
            "payments": [{"id": p} for p in result.payment_ids]}


def render_collection(ctx: Context, row: SepaCollection) -> dict[str, Any]:
    doc = {"id": row.id, "href": href(ctx.base_url, SEPA_COLLECTIONS_PATH, row.id),
           "messageId": row.message_id, "version": row.version,
           "collectionDate": row.collection_date.isoformat(), "transactions": row.transactions,
           "total": money(row.total, row.currency), "createdAt": iso(row.created_at),
           "createdBy": row.created_by,
           "file": {"href": ctx.base_url + SEPA_COLLECTION_FILE.format(id=row.id),
                    "mediaType": "application/xml"}}
    return doc


def collection_groups(ctx: Context, row: SepaCollection) -> list[dict[str, Any]]:
    """The groups of a stored collection, read back from its payments."""
    out: dict[str, dict[str, Any]] = {}
    for payment in ctx.session.scalars(scoped(ctx, Payment).where(
            Payment.collection_id == row.id)):
        seq = (payment.body or {}).get("sequenceType", "RCUR")
        g = out.setdefault(seq, {"sequenceType": seq,
                                 "paymentInfoId": pain008.payment_info_id(row.message_id, seq),
                                 "transactions": 0, "total": Decimal("0.00")})
        g["transactions"] += 1
        g["total"] += payment.amount
    return [{**out[seq], "total": money(out[seq]["total"], row.currency)}
            for seq in pain008.SEQUENCE_ORDER if seq in out]


def get_collection(ctx: Context, *, collection_id: str) -> SepaCollection:
    return get_owned(ctx.session, SepaCollection, ctx.tenant_id, collection_id,
                     "sepaCollection")


COLLECTION_FILTERS: dict[str, Any] = {
    "collectionDate": SepaCollection.collection_date, "version": SepaCollection.version,
    "messageId": SepaCollection.message_id, "createdAt": SepaCollection.created_at}


def list_collections(ctx: Context, params: ListParams) -> tuple[list[SepaCollection], int]:
    stmt = apply_filters(scoped(ctx, SepaCollection), params, COLLECTION_FILTERS)
    return paginate(ctx.session, stmt, params,
                    [SepaCollection.created_at.desc(), SepaCollection.id])


# -- statement import --------------------------------------------------------------------------


@dataclass
class ImportResult:
    statement: BankStatement
    created: bool           # False: the same file was imported before (nothing changed)
    summary: dict[str, int]


def _mask(iban: str | None) -> str | None:
    return f"{iban[:2]}** **** {iban[-4:]}" if iban and len(iban) > 8 else None


def _parse(content: bytes) -> camt.Statement:
    try:
        return camt.parse(content)
    except camt.FormatUnsupported as exc:
        raise StatementFormatUnsupported(str(exc), field="Document") from None
    except camt.StatementUnreadable as exc:
        raise StatementUnreadable(str(exc), field=exc.element) from None


def import_statement(ctx: Context, *, content: bytes,
                     filename: str | None = None) -> ImportResult:
    """Import a camt.053/camt.054 file (see the module docstring). The same file twice
    (same sha256): nothing changes, every entry counts as a duplicate."""
    digest = hashlib.sha256(content).hexdigest()
    existing = ctx.session.scalars(scoped(ctx, BankStatement).where(
        BankStatement.sha256 == digest)).first()
    if existing is not None:
        n = int((existing.results or {}).get("entries", existing.entries))
        return ImportResult(existing, False, {"entries": n, "matched": 0, "unmatched": 0,
                                              "returned": 0, "duplicates": n})
    parsed = _parse(content)
    statement = BankStatement(id=new_id(), tenant_id=ctx.tenant_id, sha256=digest,
                              message_id=(parsed.message_id or "")[:35] or None,
                              format=parsed.format, filename=(filename or None) and
                              filename[-300:], entries=len(parsed.movements), results={},
                              created_by=ctx.actor, created_at=ctx.now)
    ctx.session.add(statement)
    ctx.session.flush()
    moves = list(parsed.movements)
    known: set[str] = set()
    for part in _chunks([m.key for m in moves]):
        known.update(ctx.session.scalars(scoped(ctx, StatementEntry.entry_key).where(
            StatementEntry.entry_key.in_(part))))
    fresh = [m for m in moves if m.key not in known]
    lookups = _lookups(ctx, fresh)
    rows: list[StatementEntry] = []
    counts = {"matched": 0, "unmatched": 0, "returned": 0, "ignored": 0,
              "duplicates": len(moves) - len(fresh)}
    rules: dict[str, int] = {}
    for m in moves:
        if m.key in known:
            rows.append(_entry(ctx, statement, m, EntryState.DUPLICATE, None,
                               {"reason": "already imported through another file"}))
            continue
        decision = matching.decide(m, **lookups.as_kwargs())
        payment_id = _act(ctx, m, decision, lookups)
        state = decision.state
        counts[state] += 1
        if decision.rule:
            rules[decision.rule] = rules.get(decision.rule, 0) + 1
        detail: dict[str, Any] = {"action": decision.action, "rule": decision.rule,
                                  "index": m.index, "bankTransactionCode": m.bank_code,
                                  "status": m.status}
        if decision.reason:
            detail["reason"] = decision.reason
        if len(decision.payment_ids) > 1:
            detail["payments"] = list(decision.payment_ids)
        if m.payment_info_id:
            detail["paymentInfoId"] = m.payment_info_id
        rows.append(_entry(ctx, statement, m, state, payment_id, detail))
        known.add(m.key)
    lookups.flush(ctx)
    for row in rows:
        if row.payment_id in lookups.recorded:
            row.payment_id = lookups.recorded[row.payment_id]
    ctx.session.add_all(rows)
    ctx.session.flush()
    summary = {"entries": len(moves), "matched": counts["matched"],
               "unmatched": counts["unmatched"], "returned": counts["returned"],
               "duplicates": counts["duplicates"]}
    statement.results = {**summary, "ignored": counts["ignored"], "byRule": rules}
    audit.record_many(ctx, [
        {"action": "create", "resource_type": "bankStatement", "resource_id": statement.id,
         "after": {"format": statement.format, "sha256": digest, **statement.results}},
        *({"action": "create", "resource_type": "statementEntry", "resource_id": r.id,
           "after": {"state": r.state, "amount": str(r.amount), "currency": r.currency,
                     "payment": r.payment_id, "entryKey": r.entry_key}} for r in rows)])
    return ImportResult(statement, True, summary)


def _entry(ctx: Context, statement: BankStatement, m: camt.Movement, state: str,
           payment_id: str | None, detail: dict[str, Any]) -> StatementEntry:
    """The stored entry. The debtor's name is personal data: the column holds its
    initials, the name itself is sealed with the tenant's data key (``detail.debtor``)."""
    name = (m.debtor_name or "")[:140] or None
    if name:
        ring = crypto.keyring(ctx.session, ctx.tenant_id)
        detail = {**detail, "debtor": ring.encrypt(name)}
    return StatementEntry(
        id=new_id(), tenant_id=ctx.tenant_id, statement_id=statement.id,
        entry_key=m.key[:200] if state != EntryState.DUPLICATE else
        f"dup:{statement.id}:{m.index}"[:200], state=state, direction=m.direction,
        amount=m.amount, currency=m.currency, booking_date=m.booking_date,
        value_date=m.value_date, end_to_end_id=(m.end_to_end_id or "")[:35] or None,
        remittance=" | ".join(m.remittance) or None,
        debtor_name=_initials(name), debtor_iban=_mask(m.debtor_iban),
        return_reason=(m.return_code or "")[:8] or None, payment_id=payment_id,
        matched_by="statement" if state in (EntryState.MATCHED, EntryState.RETURNED) else None,
        detail={**detail, "entryKey": m.key}, created_at=ctx.now)


@dataclass
class _Lookups:
    by_end_to_end: dict[str, matching.PaymentRef]
    by_collection: dict[str, list[matching.PaymentRef]]
    bills_by_no: dict[str, matching.BillRef]
    bills_by_amount: list[matching.BillRef]
    ibans: dict[str, list[tuple[str, str]]]
    account_names: dict[str, str]
    #: transfers matched to a bill, recorded together (service.record_many) before any
    #: other action and at the end of the file; ``recorded``: item id → payment id
    batch: list[Any] = field(default_factory=list)
    recorded: dict[str, str] = field(default_factory=dict)
    #: pending payments a credit completes (service.complete_many), batched likewise
    completes: list[str] = field(default_factory=list)

    def flush(self, ctx: Context) -> None:
        from openbss.payments import service

        if self.completes:
            service.complete_many(ctx, self.completes)
            self.completes.clear()
        if self.batch:
            self.recorded.update(service.record_many(ctx, self.batch))
            self.batch.clear()

    def as_kwargs(self) -> dict[str, Any]:
        return {"by_end_to_end": self.by_end_to_end, "by_collection": self.by_collection,
                "bills_by_no": self.bills_by_no, "bills_by_amount": self.bills_by_amount,
                "ibans": self.ibans, "account_names": self.account_names}


def _ref(p: Payment) -> matching.PaymentRef:
    return matching.PaymentRef(p.id, p.status, p.amount, p.currency, p.billing_account_id)


def _bill_ref(b: Invoice) -> matching.BillRef:
    return matching.BillRef(b.id, b.bill_no, b.billing_account_id, b.remaining_amount,
                            b.currency, b.payment_due_date)


def _lookups(ctx: Context, moves: Sequence[camt.Movement]) -> _Lookups:
    """Every candidate of every movement, in a few set-based queries."""
    from openbss.payments import methods, service

    e2e = sorted({m.end_to_end_id for m in moves if m.end_to_end_id})
    by_e2e = {k: _ref(p) for k, p in service.payments_by_end_to_end(ctx, e2e).items()} \
        if e2e else {}
    batch_keys = {k for m in moves for k in (m.payment_info_id, m.batch_message_id) if k}
    message_ids = {k.rsplit("-", 1)[0] if k.rsplit("-", 1)[-1] in pain008.SEQUENCE_ORDER
                   else k for k in batch_keys}
    by_collection: dict[str, list[matching.PaymentRef]] = {}
    if message_ids:
        collections = {c.id: c for c in ctx.session.scalars(scoped(ctx, SepaCollection).where(
            SepaCollection.message_id.in_(sorted(message_ids))))}
        if collections:
            for p in ctx.session.scalars(scoped(ctx, Payment).where(
                    Payment.collection_id.in_(list(collections)))):
                c = collections[p.collection_id or ""]
                seq = (p.body or {}).get("sequenceType", "")
                by_collection.setdefault(c.message_id, []).append(_ref(p))
                by_collection.setdefault(pain008.payment_info_id(c.message_id, seq),
                                         []).append(_ref(p))
    credits = [m for m in moves if m.direction == "CRDT" and not m.is_return]
    words = sorted(matching.tokens(r for m in credits for r in m.remittance))
    bills_by_no: dict[str, matching.BillRef] = {}
    for part in _chunks([w for w in words if len(w) <= 40]):
        for b in ctx.session.scalars(scoped(ctx, Invoice).where(
                Invoice.bill_no.in_(part), Invoice.kind == "invoice",
                _numeric(Invoice.remaining_amount) > 0)):
            bills_by_no[b.bill_no.upper()] = _bill_ref(b)
    amounts = sorted({m.amount for m in credits})
    by_amount: list[matching.BillRef] = []
    for part in _chunks(amounts):
        if part:
            by_amount.extend(_bill_ref(b) for b in ctx.session.scalars(
                scoped(ctx, Invoice).where(Invoice.kind == "invoice",
                                           _numeric(Invoice.remaining_amount).in_(part)))
                if b.remaining_amount in set(part))
    accounts = sorted({b.account_id for b in by_amount})
    ibans = methods.iban_owner(ctx, accounts) if accounts else {}
    names = {a.id: a.name for a in ctx.session.scalars(scoped(ctx, Account).where(
        Account.id.in_(accounts)))} if accounts else {}
    return _Lookups(by_e2e, by_collection, bills_by_no, by_amount,
                    {k: list(v) for k, v in ibans.items()}, names)


def _act(ctx: Context, m: camt.Movement, d: matching.Decision, lk: _Lookups) -> str | None:
    """Carry the decision out; returns the payment the entry is tied to. Updates the
    lookups so later movements of the same file see the change."""
    from openbss.payments import service

    if d.action in ("fail", "reverse"):
        lk.flush(ctx)  # what is batched so far first: it may concern the same payments
    if d.action == "complete":
        lk.completes.extend(d.payment_ids)
        for key, ref in list(lk.by_end_to_end.items()):
            if ref.id in d.payment_ids:
                lk.by_end_to_end[key] = matching.PaymentRef(ref.id, "done", ref.amount,
                                                             ref.currency, ref.account_id)
        for refs in lk.by_collection.values():
            refs[:] = [matching.PaymentRef(r.id, "done", r.amount, r.currency, r.account_id)
                       if r.id in d.payment_ids else r for r in refs]
        return d.payment_ids[0]
    if d.action in ("fail", "reverse"):
        pid = d.payment_ids[0]
        reason = d.reason or "returned"
        if d.action == "fail":
            service.fail_payment(ctx, payment_id=pid, reason=reason)
            status = "failed"
        else:
            service.reverse_payment(ctx, payment_id=pid, reason=reason)
            status = "reversed"
        for key, ref in list(lk.by_end_to_end.items()):
            if ref.id == pid:
                lk.by_end_to_end[key] = matching.PaymentRef(pid, status, ref.amount,
                                                            ref.currency, ref.account_id)
        return pid
    if d.action in ("bill", "payer"):
        assert d.bill_id and d.account_id and d.amount is not None
        payment_id = new_id()
        lk.batch.append(service.NewPayment(
            id=payment_id, account_id=d.account_id, amount=Money(m.amount, m.currency),
            source_key=f"statement:{m.key}"[:200], allocations=((d.bill_id, d.amount),),
            channel=CHANNEL_TRANSFER, body=_transfer_body(m, d.rule or "")))
        for no, b in list(lk.bills_by_no.items()):
            if b.id == d.bill_id:
                lk.bills_by_no[no] = matching.BillRef(b.id, b.bill_no, b.account_id,
                                                      b.remaining - d.amount, b.currency,
                                                      b.due_date)
        lk.bills_by_amount[:] = [b for b in lk.bills_by_amount if b.id != d.bill_id]
        return payment_id
    return None


def _transfer_body(m: camt.Movement, rule: str) -> dict[str, Any]:
    return {"description": " | ".join(m.remittance)[:500] or None, "matchedBy": rule,
            "statementEntryKey": m.key,
            "bookingDate": m.booking_date.isoformat() if m.booking_date else None}


# -- the queue and manual matching -------------------------------------------------------------

ENTRY_FILTERS: dict[str, Any] = {
    "state": StatementEntry.state, "direction": StatementEntry.direction,
    "statement.id": StatementEntry.statement_id, "bookingDate": StatementEntry.booking_date,
    "endToEndId": StatementEntry.end_to_end_id, "amount": StatementEntry.amount,
    "returnReason": StatementEntry.return_reason}
STATEMENT_FILTERS: dict[str, Any] = {"format": BankStatement.format,
                                     "createdAt": BankStatement.created_at,
                                     "messageId": BankStatement.message_id}


def list_entries(ctx: Context, params: ListParams) -> tuple[list[StatementEntry], int]:
    stmt = apply_filters(scoped(ctx, StatementEntry), params, ENTRY_FILTERS)
    return paginate(ctx.session, stmt, params,
                    [StatementEntry.booking_date, StatementEntry.created_at, StatementEntry.id])


def get_entry(ctx: Context, *, entry_id: str, lock: bool = False) -> StatementEntry:
    return get_owned(ctx.session, StatementEntry, ctx.tenant_id, entry_id, "statementEntry",
                     lock=lock)


def list_statements(ctx: Context, params: ListParams) -> tuple[list[BankStatement], int]:
    stmt = apply_filters(scoped(ctx, BankStatement), params, STATEMENT_FILTERS)
    return paginate(ctx.session, stmt, params,
                    [BankStatement.created_at.desc(), BankStatement.id])


def get_statement(ctx: Context, *, statement_id: str) -> BankStatement:
    return get_owned(ctx.session, BankStatement, ctx.tenant_id, statement_id,
                     "bankStatement")


def match_entry(ctx: Context, *, entry_id: str, bill_id: str | None = None,
                account_id: str | None = None) -> StatementEntry:
    """Match an ``unmatched`` credit by hand: to a bill (the payment allocated to it, at
    most its remaining amount, the rest kept as credit) or to a billing account (its
    open bills oldest due first). 409 for an entry not in the queue."""
    from openbss.billing import settlement
    from openbss.billing.queries import billing_accounts, invoice

    row = get_entry(ctx, entry_id=entry_id, lock=True)
    if row.state != EntryState.UNMATCHED:
        raise EntryNotMatchable(f"statement entry {row.id} is {row.state}, not unmatched",
                                field="id")
    if row.direction != "CRDT":
        raise EntryNotMatchable(f"statement entry {row.id} is a {row.direction} (a "
                                "returned debit without its payment): only credits are "
                                "matched by hand", field="id")
    if (bill_id is None) == (account_id is None):
        raise ValidationError("give customerBill.id or billingAccount.id (one of them)",
                              field="customerBill.id")
    allocations: list[tuple[str, Decimal]]
    if bill_id is not None:
        try:
            bill = invoice(ctx, bill_id)
        except NotFoundError:
            raise NotFoundError(f"customerBill {bill_id!r} not found",
                                field="customerBill.id") from None
        if bill.currency != row.currency:
            raise ValidationError(f"customerBill.id: {bill.bill_no} is in {bill.currency}, "
                                  f"the entry in {row.currency}", field="customerBill.id")
        account = bill.billing_account_id
        share = min(row.amount, bill.remaining_amount)
        allocations = [(bill.id, share)] if share > 0 else []
    else:
        assert account_id is not None
        found = billing_accounts(ctx, [account_id])
        if not found:
            raise NotFoundError(f"billingAccount {account_id!r} not found",
                                field="billingAccount.id")
        if found[0].currency != row.currency:
            raise ValidationError(f"billingAccount.id: the account is in "
                                  f"{found[0].currency}, the entry in {row.currency}",
                                  field="billingAccount.id")
        account = account_id
        left = row.amount
        allocations = []
        for bill in settlement.open_bills(ctx, account_id=account_id):
            if left <= 0:
                break
            share = min(left, bill.remaining_amount)
            if share > 0 and bill.currency == row.currency:
                allocations.append((bill.id, share))
                left -= share
    from openbss.payments import service

    entry_key = (row.detail or {}).get("entryKey", row.entry_key)
    payment, _ = service.record_payment(
        ctx, account_id=account, amount=Money(row.amount, row.currency),
        channel=CHANNEL_TRANSFER, source_key=f"statement:{entry_key}"[:200],
        allocations=allocations,
        body={"description": row.remittance, "matchedBy": "manual",
              "statementEntry": {"id": row.id}})
    before = {"state": row.state}
    row.state = EntryState.MATCHED
    row.payment_id = payment.id
    row.matched_by = ctx.actor[:32]
    row.detail = {**(row.detail or {}), "action": "manual", "rule": "manual",
                  "matchedBy": ctx.actor, "matchedAt": iso(ctx.now)}
    row.row_version += 1
    ctx.session.flush()
    audit.record(ctx, action="update", resource_type="statementEntry", resource_id=row.id,
                 before=before, after={"state": row.state, "payment": payment.id,
                                       "matchedBy": ctx.actor})
    return row


def _initials(name: str | None) -> str | None:
    return " ".join(f"{part[0]}." for part in name.split() if part) if name else None


def _debtor(ctx: Context, row: StatementEntry) -> str | None:
    sealed = (row.detail or {}).get("debtor")
    return crypto.decrypt(sealed, ctx.session) if isinstance(sealed, str) else row.debtor_name


def render_entry(ctx: Context, row: StatementEntry) -> dict[str, Any]:
    """A statement entry; the debtor's name in clear only for roles that may see the
    payment family's personal data (initials otherwise), the IBAN always masked."""
    detail = row.detail or {}
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, ENTRY_ITEM.rsplit("/", 1)[0], row.id),
        "@type": "StatementEntry", "state": row.state, "direction": row.direction,
        "amount": money(row.amount, row.currency),
        "bookingDate": row.booking_date.isoformat() if row.booking_date else None,
        "valueDate": row.value_date.isoformat() if row.value_date else None,
        "endToEndId": row.end_to_end_id, "remittanceInformation": row.remittance,
        "debtor": {"name": _debtor(ctx, row) if allowed(ctx.role, "payment", PERSONAL)
                   else row.debtor_name, "iban": row.debtor_iban},
        "returnReason": row.return_reason, "entryKey": detail.get("entryKey", row.entry_key),
        "matchedBy": detail.get("matchedBy", row.matched_by), "rule": detail.get("rule"),
        "reason": detail.get("reason"),
        "bankStatement": {"id": row.statement_id,
                          "href": href(ctx.base_url, STATEMENTS_PATH, row.statement_id)},
        "payment": {"id": row.payment_id} if row.payment_id else None,
        "createdAt": iso(row.created_at)}
    return {k: v for k, v in doc.items() if v is not None}


def render_statement(ctx: Context, row: BankStatement,
                     entries: Sequence[StatementEntry] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, STATEMENTS_PATH, row.id), "format": row.format,
        "messageId": row.message_id, "filename": row.filename, "sha256": row.sha256,
        "createdAt": iso(row.created_at), "createdBy": row.created_by,
        "results": row.results}
    if entries is not None:
        doc["entries"] = [render_entry(ctx, e) for e in entries]
    return doc


def statement_entries(ctx: Context, statement_id: str) -> list[StatementEntry]:
    return list(ctx.session.scalars(scoped(ctx, StatementEntry).where(
        StatementEntry.statement_id == statement_id).order_by(StatementEntry.created_at,
                                                              StatementEntry.id)))


__all__ = ["STATEMENT_ITEM", "SUMMARY_KEYS", "export", "import_statement", "match_entry"]
