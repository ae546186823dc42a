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
from datetime import datetime
from typing import Any

import phonenumbers

from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.periods import to_utc
from openbss.core.resources import patched, record_change, render
from openbss.core.tmf import ListParams
from openbss.ordering import queries
from openbss.ordering.errors import (
    ChangeNeedsOrder,
    IdentifierInUse,
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
    Product,
    ProductHistory,
    ProductIdentifier,
    ProductStatus,
)
from openbss.ordering.paths import INVENTORY_API, PRODUCT_PATH
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
                f"productCharacteristic[{char_name}]: {key[1]} is held by product "
                f"{holder.product_id}; terminate that product first",
                field=f"productCharacteristic[{char_name}]")
        ctx.session.add(ProductIdentifier(tenant_id=ctx.tenant_id, name=key[0], value=key[1],
                                          product_id=product_id, valid_from=at))


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
    if account_id:
        check_billing_account(ctx, account_id, field="billingAccount.id")
    offering = body.get("productOffering") or {}
    offering_version = None
    if offering.get("id"):
        offering_version = check_offering(ctx, offering["id"], field="productOffering.id")
    if status in _LIVE and not body.get("startDate"):
        body["startDate"] = ctx.now.isoformat().replace("+00:00", "Z")
    started = _effective(body, "startDate", ctx.now)
    wanted = _identifiers(ctx, body) if status in HOLDING else {}  # MSISDNs to E.164
    row = Product(
        tenant_id=ctx.tenant_id, name=body.get("name"), status=status.value,
        billing_account_id=account_id, offering_id=offering.get("id"),
        offering_version=offering_version,
        start_date=started if body.get("startDate") else None,
        termination_date=None, last_update=ctx.now, body=body)
    ctx.session.add(row)
    ctx.session.flush()
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
    if new == ProductStatus.TERMINATED:
        body.setdefault("terminationDate", at.isoformat().replace("+00:00", "Z"))
        at = _effective(body, "terminationDate", at)
        if at > ctx.now:
            raise ValidationError("terminationDate: a termination in the future is status "
                                  "'pendingTerminate' with that terminationDate",
                                  field="terminationDate")
    if new in _LIVE and old not in _LIVE and not body.get("startDate"):
        body["startDate"] = at.isoformat().replace("+00:00", "Z")
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
