"""Use cases of the product catalog: CRUD of the TMF620 resources with their rules.

Rules enforced here (see docs/catalog.md):

- lifecycle ``In design`` → ``Active`` → ``Retired`` → ``Obsolete``, guarded (409 naming
  both states); a POST may set any initial state (imports of existing catalogs);
- specifications, offerings and prices are immutable once out of ``In design``: only
  ``lifecycleStatus``, ``statusReason`` and ``validFor.endDateTime`` may change, anything
  else answers 409 (create a new version: :func:`new_offering_version`); only resources in
  design may be deleted;
- activating an offering activates its prices; a bundle's components must be Active first;
- references to this tenant's resources must exist (422 naming the field); a reference
  whose ``href`` points to another server is an external reference and is not checked.

Other contexts call :func:`charge_model_of_price`, :func:`get_orderable_offering` /
:func:`is_orderable`, :func:`check_eligibility` and :func:`select_prices`.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from openbss.catalog import lifecycle
from openbss.catalog.documents import with_numbers
from openbss.catalog.models import (
    RESOURCE_MODELS,
    Category,
    ProductOffering,
    ProductOfferingPrice,
)
from openbss.catalog.paths import PREFIX, path_of
from openbss.catalog.pricing import (
    ChargeModel,
    StandardChargeModel,
    charge_model_adapter,
    parse_charge_model,
)
from openbss.catalog.rules import prepare
from openbss.catalog.schemas import SCHEMAS
from openbss.core.context import Context
from openbss.core.errors import ConflictError, CurrencyMismatchError, ValidationError
from openbss.core.queries import get_owned
from openbss.core.resources import record_change, render, validation_error
from openbss.core.tmf import merge_patch

API = "productCatalogManagement"
LABELS = {
    "catalog": "catalog",
    "category": "category",
    "productSpecification": "productSpecification",
    "productOffering": "productOffering",
    "productOfferingPrice": "productOfferingPrice",
}
#: Resources that are frozen once out of ``In design``.
VERSIONED = frozenset({"productSpecification", "productOffering", "productOfferingPrice"})
#: What may still change on a frozen resource.
MUTABLE_WHEN_FROZEN = frozenset({"lifecycleStatus", "statusReason", "lastUpdate"})

Row = Any


def view(ctx: Context, kind: str, row: Row) -> dict[str, Any]:
    """The TMF resource of ``row`` (numbers as exact ``Decimal``)."""
    return with_numbers(kind, render(ctx.base_url, path_of(kind), row.id, row.body))


def get(ctx: Context, kind: str, resource_id: str, *, lock: bool = False) -> Row:
    return get_owned(ctx.session, RESOURCE_MODELS[kind], ctx.tenant_id, resource_id, kind,
                     lock=lock)


def _validate(kind: str, data: Any) -> BaseModel:
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    try:
        return SCHEMAS[kind].model_validate(data)
    except PydanticValidationError as exc:
        raise validation_error(exc, data=data) from None


def _apply(row: Row, body: dict[str, Any], columns: dict[str, Any]) -> None:
    row.body = body
    for name, value in columns.items():
        setattr(row, name, value)


def create(ctx: Context, kind: str, data: Any, *, key: str | None = None) -> Row:
    """Create a resource from a TMF document (``id``/``href`` are assigned)."""
    doc = _validate(kind, data)
    body, columns = prepare(ctx, kind, doc, current=None)
    status = body["lifecycleStatus"]
    if status != lifecycle.IN_DESIGN:
        _check_activation(ctx, kind, body, label=f"{kind} {body['name']!r}")
    row: Row = RESOURCE_MODELS[kind](tenant_id=ctx.tenant_id, key=key,  # type: ignore[call-arg]
                                     row_version=1)
    _apply(row, body, columns)
    ctx.session.add(row)
    ctx.session.flush()
    rendered = view(ctx, kind, row)
    record_change(ctx, api=API, resource_name=kind, resource_id=row.id, change="create",
                  before=None, after=rendered, event_resource=rendered)
    if kind == "productOffering" and status != lifecycle.IN_DESIGN:
        _cascade_prices(ctx, row, status)
    return row


def _frozen_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changed = []
    for name in sorted(set(before) | set(after)):
        if name in MUTABLE_WHEN_FROZEN or before.get(name) == after.get(name):
            continue
        if name == "validFor":
            old, new = before.get(name) or {}, after.get(name) or {}
            if old.get("startDateTime") == new.get("startDateTime"):
                continue  # moving the end date (retiring on a date) is allowed
        changed.append(name)
    return changed


def update(ctx: Context, kind: str, resource_id: str, patch: Any) -> Row:
    """Apply a JSON merge-patch (RFC 7396) to a resource."""
    row = get(ctx, kind, resource_id, lock=True)
    if not isinstance(patch, dict):
        raise ValidationError("a merge-patch body must be a JSON object", field="body")
    for name in ("id", "href"):
        if name in patch:
            raise ValidationError(f"{name} cannot be changed", field=name)
    label = f"{kind} {row.id!r}"
    before = view(ctx, kind, row)
    current = dict(row.body)
    merged = merge_patch(current, patch)
    merged.setdefault("lifecycleStatus", row.lifecycle_status)
    doc = _validate(kind, merged)
    body, columns = prepare(ctx, kind, doc, current=row)
    old_status, new_status = row.lifecycle_status, body["lifecycleStatus"]
    lifecycle.check_transition(label, old_status, new_status)
    if kind in VERSIONED and not lifecycle.is_editable(old_status):
        # compare numbers as numbers: "10.0" and "10.00" are the same price
        changed = _frozen_changes(with_numbers(kind, current), with_numbers(kind, body))
        if changed:
            raise ConflictError(
                f"{label} is {old_status} and cannot change ({', '.join(changed)}): "
                "create a new version (POST /api/v1/catalog/productOffering/{id}/version) "
                "or a new price",
                field=changed[0],
            )
    if new_status == lifecycle.ACTIVE and old_status != lifecycle.ACTIVE:
        _check_activation(ctx, kind, body, label=label)
    _apply(row, body, columns)
    row.row_version += 1
    ctx.session.flush()
    after = view(ctx, kind, row)
    change: Literal["state", "update"] = "state" if new_status != old_status else "update"
    record_change(ctx, api=API, resource_name=kind, resource_id=row.id, change=change,
                  before=before, after=after, event_resource=after)
    if kind == "productOffering" and new_status != old_status:
        _cascade_prices(ctx, row, new_status)
    return row


def set_status(ctx: Context, kind: str, resource_id: str, status: str) -> Row:
    return update(ctx, kind, resource_id, {"lifecycleStatus": status})


def delete(ctx: Context, kind: str, resource_id: str) -> None:
    row = get(ctx, kind, resource_id, lock=True)
    label = f"{kind} {row.id!r}"
    if kind in VERSIONED and not lifecycle.is_editable(row.lifecycle_status):
        raise ConflictError(
            f"{label} is {row.lifecycle_status}: only resources In design may be deleted; "
            "retire it instead (PATCH lifecycleStatus)", field="lifecycleStatus",
        )
    users = _referrers(ctx, kind, row.id)
    if users:
        raise ConflictError(f"{label} is still used by {', '.join(users[:5])}", field="id")
    before = view(ctx, kind, row)
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=API, resource_name=kind, resource_id=resource_id, change="delete",
                  before=before, after=None, event_resource=before)


def _ids(refs: Any) -> set[str]:
    return {str(r["id"]) for r in refs or [] if isinstance(r, dict) and r.get("id")}


def _referrers(ctx: Context, kind: str, resource_id: str) -> list[str]:
    found: list[str] = []
    if kind in ("productOffering", "productOfferingPrice", "productSpecification"):
        offerings = ctx.session.scalars(
            select(ProductOffering).where(ProductOffering.tenant_id == ctx.tenant_id)
        )
        for offering in offerings:
            body = offering.body
            if (kind == "productOffering" and resource_id in _ids(
                    body.get("bundledProductOffering"))) or \
                    (kind == "productOfferingPrice" and resource_id in _ids(
                        body.get("productOfferingPrice"))) or \
                    (kind == "productSpecification"
                     and offering.product_specification_id == resource_id):
                found.append(f"productOffering {offering.id!r}")
    if kind == "productOfferingPrice":
        for pop in ctx.session.scalars(select(ProductOfferingPrice).where(
                ProductOfferingPrice.tenant_id == ctx.tenant_id,
                ProductOfferingPrice.id != resource_id)):
            if resource_id in _ids(pop.body.get("popRelationship")) | _ids(
                    pop.body.get("bundledPopRelationship")):
                found.append(f"productOfferingPrice {pop.id!r}")
    if kind == "category":
        found += [f"category {c!r}" for c in ctx.session.scalars(select(Category.id).where(
            Category.tenant_id == ctx.tenant_id, Category.parent_id == resource_id))]
    return found


def _priced(body: dict[str, Any]) -> bool:
    price = body.get("price") or {}
    if body.get("priceType") == "discount":
        return body.get("percentage") is not None or price.get("value") is not None
    return price.get("value") is not None or body.get("chargeModel") is not None


def _check_activation(ctx: Context, kind: str, body: dict[str, Any], *, label: str) -> None:
    """What must hold before a resource is Active."""
    if kind == "productOfferingPrice" and not _priced(body):
        raise ValidationError(
            f"{label} cannot be {body['lifecycleStatus']} without a price: give price.value, "
            "a chargeModel (or percentage for a discount)", field="price",
        )
    if kind == "productOffering":
        for index, ref in enumerate(body.get("productOfferingPrice") or []):
            pop = ctx.session.scalar(select(ProductOfferingPrice).where(
                ProductOfferingPrice.id == ref.get("id"),
                ProductOfferingPrice.tenant_id == ctx.tenant_id))
            if pop is not None and not _priced(pop.body):
                raise ValidationError(
                    f"{label}: productOfferingPrice {pop.id!r} has no price yet",
                    field=f"productOfferingPrice[{index}].id",
                )
        for index, ref in enumerate(body.get("bundledProductOffering") or []):
            component = ctx.session.scalar(select(ProductOffering).where(
                ProductOffering.id == ref.get("id"),
                ProductOffering.tenant_id == ctx.tenant_id))
            if component is not None and component.lifecycle_status != lifecycle.ACTIVE:
                raise ConflictError(
                    f"{label}: bundled productOffering {component.id!r} is "
                    f"{component.lifecycle_status}; activate the components first",
                    field=f"bundledProductOffering[{index}].id",
                )


def _cascade_prices(ctx: Context, offering: ProductOffering, status: str) -> None:
    """Activating (retiring …) an offering moves its prices along with it."""
    if status != lifecycle.ACTIVE:
        return
    for ref in offering.body.get("productOfferingPrice") or []:
        pop = ctx.session.scalar(select(ProductOfferingPrice).where(
            ProductOfferingPrice.id == ref.get("id"),
            ProductOfferingPrice.tenant_id == ctx.tenant_id))
        if pop is not None and pop.lifecycle_status == lifecycle.IN_DESIGN:
            update(ctx, "productOfferingPrice", pop.id, {"lifecycleStatus": status})


# -- versions -------------------------------------------------------------------------------


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _related_price_ids(pop: ProductOfferingPrice) -> set[str]:
    return _ids(pop.body.get("popRelationship")) | _ids(pop.body.get("bundledPopRelationship"))


def new_offering_version(
    ctx: Context, *, offering_id: str, version: str | None = None,
    valid_for: dict[str, Any] | None = None,
) -> ProductOffering:
    """Copy an offering (and its prices) into a new ``In design`` version.

    The copy has new ids, so subscriptions that bought the old version keep pointing at
    an immutable document (grandfathering). ``version`` defaults to the next major
    (``1.0`` → ``2.0``) above every version of the same name; it must be higher than all.
    """
    source = get(ctx, "productOffering", offering_id)
    if version is not None and (not isinstance(version, str)
                                or not re.fullmatch(r"\d+(\.\d+){0,3}", version)):
        raise ValidationError('version must be a string like "2.0"', field="version")
    existing = [
        _version_tuple(v) for v in ctx.session.scalars(select(ProductOffering.version).where(
            ProductOffering.tenant_id == ctx.tenant_id, ProductOffering.name == source.name))
    ]
    highest = max(existing)
    if version is None:
        version = f"{highest[0] + 1}.0"
    elif _version_tuple(version) <= highest:
        raise ConflictError(
            f"version {version!r} must be higher than every existing version of "
            f"{source.name!r} (highest {'.'.join(map(str, highest))})", field="version",
        )
    body = {k: v for k, v in source.body.items() if k not in ("lastUpdate", "statusReason")}
    refs = list(body.get("productOfferingPrice") or [])
    old_ids = {ref["id"] for ref in refs}
    copied: dict[str, str] = {}  # old price id -> id of its copy
    pending = refs
    while pending:
        # Copy a price once the prices it relates to (a discount's base price) are copied,
        # so the copies point at each other, not at the old version.
        ready = [ref for ref in pending if all(
            rel_id in copied or rel_id not in old_ids
            for rel_id in _related_price_ids(get(ctx, "productOfferingPrice", ref["id"])))]
        for ref in ready or pending:  # a cycle: copy the rest as they are
            pop = get(ctx, "productOfferingPrice", ref["id"])
            copy = {k: v for k, v in pop.body.items() if k != "lastUpdate"}
            copy.update(lifecycleStatus=lifecycle.IN_DESIGN, version=version)
            for attr in ("popRelationship", "bundledPopRelationship"):
                if copy.get(attr):
                    copy[attr] = [{k: v for k, v in {**rel, "id": copied.get(rel.get("id"),
                                                                           rel.get("id"))}
                                   .items() if k != "href"} for rel in copy[attr]]
            copied[ref["id"]] = create(ctx, "productOfferingPrice", copy).id
        pending = [ref for ref in pending if ref["id"] not in copied]
    prices = [{**{k: v for k, v in ref.items() if k not in ("id", "href")},
               "id": copied[ref["id"]]} for ref in refs]
    body.update(lifecycleStatus=lifecycle.IN_DESIGN, version=version)
    if prices:
        body["productOfferingPrice"] = prices
    if valid_for is not None:
        body["validFor"] = valid_for
    row: ProductOffering = create(ctx, "productOffering", body)
    row.previous_version_id = source.id
    return row


# -- for other contexts -----------------------------------------------------------------------


def charge_model_of_price(ctx: Context, *, price_id: str) -> tuple[ChargeModel, str]:
    """The charge model and currency of a productOfferingPrice.

    A price without an explicit ``chargeModel`` but with ``price.value`` prices as
    ``standard`` with that unit price. 404 if the price is not this tenant's; 422
    (``productOfferingPrice.id``) if it has no chargeable price or no currency.
    """
    pop = get(ctx, "productOfferingPrice", price_id)
    body = pop.body
    model: ChargeModel
    if body.get("chargeModel") is not None:
        model = parse_charge_model(body["chargeModel"])
    elif (body.get("price") or {}).get("value") is not None and \
            body.get("priceType") != "discount":
        model = StandardChargeModel(unit_price=pop.amount)
    else:
        raise ValidationError(
            f"productOfferingPrice {price_id!r} has no charge model",
            field="productOfferingPrice.id",
        )
    if not pop.currency:
        raise ValidationError(f"productOfferingPrice {price_id!r} has no currency",
                              field="productOfferingPrice.id")
    return model, pop.currency


def included_quantity_of_price(ctx: Context, *, price_id: str) -> Decimal:
    """Units included in every period before a usage price applies (0 without any)."""
    included = (get(ctx, "productOfferingPrice", price_id).body.get("includedQuantity")
                or {}).get("amount")
    return Decimal(str(included)) if included is not None else Decimal(0)


def _within(row: Row, at: datetime) -> bool:
    return (row.valid_from is None or row.valid_from <= at) and \
        (row.valid_to is None or at < row.valid_to)


def get_orderable_offering(
    ctx: Context, *, offering_id: str, at: datetime | None = None
) -> ProductOffering:
    """The offering if it can be ordered at ``at`` (default now): Active, within its
    validFor, sellable on its own. 404 if unknown; 409 saying why otherwise."""
    at = at or ctx.now
    row: ProductOffering = get(ctx, "productOffering", offering_id)
    label = f"productOffering {row.id!r}"
    if row.lifecycle_status != lifecycle.ACTIVE:
        raise ConflictError(f"{label} is {row.lifecycle_status}, only Active offerings can "
                            "be ordered", field="lifecycleStatus")
    if not _within(row, at):
        raise ConflictError(f"{label} is not valid at {at.isoformat()}", field="validFor")
    if not row.is_sellable:
        raise ConflictError(f"{label} is sold only inside a bundle", field="isSellable")
    return row


def is_orderable(ctx: Context, *, offering_id: str, at: datetime | None = None) -> bool:
    try:
        get_orderable_offering(ctx, offering_id=offering_id, at=at)
    except ConflictError:
        return False
    return True


def check_eligibility(offering: ProductOffering | dict[str, Any], *,
                      customer_type: str | None, country: str | None) -> bool:
    """Whether a customer of ``customer_type`` in ``country`` (ISO 3166 alpha-2) may buy
    the offering; an absent or empty rule list admits everyone."""
    body = offering.body if isinstance(offering, ProductOffering) else offering
    rules = body.get("eligibility") or {}
    types = [t.lower() for t in rules.get("customerTypes") or []]
    countries = rules.get("countries") or []
    if types and (customer_type or "").lower() not in types:
        return False
    return not (countries and (country or "").upper() not in countries)


def select_prices(
    ctx: Context, *, offering_id: str, currency: str | None, at: datetime | None = None
) -> list[ProductOfferingPrice]:
    """The offering's prices that apply to a buyer paying in ``currency`` at ``at``.

    Prices in that currency plus currency-less percentage discounts, valid at ``at`` and
    not Retired/Obsolete (``currency`` None: every such price). 422 ``currency`` naming
    the available currencies if the offering has no price in ``currency``.
    """
    at = at or ctx.now
    offering = get(ctx, "productOffering", offering_id)
    ids = [r.get("id") for r in offering.body.get("productOfferingPrice") or []]
    pops = list(ctx.session.scalars(select(ProductOfferingPrice).where(
        ProductOfferingPrice.tenant_id == ctx.tenant_id, ProductOfferingPrice.id.in_(ids))))
    pops.sort(key=lambda p: ids.index(p.id))
    live = [p for p in pops if p.lifecycle_status in (lifecycle.IN_DESIGN, lifecycle.ACTIVE)
            and _within(p, at)]
    if currency is None:
        return live
    chosen = [p for p in live if p.currency == currency or
              (p.currency is None and p.price_type == "discount")]
    if pops and not any(p.currency == currency for p in chosen):
        available = sorted({p.currency for p in live if p.currency})
        raise CurrencyMismatchError(
            f"productOffering {offering_id!r} has no price in {currency}; available: "
            + (", ".join(available) or "none"), field="currency",
        )
    return chosen


def dump_charge_model(model: ChargeModel) -> dict[str, Any]:
    dumped: dict[str, Any] = charge_model_adapter.dump_python(
        model, mode="json", by_alias=True, exclude_none=True)
    return dumped


__all__ = [
    "API",
    "PREFIX",
    "charge_model_of_price",
    "check_eligibility",
    "create",
    "delete",
    "get",
    "get_orderable_offering",
    "included_quantity_of_price",
    "is_orderable",
    "new_offering_version",
    "select_prices",
    "update",
    "view",
]
