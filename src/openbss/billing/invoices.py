"""Use cases of invoices and credit notes (TMF678 ``customerBill``,
``appliedCustomerBillingRate``), manual charges, documents and the account balance.

Rules:

- **Issue** (:func:`issue_many`, called by the bill run): per account, the proposed lines
  are taxed through the tax port at the bill date (the tenant's ``roundingMode`` and
  ``taxRounding``); totals are the lines plus their tax, exactly. A total below zero is
  issued as a credit note (series ``creditNoteSeries``) referring to the invoice its
  lines correct. Numbers come from :mod:`~openbss.billing.numbering` in the same
  transaction; invoices and lines are written with one INSERT per table per batch. The
  sources are marked in the same transaction: product charges billed, manual charges and
  rated usage carry the invoice id. ``paymentDueDate`` = the bill date's local date (the
  account's zone) + the account's ``paymentTerms.dueDays``. A dry run computes the same
  bill and stores nothing, consuming no number (a pro-forma: no id, no billNo, state
  ``new``).
- **Signs**: amounts are signed from the customer's side: an invoice is positive, a
  credit note negative (its lines, tax and total). ``remainingAmount`` of a credit note
  is the part of it not applied to an invoice yet (negative or zero).
- **Immutable**: an issued bill's amounts and lines never change; ``PATCH`` changes only
  ``state`` (``INVOICE_STATES``); any other attribute of a bill answers 409
  ``INVOICE_ALREADY_ISSUED``, an unknown attribute 422. Only ``remainingAmount`` moves
  when a credit note is applied (and, later, payments).
- **Credit notes** (:func:`create_credit_note`): full, by line (all or part of a line)
  or by a tax-exclusive amount spread over the lines still creditable (pro rata, never
  losing a cent); never more than what is still creditable (a line's amount minus what
  earlier credit notes credited on it: 409 ``CREDIT_EXCEEDS_CREDITABLE`` naming the
  field); tax reversed at the invoice's own rates (a whole line's tax exactly); numbered
  in the credit-note series; the invoice's ``remainingAmount`` is reduced by the credit
  (down to zero; the rest stays unapplied on the credit note).
- **Balance** (TMF666 ``accountBalance``): the sum of ``remainingAmount`` of the
  account's invoices and credit notes (credit notes count negative).
- **Documents**: the PDF is rendered once, from the issued snapshot, on first download,
  and stored; afterwards the stored bytes are served (never re-rendered).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from openbss.billing import hooks, numbering, queries
from openbss.billing import settings as billing_settings
from openbss.billing.book import (
    AccountInput,
    ChargeEvent,
    LineKind,
    ProposedLine,
    TaxableLine,
    TaxParty,
    TaxResult,
    UsageSummary,
)
from openbss.billing.errors import (
    ChargeAlreadyBilled,
    CreditExceedsCreditable,
    InvoiceAlreadyIssued,
    NotCreditable,
    WrongCurrency,
)
from openbss.billing.models import (
    INVOICE_STATES,
    BillingCharge,
    Invoice,
    InvoiceDocument,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
)
from openbss.billing.paths import (
    ACCOUNT_PATH,
    BILLING_RATE_PATH,
    CUSTOMER_BILL_PATH,
    ON_DEMAND_PATH,
    PAYMENT_PATH,
    PRODUCT_PATH,
    charge_href,
    document_href,
)
from openbss.billing.schemas import (
    ChargeCreate,
    CreditNoteCreate,
    CustomerBillOnDemandCreate,
    CustomerBillUpdate,
)
from openbss.core import audit, crypto, events
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.db import new_id
from openbss.core.errors import ConflictError, NotFoundError, ValidationError
from openbss.core.money import Money, round_amount
from openbss.core.resources import record_change
from openbss.core.tmf import ListParams, href, iso
from openbss.party import hooks as party_hooks
from openbss.party import personal
from openbss.party.models import Account, Party

API = "customerBillManagement"
DEFAULT_LOCALE = "en"
#: customerBill attributes a client may see but never change (409 INVOICE_ALREADY_ISSUED).
IMMUTABLE = frozenset({
    "id", "href", "billNo", "billDate", "billingPeriod", "paymentDueDate", "amountDue",
    "remainingAmount", "taxExcludedAmount", "taxIncludedAmount", "taxItem",
    "billingAccount", "category", "billDocument", "appliedPayment", "lastUpdate",
    "nextBillDate", "runType", "financialAccount", "paymentMethod", "relatedParty",
    "@type", "@baseType", "@schemaLocation", "note", "correctsBill", "appliedCustomerBillingRate",
    "collection",
})


class Issued:
    """One bill as issued (``invoice``: the inserted row's values, a detached view with
    the row's attributes) or as it would be (a dry run: ``invoice`` None); ``bill`` and
    ``lines`` are the TMF678 renderings (the lines rendered when first asked for: a bill
    run never reads them)."""

    __slots__ = ("_lines", "_render", "bill", "invoice")

    def __init__(self, invoice: Invoice | None, bill: dict[str, Any],
                 lines: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]) -> None:
        self.invoice = invoice
        self.bill = bill
        self._lines = lines if isinstance(lines, list) else None
        self._render = None if isinstance(lines, list) else lines

    @property
    def lines(self) -> list[dict[str, Any]]:
        if self._lines is None:
            assert self._render is not None
            self._lines = self._render()
        return self._lines


# -- small helpers ----------------------------------------------------------------------------

def money(value: Decimal, currency: str) -> dict[str, Any]:
    """TMF Money with an exact decimal value (a JSON number on the wire)."""
    return {"unit": currency, "value": value}


def _local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _tax_doc(t: Any, currency: str) -> dict[str, Any]:
    """An AppliedTax / TaxItem as stored and rendered (TMF taxCategory, taxRate in
    percent, taxAmount) with the jurisdiction and taxable amount."""
    return {"taxCategory": t.category, "taxRate": t.rate,
            "taxAmount": money(t.amount.amount, currency), "taxName": t.name,
            "jurisdiction": t.jurisdiction, "taxableAmount": money(t.taxable.amount, currency)}


def _plain(doc: Any) -> Any:
    """Decimals as strings, for a stored JSON body."""
    if isinstance(doc, Decimal):
        return str(doc)
    if isinstance(doc, dict):
        return {k: _plain(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_plain(v) for v in doc]
    if isinstance(doc, datetime):
        return iso(doc)
    return doc


def _money_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    return money(_dec(doc["value"]), str(doc["unit"]))


def _taxes_view(stored: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in stored:
        item = {"taxCategory": t["taxCategory"], "taxRate": _dec(t["taxRate"]),
                "taxAmount": _money_of(t["taxAmount"])}
        for extra in ("taxName", "jurisdiction"):
            if t.get(extra) is not None:
                item[extra] = t[extra]
        if t.get("taxableAmount"):
            item["taxableAmount"] = _money_of(t["taxableAmount"])
        out.append(item)
    return out


def _tax_engine() -> Any:
    from openbss.billing import tax  # the tax port (imported late: an engine is a plugin)

    return tax.tax_engine()


def _tax_party_of(account_body: Mapping[str, Any], party_body: Mapping[str, Any] | None
                  ) -> TaxParty:
    from openbss.billing import tax

    party: TaxParty = tax.tax_party_of(account_body, party_body)
    return party


def seller_party(settings: billing_settings.BillingSettings) -> TaxParty:
    s = settings.seller
    return TaxParty(country=s.country, region=s.region, vat_id=s.vat_id, business=True)


def _owner_party_id(account_body: Mapping[str, Any]) -> str | None:
    refs = account_body.get("relatedParty") or []
    for ref in refs:
        if isinstance(ref, dict) and str(ref.get("role", "")).lower() == "owner":
            return str(ref.get("id"))
    for ref in refs:
        if isinstance(ref, dict) and str(ref.get("@referredType", "")).lower() in (
                "individual", "organization", "customer"):
            return str(ref.get("id"))
    return None


def _postal(body: Mapping[str, Any] | None) -> tuple[list[str], str | None, str | None]:
    """Address lines, country and email from a TMF contactMedium list (an account's
    contact[].contactMedium or a party's contactMedium)."""
    media: list[Mapping[str, Any]] = []
    if body:
        media += [m for m in body.get("contactMedium") or [] if isinstance(m, dict)]
        for contact in body.get("contact") or []:
            if isinstance(contact, dict):
                media += [m for m in contact.get("contactMedium") or [] if isinstance(m, dict)]
    address: list[str] = []
    country = email = None
    for m in media:
        c = m.get("characteristic") or {}
        kind = str(m.get("mediumType", "")).lower()
        if kind in ("postaladdress", "postal", "address") and not address:
            address = [v for v in (c.get("street1"), c.get("street2"),
                                   " ".join(x for x in (c.get("postCode"), c.get("city")) if x),
                                   c.get("stateOrProvince"), c.get("country")) if v]
            country = c.get("country")
        if kind == "email" and email is None:
            email = c.get("emailAddress")
    return address, country, email


def _party_name(party: Party | None) -> str | None:
    if party is None:
        return None
    body = party.body or {}
    if body.get("tradingName") or body.get("name"):
        return str(body.get("tradingName") or body.get("name"))
    full = " ".join(str(body[k]) for k in ("givenName", "familyName") if body.get(k))
    return full or None


def buyer_snapshot(account: Account | None, account_body: Mapping[str, Any],
                   party: Party | None, party_body: Mapping[str, Any] | None,
                   tax_party: TaxParty, fallback_name: str) -> dict[str, Any]:
    """The buyer as printed on the bill: name, address lines, country, VAT id, email
    (from the account's and the owner's bodies, already unsealed)."""
    address, country, email = _postal(account_body)
    if not address:
        address, country, email2 = _postal(party_body)
        email = email or email2
    return {"name": (account.name if account is not None else None) or _party_name(party)
            or fallback_name, "address": address, "country": country or tax_party.country,
            "vatId": tax_party.vat_id, "email": email}


def seal_buyer(ctx: Context, snapshot: Mapping[str, Any]) -> dict[str, str]:
    """The buyer snapshot as stored: encrypted with the tenant's data key, like the
    contact media it was copied from (personal data is never in clear at rest)."""
    ring = crypto.keyring(ctx.session, ctx.tenant_id)
    return {"sealed": ring.encrypt(json.dumps(snapshot, sort_keys=True))}


def open_buyer(ctx: Context, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The buyer snapshot of a bill body (sealed by :func:`seal_buyer`)."""
    if not stored:
        return {}
    sealed = stored.get("sealed")
    if isinstance(sealed, str):
        opened: dict[str, Any] = json.loads(crypto.decrypt(sealed, ctx.session))
        return opened
    return dict(stored)


def _locale_of(account: Account | None) -> str:
    structure = ((account.body or {}).get("billStructure") or {}) if account else {}
    return str(structure.get("locale") or DEFAULT_LOCALE)


# -- rendering --------------------------------------------------------------------------------

def _period(start: datetime | None, end: datetime | None) -> dict[str, Any] | None:
    if start is None and end is None:
        return None
    out = {}
    if start is not None:
        out["startDateTime"] = iso(start)
    if end is not None:
        out["endDateTime"] = iso(end)
    return out


def render_bill(ctx: Context, row: Invoice) -> dict[str, Any]:
    """The TMF678 ``customerBill`` of an issued invoice or credit note."""
    body = row.body or {}
    cur = row.currency
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, CUSTOMER_BILL_PATH, row.id),
        "billNo": row.bill_no, "billDate": iso(row.bill_date),
        "category": row.kind, "state": row.state, "lastUpdate": iso(row.last_update),
        "runType": "onCycle" if row.bill_run_id else "onDemand",
        "amountDue": money(row.amount_due, cur),
        "remainingAmount": money(row.remaining_amount, cur),
        "taxExcludedAmount": money(row.tax_excluded, cur),
        "taxIncludedAmount": money(row.tax_included, cur),
        "taxItem": _taxes_view(body.get("taxItem") or []),
        "billingAccount": {"id": row.billing_account_id,
                           "href": href(ctx.base_url, ACCOUNT_PATH, row.billing_account_id),
                           **({"name": body["billingAccountName"]}
                              if body.get("billingAccountName") else {})},
        "billDocument": [{
            "id": row.id, "href": document_href(ctx.base_url, row.id),
            "url": document_href(ctx.base_url, row.id), "mimeType": "application/pdf",
            "name": f"{row.bill_no}.pdf", "@type": "AttachmentRefOrValue"}],
        "appliedPayment": applied_payments(ctx, row),
        "@type": "CustomerBill",
    }
    period = _period(row.period_start, row.period_end)
    if period:
        doc["billingPeriod"] = period
    if row.payment_due_date is not None:
        doc["paymentDueDate"] = iso(_local_midnight(row.payment_due_date,
                                                    body.get("timeZone") or "UTC"))
    if body.get("note"):
        doc["note"] = body["note"]
    if body.get("locale"):
        doc["locale"] = body["locale"]
    if row.corrects_id:
        doc["correctsBill"] = {"id": row.corrects_id,
                               "href": href(ctx.base_url, CUSTOMER_BILL_PATH, row.corrects_id),
                               **({"billNo": body["correctsBillNo"]}
                                  if body.get("correctsBillNo") else {})}
    if body.get("reason"):
        doc["reason"] = body["reason"]
    if body.get("collection"):
        c = body["collection"]
        doc["collection"] = {"state": c["state"], "since": c.get("since"),
                             "payment": {"id": c["payment"], "href": href(
                                 ctx.base_url, PAYMENT_PATH, c["payment"])},
                             **({"reason": c["reason"]} if c.get("reason") else {})}
    return doc


def state_for(row: Invoice) -> str:
    """The state a bill's remaining amount implies (``onHold``/``new``/``validated`` stay
    while nothing was paid)."""
    if row.kind != InvoiceKind.INVOICE:
        return row.state
    if row.remaining_amount <= 0:
        return InvoiceState.SETTLED.value
    if row.remaining_amount < row.amount_due:
        return InvoiceState.PARTIALLY_PAID.value
    if row.state in (InvoiceState.SETTLED, InvoiceState.PARTIALLY_PAID):
        return InvoiceState.SENT.value
    return row.state


def applied_payments(ctx: Context, row: Invoice) -> list[dict[str, Any]]:
    """TMF678 ``appliedPayment`` of a bill."""
    return [{"appliedAmount": money(Decimal(str(item["appliedAmount"])), row.currency),
             "payment": {"id": item["payment"]["id"],
                         "href": href(ctx.base_url, PAYMENT_PATH, item["payment"]["id"])},
             "@type": "AppliedPayment"}
            for item in (row.body or {}).get("appliedPayment") or []]


def render_line(ctx: Context, row: InvoiceLine, *, bill_date: datetime | None = None,
                account_id: str | None = None) -> dict[str, Any]:
    """The TMF678 ``appliedCustomerBillingRate`` of a line (``billedAccount``: the child
    whose charge it is on a parent's bill; ``corrects``: the line it credits)."""
    body = row.body or {}
    cur = row.currency
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, BILLING_RATE_PATH, row.id),
        "type": row.type, "name": row.name, "isBilled": True,
        "taxExcludedAmount": money(row.tax_excluded, cur),
        "taxIncludedAmount": money(row.tax_included, cur),
        "appliedTax": _taxes_view(body.get("appliedTax") or []),
        "bill": {"id": row.invoice_id,
                 "href": href(ctx.base_url, CUSTOMER_BILL_PATH, row.invoice_id)},
        "quantity": row.quantity, "taxCategory": row.tax_category,
        "@type": "AppliedCustomerBillingRate",
    }
    date_ = bill_date or (datetime.fromisoformat(body["date"]) if body.get("date") else None)
    if date_ is not None:
        doc["date"] = iso(date_)
    if row.description:
        doc["description"] = row.description
    period = _period(row.period_start, row.period_end)
    if period:
        doc["periodCoverage"] = period
    if row.product_id:
        doc["product"] = {"id": row.product_id,
                          "href": href(ctx.base_url, PRODUCT_PATH, row.product_id),
                          **({"name": body["productName"]} if body.get("productName") else {})}
    owner = account_id or body.get("billingAccountId")
    if owner:
        doc["billingAccount"] = {"id": owner, "href": href(ctx.base_url, ACCOUNT_PATH, owner)}
    if owner and row.billed_account_id != owner:
        doc["billedAccount"] = {
            "id": row.billed_account_id,
            "href": href(ctx.base_url, ACCOUNT_PATH, row.billed_account_id),
            **({"name": body["billedAccountName"]} if body.get("billedAccountName") else {})}
    if row.corrects_line_id:
        doc["corrects"] = {"id": row.corrects_line_id,
                           "href": href(ctx.base_url, BILLING_RATE_PATH, row.corrects_line_id)}
    if row.price_id:
        doc["productOfferingPrice"] = {"id": row.price_id}
    if body.get("detail"):
        doc["detail"] = body["detail"]
    return doc


def render_lines(ctx: Context, rows: Sequence[InvoiceLine]) -> list[dict[str, Any]]:
    return [render_line(ctx, r) for r in rows]


# -- issuing ----------------------------------------------------------------------------------

@dataclass
class _Draft:
    """One bill being issued: its row values, line values and the sources to mark."""

    item: AccountInput
    proposed: Sequence[ProposedLine]
    taxed: TaxResult
    kind: str
    year: int
    bill: dict[str, Any]
    lines: list[dict[str, Any]]


def _load_accounts(ctx: Context, ids: Iterable[str]) -> dict[str, Account]:
    """The tenant's accounts among ``ids`` as the bills need them (id, name, body): the
    columns only, not mapped rows (a bill run reads thousands)."""
    return {row.id: cast(Account, row) for row in queries.account_views(ctx, ids)}


def _corrected_invoices(ctx: Context, line_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """line id -> (invoice id, bill number) of lines being corrected."""
    ids = sorted(set(line_ids))
    if not ids:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for chunk in range(0, len(ids), 5000):
        found.update(queries.invoice_of_lines(ctx, ids[chunk:chunk + 5000]))
    return found


def issue_many(ctx: Context, batch: Sequence[tuple[AccountInput, Sequence[ProposedLine]]], *,
               as_of: datetime, bill_run_id: str | None = None,
               dry_run: bool = False) -> list[Issued]:
    """Issue one bill per item that has lines (module docstring); items without lines
    are skipped. Returns the bills in the batch's order."""
    items = [(item, lines) for item, lines in batch if lines]
    if not items:
        return []
    settings = billing_settings.read(ctx)
    engine = _tax_engine()
    seller = seller_party(settings)
    seller_doc = settings.seller.model_dump(by_alias=True, exclude_none=True)
    account_ids = {item.terms.id for item, _ in items}
    account_ids |= {line.account_id for _, lines in items for line in lines}
    accounts = _load_accounts(ctx, account_ids)
    owners = {aid: _owner_party_id(a.body or {}) for aid, a in accounts.items()}
    parties = queries.parties_by_id(ctx, [p for p in owners.values() if p])
    corrected = _corrected_invoices(
        ctx, [line.corrects for _, lines in items for line in lines if line.corrects])

    drafts: list[_Draft] = []
    for item, proposed in items:
        drafts.append(_draft(ctx, item, proposed, as_of=as_of, settings=settings,
                             engine=engine, seller=seller, seller_doc=seller_doc,
                             accounts=accounts, parties=parties, owners=owners,
                             corrected=corrected, bill_run_id=bill_run_id))
    if dry_run:
        return [Issued(None, _proforma(d), [_proforma_line(x) for x in d.lines])
                for d in drafts]
    _number(ctx, drafts, settings)
    invoice_rows = [d.bill for d in drafts]
    line_rows = [line for d in drafts for line in d.lines]
    queries.insert_invoices(ctx, invoice_rows)
    queries.insert_lines(ctx, line_rows)
    _mark_sources(ctx, drafts)
    out: list[Issued] = []
    for d in drafts:
        # what was inserted, as a detached view of the row (not re-read: the bill run's
        # batches are large); queries.invoice(ctx, id) gives the mapped row
        row = cast(Invoice, SimpleNamespace(**d.bill))
        out.append(Issued(row, render_bill(ctx, row), partial(_render_lines, ctx, row, d.lines)))
    audit.record_many(ctx, [{
        "action": "create", "resource_type": "customerBill", "resource_id": d.bill["id"],
        "after": {"billNo": d.bill["bill_no"], "kind": d.kind,
                  "billingAccount": d.bill["billing_account_id"],
                  "taxIncluded": str(i.bill["taxIncludedAmount"]["value"]),
                  "currency": d.bill["currency"], "lines": len(d.lines),
                  "billRun": bill_run_id}} for d, i in zip(drafts, out, strict=True)])
    events.publish_many(ctx, api=API, event_type="CustomerBillCreateEvent",
                        resource_name="customerBill", resources=[i.bill for i in out])
    hooks.issued(ctx, [hooks.IssuedBill(d.bill, d.lines) for d in drafts])
    return out


def _render_lines(ctx: Context, row: Invoice, values: Sequence[Mapping[str, Any]]
                  ) -> list[dict[str, Any]]:
    return [render_line(ctx, cast(InvoiceLine, SimpleNamespace(**v)), bill_date=row.bill_date,
                        account_id=row.billing_account_id) for v in values]


def _draft(ctx: Context, item: AccountInput, proposed: Sequence[ProposedLine], *,
           as_of: datetime, settings: billing_settings.BillingSettings, engine: Any,
           seller: TaxParty, seller_doc: dict[str, Any], accounts: Mapping[str, Account],
           parties: Mapping[str, Party], owners: Mapping[str, str | None],
           corrected: Mapping[str, tuple[str, str]], bill_run_id: str | None) -> _Draft:
    terms = item.terms
    currency = terms.currency
    account = accounts.get(terms.id)
    party = parties.get(owners.get(terms.id) or "")
    # contact media are encrypted at rest (party.personal): open them for the snapshot
    account_body = personal.unseal(ctx.session, (account.body if account else None) or {})
    party_body = personal.unseal(ctx.session, party.body) if party is not None else None
    buyer = _tax_party_of(account_body, party_body)
    bill_day = _local_date(as_of, terms.tz)
    for i, line in enumerate(proposed):
        if line.amount.currency != currency:
            raise WrongCurrency(f"line {i} is in {line.amount.currency}, the account bills "
                                f"in {currency}", field=f"lines[{i}].amount")
    taxed: TaxResult = engine(
        seller=seller, buyer=buyer, on=bill_day,
        lines=[TaxableLine(key=i, amount=line.amount, tax_category=line.tax_category,
                           tax_included=line.tax_included) for i, line in enumerate(proposed)],
        rounding=settings.decimal_rounding, per=settings.tax_rounding)
    by_key = {t.key: t for t in taxed.lines}
    tax_excluded = sum((t.tax_excluded.amount for t in taxed.lines), Decimal(0))
    tax_included = sum((t.tax_included.amount for t in taxed.lines), Decimal(0))
    kind = InvoiceKind.CREDIT_NOTE if tax_included < 0 else InvoiceKind.INVOICE
    invoice_id = new_id()
    starts = [line.start for line in proposed if line.start is not None]
    ends = [line.end for line in proposed if line.end is not None]
    corrects_id = corrects_no = None
    if kind == InvoiceKind.CREDIT_NOTE:
        hits = [corrected[line.corrects] for line in proposed
                if line.corrects and line.corrects in corrected]
        if hits:
            corrects_id, corrects_no = max(set(hits), key=hits.count)
    notes = [{"text": text} for text in taxed.notes]
    body = {
        "taxItem": [_tax_doc(t, currency) for t in taxed.breakdown],
        "seller": seller_doc,
        "buyer": seal_buyer(ctx, buyer_snapshot(account, account_body, party, party_body,
                                                buyer, terms.name or terms.id)),
        "note": notes, "reverseCharge": taxed.reverse_charge,
        "locale": _locale_of(account), "category": str(kind), "timeZone": terms.tz,
        "billingAccountName": terms.name or (account.name if account else None),
    }
    if corrects_no:
        body["correctsBillNo"] = corrects_no
    bill = {
        "id": invoice_id, "tenant_id": ctx.tenant_id, "kind": str(kind),
        "bill_no": None, "series": (settings.credit_note_series
                                    if kind == InvoiceKind.CREDIT_NOTE
                                    else settings.invoice_series),
        "state": InvoiceState.NEW.value, "billing_account_id": terms.id,
        "bill_date": as_of, "period_start": min(starts) if starts else None,
        "period_end": max(ends) if ends else None,
        "payment_due_date": bill_day + timedelta(days=terms.due_days),
        "currency": currency, "tax_excluded": tax_excluded, "tax_included": tax_included,
        "amount_due": tax_included, "remaining_amount": tax_included,
        "bill_run_id": bill_run_id, "corrects_id": corrects_id, "last_update": ctx.now,
        "row_version": 1, "body": body,
    }
    issued_at = iso(as_of)
    lines = []
    for i, line in enumerate(proposed):
        t = by_key[i]
        child = accounts.get(line.account_id)
        lines.append({
            "id": new_id(), "tenant_id": ctx.tenant_id, "invoice_id": invoice_id,
            "position": i + 1, "type": str(line.kind), "name": line.name[:300],
            "description": line.description, "billed_account_id": line.account_id,
            "product_id": line.product_id, "price_id": line.price_id,
            "period_start": line.start, "period_end": line.end, "quantity": line.quantity,
            "tax_excluded": t.tax_excluded.amount, "tax_included": t.tax_included.amount,
            "currency": currency, "tax_category": line.tax_category,
            "corrects_line_id": line.corrects, "source_key": line.source_key,
            "body": {
                "basisAmount": str(line.amount.amount), "taxIncluded": line.tax_included,
                "priceVersion": line.price_version,
                "appliedTax": [_tax_doc(x, currency) for x in t.taxes],
                "detail": dict(line.detail), "appliesTo": line.applies_to,
                "billingAccountId": terms.id, "date": issued_at,
                "billedAccountName": child.name if child is not None else None,
            },
        })
    return _Draft(item, proposed, taxed, str(kind), bill_day.year, bill, lines)


def _number(ctx: Context, drafts: Sequence[_Draft],
            settings: billing_settings.BillingSettings) -> None:
    """Give every draft its number: one counter move per (series, year) and batch."""
    groups: dict[tuple[str, int], list[_Draft]] = defaultdict(list)
    for d in drafts:
        groups[(d.bill["series"], d.year)].append(d)
    for (series, year), members in sorted(groups.items()):
        for d, number in zip(members, numbering.next_numbers(
                ctx, series=series, year=year, count=len(members)), strict=True):
            d.bill["bill_no"] = number


def _mark_sources(ctx: Context, drafts: Sequence[_Draft]) -> None:
    """Product charges billed, manual charges and rated usage with their invoice id."""
    product_charges: list[str] = []
    manual: list[tuple[str, str]] = []
    rated: dict[int, str] = {}
    for d in drafts:
        invoice_id = d.bill["id"]
        events_by_key: dict[str, Any] = {}
        for event in d.item.events:
            if isinstance(event, (ChargeEvent, UsageSummary)):
                events_by_key[event.key] = event
        for line in d.proposed:
            key = line.source_key
            if not key:
                continue
            if key.startswith("productCharge:"):
                product_charges.append(key.split(":", 1)[1])
            elif key.startswith("billingCharge:"):
                manual.append((key.split(":", 1)[1], invoice_id))
            source = events_by_key.get(key)
            if isinstance(source, UsageSummary):
                rated.update(dict.fromkeys(source.rated_ids, invoice_id))
    from openbss.ordering import terms as ordering_terms
    from openbss.rating import service as rating_service

    # each source is marked once: a row re-rated, billed or deleted since it was read
    # (which the accounts' billing lock prevents) fails the batch rather than bill twice
    marked = (rating_service.mark_invoiced_many(ctx, rated),
              ordering_terms.mark_charges_billed(ctx, charge_ids=product_charges),
              queries.mark_charges_billed(ctx, manual))
    expected = (len(rated), len(set(product_charges)), len(manual))
    if marked != expected:
        names = ("rated usage rows", "product charges", "manual charges")
        what = ", ".join(f"{n}: {m} of {e}" for n, m, e in zip(names, marked, expected,
                                                               strict=True) if m != e)
        raise ConflictError("what these invoices bill changed while they were issued "
                            f"({what} still unbilled); run the bill run again",
                            field="billingAccount")


def _proforma(d: _Draft) -> dict[str, Any]:
    """The TMF678 view of a bill not issued: no id, no number, state ``new``."""
    b = d.bill
    cur = b["currency"]
    body = b["body"]
    doc: dict[str, Any] = {
        "billDate": iso(b["bill_date"]), "category": b["kind"], "state": "new",
        "runType": "onDemand",
        "amountDue": money(b["amount_due"], cur),
        "remainingAmount": money(b["remaining_amount"], cur),
        "taxExcludedAmount": money(b["tax_excluded"], cur),
        "taxIncludedAmount": money(b["tax_included"], cur),
        "taxItem": _taxes_view(body["taxItem"]),
        "billingAccount": {"id": b["billing_account_id"],
                           **({"name": body["billingAccountName"]}
                              if body.get("billingAccountName") else {})},
        "paymentDueDate": iso(_local_midnight(b["payment_due_date"], body["timeZone"])),
        "appliedPayment": [], "@type": "CustomerBill", "proForma": True,
    }
    period = _period(b["period_start"], b["period_end"])
    if period:
        doc["billingPeriod"] = period
    if body.get("note"):
        doc["note"] = body["note"]
    doc["appliedCustomerBillingRate"] = [_proforma_line(line) for line in d.lines]
    return doc


def _proforma_line(line: Mapping[str, Any]) -> dict[str, Any]:
    cur = line["currency"]
    body = line["body"]
    doc: dict[str, Any] = {
        "type": line["type"], "name": line["name"], "isBilled": False,
        "taxExcludedAmount": money(line["tax_excluded"], cur),
        "taxIncludedAmount": money(line["tax_included"], cur),
        "appliedTax": _taxes_view(body["appliedTax"]), "quantity": line["quantity"],
        "@type": "AppliedCustomerBillingRate",
    }
    if line.get("description"):
        doc["description"] = line["description"]
    period = _period(line["period_start"], line["period_end"])
    if period:
        doc["periodCoverage"] = period
    if line.get("product_id"):
        doc["product"] = {"id": line["product_id"]}
    if line["billed_account_id"] != body.get("billingAccountId"):
        doc["billedAccount"] = {"id": line["billed_account_id"]}
    return doc


def on_demand_account(ctx: Context, *, data: CustomerBillOnDemandCreate) -> Account:
    """The billing account a ``customerBillOnDemand`` names (422 naming
    ``billingAccount.id`` when it is not one of the tenant's)."""
    try:
        return _billing_account(ctx, data.billing_account.id)
    except NotFoundError:
        raise ValidationError(f"billingAccount.id: no billing account "
                              f"{data.billing_account.id!r}", field="billingAccount.id") from None


def render_on_demand(ctx: Context, *, data: CustomerBillOnDemandCreate, account: Account,
                     issued: Issued | None) -> dict[str, Any]:
    """TMF678 ``customerBillOnDemand``: the account's next bill as it stands now (the bill
    run's own calculation, dry run: ``issued``). Nothing is stored and no number is
    consumed; the answer's id cannot be read back (``customerBillOnDemand/{id}`` is 404)."""
    request_id = new_id()
    doc: dict[str, Any] = {
        "id": request_id, "href": href(ctx.base_url, ON_DEMAND_PATH, request_id),
        "billingAccount": {"id": account.id,
                           "href": href(ctx.base_url, ACCOUNT_PATH, account.id),
                           "name": account.name},
        "state": "done", "lastUpdate": iso(ctx.now), "@type": "CustomerBillOnDemand",
    }
    if data.name:
        doc["name"] = data.name
    if data.description:
        doc["description"] = data.description
    if issued is not None:
        doc["customerBill"] = {"id": f"proforma-{request_id}", "@referredType": "CustomerBill",
                               **issued.bill}
    else:
        doc["customerBill"] = {
            "id": f"proforma-{request_id}", "@referredType": "CustomerBill",
            "@type": "CustomerBill", "proForma": True, "state": "new",
            "billDate": iso(ctx.now), "amountDue": money(Decimal(0), account.currency),
            "taxExcludedAmount": money(Decimal(0), account.currency),
            "taxIncludedAmount": money(Decimal(0), account.currency),
            "taxItem": [], "appliedCustomerBillingRate": []}
    return doc


# -- reading, state changes -------------------------------------------------------------------

def get_bill(ctx: Context, *, bill_id: str) -> Invoice:
    return queries.invoice(ctx, bill_id)


def list_bills(ctx: Context, *, params: ListParams) -> tuple[list[Invoice], int]:
    return queries.list_invoices(ctx, params)


def get_line(ctx: Context, *, line_id: str) -> InvoiceLine:
    return queries.line(ctx, line_id)


def list_lines(ctx: Context, *, params: ListParams) -> tuple[list[InvoiceLine], int]:
    return queries.list_lines(ctx, params)


def update_state(ctx: Context, *, bill_id: str, patch: Any) -> Invoice:
    """PATCH customerBill: only ``state`` changes, along ``INVOICE_STATES``."""
    if not isinstance(patch, dict) or not patch:
        raise ValidationError("a merge-patch body must be a JSON object with state",
                              field="state" if isinstance(patch, dict) else "body")
    for key in patch:
        if key == "state":
            continue
        if key in IMMUTABLE:
            raise InvoiceAlreadyIssued(f"{key}: an issued bill is immutable; only its state "
                                       "changes (a correction is a credit note)", field=key)
        raise ValidationError(f"{key}: not an attribute of a customerBill that can be "
                              "changed (only state)", field=key)
    data = validated(CustomerBillUpdate, patch)
    row = queries.invoice(ctx, bill_id, lock=True)
    INVOICE_STATES.check(row.state, data.state, resource_id=row.id)
    if row.state == data.state:
        return row
    before = {"state": row.state}
    row.state = str(data.state)
    row.last_update = ctx.now
    row.row_version += 1
    ctx.session.flush()
    record_change(ctx, api=API, resource_name="customerBill", resource_id=row.id,
                  change="state", before=before, after={"state": row.state},
                  event_resource=render_bill(ctx, row))
    return row


# -- credit notes -----------------------------------------------------------------------------

@dataclass
class _Credit:
    line: InvoiceLine
    amount: Decimal  # tax-exclusive, positive: what is credited (the note line is -amount)
    whole: bool  # the whole remaining line: its remaining tax is reversed exactly


def _creditable(ctx: Context, row: Invoice, lines: Sequence[InvoiceLine]
                ) -> tuple[dict[str, Decimal], dict[str, dict[tuple[Any, ...], Decimal]]]:
    """Per line: the tax-exclusive amount still creditable, and the tax still creditable
    per (category, rate, name, jurisdiction)."""
    remaining = {line.id: line.tax_excluded for line in lines}
    tax_left: dict[str, dict[tuple[Any, ...], Decimal]] = {}
    for line in lines:
        taxes: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
        for t in (line.body or {}).get("appliedTax") or []:
            taxes[_tax_key(t)] += _dec(t["taxAmount"]["value"])
        tax_left[line.id] = taxes
    notes = queries.credit_notes_of(ctx, row.id)
    for note_line in queries.lines_of(ctx, [n.id for n in notes]):
        target = note_line.corrects_line_id
        if target in remaining:
            remaining[target] += note_line.tax_excluded
            for t in (note_line.body or {}).get("appliedTax") or []:
                tax_left[target][_tax_key(t)] += _dec(t["taxAmount"]["value"])
    return remaining, tax_left


def _tax_key(t: Mapping[str, Any]) -> tuple[Any, ...]:
    return (t.get("taxCategory"), str(_dec(t.get("taxRate", 0))), t.get("taxName"),
            t.get("jurisdiction"))


def create_credit_note(ctx: Context, *, bill_id: str, data: CreditNoteCreate) -> Invoice:
    """Credit an invoice, fully, by line or by amount (module docstring)."""
    given = [name for name in ("lines", "amount", "full")
             if getattr(data, name) not in (None, False)]
    if len(given) != 1:
        raise ValidationError("give exactly one of lines, amount or full: true",
                              field=given[1] if len(given) > 1 else "full")
    row = queries.invoice(ctx, bill_id, lock=True)
    if row.kind != InvoiceKind.INVOICE:
        raise NotCreditable(f"{row.bill_no} is a credit note; only invoices are credited",
                            field="id")
    settings = billing_settings.read(ctx)
    lines = queries.lines_of(ctx, [row.id])
    remaining, tax_left = _creditable(ctx, row, lines)
    by_id = {line.id: line for line in lines}
    credits = _credits(row, data, lines, by_id, remaining)
    if not credits:
        raise NotCreditable(f"nothing is left to credit on {row.bill_no}",
                            field="full" if data.full else "amount")
    return _issue_credit_note(ctx, row, credits, tax_left, remaining, settings,
                              reason=data.reason)


def _check_unit(value: Any, row: Invoice, field: str) -> None:
    if value.unit != row.currency:
        raise WrongCurrency(f"{field}: the invoice is in {row.currency}, not {value.unit}",
                            field=f"{field}.unit")


def _credits(row: Invoice, data: CreditNoteCreate, lines: Sequence[InvoiceLine],
             by_id: Mapping[str, InvoiceLine], remaining: Mapping[str, Decimal]
             ) -> list[_Credit]:
    if data.full:
        return [_Credit(line, remaining[line.id], True) for line in lines
                if remaining[line.id] != 0]
    if data.lines is not None:
        seen: set[str] = set()
        out: list[_Credit] = []
        for i, ask in enumerate(data.lines):
            field = f"lines[{i}]"
            line = by_id.get(ask.line)
            if line is None:
                raise ValidationError(f"{field}.line: {ask.line!r} is not a line of "
                                      f"{row.bill_no}", field=f"{field}.line")
            if line.id in seen:
                raise ValidationError(f"{field}.line: line {line.id} is named twice",
                                      field=f"{field}.line")
            seen.add(line.id)
            left = remaining[line.id]
            if left <= 0:
                raise CreditExceedsCreditable(
                    f"{field}.line: nothing is left to credit on line {line.id}",
                    field=f"{field}.line")
            if ask.amount is None:
                out.append(_Credit(line, left, True))
                continue
            _check_unit(ask.amount, row, f"{field}.amount")
            value = round_amount(ask.amount.value, row.currency)
            if value != ask.amount.value:
                raise ValidationError(f"{field}.amount.value: more decimals than "
                                      f"{row.currency} has", field=f"{field}.amount.value")
            if value > left:
                raise CreditExceedsCreditable(
                    f"{field}.amount: {value} exceeds the {left} {row.currency} still "
                    f"creditable on line {line.id}", field=f"{field}.amount")
            out.append(_Credit(line, value, value == left))
        return out
    assert data.amount is not None
    _check_unit(data.amount, row, "amount")
    value = round_amount(data.amount.value, row.currency)
    if value != data.amount.value:
        raise ValidationError(f"amount.value: more decimals than {row.currency} has",
                              field="amount.value")
    open_lines = [line for line in lines if remaining[line.id] > 0]
    total = sum((remaining[line.id] for line in open_lines), Decimal(0))
    if value > total:
        raise CreditExceedsCreditable(
            f"amount: {value} exceeds the {total} {row.currency} (tax excluded) still "
            f"creditable on {row.bill_no}", field="amount")
    parts = Money(value, row.currency).allocate([remaining[line.id] for line in open_lines])
    return [_Credit(line, part.amount, part.amount == remaining[line.id])
            for line, part in zip(open_lines, parts, strict=True) if part.amount != 0]


def _issue_credit_note(ctx: Context, row: Invoice, credits: Sequence[_Credit],
                       tax_left: Mapping[str, Mapping[tuple[Any, ...], Decimal]],
                       remaining: Mapping[str, Decimal],
                       settings: billing_settings.BillingSettings, *,
                       reason: str | None) -> Invoice:
    body = row.body or {}
    tz = body.get("timeZone") or "UTC"
    cur = row.currency
    note_id = new_id()
    line_rows: list[dict[str, Any]] = []
    breakdown: dict[tuple[Any, ...], dict[str, Any]] = {}
    for pos, credit in enumerate(credits, start=1):
        line = credit.line
        taxes = []
        for t in (line.body or {}).get("appliedTax") or []:
            key = _tax_key(t)
            if credit.whole:
                amount = -tax_left[line.id][key]
                taxable = -remaining[line.id]
            else:
                rate = _dec(t["taxRate"])
                amount = -round_amount(credit.amount * rate / 100, cur,
                                       settings.decimal_rounding)
                taxable = -credit.amount
            taxes.append({**t, "taxAmount": money(amount, cur),
                          "taxableAmount": money(taxable, cur)})
            entry = breakdown.setdefault(key, {**t, "taxAmount": money(Decimal(0), cur),
                                               "taxableAmount": money(Decimal(0), cur)})
            entry["taxAmount"] = money(entry["taxAmount"]["value"] + amount, cur)
            entry["taxableAmount"] = money(entry["taxableAmount"]["value"] + taxable, cur)
        net = -credit.amount
        tax_total = sum((x["taxAmount"]["value"] for x in taxes), Decimal(0))
        source = line.body or {}
        line_rows.append({
            "id": new_id(), "tenant_id": ctx.tenant_id, "invoice_id": note_id,
            "position": pos, "type": LineKind.ADJUSTMENT.value,
            "name": f"Credit: {line.name}"[:300], "description": reason,
            "billed_account_id": line.billed_account_id, "product_id": line.product_id,
            "price_id": line.price_id, "period_start": line.period_start,
            "period_end": line.period_end, "quantity": line.quantity,
            "tax_excluded": net, "tax_included": net + tax_total, "currency": cur,
            "tax_category": line.tax_category, "corrects_line_id": line.id,
            "source_key": None,
            "body": _plain({"basisAmount": str(net), "taxIncluded": False,
                            "priceVersion": source.get("priceVersion"),
                            "appliedTax": taxes, "detail": {"credits": line.id},
                            "appliesTo": None, "billingAccountId": row.billing_account_id,
                            "date": iso(ctx.now),
                            "billedAccountName": source.get("billedAccountName")}),
        })
    tax_excluded = sum((r["tax_excluded"] for r in line_rows), Decimal(0))
    tax_included = sum((r["tax_included"] for r in line_rows), Decimal(0))
    applied = min(-tax_included, max(row.remaining_amount, Decimal(0)))
    year = _local_date(ctx.now, tz).year
    number = numbering.next_numbers(ctx, series=settings.credit_note_series, year=year,
                                    count=1)[0]
    note_body = {
        "taxItem": list(breakdown.values()), "seller": body.get("seller"),
        "buyer": body.get("buyer"), "note": body.get("note") or [],
        "reverseCharge": body.get("reverseCharge", False), "locale": body.get("locale"),
        "category": InvoiceKind.CREDIT_NOTE.value, "timeZone": tz,
        "billingAccountName": body.get("billingAccountName"),
        "correctsBillNo": row.bill_no, "reason": reason,
    }
    note_row = {
        "id": note_id, "tenant_id": ctx.tenant_id, "kind": InvoiceKind.CREDIT_NOTE.value,
        "bill_no": number, "series": settings.credit_note_series,
        "state": InvoiceState.NEW.value, "billing_account_id": row.billing_account_id,
        "bill_date": ctx.now, "period_start": row.period_start,
        "period_end": row.period_end, "payment_due_date": None, "currency": cur,
        "tax_excluded": tax_excluded, "tax_included": tax_included,
        "amount_due": tax_included, "remaining_amount": tax_included + applied,
        "bill_run_id": None, "corrects_id": row.id, "last_update": ctx.now,
        "row_version": 1, "body": _plain(note_body)}
    queries.insert_invoices(ctx, [note_row])
    queries.insert_lines(ctx, line_rows)
    note = queries.invoice(ctx, note_id)
    audit.record(ctx, action="create", resource_type="customerBill", resource_id=note_id,
                 after={"billNo": number, "kind": note.kind, "corrects": row.id,
                        "taxIncluded": str(tax_included), "currency": cur,
                        "lines": len(line_rows), "reason": reason})
    events.publish(ctx, api=API, event_type="CustomerBillCreateEvent",
                   resource_name="customerBill", resource=render_bill(ctx, note))
    if applied:
        before = {"remainingAmount": str(row.remaining_amount), "state": row.state}
        row.remaining_amount = row.remaining_amount - applied
        state = state_for(row)  # a credit note that clears the bill settles it
        if state != row.state:
            INVOICE_STATES.check(row.state, state, resource_id=row.id)
            row.state = state
        row.last_update = ctx.now
        row.row_version += 1
        ctx.session.flush()
        record_change(ctx, api=API, resource_name="customerBill", resource_id=row.id,
                      change="update", before=before,
                      after={"remainingAmount": str(row.remaining_amount),
                             "state": row.state, "creditNote": note_id},
                      event_resource=render_bill(ctx, row))
    hooks.issued(ctx, [hooks.IssuedBill(note_row, line_rows, applied)])
    return note


# -- manual charges and credits ---------------------------------------------------------------

def _billing_account(ctx: Context, account_id: str) -> Account:
    from openbss.party import accounts

    return accounts.get_account(ctx, kind="billingAccount", account_id=account_id)


def render_charge(ctx: Context, row: BillingCharge) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": row.id, "href": charge_href(ctx.base_url, row.billing_account_id, row.id),
        "kind": row.kind, "amount": money(row.amount, row.currency), "name": row.name,
        "taxCategory": row.tax_category, "taxIncluded": row.tax_included,
        "at": iso(row.at), "billingAccount": {
            "id": row.billing_account_id,
            "href": href(ctx.base_url, ACCOUNT_PATH, row.billing_account_id)},
        "billed": row.invoice_id is not None, "createdBy": row.created_by,
        "@type": "BillingCharge",
    }
    if row.description:
        doc["description"] = row.description
    if row.product_id:
        doc["product"] = {"id": row.product_id,
                          "href": href(ctx.base_url, PRODUCT_PATH, row.product_id)}
    if row.invoice_id:
        doc["customerBill"] = {"id": row.invoice_id,
                               "href": href(ctx.base_url, CUSTOMER_BILL_PATH, row.invoice_id)}
    return doc


def create_charge(ctx: Context, *, account_id: str, data: ChargeCreate,
                  ledger_role: str | None = None) -> BillingCharge:
    """A manual one-off charge or credit for the account's next invoice (in the account's
    currency; a product, if named, must be the tenant's). ``ledger_role``: the ledger
    role its revenue posts to (dunning's late fees: ``lateFees``)."""
    account = _billing_account(ctx, account_id)
    if data.amount.unit != account.currency:
        raise WrongCurrency(f"amount.unit: the billing account bills in {account.currency}",
                            field="amount.unit")
    if round_amount(data.amount.value, account.currency) != data.amount.value:
        raise ValidationError(f"amount.value: more decimals than {account.currency} has",
                              field="amount.value")
    if data.product_id is not None:
        from openbss.ordering import inventory

        try:
            inventory.get_product(ctx, product_id=data.product_id)
        except NotFoundError:
            raise ValidationError(f"productId: no product {data.product_id!r}",
                                  field="productId") from None
    row = BillingCharge(
        id=new_id(), tenant_id=ctx.tenant_id, billing_account_id=account.id, kind=data.kind,
        amount=data.amount.value, currency=account.currency, name=data.name,
        description=data.description, tax_category=data.tax_category,
        tax_included=data.tax_included, product_id=data.product_id, at=ctx.now,
        ledger_role=ledger_role,
        invoice_id=None, created_by=ctx.actor)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="billingCharge", resource_id=row.id,
                 after=_plain(render_charge(ctx, row)))
    return row


def list_charges(ctx: Context, *, account_id: str) -> list[BillingCharge]:
    _billing_account(ctx, account_id)
    return queries.charges_of_account(ctx, account_id)


def delete_charge(ctx: Context, *, account_id: str, charge_id: str) -> None:
    """Delete a manual charge while it is not billed (409 ``CHARGE_ALREADY_BILLED``).
    Under the account's billing lock: a bill run billing the account finishes first
    (and the charge is then billed), or starts after the charge is gone."""
    from openbss.party import accounts

    _billing_account(ctx, account_id)
    accounts.lock_for_billing(ctx, [account_id])
    row = queries.charge(ctx, charge_id, lock=True)
    if row.billing_account_id != account_id:
        raise NotFoundError(f"charge {charge_id!r} not found", field="id")
    if row.invoice_id is not None:
        raise ChargeAlreadyBilled(f"charge {charge_id} is on invoice {row.invoice_id}",
                                  field="id")
    before = _plain(render_charge(ctx, row))
    queries.delete_charge(ctx, charge_id)
    audit.record(ctx, action="delete", resource_type="billingCharge", resource_id=charge_id,
                 before=before)


# -- account balance --------------------------------------------------------------------------

@party_hooks.register_balance_provider
def open_balance(ctx: Context, account: Account) -> Money | None:
    """What the billing account owes from its bills: the remaining amounts of its
    invoices plus those of its credit notes (negative: credit not applied yet)."""
    rows = queries.open_amounts(ctx, account.id)
    if not rows:
        return None
    total = sum((amount for _, amount, currency in rows if currency == account.currency),
                Decimal(0))
    return Money(total, account.currency)


# -- documents --------------------------------------------------------------------------------

def _document_item(ctx: Context, row: Invoice, line_rows: Sequence[InvoiceLine],
                   template: Any) -> Any:
    """What :func:`openbss.billing.documents.render_document` needs for one issued bill:
    its TMF renderings, the seller and the buyer as issued (the sealed snapshot)."""
    from openbss.billing import documents
    from openbss.billing.settings import SellerSettings

    body = row.body or {}
    bill = render_bill(ctx, row)
    lines = [render_line(ctx, r, bill_date=row.bill_date, account_id=row.billing_account_id)
             for r in line_rows]
    seller = SellerSettings.model_validate(body.get("seller") or {})
    b = open_buyer(ctx, body.get("buyer"))
    buyer = documents.Buyer(name=b.get("name") or row.billing_account_id,
                            address=tuple(b.get("address") or ()),
                            country=b.get("country"), vat_id=b.get("vatId"),
                            email=b.get("email"), time_zone=body.get("timeZone") or "UTC")
    return (bill, lines, seller, buyer, body.get("locale") or DEFAULT_LOCALE, template)


def _stored_document(ctx: Context, row: Invoice, content: bytes, template: Any
                     ) -> InvoiceDocument:
    return InvoiceDocument(invoice_id=row.id, tenant_id=ctx.tenant_id,
                           media_type="application/pdf", content=content,
                           sha256=hashlib.sha256(content).hexdigest(),
                           template=str(getattr(template, "name", "default"))[:64],
                           rendered_at=ctx.now)


def document(ctx: Context, *, bill_id: str) -> InvoiceDocument:
    """The bill's PDF: the stored one, or rendered now from the issued snapshot, stored
    and returned (never rendered again)."""
    row = queries.invoice(ctx, bill_id)
    stored = queries.document(ctx, row.id)
    if stored is not None:
        return stored
    from openbss.billing import documents

    template = documents.read_template(ctx)
    item = _document_item(ctx, row, queries.lines_of(ctx, [row.id]), template)
    doc = _stored_document(ctx, row, documents.render_many([item])[0], template)
    try:
        with ctx.session.begin_nested():
            ctx.session.add(doc)
    except IntegrityError:  # a concurrent download stored it first: serve that one
        found = queries.document(ctx, row.id)
        if found is None:
            raise
        return found
    audit.record(ctx, action="render", resource_type="invoiceDocument", resource_id=row.id,
                 after={"sha256": doc.sha256, "template": doc.template})
    return doc


#: Bills whose documents are rendered and stored per transaction step.
DOCUMENT_CHUNK = 500


def render_documents(ctx: Context, bill_ids: Iterable[str], *, processes: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> int:
    """Render and store the PDF of every bill among ``bill_ids`` that has none yet (a bill
    run's documents, as their own step after the run): bills and lines read per chunk,
    rendered by :func:`openbss.billing.documents.render_many` over ``processes``, stored
    with one INSERT per chunk (a document another request stored meanwhile is kept: an
    issued document never changes) and one audit row per document stored. Returns how many
    were stored. ``progress(done, total)`` is called after each chunk."""
    from openbss.billing import documents

    template = documents.read_template(ctx)
    todo = sorted(set(bill_ids))
    made = 0
    pool = documents.render_pool(processes) if processes > 1 and len(todo) > 1 else None
    try:
        for start in range(0, len(todo), DOCUMENT_CHUNK):
            made += _render_chunk(ctx, queries.undocumented(
                ctx, todo[start:start + DOCUMENT_CHUNK]), template, pool)
            if progress is not None:
                progress(min(start + DOCUMENT_CHUNK, len(todo)), len(todo))
    finally:
        if pool is not None:
            pool.shutdown()
    return made


def _render_chunk(ctx: Context, bill_ids: Sequence[str], template: Any, pool: Any) -> int:
    from openbss.billing import documents

    if not bill_ids:
        return 0
    rows = queries.invoices_by_id(ctx, bill_ids)
    lines: dict[str, list[InvoiceLine]] = defaultdict(list)
    for line in queries.lines_of(ctx, [r.id for r in rows]):
        lines[line.invoice_id].append(line)
    contents = documents.render_many(
        [_document_item(ctx, r, lines[r.id], template) for r in rows], pool=pool)
    docs = [_stored_document(ctx, r, c, template) for r, c in zip(rows, contents, strict=True)]
    stored = queries.insert_documents(ctx, docs)
    audit.record_many(ctx, [{
        "action": "render", "resource_type": "invoiceDocument", "resource_id": d.invoice_id,
        "after": {"sha256": d.sha256, "template": d.template}}
        for d in docs if d.invoice_id in stored])
    return len(stored)
