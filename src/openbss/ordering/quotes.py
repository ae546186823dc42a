"""Use cases of TMF648 quotes: create, read, patch (items, descriptive attributes, the
``state``), delete, and turn an accepted quote into a product order.

Prices. Every time the items (or the billing account) change, each item's
``quoteItemPrice`` and the ``quoteTotalPrice`` are computed again with
:func:`openbss.ordering.pricing.price_items` from the catalog's prices in force *now*
(``ctx.now``, the tenant's clock) in the currency of the quote's billing account
(``catalog.selling.select_prices`` through :func:`order_rules.offering_prices`, then
``prices_from_catalog``): one-time and recurring totals per currency, price alterations
(discounts) applied. A client never sets a price: prices it sends back are replaced;
``quoteTotalPrice`` in a ``PATCH`` is a 422.

The two seams of billing stay visible here (see :mod:`openbss.ordering.pricing`): a quote
is priced with ``tax=NO_TAX`` (duty-free = tax-included, no tax rate: billing will pass its
:class:`~openbss.ordering.pricing.TaxCalculator`) and ``proration=None`` (a quote shows the
full first period; billing prorates the first invoice with a
:class:`~openbss.ordering.pricing.Proration`). Both are arguments of :func:`price_quote`.

States (:data:`~openbss.ordering.models.QUOTE_STATES`): ``inProgress -> pending ->
approved -> accepted | rejected | cancelled`` (``pending -> inProgress`` sends it back for
changes), changed by ``PATCH {"state": …}`` under the row lock. From ``approved`` on the
items, billing account, parties and ``validFor`` are frozen (409 ``quote_frozen``). A quote
is valid for ``validFor`` (default: from ``quoteDate`` for :data:`DEFAULT_VALIDITY`, 30
days, on the tenant clock); once it has ended the quote cannot be accepted (409
``quote_expired``). ``effectiveQuoteCompletionDate`` is set when the quote reaches a final
state; ``expectedQuoteCompletionDate`` is the ``requestedQuoteCompletionDate`` if given,
else the end of ``validFor``.

Order. :func:`order_quote` turns an accepted quote into a TMF622 product order with
:func:`openbss.ordering.orders.create_order` (same validation, same prices rules): the
order's items are the quote's items (same ids and positions, so a 422 naming
``productOrderItem[i]`` names ``quoteItem[i]``), each with its ``quoteItem`` reference,
and the order refers to the quote (``quote[]``). The quote records the order
(``productOrder``, an extension); a second order of the same quote is refused with 409
``quote_already_ordered`` naming the first order.

Events (TMF648, through the outbox): ``QuoteCreateEvent``, ``QuoteStateChangeEvent``,
``QuoteAttributeValueChangeEvent`` (items, prices, notes, the order reference),
``QuoteDeleteEvent``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.errors import ValidationError
from openbss.core.periods import to_utc
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams
from openbss.ordering import inventory, orders, queries
from openbss.ordering import order_rules as rules
from openbss.ordering.errors import (
    QuoteAlreadyOrdered,
    QuoteExpired,
    QuoteFrozen,
    QuoteNotDeletable,
    QuoteNotOrderable,
)
from openbss.ordering.graph import GraphItem, Relation, plan
from openbss.ordering.models import QUOTE_STATES, ProductOrder, Quote, QuoteState
from openbss.ordering.order_events import render_order, z
from openbss.ordering.paths import QUOTE_API, QUOTE_PATH
from openbss.ordering.pricing import (
    NO_TAX,
    PriceCalculation,
    PricedItem,
    PriceSpec,
    Proration,
    TaxCalculator,
    price_items,
)
from openbss.ordering.schemas import ProductOrderCreate, QuoteCreate, QuoteOrderRequest

ITEM_FIELD = "quoteItem"
#: How long a quote is valid when the client gives no ``validFor.endDateTime``.
DEFAULT_VALIDITY = timedelta(days=30)
#: Attributes only the server sets (a ``PATCH`` naming one is a 422).
SERVER_ATTRIBUTES = frozenset({"id", "href", "quoteDate", "quoteTotalPrice",
                               "effectiveQuoteCompletionDate", "expectedQuoteCompletionDate",
                               "productOrder"})
#: What cannot change any more once the quote is ``approved``.
FROZEN = ("quoteItem", "billingAccount", "relatedParty", "validFor", "agreement")
#: States in which the items may still change.
OPEN = frozenset({QuoteState.IN_PROGRESS, QuoteState.PENDING})


def render_quote(ctx: Context, row: Quote) -> dict[str, Any]:
    return render(ctx.base_url, QUOTE_PATH, row.id, row.body)


# -- pricing -----------------------------------------------------------------------------

def _account(body: dict[str, Any]) -> str:
    accounts = body.get("billingAccount") or []
    if not accounts:
        raise ValidationError("billingAccount: a quote names the billing account it is "
                              "priced for (its currency)", field="billingAccount")
    return str(accounts[0]["id"])


def _item_prices(ctx: Context, index: int, item: dict[str, Any], *, account_id: str,
                 currency: str, customer: rules.Customer, at: datetime,
                 in_bundle: bool) -> PricedItem:
    """Check one item against the catalog and inventory; its pricing input."""
    where = f"{ITEM_FIELD}[{index}]"
    action = str(item["action"])
    product_doc = item.get("product") or {}
    quantity = item.get("quantity")
    product = None
    if action != "add":
        product_id = product_doc.get("id")
        if not product_id:
            if action == "noChange":
                return PricedItem(str(item["id"]), "noChange", (), int(quantity or 1))
            raise ValidationError(f"{where}.product.id: a {action} item names the product "
                                  "it changes", field=f"{where}.product.id")
        product = rules.existing_product(ctx, str(product_id), where=f"{where}.product.id",
                                         account_id=account_id)
        if quantity is None:
            quantity = int(product.body.get("quantity") or 1)
    if action == "noChange":
        return PricedItem(str(item["id"]), "noChange", (), int(quantity or 1))
    given = (item.get("productOffering") or {}).get("id")
    offering_field = f"{where}.productOffering.id"
    if action == "add" and not given:
        raise ValidationError(f"{offering_field}: an add item names the offering",
                              field=offering_field)
    current = product.offering_id if product is not None else None
    offering_id = str(given or current)
    if not given:
        offering_field = f"{where}.product.id"
    if action == "add" or (action == "modify" and offering_id != current):
        offering = rules.orderable_offering(ctx, offering_id, at=at, where=offering_field,
                                            in_bundle=in_bundle)
        rules.check_eligible(offering, customer, where=offering_field)
        chars = product_doc.get("productCharacteristic")
        if chars is not None:
            checked = rules.check_characteristics(
                rules.spec_characteristics(ctx, offering), chars, field=f"{where}.product",
                region=ctx.tenant.default_region, require=False)
            item["product"] = {**product_doc, "productCharacteristic": checked}
    prices: tuple[PriceSpec, ...] = rules.offering_prices(ctx, offering_id, currency, at=at,
                                                          where=offering_field)
    early = False
    if action == "delete" and product is not None:
        end = inventory.commitment_end(ctx, product_id=product.id)
        early = end is not None and end > at
    return PricedItem(str(item["id"]), action, prices,  # type: ignore[arg-type]
                      int(quantity or 1), early)


def price_quote(ctx: Context, body: dict[str, Any], *, tax: TaxCalculator = NO_TAX,
                proration: Proration | None = None) -> PriceCalculation:
    """Validate the quote's items and write their ``quoteItemPrice`` and the
    ``quoteTotalPrice`` into ``body``, from the catalog's prices in force at ``ctx.now``
    in the billing account's currency. ``tax`` and ``proration`` are billing's seams: a
    quote shows prices before tax (:data:`NO_TAX`) for full periods (no proration)."""
    items: list[dict[str, Any]] = [dict(i) for i in body["quoteItem"]]
    graph = plan([GraphItem(str(i["id"]), tuple(
        Relation(str(r["id"]), str(r["relationshipType"]))
        for r in i.get("quoteItemRelationship") or [])) for i in items],
        item_field=ITEM_FIELD, relationship_field="quoteItemRelationship")
    account_id = _account(body)
    currency = rules.account_currency(ctx, account_id, where="billingAccount[0].id")
    customer = rules.find_customer(ctx, body.get("relatedParty") or [], account_id)
    inputs = [_item_prices(ctx, index, item, account_id=account_id, currency=currency,
                           customer=customer, at=ctx.now,
                           in_bundle=str(item["id"]) in graph.bundle_of)
              for index, item in enumerate(items)]
    priced = price_items(inputs, tax=tax, proration=proration, item_field=ITEM_FIELD)
    by_id = {p.item_id: p.to_tmf() for p in priced.items}
    for item, given in zip(items, inputs, strict=True):
        item["quantity"] = given.quantity
        item["quoteItemPrice"] = by_id[given.id]
    body["quoteItem"] = items
    body["quoteTotalPrice"] = priced.totals_to_tmf()
    return priced


# -- validity and states -----------------------------------------------------------------

def _instant(value: Any, field: str) -> datetime | None:
    return to_utc(datetime.fromisoformat(value), field) if isinstance(value, str) else None


def _set_validity(ctx: Context, row: Quote, body: dict[str, Any]) -> None:
    period = dict(body.get("validFor") or {})
    start = _instant(period.get("startDateTime"), "validFor.startDateTime") or row.quote_date
    end = _instant(period.get("endDateTime"), "validFor.endDateTime") or \
        start + DEFAULT_VALIDITY
    if end <= start:
        raise ValidationError("validFor.endDateTime: must be after the start of validity",
                              field="validFor.endDateTime")
    body["validFor"] = {"startDateTime": z(start), "endDateTime": z(end)}
    row.valid_from, row.valid_to = start, end
    requested = body.get("requestedQuoteCompletionDate")
    body["expectedQuoteCompletionDate"] = requested if requested else z(end)


def _set_state(ctx: Context, row: Quote, body: dict[str, Any], requested: str) -> bool:
    """Move the quote to ``requested`` (True when the state changed)."""
    new = QUOTE_STATES.check(row.state, requested, resource_id=row.id)
    if new.value == row.state:
        return False
    if new == QuoteState.ACCEPTED and row.valid_to is not None and ctx.now >= row.valid_to:
        raise QuoteExpired(f"validFor.endDateTime: quote {row.id} expired at "
                           f"{z(row.valid_to)} (now {z(ctx.now)}); it can no longer be "
                           "accepted — quote again", field="validFor.endDateTime")
    row.state = new.value
    body["state"] = new.value
    body["quoteItem"] = [{**i, "state": new.value} for i in body["quoteItem"]]
    if QUOTE_STATES.is_final(new):
        body["effectiveQuoteCompletionDate"] = z(ctx.now)
    return True


def _notes(ctx: Context, body: dict[str, Any]) -> None:
    for note in body.get("note") or []:
        note.setdefault("date", z(ctx.now))
        note.setdefault("author", ctx.actor)


def _publish(ctx: Context, row: Quote, change: str, before: dict[str, Any] | None) -> None:
    row.last_update = ctx.now
    row.row_version += 1
    record_change(ctx, api=QUOTE_API, resource_name="quote", resource_id=row.id,
                  change=change,  # type: ignore[arg-type]
                  before=before, after=row.body, event_resource=render_quote(ctx, row))


# -- create, read, patch, delete ---------------------------------------------------------

def create_quote(ctx: Context, *, data: QuoteCreate) -> Quote:
    """A new quote in ``inProgress``, priced, valid for ``validFor`` (default 30 days from
    ``quoteDate`` = now)."""
    body = data.doc()
    state = body.pop("state", None)
    if state not in (None, QuoteState.IN_PROGRESS.value):
        raise ValidationError(f"state: a new quote is inProgress (got {state!r}); change it "
                              "with PATCH", field="state")
    for key in SERVER_ATTRIBUTES:
        body.pop(key, None)
    body["state"] = QuoteState.IN_PROGRESS.value
    body["quoteDate"] = z(ctx.now)
    _notes(ctx, body)
    price_quote(ctx, body)
    body["quoteItem"] = [{**i, "state": QuoteState.IN_PROGRESS.value}
                         for i in body["quoteItem"]]
    customer = next((r for r in body.get("relatedParty") or []
                     if rules.squash(r.get("role") or "") == "customer"), None)
    row = Quote(tenant_id=ctx.tenant_id, state=QuoteState.IN_PROGRESS.value,
                billing_account_id=_account(body),
                customer_id=str(customer["id"]) if customer else None,
                external_id=body.get("externalId"), quote_date=ctx.now,
                last_update=ctx.now, row_version=1, body=body)
    _set_validity(ctx, row, body)
    row.body = body
    ctx.session.add(row)
    ctx.session.flush()
    record_change(ctx, api=QUOTE_API, resource_name="quote", resource_id=row.id,
                  change="create", before=None, after=row.body,
                  event_resource=render_quote(ctx, row))
    return row


def get_quote(ctx: Context, *, quote_id: str) -> Quote:
    return queries.quote(ctx, quote_id)


def list_quotes(ctx: Context, *, params: ListParams) -> tuple[list[Quote], int]:
    return queries.list_quotes(ctx, params)


def _comparable(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if key == "quoteItem" and isinstance(value, list):
        return [{k: v for k, v in i.items() if k not in ("quoteItemPrice", "state")}
                for i in value]
    if key == "validFor" and isinstance(value, dict):
        return {k: _instant(v, f"validFor.{k}") for k, v in value.items()}
    return value


def update_quote(ctx: Context, *, quote_id: str, patch: Any) -> Quote:
    """Merge-patch a quote: items (priced again; only in ``inProgress`` / ``pending``),
    descriptive attributes, and ``state`` (through :data:`QUOTE_STATES`)."""
    if not isinstance(patch, dict):
        raise ValidationError("a merge-patch body must be a JSON object", field="body")
    row = queries.quote(ctx, quote_id, lock=True)
    before = row.body
    merged = patched(dict(row.body), patch, QuoteCreate, readonly=SERVER_ATTRIBUTES).doc()
    body = dict(row.body)
    for key in patch:  # only what the patch names changes (as merged and validated)
        if key == "state":
            continue
        if key in merged:
            body[key] = merged[key]
        else:
            body.pop(key, None)
    changed = [k for k in FROZEN if _comparable(body, k) != _comparable(row.body, k)]
    if changed and QuoteState(row.state) not in OPEN:
        raise QuoteFrozen(f"{changed[0]}: quote {row.id} is {row.state}; its items, billing "
                          "account, parties and validity are fixed from approved on — "
                          "quote again", field=changed[0])
    for key in FROZEN:  # unchanged (prices, states sent back): the server's values stay
        if key not in changed and key in row.body:
            body[key] = row.body[key]
    _notes(ctx, body)
    if any(k in changed for k in ("quoteItem", "billingAccount", "relatedParty")):
        price_quote(ctx, body)
        body["quoteItem"] = [{**i, "state": row.state} for i in body["quoteItem"]]
        row.billing_account_id = _account(body)
        customer = next((r for r in body.get("relatedParty") or []
                         if rules.squash(r.get("role") or "") == "customer"), None)
        row.customer_id = str(customer["id"]) if customer else None
    if "validFor" in changed or body.get("requestedQuoteCompletionDate") != \
            row.body.get("requestedQuoteCompletionDate"):
        _set_validity(ctx, row, body)
    row.external_id = body.get("externalId")
    attributes_changed = {k: v for k, v in body.items() if k != "state"} != \
        {k: v for k, v in row.body.items() if k != "state"}
    state_requested = patch.get("state")
    if attributes_changed:
        row.body = body
        _publish(ctx, row, "update", before)
    if state_requested is not None:
        body = dict(row.body)
        previous = row.body
        if _set_state(ctx, row, body, QUOTE_STATES.parse(state_requested).value):
            row.body = body
            _publish(ctx, row, "state", previous)
    return row


def delete_quote(ctx: Context, *, quote_id: str) -> None:
    """Remove a quote that was not ordered (409 ``quote_not_deletable`` otherwise)."""
    row = queries.quote(ctx, quote_id, lock=True)
    if row.product_order_id is not None:
        raise QuoteNotDeletable(f"quote {row.id} became productOrder {row.product_order_id}"
                                "; the order refers to it", field="productOrder")
    event = render_quote(ctx, row)
    before = row.body
    queries.delete_quote(ctx, row.id)
    record_change(ctx, api=QUOTE_API, resource_name="quote", resource_id=quote_id,
                  change="delete", before=before, after=None, event_resource=event)


# -- quote -> order ----------------------------------------------------------------------

def _order_item(quote: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item["id"], "action": item["action"],
                           "quoteItem": {"id": item["id"], "quoteId": quote["id"],
                                         "quoteHref": quote["href"],
                                         "@referredType": "QuoteItem"}}
    for key in ("quantity", "productOffering", "product"):
        if item.get(key) is not None:
            out[key] = item[key]
    relations = item.get("quoteItemRelationship")
    if relations:
        out["productOrderItemRelationship"] = [
            {"id": r["id"], "relationshipType": r["relationshipType"]} for r in relations]
    return out


def order_quote(ctx: Context, *, quote_id: str, request: QuoteOrderRequest | None = None
                ) -> ProductOrder:
    """The accepted quote as a product order (validated and accepted by
    :func:`orders.create_order`, in this transaction); the quote records it. 409
    ``quote_not_orderable`` unless accepted, ``quote_already_ordered`` the second time."""
    row = queries.quote(ctx, quote_id, lock=True)
    if row.product_order_id is not None:
        raise QuoteAlreadyOrdered(f"quote {row.id} was already ordered: productOrder "
                                  f"{row.product_order_id}", field="productOrder")
    if row.state != QuoteState.ACCEPTED:
        raise QuoteNotOrderable(f"state: quote {row.id} is {row.state}; only an accepted "
                                "quote can be ordered", field="state")
    quote = render_quote(ctx, row)
    order: dict[str, Any] = request.doc() if request is not None else {}
    order["billingAccount"] = {"id": _account(row.body)}
    for key in ("relatedParty", "agreement"):
        if row.body.get(key):
            order[key] = row.body[key]
    order["quote"] = [{"id": row.id, "href": quote["href"], "@referredType": "Quote"}]
    order["productOrderItem"] = [_order_item(quote, i) for i in row.body["quoteItem"]]
    created = orders.create_order(ctx, data=validated(ProductOrderCreate, order),
                                  quote_id=row.id)
    before = row.body
    row.product_order_id = created.id
    row.body = {**row.body, "productOrder": {"id": created.id,
                                             "href": render_order(ctx, created)["href"],
                                             "@referredType": "ProductOrder"}}
    _publish(ctx, row, "update", before)
    return created
