"""Demo orders of the ordering context, placed for the party demo's customers on the
catalog demo's offerings (``openbss demo``; after the party and catalog demo data).

Lena Schneider (a consumer in Berlin, account "Lena Schneider — mobile"): a new Mobile M
line (MSISDN +49 151 …), a Fibre 300 line with its one-time installation, a data boost
add-on, then a plan change of her line to Mobile L (an upgrade: at once). Nordwind
Logistik (a business): two Mobile L lines on the Hamburg depot account, one of them then
suspended; a Fibre 300 line on the Munich depot account, then terminated inside its
24-month commitment (the early-termination fee is recorded as a one-time charge); a
Mobile L line on the Munich account requested to start in 30 days
(:func:`future_order`, placed at the end of the demo's timeline: it stays
``acknowledged``); and a quote for a Mobile L line on the headquarters account, taken
through pending -> approved -> accepted and turned into an order.

Idempotent: every demo order (and the quote) carries an ``externalId`` ``demo-…``; one
that exists is not placed again. The fulfilment passes run in this process (bounded) so
that every demo order but the future-dated one is final when :func:`load` returns — the
server's worker may not run yet. The passes commit the caller's session between orders
(a plan change needs the line its earlier order created).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from openbss.catalog import queries as catalog_queries
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.errors import NotFoundError
from openbss.core.tmf import ListParams
from openbss.ordering import orchestration, orders, queries, quotes
from openbss.ordering.models import OPEN_ORDER_STATES, Product, ProductOrder
from openbss.ordering.schemas import ProductOrderCreate, QuoteCreate
from openbss.party import queries as party_queries

#: Most fulfilment passes one demo order may take (each pass runs every due step).
MAX_PASSES = 20
#: How far in the future the future-dated demo order starts.
FUTURE_DAYS = 30

LENA = "Lena Schneider — mobile"
HAMBURG = "Nordwind Logistik — Hamburg depot"
MUNICH = "Nordwind Logistik — Munich depot"
HEADQUARTERS = "Nordwind Logistik — headquarters"
LENA_MSISDN = "+4915112340001"
NORDWIND_MSISDNS = ("+4915112340101", "+4915112340102")
QUOTE_MSISDN = "+4915112340103"
FUTURE_MSISDN = "+4915112340201"


def _by_external_id(ctx: Context, external_id: str, lister: Callable[..., Any]) -> Any:
    rows, _ = lister(ctx, ListParams(offset=0, limit=1, fields=None, sort=(),
                                     filters=(("externalId", "eq", [external_id]),)))
    return rows[0] if rows else None


def _offering(ctx: Context, key: str) -> str:
    rows = catalog_queries.with_key(ctx, "productOffering", key)
    active = [r for r in rows if r.lifecycle_status == "Active"] or rows
    if not active:
        raise NotFoundError(f"demo catalog offering {key!r} is missing (load the catalog "
                            "demo first)", field="productOffering")
    return str(max(active, key=lambda r: str(r.version or "")).id)


def _account(ctx: Context, name: str) -> str:
    row = party_queries.account_named(ctx, name)
    if row is None:
        raise NotFoundError(f"demo billing account {name!r} is missing (load the party "
                            "demo first)", field="billingAccount")
    return str(row.id)


def _line(offering: str, msisdn: str, item_id: str = "1") -> dict[str, Any]:
    return {"id": item_id, "action": "add", "productOffering": {"id": offering},
            "product": {"productCharacteristic": [{"name": "MSISDN", "value": msisdn}]}}


def _product(ctx: Context, account_id: str, offering_id: str,
             match: Callable[[Product], bool] = lambda _: True) -> Product:
    for row in queries.products_of_account(ctx, account_id):
        if row.offering_id == offering_id and row.status != "terminated" and match(row):
            return row
    raise NotFoundError(f"demo product of offering {offering_id} on account {account_id} "
                        "is missing", field="product")


def _has(value: str) -> Callable[[Product], bool]:
    return lambda row: any(c.get("value") == value
                           for c in row.body.get("productCharacteristic") or [])


def _settle(ctx: Context, order: ProductOrder) -> None:
    """Run fulfilment passes of this tenant until ``order`` is final (bounded); commits."""
    order_id = order.id
    for _ in range(MAX_PASSES):
        ctx.session.commit()
        if queries.product_order(ctx, order_id).state not in OPEN_ORDER_STATES:
            return
        if not orchestration.run_due_steps(ctx.session, tenant_id=ctx.tenant_id):
            return


def _place(ctx: Context, lines: list[str], external_id: str, what: str,
           body: Callable[[], dict[str, Any]], *, settle: bool = True) -> None:
    found = _by_external_id(ctx, external_id, queries.list_orders)
    if found is not None:
        lines.append(f"order {external_id}: {what} — {found.state} (ready)")
        return
    row = orders.create_order(ctx, data=validated(
        ProductOrderCreate, {"externalId": external_id, **body()}))
    if settle:
        _settle(ctx, row)
    else:
        ctx.session.commit()
    lines.append(f"order {external_id}: {what} — {queries.product_order(ctx, row.id).state}")


def _quote(ctx: Context, lines: list[str], account: str, mobile_l: str) -> None:
    external_id = "demo-nordwind-hq-quote"
    row = _by_external_id(ctx, external_id, queries.list_quotes)
    if row is not None and row.product_order_id is not None:
        lines.append(f"quote {external_id}: accepted, ordered (ready)")
        return
    if row is None:
        row = quotes.create_quote(ctx, data=validated(QuoteCreate, {
            "externalId": external_id, "description": "Mobile L for the fleet manager",
            "billingAccount": [{"id": account}],
            "quoteItem": [{**_line(mobile_l, QUOTE_MSISDN), "quantity": 1}]}))
    for state in ("pending", "approved", "accepted"):
        if row.state != state:
            row = quotes.update_quote(ctx, quote_id=row.id, patch={"state": state})
    order = quotes.order_quote(ctx, quote_id=row.id)
    _settle(ctx, order)
    lines.append(f"quote {external_id}: accepted, ordered as {order.id} — "
                 f"{queries.product_order(ctx, order.id).state}")


def load(ctx: Context) -> list[str]:
    """Place the demo orders that do not exist yet; return summary lines."""
    lines: list[str] = []
    mobile_m, mobile_l = _offering(ctx, "mobile-m"), _offering(ctx, "mobile-l")
    fibre, boost = _offering(ctx, "fibre-300"), _offering(ctx, "data-boost-5gb")
    lena, hamburg = _account(ctx, LENA), _account(ctx, HAMBURG)
    munich, hq = _account(ctx, MUNICH), _account(ctx, HEADQUARTERS)

    def order(account: str, *items: dict[str, Any], **extra: Any) -> Callable[[], dict[str, Any]]:
        return lambda: {"billingAccount": {"id": account}, "productOrderItem": list(items),
                        **extra}

    _place(ctx, lines, "demo-lena-mobile", "Lena: new Mobile M line " + LENA_MSISDN,
           order(lena, _line(mobile_m, LENA_MSISDN)))
    fibre_item = {"id": "1", "action": "add", "productOffering": {"id": fibre},
                  "product": {"productCharacteristic": [
                      {"name": "Installation address", "value": "Torstraße 12, 10119 Berlin"},
                      {"name": "Download speed", "value": 300}]}}
    _place(ctx, lines, "demo-lena-fibre", "Lena: Fibre 300 with installation",
           order(lena, fibre_item))
    _place(ctx, lines, "demo-lena-addon", "Lena: Data boost 5 GB add-on",
           order(lena, {"id": "1", "action": "add", "productOffering": {"id": boost}}))
    _place(ctx, lines, "demo-lena-upgrade", "Lena: plan change Mobile M -> Mobile L",
           lambda: order(lena, {"id": "1", "action": "modify", "productOffering": {
               "id": mobile_l}, "product": {"id": _product(
                   ctx, lena, mobile_m, _has(LENA_MSISDN)).id}})())
    _place(ctx, lines, "demo-nordwind-lines", "Nordwind Hamburg: two Mobile L lines",
           order(hamburg, *(_line(mobile_l, msisdn, str(n))
                            for n, msisdn in enumerate(NORDWIND_MSISDNS, 1))))
    _place(ctx, lines, "demo-nordwind-suspend", "Nordwind Hamburg: suspend line "
           + NORDWIND_MSISDNS[1],
           lambda: order(hamburg, {"id": "1", "action": "modify", "product": {
               "id": _product(ctx, hamburg, mobile_l, _has(NORDWIND_MSISDNS[1])).id,
               "status": "suspended"}})())
    munich_fibre = {**fibre_item, "product": {"productCharacteristic": [
        {"name": "Installation address", "value": "Landsberger Str. 300, 80687 München"},
        {"name": "Download speed", "value": 300}]}}
    _place(ctx, lines, "demo-nordwind-fibre", "Nordwind Munich: Fibre 300",
           order(munich, munich_fibre))
    _place(ctx, lines, "demo-nordwind-fibre-end",
           "Nordwind Munich: terminate Fibre 300 inside its commitment",
           lambda: order(munich, {"id": "1", "action": "delete", "product": {
               "id": _product(ctx, munich, fibre).id}})())
    _quote(ctx, lines, hq, mobile_l)
    return lines


def future_order(ctx: Context) -> list[str]:
    """The Munich Mobile L line requested to start :data:`FUTURE_DAYS` from now (placed
    last, at the end of the demo's timeline, so it is still waiting for its date)."""
    lines: list[str] = []
    start = (ctx.now + timedelta(days=FUTURE_DAYS)).replace(microsecond=0)
    placed = _by_external_id(ctx, "demo-nordwind-future", queries.list_orders)
    if placed is not None and placed.requested_start_date is not None:
        start = placed.requested_start_date
    _place(ctx, lines, "demo-nordwind-future",
           f"Nordwind Munich: Mobile L line from {start.date().isoformat()}",
           lambda: {"billingAccount": {"id": _account(ctx, MUNICH)},
                    "productOrderItem": [_line(_offering(ctx, "mobile-l"), FUTURE_MSISDN)],
                    "requestedStartDate": start.isoformat().replace("+00:00", "Z")},
           settle=False)
    return lines
