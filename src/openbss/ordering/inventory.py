"""Use cases of the product inventory (TMF637): products, their history and identifiers,
and what was in force for a billing account or an identifier during a period.

Products are normally created and changed by completed product orders (which pass
``order_id``/``order_item_id``); ``POST product`` creates one directly (bringing existing
subscriptions over from another system). Every change is kept in the product's history in
business time (``ctx.now``, or the effective date the caller gives), with the order item
and the actor, next to the audit row and the TMF637 event.

This module holds the product CRUD and the due-terminations pass; the rest of the
inventory lives beside it and is re-exported here (``inventory.X`` keeps working):
:mod:`~openbss.ordering.identifiers` (identifier normal forms and claims),
:mod:`~openbss.ordering.history` (history rows), :mod:`~openbss.ordering.in_force` (what
was in force) and :mod:`~openbss.ordering.terms` (plan-change and termination timing,
commitments, early-termination fees).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from openbss.core.context import Context, system_context
from openbss.core.errors import ValidationError
from openbss.core.periods import to_utc
from openbss.core.resources import patched, record_change, render
from openbss.core.service import list_tenants
from openbss.core.tmf import ListParams
from openbss.ordering import queries
from openbss.ordering.errors import (
    ChangeNeedsOrder,
    ProductNotDeletable,
    ProductTerminated,
)
from openbss.ordering.history import LIVE as _LIVE
from openbss.ordering.history import _changes, _history, _quantity, product_history
from openbss.ordering.identifiers import IDENTIFIERS, _claim, _identifiers, _spellings, held_by
from openbss.ordering.in_force import InForce, in_force
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.models import (
    DELETABLE,
    HOLDING,
    PRODUCT_STATES,
    Product,
    ProductStatus,
)
from openbss.ordering.paths import INVENTORY_API, PRODUCT_PATH
from openbss.ordering.references import check_billing_account, check_offering
from openbss.ordering.schemas import Product as ProductIn
from openbss.ordering.terms import (
    TERM_FEE,
    TERMINATION_POLICY,
    PlanChangePolicy,
    _with_commitment,
    billing_cycle,
    billing_period,
    commitment_end,
    commitment_terms,
    early_termination_fee,
    plan_change_effective,
    prices_in_force,
    product_charges,
    record_early_termination,
    render_charge,
    termination_effective,
)

#: What callers import from here (the product CRUD below; the rest re-exported from
#: identifiers, history, in_force and terms).
__all__ = [
    "IDENTIFIERS", "READONLY", "TERMINATION_POLICY", "TERM_FEE", "InForce", "PlanChangePolicy",
    "billing_cycle", "billing_period", "commitment_end", "commitment_terms", "create_product",
    "delete_product", "early_termination_fee", "get_product", "held_by", "in_force",
    "list_products", "plan_change_effective", "prices_in_force", "product_charges",
    "product_history", "record_early_termination", "render_charge", "render_product",
    "run_due_terminations", "terminate_due", "termination_effective", "terminations_pass",
    "update_product",
]

READONLY = frozenset({"id", "href"})
_FINAL = frozenset({ProductStatus.TERMINATED, ProductStatus.CANCELLED, ProductStatus.ABORTED})


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

