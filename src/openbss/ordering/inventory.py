"""Use cases of the product inventory (TMF637): products, their history and identifiers,
and what was in force for a billing account or an identifier during a period.

Products are normally created and changed by completed product orders (which pass
``order_id``/``order_item_id``); ``POST product`` creates one directly (bringing existing
subscriptions over from another system). Every change is kept in the product's history in
business time (``ctx.now``, or the effective date the caller gives), with the order item
and the actor, next to the audit row and the TMF637 event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import phonenumbers
from sqlalchemy.orm import Session

from openbss.catalog import pricing as catalog_pricing
from openbss.core.context import Context, system_context
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.money import Money
from openbss.core.periods import (
    Alignment,
    BillingCycle,
    Frequency,
    Period,
    add_months,
    cycle_for_subscription,
    period_containing,
    to_utc,
)
from openbss.core.resources import patched, record_change, render
from openbss.core.service import list_tenants
from openbss.core.tmf import ListParams
from openbss.ordering import queries, references
from openbss.ordering.errors import (
    ChangeNeedsOrder,
    IdentifierInUse,
    InvalidReference,
    ProductNotDeletable,
    ProductTerminated,
)
from openbss.ordering.intervals import (
    ChangeKind,
    EffectiveInterval,
    ProductChange,
    intervals_by_product,
)
from openbss.ordering.models import (
    DELETABLE,
    HOLDING,
    PRODUCT_STATES,
    ChargeKind,
    Product,
    ProductCharge,
    ProductHistory,
    ProductIdentifier,
    ProductStatus,
)
from openbss.ordering.paths import INVENTORY_API, PRODUCT_PATH
from openbss.ordering.pricing import ChargePeriod, PriceSpec, prices_from_catalog
from openbss.ordering.references import check_billing_account, check_offering
from openbss.ordering.schemas import Product as ProductIn

READONLY = frozenset({"id", "href"})
#: Characteristic names that identify a product to the network and to usage (matched
#: case-insensitively, ignoring spaces, ``-`` and ``_``), by their canonical name.
IDENTIFIERS: dict[str, str] = {
    "msisdn": "msisdn", "imsi": "imsi", "iccid": "iccid", "imei": "imei",
    "username": "username", "apikey": "apiKey", "ipaddress": "ipAddress",
    "sipuri": "sipUri", "circuitid": "circuitId", "accountnumber": "accountNumber",
}
_FINAL = frozenset({ProductStatus.TERMINATED, ProductStatus.CANCELLED, ProductStatus.ABORTED})
_LIVE = frozenset({ProductStatus.ACTIVE, ProductStatus.SUSPENDED,
                   ProductStatus.PENDING_TERMINATE})


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def _normalize_identifier(ctx: Context, name: str, value: Any, field: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError(f"{field}: an identifier needs a value", field=field)
    if name != "msisdn":
        return text
    try:
        number = phonenumbers.parse(text, ctx.tenant.default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{field}: {text!r} is not a valid phone number (E.164, e.g. "
                              "+4915112345678, or national in the tenant's region "
                              f"{ctx.tenant.default_region})", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _spellings(ctx: Context, value: str) -> list[str]:
    """An identifier as given and, when it reads as a phone number, in E.164. A leading
    space followed by digits is a ``+`` that an unencoded query string turned into one."""
    if value[:1] == " " and value.strip().isdigit():
        value = "+" + value.strip()
    spellings = [value]
    try:
        e164 = _normalize_identifier(ctx, "msisdn", value, "identifier")
    except ValidationError:
        return spellings
    return spellings if e164 == value else [*spellings, e164]


def _identifiers(ctx: Context, body: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``{(canonical name, normalised value): characteristic name}``; MSISDNs become E.164
    in the stored body too."""
    found: dict[tuple[str, str], str] = {}
    for char in body.get("productCharacteristic") or []:
        canonical = IDENTIFIERS.get(_squash(char["name"]))
        if canonical is None:
            continue
        field = f"productCharacteristic[{char['name']}]"
        value = _normalize_identifier(ctx, canonical, char["value"], field)
        char["value"] = value
        found[(canonical, value)] = char["name"]
    return found


def _claim(ctx: Context, product_id: str, wanted: dict[tuple[str, str], str],
           at: datetime) -> None:
    """Hold exactly ``wanted`` from ``at``: release the others, claim the new ones."""
    held = {(c.name, c.value): c for c in queries.open_claims(ctx, product_id)}
    queries.close_claims(ctx, [c.id for key, c in held.items() if key not in wanted], at)
    for key, char_name in wanted.items():
        if key in held:
            continue
        holder = queries.open_holder(ctx, *key)
        if holder is not None:
            raise IdentifierInUse(
                f"productCharacteristic[{char_name}]: {key[1]} is "
                f"{held_by(ctx, holder.product_id)}",
                field=f"productCharacteristic[{char_name}]")
        ctx.session.add(ProductIdentifier(tenant_id=ctx.tenant_id, name=key[0], value=key[1],
                                          product_id=product_id, valid_from=at))


def held_by(ctx: Context, holder_id: str) -> str:
    """Who holds an identifier, for a 409: a product, or an open order that reserved it
    (an order's add items reserve their identifiers until their products take them)."""
    if queries.find_order(ctx, holder_id) is not None:
        return (f"reserved by open productOrder {holder_id}; wait for it to finish or "
                "cancel it")
    return f"held by product {holder_id}; terminate that product first"


def _quantity(body: dict[str, Any]) -> int:
    return int(body.get("quantity") or 1)


def _history(ctx: Context, row: Product, change: str, *, at: datetime,
             before: dict[str, Any] | None, after: dict[str, Any] | None,
             order_id: str | None, order_item_id: str | None) -> None:
    ctx.session.add(ProductHistory(
        tenant_id=ctx.tenant_id, product_id=row.id, seq=queries.next_history_seq(ctx, row.id),
        at=at, change=change, status=row.status, before=before, after=after,
        order_id=order_id, order_item_id=order_item_id, actor=ctx.actor))


def render_product(ctx: Context, row: Product) -> dict[str, Any]:
    return render(ctx.base_url, PRODUCT_PATH, row.id, row.body)


def get_product(ctx: Context, *, product_id: str) -> Product:
    return queries.product(ctx, product_id)


def list_products(ctx: Context, *, params: ListParams) -> tuple[list[Product], int]:
    """A page of products; ``productCharacteristic.value`` finds the holders (present or
    past) of an identifier, an MSISDN in any spelling the tenant's region reads."""
    values: list[str] = []
    rest = []
    for name, op, raw in params.filters:
        if name != queries.CHARACTERISTIC_VALUE:
            rest.append((name, op, raw))
            continue
        if op != "eq":
            raise ValidationError(f"{name}: only equality filters", field=name)
        for value in raw:
            values.extend(_spellings(ctx, str(value)))
    if values or len(rest) != len(params.filters):
        params = ListParams(params.offset, params.limit, params.fields, params.sort,
                            tuple(rest))
        if not values:
            return [], 0
    return queries.list_products(ctx, params, values)


def _effective(body: dict[str, Any], key: str, default: datetime) -> datetime:
    value = body.get(key)
    return to_utc(datetime.fromisoformat(value), key) if isinstance(value, str) else default


def create_product(ctx: Context, *, data: ProductIn, order_id: str | None = None,
                   order_item_id: str | None = None) -> Product:
    """A product of a billing account, from a completed order item or imported as is."""
    body = data.doc()
    status = ProductStatus(body["status"])
    if status in _FINAL:
        raise ValidationError(f"status: a new product cannot start {status.value!r}",
                              field="status")
    account_id = (body.get("billingAccount") or {}).get("id")
    currency = None
    if account_id:
        currency = check_billing_account(ctx, account_id, field="billingAccount.id")
    offering = body.get("productOffering") or {}
    offering_version = None
    if offering.get("id"):
        offering_version = check_offering(ctx, offering["id"], field="productOffering.id")
    if status in _LIVE and not body.get("startDate"):
        body["startDate"] = ctx.now.isoformat().replace("+00:00", "Z")
    started = _effective(body, "startDate", ctx.now)
    if "productPrice" not in body and offering.get("id") and currency:
        body["productPrice"] = prices_in_force(ctx, offering_id=offering["id"],
                                               currency=currency, at=started)
    if status in _LIVE and not body.get("productTerm"):
        _with_commitment(ctx, body, started, keep_longer=False)
    wanted = _identifiers(ctx, body) if status in HOLDING else {}  # MSISDNs to E.164
    row = Product(
        tenant_id=ctx.tenant_id, name=body.get("name"), status=status.value,
        billing_account_id=account_id, offering_id=offering.get("id"),
        offering_version=offering_version,
        start_date=started if body.get("startDate") else None,
        termination_date=None, last_update=ctx.now, body=body)
    ctx.session.add(row)
    ctx.session.flush()
    if order_id is not None:  # the order's reservation passes to its product
        queries.release_reservations(ctx, order_id, wanted)
    # a product not yet live reserves its identifiers from now
    _claim(ctx, row.id, wanted, started if status in _LIVE else ctx.now)
    kind = ChangeKind.STARTED.value if status in _LIVE else "created"
    _history(ctx, row, kind, at=started if status in _LIVE else ctx.now, before=None,
             after={"status": status.value, "priceVersion": row.offering_id,
                    "quantity": _quantity(body)},
             order_id=order_id, order_item_id=order_item_id)
    if status == ProductStatus.SUSPENDED:
        _history(ctx, row, ChangeKind.SUSPENDED.value, at=started, before=None,
                 after={"status": status.value}, order_id=order_id,
                 order_item_id=order_item_id)
    record_change(ctx, api=INVENTORY_API, resource_name="product", resource_id=row.id,
                  change="create", before=None, after=body,
                  event_resource=render_product(ctx, row))
    return row


def update_product(ctx: Context, *, product_id: str, patch: Any,
                   order_id: str | None = None, order_item_id: str | None = None,
                   effective: datetime | None = None) -> Product:
    """Merge-patch a product: status (suspend, resume, terminate …) through the product
    state machine, characteristics (identifiers re-claimed), names and dates. Another
    offering or billing account needs a product order (409 ``change_needs_order``)."""
    row = queries.product(ctx, product_id, lock=True)
    current = dict(row.body)
    old = ProductStatus(row.status)
    if old in _FINAL:
        raise ProductTerminated(f"product {row.id} is {old.value} and cannot change",
                                field="status")
    body = patched(current, patch, ProductIn, readonly=READONLY).doc()
    for key, label in (("productOffering", "a plan change (another productOffering)"),
                       ("billingAccount", "moving a product to another billingAccount")):
        if (body.get(key) or {}).get("id") != (current.get(key) or {}).get("id") \
                and order_id is None:
            raise ChangeNeedsOrder(
                f"{key}.id: {label} goes through a productOrder with a 'modify' item",
                field=f"{key}.id")
    new = PRODUCT_STATES.check(old, body["status"], resource_id=row.id)
    at = to_utc(effective, "effective") if effective else ctx.now
    if at > ctx.now:  # the future is never written into the present
        raise ValidationError(f"effective: {at.isoformat()} is after now ({ctx.now.isoformat()}"
                              "); a change that applies later waits until then",
                              field="effective")
    if new == ProductStatus.TERMINATED:
        body.setdefault("terminationDate", at.isoformat().replace("+00:00", "Z"))
        at = _effective(body, "terminationDate", at)
        if at > ctx.now:
            raise ValidationError("terminationDate: a termination in the future is status "
                                  "'pendingTerminate' with that terminationDate",
                                  field="terminationDate")
    if new in _LIVE and old not in _LIVE and not body.get("startDate"):
        body["startDate"] = at.isoformat().replace("+00:00", "Z")
    if new in _LIVE and old not in _LIVE and not body.get("productTerm"):
        _with_commitment(ctx, body, _effective(body, "startDate", at), keep_longer=False)
    elif (body.get("productOffering") or {}).get("id") != row.offering_id \
            and (patch or {}).get("productTerm") is None:
        _with_commitment(ctx, body, at, keep_longer=True)  # a plan change: new commitment
    wanted = _identifiers(ctx, body) if new in HOLDING else {}
    if body == current and new == old:
        return row
    _claim(ctx, row.id, wanted, at)
    before = row.body
    row.body = body
    row.status = new.value
    row.name = body.get("name")
    row.offering_id = (body.get("productOffering") or {}).get("id")
    row.billing_account_id = (body.get("billingAccount") or {}).get("id")
    if body.get("startDate"):
        row.start_date = _effective(body, "startDate", at)
    if body.get("terminationDate") and new == ProductStatus.TERMINATED:
        row.termination_date = at
    elif new == ProductStatus.PENDING_TERMINATE:  # run_due_terminations reads the column
        row.termination_date = (_effective(body, "terminationDate", at)
                                if body.get("terminationDate") else None)
    elif new != old and old == ProductStatus.PENDING_TERMINATE:
        row.termination_date = None
    row.last_update = ctx.now
    row.row_version += 1
    for change, extra in _changes(old, new, before, body):
        _history(ctx, row, change, at=at, before=extra[0], after=extra[1],
                 order_id=order_id, order_item_id=order_item_id)
    record_change(ctx, api=INVENTORY_API, resource_name="product", resource_id=row.id,
                  change="state" if new != old else "update", before=before, after=body,
                  event_resource=render_product(ctx, row))
    return row


def _changes(old: ProductStatus, new: ProductStatus, before: dict[str, Any],
             after: dict[str, Any]) -> list[tuple[str, tuple[Any, Any]]]:
    """The history entries of one change, in the vocabulary of ordering.intervals."""
    changes: list[tuple[str, tuple[Any, Any]]] = []
    old_offering = (before.get("productOffering") or {}).get("id")
    new_offering = (after.get("productOffering") or {}).get("id")
    if old_offering != new_offering:
        changes.append((ChangeKind.PLAN_CHANGED.value, ({"priceVersion": old_offering},
                                                        {"priceVersion": new_offering})))
    if _quantity(before) != _quantity(after):
        changes.append((ChangeKind.QUANTITY_CHANGED.value, ({"quantity": _quantity(before)},
                                                            {"quantity": _quantity(after)})))
    if new != old:
        status = ({"status": old.value}, {"status": new.value})
        if new in _LIVE and old not in _LIVE:
            changes.append((ChangeKind.STARTED.value,
                            (status[0], {**status[1], "priceVersion": new_offering,
                                         "quantity": _quantity(after)})))
        elif new == ProductStatus.SUSPENDED:
            changes.append((ChangeKind.SUSPENDED.value, status))
        elif old == ProductStatus.SUSPENDED and new in _LIVE:
            changes.append((ChangeKind.RESUMED.value, status))
        elif new == ProductStatus.TERMINATED:
            changes.append((ChangeKind.TERMINATED.value, status))
        else:
            changes.append(("statusChanged", status))
    others = {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - {
        "status", "productOffering", "quantity", "startDate", "terminationDate"}
    if others:
        changes.append(("updated", ({k: before.get(k) for k in sorted(others)},
                                    {k: after.get(k) for k in sorted(others)})))
    return changes


def delete_product(ctx: Context, *, product_id: str) -> None:
    row = queries.product(ctx, product_id, lock=True)
    if ProductStatus(row.status) not in DELETABLE:
        raise ProductNotDeletable(
            f"product {row.id} is {row.status}: only a product that never went live "
            "(created, cancelled, aborted) can be deleted; terminate it instead",
            field="status")
    before = row.body
    event = render_product(ctx, row)
    queries.delete_product(ctx, row.id)
    record_change(ctx, api=INVENTORY_API, resource_name="product", resource_id=product_id,
                  change="delete", before=before, after=None, event_resource=event)


def product_history(ctx: Context, *, product_id: str) -> list[dict[str, Any]]:
    queries.product(ctx, product_id)
    return [{"seq": h.seq, "at": h.at.isoformat().replace("+00:00", "Z"),
             "change": h.change, "status": h.status, "before": h.before, "after": h.after,
             "productOrder": ({"id": h.order_id, "orderItemId": h.order_item_id}
                              if h.order_id else None),
             "actor": h.actor} for h in queries.history(ctx, [product_id])]


# -- what was in force ---------------------------------------------------------------------

@dataclass(frozen=True)
class InForce:
    """A product's effective intervals inside a period (see ordering.intervals)."""

    product_id: str
    billing_account_id: str | None
    intervals: tuple[EffectiveInterval, ...]


def _changes_of(rows: Sequence[ProductHistory]) -> list[ProductChange]:
    kinds = {k.value for k in ChangeKind}
    changes = []
    for h in rows:
        if h.change not in kinds:
            continue
        after = h.after or {}
        changes.append(ProductChange(at=h.at, kind=ChangeKind(h.change),
                                     price_version=after.get("priceVersion"),
                                     quantity=after.get("quantity")))
    return changes


def in_force(ctx: Context, *, start: datetime, end: datetime,
             billing_account_id: str | None = None, identifier: str | None = None,
             include_suspended: bool = True) -> list[InForce]:
    """Which products, with which price versions (offering ids) and quantities, were in
    force for a billing account or for an identifier during ``[start, end)``: exact
    half-open intervals in business time (UTC). For an identifier, each product's
    intervals are cut to the time it held the identifier."""
    if (billing_account_id is None) == (identifier is None):
        raise ValidationError("give a billingAccount or an identifier", field="billingAccount")
    claims: dict[str, list[ProductIdentifier]] = {}
    if identifier is not None:
        for value in _spellings(ctx, identifier):
            for claim in queries.holders_during(ctx, value, start, end):
                claims.setdefault(claim.product_id, []).append(claim)
        products = queries.products_by_id(ctx, claims)
    else:
        products = queries.products_of_account(ctx, billing_account_id or "")
    by_id = {p.id: p for p in products}
    histories: dict[str, list[ProductHistory]] = {}
    for h in queries.history(ctx, by_id):
        histories.setdefault(h.product_id, []).append(h)
    found = intervals_by_product({pid: _changes_of(rows) for pid, rows in histories.items()},
                                 start, end, include_suspended=include_suspended)
    result = []
    for pid, intervals in sorted(found.items()):
        if pid in claims:
            intervals = _held(intervals, claims[pid])
        if intervals:
            result.append(InForce(pid, by_id[pid].billing_account_id, tuple(intervals)))
    return result


def _held(intervals: Sequence[EffectiveInterval],
          claims: Sequence[ProductIdentifier]) -> list[EffectiveInterval]:
    cut: list[EffectiveInterval] = []
    for interval in intervals:
        for claim in claims:
            lo = max(interval.start, claim.valid_from)
            hi = min(interval.end, claim.valid_to) if claim.valid_to else interval.end
            if lo < hi:
                cut.append(replace(interval, start=lo, end=hi))
    return sorted(cut, key=lambda i: i.start)


# -- plan changes, terminations, commitments -----------------------------------------------
# What the product order orchestration asks before it changes a product: when a plan change
# or a termination takes effect, what the product's commitment is, and the fee of leaving
# it early (recorded as a ProductCharge for billing).

class PlanChangePolicy(StrEnum):
    """The catalog's ``planChangePolicy`` of an offering (the offering changed *to*);
    without one, an upgrade is immediate and a downgrade waits for the period end."""

    IMMEDIATE = "immediate"
    END_OF_PERIOD = "endOfPeriod"


#: A productOfferingTerm attribute: ``terminationPolicy: endOfPeriod`` ends a terminated
#: product at the end of its billing period (default ``immediate``).
TERMINATION_POLICY = "terminationPolicy"
#: A productOfferingTerm attribute: the fee (TMF Money ``{unit, value}``) of leaving the
#: term early, used when the offering has no ``penalty`` productOfferingPrice.
TERM_FEE = "earlyTerminationFee"
_MONTHLY_FACTOR = {"month": Decimal(1), "year": Decimal(1) / 12,
                   "week": Decimal(52) / 12, "day": Decimal(365) / 12}
_TERM_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week",
               "month": "month", "months": "month", "year": "year", "years": "year"}


def _z(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def billing_cycle(ctx: Context, *, product_id: str) -> BillingCycle:
    """The bill cycle of the product's billing account (``billStructure.
    cycleSpecification``: frequency, anchorDay, alignment, timeZone); ``anniversary`` is
    anchored on the product's start. Without an account or a cycle specification: monthly
    on the anniversary of the product's start (UTC)."""
    row = queries.product(ctx, product_id)
    start = row.start_date or ctx.now
    spec = None
    if row.billing_account_id:
        try:
            spec = references.account_cycle(ctx, row.billing_account_id)[1]
        except NotFoundError:
            spec = None
    if not spec:
        return cycle_for_subscription(Frequency.MONTHLY, start, Alignment.ANNIVERSARY, "UTC")
    frequency = Frequency(spec.get("frequency") or "monthly")
    tz = spec.get("timeZone") or "UTC"
    if (spec.get("alignment") or "calendar") == Alignment.ANNIVERSARY:
        return cycle_for_subscription(frequency, start, Alignment.ANNIVERSARY, tz)
    return BillingCycle(frequency, spec.get("anchorDay") or 1, Alignment.CALENDAR, tz)


def billing_period(ctx: Context, *, product_id: str, at: datetime | None = None) -> Period:
    """The product's billing period containing ``at`` (default now)."""
    cycle = billing_cycle(ctx, product_id=product_id)
    return period_containing(cycle, to_utc(at, "at") if at else ctx.now)


def _account_currency(ctx: Context, row: Product) -> str | None:
    """The currency of the product's billing account (None without one)."""
    if not row.billing_account_id:
        return None
    try:
        return references.account_cycle(ctx, row.billing_account_id)[0]
    except NotFoundError:
        return None


def _monthly_recurring(ctx: Context, offering_id: str | None, currency: str,
                       quantity: int) -> Decimal:
    """The offering's recurring list price per month in ``currency`` (0 without one)."""
    if not offering_id:
        return Decimal(0)
    total = Decimal(0)
    pops = references.offering_prices(ctx, offering_id, currency=currency, at=ctx.now)
    for spec in prices_from_catalog(pops):
        if spec.price_type != "recurring" or spec.currency != currency:
            continue
        if spec.unit_price is not None:
            amount = spec.unit_price.amount * quantity
        else:
            assert spec.charge_model is not None
            amount = catalog_pricing.price(spec.charge_model, quantity).amount
        period = spec.period or ChargePeriod()
        total += amount * _MONTHLY_FACTOR[period.type] / period.length
    return total


def plan_change_effective(ctx: Context, *, product_id: str, offering_id: str) -> datetime:
    """When a plan change of the product to ``offering_id`` takes effect: the new
    offering's ``planChangePolicy`` if it has one; otherwise an upgrade (a new recurring
    price per month, in the account's currency, at least the current one) now
    (``ctx.now``) and a downgrade at the end of the product's current billing period."""
    row = queries.product(ctx, product_id)
    offering = references.offering_document(ctx, offering_id)
    if offering is None:
        raise InvalidReference(f"productOffering.id: no productOffering {offering_id!r}",
                               field="productOffering.id")
    policy = offering.get("planChangePolicy")
    if policy == PlanChangePolicy.IMMEDIATE or row.offering_id == offering_id:
        return ctx.now
    if policy == PlanChangePolicy.END_OF_PERIOD:
        return billing_period(ctx, product_id=product_id).end
    currency = _account_currency(ctx, row)
    if currency is None:
        return ctx.now
    quantity = _quantity(row.body)
    old = _monthly_recurring(ctx, row.offering_id, currency, quantity)
    new = _monthly_recurring(ctx, offering_id, currency, quantity)
    return ctx.now if new >= old else billing_period(ctx, product_id=product_id).end


def _amounts(spec: PriceSpec, amount: Money) -> dict[str, Any]:
    key = "taxIncludedAmount" if spec.tax_included else "dutyFreeAmount"
    return {key: {"unit": amount.currency, "value": amount.amount}}


def prices_in_force(ctx: Context, *, offering_id: str, currency: str,
                    at: datetime) -> list[dict[str, Any]]:
    """TMF637 ``productPrice`` entries of the offering's catalog prices in ``currency`` at
    ``at`` (unit prices; one-time, recurring, usage and penalty), each naming its
    productOfferingPrice, with its discounts as ``productPriceAlteration``. A product
    created without ``productPrice`` gets these."""
    out = []
    for spec in prices_from_catalog(references.offering_prices(
            ctx, offering_id, currency=currency, at=at)):
        entry: dict[str, Any] = {"name": spec.name, "priceType": spec.price_type,
                                 "productOfferingPrice": {"id": spec.id, "name": spec.name}}
        if spec.recurring_charge_period:
            entry["recurringChargePeriod"] = spec.recurring_charge_period
        if spec.unit_of_measure:
            entry["unitOfMeasure"] = spec.unit_of_measure
        entry["price"] = _amounts(spec, spec.unit_price) if spec.unit_price else {}
        alterations = []
        for alt in spec.alterations:
            change: dict[str, Any] = ({"percentage": alt.percentage}
                                      if alt.percentage is not None else
                                      _amounts(spec, alt.amount) if alt.amount else {})
            alteration: dict[str, Any] = {"name": alt.name, "priceType": "discount",
                                          "price": change,
                                          "productOfferingPrice": {"id": alt.id}}
            if alt.application_duration is not None:
                alteration["applicationDuration"] = alt.application_duration
            if alt.priority is not None:
                alteration["priority"] = alt.priority
            alterations.append(alteration)
        if alterations:
            entry["productPriceAlteration"] = alterations
        out.append(entry)
    return out


def _offering_terms(ctx: Context, offering_id: str | None) -> list[dict[str, Any]]:
    offering = references.offering_document(ctx, offering_id) if offering_id else None
    return [t for t in (offering or {}).get("productOfferingTerm") or [] if isinstance(t, dict)]


def termination_effective(ctx: Context, *, product_id: str,
                          requested: datetime | None) -> datetime:
    """When a termination of the product takes effect: the ``requested`` date when the
    order asks for one (never before now), else now, unless a productOfferingTerm of the
    product's offering says ``terminationPolicy: endOfPeriod`` (then the end of the
    current billing period)."""
    row = queries.product(ctx, product_id)
    if requested is not None:
        return max(to_utc(requested, "requestedCompletionDate"), ctx.now)
    if any(t.get(TERMINATION_POLICY) == PlanChangePolicy.END_OF_PERIOD
           for t in _offering_terms(ctx, row.offering_id)):
        return billing_period(ctx, product_id=product_id).end
    return ctx.now


def _term_end(start: datetime, duration: Any) -> datetime | None:
    """``start`` plus a TMF Quantity duration (days, weeks, months, years); None when the
    duration is not a whole number of known units."""
    if not isinstance(duration, dict):
        return None
    unit = _TERM_UNITS.get(str(duration.get("units") or "").strip().lower())
    try:
        amount = Decimal(str(duration.get("amount")))
    except ArithmeticError:
        return None
    if unit is None or not amount.is_finite() or amount != amount.to_integral_value() \
            or not 0 < amount <= 1200:
        return None
    n = int(amount)
    if unit == "day":
        return start + timedelta(days=n)
    if unit == "week":
        return start + timedelta(weeks=n)
    return add_months(start, n * (12 if unit == "year" else 1))


def commitment_terms(ctx: Context, offering_id: str | None,
                     start: datetime) -> list[dict[str, Any]]:
    """TMF637 ``productTerm`` entries for a product of ``offering_id`` starting at
    ``start``: each productOfferingTerm with a duration, with ``validFor`` from the start
    to the end of the commitment."""
    terms = []
    for term in _offering_terms(ctx, offering_id):
        end = _term_end(start, term.get("duration"))
        if end is None:
            continue
        entry: dict[str, Any] = {"name": term.get("name") or "commitment",
                                 "duration": term["duration"],
                                 "validFor": {"startDateTime": _z(start),
                                              "endDateTime": _z(end)}}
        if term.get("description"):
            entry["description"] = term["description"]
        terms.append(entry)
    return terms


def commitment_end(ctx: Context, *, product_id: str) -> datetime | None:
    """The end of the product's commitment (the latest ``productTerm.validFor.
    endDateTime``), None without one."""
    row = queries.product(ctx, product_id)
    return _commitment_end(row.body)


def _commitment_end(body: dict[str, Any]) -> datetime | None:
    ends = []
    for term in body.get("productTerm") or []:
        end = ((term or {}).get("validFor") or {}).get("endDateTime")
        if isinstance(end, str):
            ends.append(to_utc(datetime.fromisoformat(end), "productTerm.validFor"))
        elif isinstance(end, datetime):
            ends.append(to_utc(end, "productTerm.validFor"))
    return max(ends) if ends else None


def _with_commitment(ctx: Context, body: dict[str, Any], start: datetime,
                     keep_longer: bool) -> None:
    """Give ``body`` the commitment of its offering from ``start`` (a plan change keeps the
    old commitment when it ends later)."""
    offering_id = (body.get("productOffering") or {}).get("id")
    terms = commitment_terms(ctx, offering_id, start)
    if not terms:
        return
    old_end = _commitment_end(body) if keep_longer else None
    new_end = _commitment_end({"productTerm": terms})
    if old_end is not None and new_end is not None and old_end >= new_end:
        return
    body["productTerm"] = terms


def early_termination_fee(ctx: Context, *, product_id: str,
                          at: datetime) -> tuple[Money, str | None, str] | None:
    """The fee of terminating the product at ``at`` (amount, the catalog price id, a
    description), None when its commitment is over at ``at`` or its offering has no fee.
    The fee is the offering's ``penalty`` productOfferingPrices in the account's currency
    times the product's quantity, or else the term's ``earlyTerminationFee``."""
    row = queries.product(ctx, product_id)
    at = to_utc(at, "at")
    end = _commitment_end(row.body)
    currency = _account_currency(ctx, row)
    if end is None or at >= end or currency is None:
        return None
    quantity = _quantity(row.body)
    pops = references.offering_prices(ctx, row.offering_id, currency=currency, at=at) \
        if row.offering_id else []
    penalties = [s for s in prices_from_catalog(pops)
                 if s.price_type == "penalty" and s.currency == currency]
    if penalties:
        total = Money.zero(currency)
        for spec in penalties:
            if spec.unit_price is not None:
                total += Money(spec.unit_price.amount * quantity, currency)
            else:
                assert spec.charge_model is not None
                total += Money(catalog_pricing.price(spec.charge_model, quantity).amount,
                               currency)
        names = ", ".join(s.name for s in penalties)
        return (total.rounded(), penalties[0].id if len(penalties) == 1 else None,
                f"early termination before {_z(end)}: {names}")
    for term in _offering_terms(ctx, row.offering_id):
        fee = term.get(TERM_FEE)
        if isinstance(fee, dict) and fee.get("unit") == currency \
                and fee.get("value") is not None:
            try:
                amount = Money(Decimal(str(fee["value"])), currency)
            except (ArithmeticError, ValidationError):
                continue
            if amount.is_positive():
                return (amount.rounded(), None,
                        f"early termination before {_z(end)}: {term.get('name') or 'term'}")
    return None


def record_early_termination(ctx: Context, *, product_id: str, at: datetime,
                             order_id: str | None,
                             order_item_id: str | None) -> ProductCharge | None:
    """Record the early-termination fee of terminating the product at ``at`` as a one-time
    :class:`ProductCharge` for billing (None when the commitment is over at ``at`` or there
    is no fee). Idempotent per order item: a retried step returns the charge it recorded."""
    row = queries.product(ctx, product_id, lock=True)
    kind = ChargeKind.EARLY_TERMINATION_FEE.value
    existing = queries.charge_for(ctx, row.id, kind, order_id, order_item_id)
    if existing is not None:
        return existing
    fee = early_termination_fee(ctx, product_id=row.id, at=at)
    if fee is None:
        return None
    amount, price_id, description = fee
    charge = ProductCharge(
        tenant_id=ctx.tenant_id, product_id=row.id, billing_account_id=row.billing_account_id,
        kind=kind, amount=amount.amount, currency=amount.currency, at=to_utc(at, "at"),
        order_id=order_id, order_item_id=order_item_id, price_id=price_id,
        description=description, billed=False)
    ctx.session.add(charge)
    ctx.session.flush()
    _history(ctx, row, "chargeRecorded", at=to_utc(at, "at"), before=None,
             after={"charge": {"id": charge.id, "kind": kind,
                               "amount": {"unit": amount.currency, "value": amount.amount}}},
             order_id=order_id, order_item_id=order_item_id)
    return charge


def render_charge(charge: ProductCharge) -> dict[str, Any]:
    return {"id": charge.id, "kind": charge.kind,
            "amount": {"unit": charge.currency, "value": charge.amount},
            "at": _z(charge.at), "billingAccount": (
                {"id": charge.billing_account_id} if charge.billing_account_id else None),
            "productOfferingPrice": {"id": charge.price_id} if charge.price_id else None,
            "productOrder": ({"id": charge.order_id, "orderItemId": charge.order_item_id}
                             if charge.order_id else None),
            "description": charge.description, "billed": charge.billed}


def product_charges(ctx: Context, *, product_id: str) -> list[ProductCharge]:
    """The product's one-time charges, oldest first (404 for another tenant's product)."""
    queries.product(ctx, product_id)
    return queries.charges_of(ctx, product_id)


def terminate_due(ctx: Context, *, limit: int = 100) -> int:
    """Terminate this tenant's ``pendingTerminate`` products whose terminationDate has
    come (by the tenant's business clock), effective at that date; the count."""
    done = 0
    for product_id in queries.due_terminations(ctx, ctx.now, limit):
        row = queries.product(ctx, product_id, lock=True)
        if row.status != ProductStatus.PENDING_TERMINATE or row.termination_date is None \
                or row.termination_date > ctx.now:
            continue  # another worker got there first
        update_product(ctx, product_id=row.id, patch={"status": "terminated"},
                       effective=row.termination_date)
        done += 1
    return done


def run_due_terminations(session: Session, *, limit: int = 100) -> int:
    """Worker pass: :func:`terminate_due` for every tenant, in ``session`` (the caller
    commits); the number of products terminated."""
    done = 0
    for tenant in list_tenants(session):
        done += terminate_due(system_context(session, tenant, actor="worker"), limit=limit)
    return done


def terminations_pass(limit: int = 100) -> int:
    """:func:`run_due_terminations` in its own transaction: the function to register with
    the worker loop (``register_periodic("ordering.terminations", terminations_pass)``)."""
    from openbss.core.db import unit_of_work

    with unit_of_work() as session:
        return run_due_terminations(session, limit=limit)
