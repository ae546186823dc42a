"""Every SQL statement of the billing context, through core's tenant-scoped helpers."""

from __future__ import annotations

# -- invoices, lines, charges, documents, numbering (invoices.py, numbering.py) -------------
from collections.abc import Iterable as _Iterable
from collections.abc import Sequence as _Sequence
from decimal import Decimal as _Decimal
from typing import Any as _Any

from sqlalchemy import func as _func
from sqlalchemy import insert as _insert
from sqlalchemy.dialects import postgresql as _postgresql
from sqlalchemy.dialects import sqlite as _sqlite

from openbss.billing.models import (
    BillingCharge,
    BillRun,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    InvoiceSequence,
)
from openbss.core.context import Context
from openbss.core.db import bulk_insert as _bulk_insert
from openbss.core.queries import (
    get_owned,
    scoped,
    scoped_delete,
    scoped_update,
    scoped_update_many,
)
from openbss.core.tmf import ListParams, apply_filters, paginate
from openbss.party.models import Customer as _Customer
from openbss.party.models import Party as _Party

#: Attribute filters of ``GET customerBill``.
BILL_FILTERS: dict[str, _Any] = {
    "id": Invoice.id, "billNo": Invoice.bill_no, "state": Invoice.state,
    "category": Invoice.kind, "billingAccount.id": Invoice.billing_account_id,
    "billDate": Invoice.bill_date, "paymentDueDate": Invoice.payment_due_date,
    "lastUpdate": Invoice.last_update,
}
#: Attribute filters of ``GET appliedCustomerBillingRate``.
LINE_FILTERS: dict[str, _Any] = {
    "id": InvoiceLine.id, "bill.id": InvoiceLine.invoice_id, "type": InvoiceLine.type,
    "product.id": InvoiceLine.product_id, "billedAccount.id": InvoiceLine.billed_account_id,
}


def _is_postgresql(ctx: Context) -> bool:
    return ctx.session.get_bind().dialect.name == "postgresql"


def reserve_numbers(ctx: Context, series: str, year: int, count: int) -> int:
    """Move the counter of (series, year) on by ``count`` in the caller's transaction and
    return its new last value. The row is created on first use (``ON CONFLICT DO
    NOTHING``: a concurrent creator wins, this one then waits on its row lock)."""
    dialect = _postgresql if _is_postgresql(ctx) else _sqlite
    conn = ctx.session.connection()
    conn.execute(dialect.insert(InvoiceSequence).on_conflict_do_nothing(
        index_elements=["tenant_id", "series", "year"]),
        {"tenant_id": ctx.tenant_id, "series": series, "year": year, "last_value": 0})
    s = InvoiceSequence
    last = conn.execute(scoped_update(ctx, s).where(s.series == series, s.year == year)
                        .values(last_value=s.last_value + count)
                        .returning(s.last_value)).scalar_one()
    return int(last)


def insert_invoices(ctx: Context, rows: _Sequence[dict[str, _Any]]) -> None:
    """The invoices of a batch in one statement (core.db.bulk_insert: COPY on PostgreSQL)."""
    _bulk_insert(ctx.session, Invoice.__table__, rows)


def insert_lines(ctx: Context, rows: _Sequence[dict[str, _Any]]) -> None:
    """The lines of a batch in one statement (core.db.bulk_insert: COPY on PostgreSQL)."""
    _bulk_insert(ctx.session, InvoiceLine.__table__, rows)


def mark_charges_billed(ctx: Context, pairs: _Sequence[tuple[str, str]]) -> int:
    """Set ``invoice_id`` of manual charges not billed yet: ``(charge id, invoice id)``
    pairs; answers how many were set."""
    c = BillingCharge
    return scoped_update_many(ctx.session, ctx, c, key="id", column="invoice_id",
                              values=pairs, only=(c.invoice_id.is_(None),))


def invoice(ctx: Context, invoice_id: str, *, lock: bool = False) -> Invoice:
    return get_owned(ctx.session, Invoice, ctx.tenant_id, invoice_id, "customerBill",
                     lock=lock)


def list_invoices(ctx: Context, params: ListParams) -> tuple[list[Invoice], int]:
    stmt = apply_filters(scoped(ctx, Invoice), params, BILL_FILTERS)
    return paginate(ctx.session, stmt, params, [Invoice.bill_date.desc(), Invoice.id])


def line(ctx: Context, line_id: str) -> InvoiceLine:
    return get_owned(ctx.session, InvoiceLine, ctx.tenant_id, line_id,
                     "appliedCustomerBillingRate")


def list_lines(ctx: Context, params: ListParams) -> tuple[list[InvoiceLine], int]:
    stmt = apply_filters(scoped(ctx, InvoiceLine), params, LINE_FILTERS)
    return paginate(ctx.session, stmt, params,
                    [InvoiceLine.invoice_id, InvoiceLine.position])


def lines_of(ctx: Context, invoice_ids: _Iterable[str]) -> list[InvoiceLine]:
    ids = list(invoice_ids)
    if not ids:
        return []
    return list(ctx.session.scalars(scoped(ctx, InvoiceLine).where(
        InvoiceLine.invoice_id.in_(ids)).order_by(InvoiceLine.invoice_id,
                                                  InvoiceLine.position)))


def credit_notes_of(ctx: Context, invoice_id: str) -> list[Invoice]:
    return list(ctx.session.scalars(scoped(ctx, Invoice).where(
        Invoice.corrects_id == invoice_id).order_by(Invoice.bill_date, Invoice.id)))


def set_remaining(ctx: Context, invoice_id: str, remaining: _Decimal, state: str,
                  last_update: _Any) -> None:
    ctx.session.execute(scoped_update(ctx, Invoice).where(Invoice.id == invoice_id).values(
        remaining_amount=remaining, state=state, last_update=last_update,
        row_version=Invoice.row_version + 1))


def open_amounts(ctx: Context, account_id: str) -> list[tuple[str, _Decimal, str]]:
    """(kind, remaining amount, currency) of every issued invoice and credit note of the
    account."""
    rows = ctx.session.execute(scoped(ctx, Invoice.kind, Invoice.remaining_amount,
                                      Invoice.currency).where(
        Invoice.billing_account_id == account_id))
    return [(k, r, c) for k, r, c in rows]


def parties_by_id(ctx: Context, ids: _Iterable[str]) -> dict[str, _Party]:
    """The parties of these ids — party ids, or customer ids (TMF666 accounts name their
    owner as a Customer), each mapped to the customer's party."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    via = {c.id: c.party_id for c in ctx.session.execute(
        scoped(ctx, _Customer.id, _Customer.party_id).where(_Customer.id.in_(wanted)))}
    parties = {p.id: p for p in ctx.session.scalars(scoped(ctx, _Party).where(
        _Party.id.in_(sorted(set(wanted) | set(via.values())))))}
    found = {i: parties[i] for i in wanted if i in parties}
    found.update({c: parties[p] for c, p in via.items() if p in parties})
    return found


def document(ctx: Context, invoice_id: str) -> InvoiceDocument | None:
    found: InvoiceDocument | None = ctx.session.scalar(scoped(ctx, InvoiceDocument).where(
        InvoiceDocument.invoice_id == invoice_id))
    return found


def undocumented(ctx: Context, invoice_ids: _Sequence[str]) -> list[str]:
    """The ids among ``invoice_ids`` (of this tenant) that have no stored document, in order."""
    d = InvoiceDocument
    wanted = list(invoice_ids)
    have = set(ctx.session.scalars(scoped(ctx, d.invoice_id, of=[d]).where(
        d.invoice_id.in_(wanted))))
    known = set(ctx.session.scalars(scoped(ctx, Invoice.id, of=[Invoice]).where(
        Invoice.id.in_(wanted))))
    return [i for i in wanted if i in known and i not in have]


def insert_documents(ctx: Context, docs: _Sequence[InvoiceDocument]) -> set[str]:
    """Store rendered documents in one INSERT; a bill that got a document meanwhile keeps
    it (``ON CONFLICT DO NOTHING``). Returns the ids whose document is the one given."""
    if not docs:
        return set()
    dialect = _postgresql if _is_postgresql(ctx) else _sqlite
    columns = ("invoice_id", "tenant_id", "media_type", "content", "sha256", "template",
               "rendered_at")
    ctx.session.connection().execute(
        dialect.insert(InvoiceDocument).on_conflict_do_nothing(index_elements=["invoice_id"]),
        [{c: getattr(doc, c) for c in columns} for doc in docs])
    mine = {doc.invoice_id: doc.sha256 for doc in docs}
    d = InvoiceDocument
    return {i for i, sha in ctx.session.execute(scoped(ctx, d.invoice_id, d.sha256, of=[d])
                                                .where(d.invoice_id.in_(list(mine))))
            if mine[i] == sha}


def charge(ctx: Context, charge_id: str, *, lock: bool = False) -> BillingCharge:
    return get_owned(ctx.session, BillingCharge, ctx.tenant_id, charge_id, "charge",
                     lock=lock)


def charges_of_account(ctx: Context, account_id: str) -> list[BillingCharge]:
    return list(ctx.session.scalars(scoped(ctx, BillingCharge).where(
        BillingCharge.billing_account_id == account_id).order_by(BillingCharge.at,
                                                                 BillingCharge.id)))


def delete_charge(ctx: Context, charge_id: str) -> None:
    ctx.session.execute(scoped_delete(ctx, BillingCharge).where(
        BillingCharge.id == charge_id))


#: Attribute filters of ``GET /api/v1/billRuns``.
RUN_FILTERS: dict[str, _Any] = {"state": BillRun.state, "dryRun": BillRun.dry_run,
                                "asOf": BillRun.as_of, "startedAt": BillRun.started_at}


def bill_run(ctx: Context, run_id: str) -> BillRun:
    return get_owned(ctx.session, BillRun, ctx.tenant_id, run_id, "billRun")


def list_bill_runs(ctx: Context, params: ListParams) -> tuple[list[BillRun], int]:
    stmt = apply_filters(scoped(ctx, BillRun), params, RUN_FILTERS)
    return paginate(ctx.session, stmt, params, [BillRun.started_at.desc(), BillRun.id])


def count_invoices(ctx: Context) -> int:
    return int(ctx.session.scalar(scoped(ctx, _func.count(), of=[Invoice])) or 0)


def invoices_by_id(ctx: Context, ids: _Iterable[str]) -> list[Invoice]:
    wanted = list(ids)
    found: list[Invoice] = []
    for start in range(0, len(wanted), 5000):
        found.extend(ctx.session.scalars(scoped(ctx, Invoice).where(
            Invoice.id.in_(wanted[start:start + 5000]))))
    return found


def open_invoices(ctx: Context, account_id: str, *, lock: bool = False) -> list[Invoice]:
    """The account's invoices still owing something, oldest due first."""
    stmt = scoped(ctx, Invoice).where(
        Invoice.billing_account_id == account_id, Invoice.kind == "invoice",
        Invoice.remaining_amount > 0).order_by(
        Invoice.payment_due_date, Invoice.bill_date, Invoice.bill_no)
    if lock:
        stmt = stmt.with_for_update()
    return list(ctx.session.scalars(stmt))


def invoice_of_lines(ctx: Context, line_ids: _Sequence[str]) -> dict[str, tuple[str, str]]:
    """line id -> (invoice id, bill number), for lines among ``line_ids``."""
    if not line_ids:
        return {}
    rows = ctx.session.execute(scoped(ctx, InvoiceLine.id, Invoice.id, Invoice.bill_no)
                               .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                               .where(InvoiceLine.id.in_(list(line_ids))))
    return {line_id: (inv, no) for line_id, inv, no in rows}


# -- the billing-events junction and bill runs (junction.py, billrun.py) ---------------------
# Reads of the other contexts' tables for many accounts at once (set-based: one statement
# per chunk of at most CHUNK ids, never one per account or product), the per-account
# lock of a bill run and the bill-run bookkeeping.

from datetime import datetime as _datetime  # noqa: E402
from operator import itemgetter as _itemgetter  # noqa: E402

from openbss.billing.models import BillRunAccount as _BillRunAccount  # noqa: E402
from openbss.ordering.models import Product as _Product  # noqa: E402
from openbss.ordering.models import ProductCharge as _ProductCharge  # noqa: E402
from openbss.ordering.models import ProductHistory as _ProductHistory  # noqa: E402
from openbss.party.models import Account as _Account  # noqa: E402
from openbss.rating.models import RatedUsage as _RatedUsage  # noqa: E402

#: The most ids in one ``IN (...)`` list.
CHUNK = 5000


def billing_accounts(ctx: Context, ids: _Sequence[str]) -> list[_Account]:
    """The billing accounts among ``ids`` (others, unknown ids and party accounts left out)."""
    a = _Account
    return list(ctx.session.scalars(scoped(ctx, a).where(a.id.in_(list(ids)),
                                                         a.kind == "billingAccount")))


def billing_account_terms(ctx: Context, ids: _Sequence[str]) -> list[_Any]:
    """:func:`billing_accounts`, columns only: ``(id, parent_id, paid_by_parent, currency,
    name, body)``."""
    a = _Account
    return list(ctx.session.execute(scoped(
        ctx, a.id, a.parent_id, a.paid_by_parent, a.currency, a.name, a.body, of=[a]).where(
        a.id.in_(list(ids)), a.kind == "billingAccount")))


def paid_children(ctx: Context, parent_ids: _Sequence[str]) -> list[_Account]:
    """The billing accounts paid by one of ``parent_ids``."""
    a = _Account
    return list(ctx.session.scalars(scoped(ctx, a).where(
        a.parent_id.in_(list(parent_ids)), a.paid_by_parent.is_(True),
        a.kind == "billingAccount").order_by(a.created_at, a.id)))


def invoiceable_account_ids(ctx: Context) -> list[str]:
    """Every billing account of the tenant that gets its own invoice (not paid by its
    parent), by id."""
    a = _Account
    return list(ctx.session.scalars(scoped(ctx, a.id, of=[a]).where(
        a.kind == "billingAccount", a.paid_by_parent.is_not(True)).order_by(a.id)))


def account_views(ctx: Context, ids: _Iterable[str]) -> list[_Any]:
    """``(id, name, body)`` of the tenant's accounts among ``ids`` (read-only views)."""
    wanted = sorted(set(ids))
    a = _Account
    found: list[_Any] = []
    for start in range(0, len(wanted), 5000):
        found.extend(ctx.session.execute(scoped(ctx, a.id, a.name, a.body, of=[a]).where(
            a.id.in_(wanted[start:start + 5000]))))
    return found


def products_of_accounts(ctx: Context, ids: _Sequence[str]) -> list[_Any]:
    """``(id, billing_account_id, name)`` of the accounts' products."""
    p = _Product
    return list(ctx.session.execute(scoped(ctx, p.id, p.billing_account_id, p.name, of=[p])
                                    .where(p.billing_account_id.in_(list(ids)))))


def history_of_accounts(ctx: Context, ids: _Sequence[str]) -> list[_Any]:
    """``(product_id, seq, at, change, after)`` of the accounts' products' history, in
    order (the products through a subquery: no id list)."""
    p, h = _Product, _ProductHistory
    products = scoped(ctx, p.id, of=[p]).where(p.billing_account_id.in_(list(ids)))
    return list(ctx.session.execute(
        scoped(ctx, h.product_id, h.seq, h.at, h.change, h.after, of=[h])
        .where(h.product_id.in_(products)).order_by(h.product_id, h.seq)))


def unbilled_product_charges(ctx: Context, ids: _Sequence[str]) -> list[_Any]:
    """``(id, billing_account_id, at, kind, amount, currency, product_id, price_id,
    description)`` of the accounts' product charges not billed yet, in order."""
    c = _ProductCharge
    return list(ctx.session.execute(scoped(
        ctx, c.id, c.billing_account_id, c.at, c.kind, c.amount, c.currency, c.product_id,
        c.price_id, c.description, of=[c]).where(
        c.billing_account_id.in_(list(ids)), c.billed.is_(False)).order_by(c.at, c.id)))


def unbilled_billing_charges(ctx: Context, ids: _Sequence[str]) -> list[_Any]:
    """``(id, billing_account_id, at, kind, amount, currency, name, product_id, description,
    tax_category, tax_included)`` of the accounts' manual charges not invoiced yet, in
    order."""
    c = BillingCharge
    return list(ctx.session.execute(scoped(
        ctx, c.id, c.billing_account_id, c.at, c.kind, c.amount, c.currency, c.name,
        c.product_id, c.description, c.tax_category, c.tax_included, of=[c]).where(
        c.billing_account_id.in_(list(ids)), c.invoice_id.is_(None)).order_by(c.at, c.id)))


def unbilled_usage(ctx: Context, ids: _Sequence[str], until: _datetime) -> list[_Any]:
    """The accounts' current, not invoiced rated rows used before ``until`` — columns
    only: ``(id, usage_id, billing_account_id, product_id, price_id, usage_type, metric,
    period_start, period_end, tax_category, correction, charged, amount, currency)``."""
    r = _RatedUsage
    return list(ctx.session.execute(scoped(
        ctx, r.id, r.usage_id, r.billing_account_id, r.product_id, r.price_id, r.usage_type,
        r.metric, r.period_start, r.period_end, r.tax_category, r.correction, r.charged,
        r.amount, r.currency, of=[r]).where(
        r.billing_account_id.in_(list(ids)), r.current.is_(True), r.invoice_id.is_(None),
        _not_indexed(r.usage_date) < until)))


def _not_indexed(column: _Any) -> _Any:
    """``column`` as an expression no index serves: the accounts' rows are found by the
    account index. Given ``usage_date < until`` (nearly every row of the tenant once
    usage is a month old), SQLite's planner may walk the date index over the whole
    table for each batch instead."""
    return _func.coalesce(column, column)


def invoiced_generations(ctx: Context, ids: _Sequence[str], until: _datetime) -> list[_Any]:
    """``(usage_id, generation, charged, amount)`` of the invoiced generations of the
    records that have an uninvoiced correction row (the rows through a subquery)."""
    r = _RatedUsage
    corrected = scoped(ctx, r.usage_id, of=[r]).where(
        r.billing_account_id.in_(list(ids)), r.current.is_(True), r.invoice_id.is_(None),
        r.correction.is_(True), _not_indexed(r.usage_date) < until)
    return list(ctx.session.execute(scoped(ctx, r.usage_id, r.generation, r.charged,
                                           r.amount, of=[r]).where(
        r.usage_id.in_(corrected), r.invoice_id.is_not(None))))


def issued_lines(ctx: Context, ids: _Sequence[str]) -> list[_Any]:
    """The issued lines (invoices and credit notes) charged to the accounts, in order —
    columns only: ``(invoice_id, position, id, type, billed_account_id, product_id,
    price_id, period_start, period_end, quantity, tax_excluded, currency, corrects_line_id,
    source_key, basis_amount, price_version)``, the last two read from the body in SQL (no
    body is decoded). Sorted here, not in SQL: with an ``ORDER BY invoice_id, position``
    SQLite reads all the tenant's lines through the invoice index instead of the
    accounts' ones through the account index."""
    line_ = InvoiceLine
    rows = list(ctx.session.execute(scoped(
        ctx, line_.invoice_id, line_.position, line_.id, line_.type, line_.billed_account_id,
        line_.product_id, line_.price_id, line_.period_start, line_.period_end,
        line_.quantity, line_.tax_excluded, line_.currency, line_.corrects_line_id,
        line_.source_key, line_.body["basisAmount"].as_string().label("basis_amount"),
        line_.body["priceVersion"].as_string().label("price_version"), of=[line_]).where(
        line_.billed_account_id.in_(list(ids)))))
    rows.sort(key=_itemgetter(0, 1))
    return rows


def add_run_progress(ctx: Context, run_id: str, done: int) -> None:
    """Move a run's ``accounts_done`` on by ``done`` (an atomic increment)."""
    from openbss.billing.models import BillRun

    ctx.session.execute(scoped_update(ctx, BillRun).where(BillRun.id == run_id).values(
        accounts_done=BillRun.accounts_done + done))


def insert_run_accounts(ctx: Context, rows: _Sequence[dict[str, _Any]]) -> None:
    """One INSERT (executemany) of accounts' outcomes in a run."""
    if rows:
        ctx.session.connection().execute(_insert(_BillRunAccount), list(rows))


def run_account_ids(ctx: Context, run_id: str) -> set[str]:
    """The accounts a run has finished (billed, nothing to bill or failed)."""
    b = _BillRunAccount
    return set(ctx.session.scalars(scoped(ctx, b.billing_account_id, of=[b]).where(
        b.bill_run_id == run_id)))


def run_accounts(ctx: Context, run_id: str) -> list[_BillRunAccount]:
    b = _BillRunAccount
    return list(ctx.session.scalars(scoped(ctx, b).where(b.bill_run_id == run_id)
                                    .order_by(b.id)))


def run_invoice_ids(ctx: Context, run_id: str) -> list[str]:
    """The ids of the invoices and credit notes a run issued."""
    return list(ctx.session.scalars(scoped(ctx, Invoice.id, of=[Invoice]).where(
        Invoice.bill_run_id == run_id).order_by(Invoice.id)))


def run_invoices(ctx: Context, run_id: str) -> list[tuple[str, _Decimal]]:
    """``(currency, tax-included amount)`` of the invoices a run issued."""
    i = Invoice
    return [(c, a) for c, a in ctx.session.execute(scoped(ctx, i.currency, i.tax_included,
                                                          of=[i]).where(
        i.bill_run_id == run_id))]
