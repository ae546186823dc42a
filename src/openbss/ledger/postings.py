"""What billing's issued bills post to the ledger (registered on billing's ``issued`` hook).

An invoice posts, in the issuing transaction (docs/ledger.md):

======================  =========================================  ==================
Dr  receivable          the bill's total, tax included             per billing account
Cr  revenue role        each line's amount without tax             per line type
Cr  taxPayable          each tax item of the bill                  per jurisdiction/rate
======================  =========================================  ==================

A credit note posts the same rule with its (negative) amounts, which is the reverse
entry. The revenue role of a line: ``usageRevenue`` for usage, ``otherRevenue`` for
one-time charges and manual adjustments, ``revenue`` for recurring charges and their
discounts; a manual charge created with a ledger role (dunning's late fee: ``lateFees``)
posts there. A tenant maps line types (``revenueAccounts``) or the catalog categories of
the products' offerings — the product families — (``revenueByCategory``) to accounts of
its chart with the ``ledger`` settings. The entry's ``source_key`` is
``customerBill:<id>``: a bill posts once, whatever retries.

:func:`bill_entry` is pure; :func:`post_issued` reads what it needs in one query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openbss.billing import hooks
from openbss.billing.models import BillingCharge
from openbss.core.context import Context
from openbss.core.periods import local_date
from openbss.core.queries import scoped
from openbss.ledger import service
from openbss.ledger import settings as ledger_settings
from openbss.ledger.book import Entry, Line, side

ZERO = Decimal(0)
#: the default revenue role of each TMF678 line type
LINE_ROLES: dict[str, str] = {"recurring": "revenue", "discount": "revenue",
                              "usage": "usageRevenue", "oneTime": "otherRevenue",
                              "adjustment": "otherRevenue"}


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def line_role(line: Mapping[str, Any], charge_roles: Mapping[str, str],
              mapping: Mapping[str, str],
              product_accounts: Mapping[str, str] | None = None) -> str:
    key = str(line.get("source_key") or "")
    if key in charge_roles:
        return charge_roles[key]
    product = line.get("product_id")
    if product_accounts and product and str(product) in product_accounts:
        return f"code:{product_accounts[str(product)]}"
    kind = str(line.get("type") or "")
    if kind in mapping:
        return f"code:{mapping[kind]}"
    return LINE_ROLES.get(kind, "revenue")


def bill_day(bill: Mapping[str, Any]) -> date | None:
    """The date a bill is booked on: its bill date in the bill's time zone (the date the
    document shows: an invoice dated 1 October in Berlin, issued at 22:00 UTC on
    30 September, belongs to October's books)."""
    at = bill.get("bill_date")
    if not isinstance(at, datetime):
        return None
    return local_date(at, str((bill.get("body") or {}).get("timeZone") or "UTC"))


def bill_entry(bill: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], *,
               charge_roles: Mapping[str, str] | None = None,
               mapping: Mapping[str, str] | None = None,
               product_accounts: Mapping[str, str] | None = None) -> Entry:
    """The journal entry of one issued invoice or credit note (see the module
    docstring). Balanced by construction: a difference between the lines and the bill's
    totals (tax rounded per document) is booked on the first revenue or tax line's
    account, so the entry always equals the bill."""
    account = str(bill["billing_account_id"])
    kind = "creditNote" if bill.get("kind") == "creditNote" else "invoice"
    total = _dec(bill["tax_included"])
    net = _dec(bill["tax_excluded"])
    out: list[Line] = [side("receivable", total, billing_account_id=account,
                            dimension=f"bill:{bill['id']}")]
    revenue: dict[str, Decimal] = {}
    for line in lines:
        role = line_role(line, charge_roles or {}, mapping or {}, product_accounts)
        revenue[role] = revenue.get(role, ZERO) + _dec(line["tax_excluded"])
    gap = net - sum(revenue.values(), ZERO)
    if gap:
        first = next(iter(revenue), "revenue")
        revenue[first] = revenue.get(first, ZERO) + gap
    for role, amount in revenue.items():
        out.append(side(role, -amount, dimension=f"lines:{role}"))
    taxes: dict[str, Decimal] = {}
    for item in (bill.get("body") or {}).get("taxItem") or []:
        amount = _dec((item.get("taxAmount") or {}).get("value", 0))
        dim = f"tax:{item.get('jurisdiction') or ''}:{item.get('taxCategory')}:" \
              f"{_dec(item.get('taxRate', 0)).normalize()}"
        taxes[dim] = taxes.get(dim, ZERO) + amount
    tax_gap = (total - net) - sum(taxes.values(), ZERO)
    if tax_gap:
        dim = next(iter(taxes), "tax:rounding")
        taxes[dim] = taxes.get(dim, ZERO) + tax_gap
    for dim, amount in taxes.items():
        out.append(side("taxPayable", -amount, dimension=dim))
    on = bill_day(bill)
    return Entry(kind=kind, source_type="customerBill", source_id=str(bill["id"]),
                 source_key=f"customerBill:{bill['id']}", currency=str(bill["currency"]),
                 lines=out, memo=str(bill.get("bill_no") or ""), billing_account_id=account,
                 on=on)


def _charge_roles(ctx: Context, bills: Sequence[hooks.IssuedBill]) -> dict[str, str]:
    ids = sorted({str(line.get("source_key"))[len("billingCharge:"):]
                  for b in bills for line in b.lines
                  if str(line.get("source_key") or "").startswith("billingCharge:")})
    out: dict[str, str] = {}
    for start in range(0, len(ids), 900):
        for charge_id, role in ctx.session.execute(scoped(
                ctx, BillingCharge.id, BillingCharge.ledger_role).where(
                BillingCharge.id.in_(ids[start:start + 900]),
                BillingCharge.ledger_role.is_not(None))):
            out[f"billingCharge:{charge_id}"] = str(role)
    return out


def _product_accounts(ctx: Context, bills: Sequence[hooks.IssuedBill],
                      by_category: Mapping[str, str]) -> dict[str, str]:
    """Product id → the account its offering's category maps to (two queries)."""
    from openbss.catalog.models import Category, ProductOffering
    from openbss.ordering.models import Product

    ids = sorted({str(line["product_id"]) for b in bills for line in b.lines
                  if line.get("product_id")})
    if not ids or not by_category:
        return {}
    offering_of: dict[str, str] = {}
    for start in range(0, len(ids), 900):
        for pid, oid in ctx.session.execute(scoped(ctx, Product.id, Product.offering_id).where(
                Product.id.in_(ids[start:start + 900]))):
            if oid:
                offering_of[pid] = oid
    offerings = sorted(set(offering_of.values()))
    refs: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(offerings), 900):
        for oid, body in ctx.session.execute(scoped(
                ctx, ProductOffering.id, ProductOffering.body).where(
                ProductOffering.id.in_(offerings[start:start + 900]))):
            refs[oid] = [r for r in (body or {}).get("category") or [] if isinstance(r, dict)]
    category_ids = sorted({str(r["id"]) for rs in refs.values() for r in rs if r.get("id")})
    names: dict[str, str] = {str(cid): str(name) for cid, name in ctx.session.execute(
        scoped(ctx, Category.id, Category.name).where(Category.id.in_(category_ids)))} \
        if category_ids else {}
    account_of: dict[str, str] = {}
    for oid, rs in refs.items():
        for ref in rs:
            keys = (ref.get("name"), names.get(str(ref.get("id"))), ref.get("id"))
            hit = next((by_category[str(k)] for k in keys if k and str(k) in by_category),
                       None)
            if hit:
                account_of[oid] = hit
                break
    return {pid: account_of[oid] for pid, oid in offering_of.items() if oid in account_of}


@hooks.register_issued
def post_issued(ctx: Context, bills: Sequence[hooks.IssuedBill]) -> None:
    """Post every issued bill (one set-based posting for the batch)."""
    conf = ledger_settings.read(ctx)
    mapping = {str(k): v for k, v in conf.revenue_accounts.items()}
    roles = _charge_roles(ctx, bills)
    products = _product_accounts(ctx, bills, conf.revenue_by_category)
    service.post_many(ctx, [bill_entry(b.bill, b.lines, charge_roles=roles, mapping=mapping,
                                       product_accounts=products) for b in bills])
