"""Use cases of the product catalog: the TMF620 resources with their rules.

Keyword-only functions taking a :class:`~openbss.core.context.Context` (and, to create,
the validated schema of :data:`~openbss.catalog.schemas.SCHEMAS`): ``create_resource``,
``get_resource``, ``list_resources``, ``update_resource`` (a JSON merge-patch, validated
once applied), ``delete_resource``; ``render_resource`` is the TMF document of a row.
Rules enforced here (see docs/catalog.md):

- lifecycle ``In design`` → ``Active`` → ``Retired`` → ``Obsolete`` (one
  :data:`~openbss.catalog.lifecycle.LIFECYCLE` machine per kind; 409
  ``invalid_transition``), checked under the row lock; a POST may set any initial state
  (imports of existing catalogs);
- specifications, offerings and prices are immutable once out of ``In design``: only
  ``lifecycleStatus``, ``statusReason`` and ``validFor.endDateTime`` may change, anything
  else is :class:`~openbss.catalog.errors.NotEditable` (create a new version:
  :mod:`openbss.catalog.versions`); only resources in design may be deleted;
- activating an offering activates its prices; a bundle's components must be Active first;
- references to this tenant's resources must exist (:mod:`openbss.catalog.rules`).

What other contexts read (orderability, prices) is :mod:`openbss.catalog.selling`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from openbss.catalog import queries
from openbss.catalog.documents import with_numbers
from openbss.catalog.errors import (
    BundleComponentNotActive,
    NotDeletable,
    NotEditable,
    PriceMissing,
    StillReferenced,
)
from openbss.catalog.lifecycle import ACTIVE, IN_DESIGN, LIFECYCLE, is_editable
from openbss.catalog.models import RESOURCE_MODELS
from openbss.catalog.paths import path_of
from openbss.catalog.rules import prepare
from openbss.catalog.schemas import SCHEMAS
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.errors import ValidationError
from openbss.core.resources import record_change, render
from openbss.core.tmf import ListParams, merge_patch

API = "productCatalogManagement"
#: Resources that are frozen once out of ``In design``.
VERSIONED = frozenset({"productSpecification", "productOffering", "productOfferingPrice"})
#: What may still change on a frozen resource.
MUTABLE_WHEN_FROZEN = frozenset({"lifecycleStatus", "statusReason", "lastUpdate"})
#: The kind of each resource table.
KIND_OF: dict[type, str] = {model: kind for kind, model in RESOURCE_MODELS.items()}

Row = queries.Row


def render_resource(ctx: Context, row: Row) -> dict[str, Any]:
    """The TMF resource of ``row`` (numbers as exact ``Decimal``)."""
    kind = KIND_OF[type(row)]
    return with_numbers(kind, render(ctx.base_url, path_of(kind), row.id, row.body))


def get_resource(ctx: Context, *, kind: str, resource_id: str, lock: bool = False) -> Row:
    """The resource of this tenant, or 404 (``lock``: for a read-modify-write)."""
    return queries.get(ctx, kind, resource_id, lock=lock)


def list_resources(ctx: Context, *, kind: str, params: ListParams) -> tuple[list[Row], int]:
    """One page of a resource list (TMF filters, sort, ``lifecycleStatus`` any spelling)."""
    return queries.page(ctx, kind, params)


def _apply(row: Row, body: dict[str, Any], columns: dict[str, Any]) -> None:
    row.body = body
    for name, value in columns.items():
        setattr(row, name, value)


def create_resource(ctx: Context, *, kind: str, data: BaseModel,
                    key: str | None = None) -> Row:
    """Create a resource from its validated TMF document (``id``/``href`` are assigned;
    ``key``: its local name in catalog files)."""
    body, columns = prepare(ctx, kind, data, current=None)
    status = body["lifecycleStatus"]
    if status != IN_DESIGN:
        _check_activation(ctx, kind, body, label=f"{kind} {body['name']!r}")
    row: Row = RESOURCE_MODELS[kind](tenant_id=ctx.tenant_id, key=key,  # type: ignore[call-arg]
                                     row_version=1)
    _apply(row, body, columns)
    ctx.session.add(row)
    ctx.session.flush()
    rendered = render_resource(ctx, row)
    record_change(ctx, api=API, resource_name=kind, resource_id=row.id, change="create",
                  before=None, after=rendered, event_resource=rendered)
    if kind == "productOffering" and status != IN_DESIGN:
        _cascade_prices(ctx, row, status)
    return row


def create_from_document(ctx: Context, *, kind: str, doc: dict[str, Any],
                         key: str | None = None) -> Row:
    """:func:`create_resource` from a plain document (a copy, a catalog file's entry)."""
    return create_resource(ctx, kind=kind, data=validated(SCHEMAS[kind], doc), key=key)


def frozen_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The attributes that differ between two documents and may not change once a
    resource is out of ``In design``."""
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


def update_resource(ctx: Context, *, kind: str, resource_id: str, patch: Any) -> Row:
    """Apply a JSON merge-patch (RFC 7396) to a resource, under its row lock."""
    row = get_resource(ctx, kind=kind, resource_id=resource_id, lock=True)
    if not isinstance(patch, dict):
        raise ValidationError("a merge-patch body must be a JSON object", field="body")
    for name in ("id", "href"):
        if name in patch:
            raise ValidationError(f"{name} cannot be changed", field=name)
    label = f"{kind} {row.id!r}"
    before = render_resource(ctx, row)
    current = dict(row.body)
    merged = merge_patch(current, patch)
    merged.setdefault("lifecycleStatus", row.lifecycle_status)
    body, columns = prepare(ctx, kind, validated(SCHEMAS[kind], merged), current=row)
    old_status = row.lifecycle_status
    new_status = LIFECYCLE[kind].check(old_status, body["lifecycleStatus"],
                                       resource_id=row.id)
    if kind in VERSIONED and not is_editable(old_status):
        # compare numbers as numbers: "10.0" and "10.00" are the same price
        changed = frozen_changes(with_numbers(kind, current), with_numbers(kind, body))
        if changed:
            raise NotEditable(
                f"{label} is {old_status} and cannot change ({', '.join(changed)}): "
                "create a new version (POST /api/v1/catalog/productOffering/{id}/version) "
                "or a new price",
                field=changed[0],
            )
    if new_status == ACTIVE and old_status != ACTIVE:
        _check_activation(ctx, kind, body, label=label)
    _apply(row, body, columns)
    row.row_version += 1
    ctx.session.flush()
    after = render_resource(ctx, row)
    change: Literal["state", "update"] = "state" if new_status != old_status else "update"
    record_change(ctx, api=API, resource_name=kind, resource_id=row.id, change=change,
                  before=before, after=after, event_resource=after)
    if kind == "productOffering" and new_status != old_status:
        _cascade_prices(ctx, row, new_status)
    return row


def set_status(ctx: Context, *, kind: str, resource_id: str, status: str) -> Row:
    """Move a resource to another lifecycle status (the same rules as a PATCH)."""
    return update_resource(ctx, kind=kind, resource_id=resource_id,
                           patch={"lifecycleStatus": status})


def delete_resource(ctx: Context, *, kind: str, resource_id: str) -> None:
    """Delete a resource in design that nothing refers to."""
    row = get_resource(ctx, kind=kind, resource_id=resource_id, lock=True)
    label = f"{kind} {row.id!r}"
    if kind in VERSIONED and not is_editable(row.lifecycle_status):
        raise NotDeletable(
            f"{label} is {row.lifecycle_status}: only resources In design may be deleted; "
            "retire it instead (PATCH lifecycleStatus)", field="lifecycleStatus",
        )
    users = _referrers(ctx, kind, row.id)
    if users:
        raise StillReferenced(f"{label} is still used by {', '.join(users[:5])}", field="id")
    before = render_resource(ctx, row)
    ctx.session.delete(row)
    ctx.session.flush()
    record_change(ctx, api=API, resource_name=kind, resource_id=resource_id, change="delete",
                  before=before, after=None, event_resource=before)


def ids_of(refs: Any) -> set[str]:
    """The ids of a list of references (entries without one are skipped)."""
    return {str(r["id"]) for r in refs or [] if isinstance(r, dict) and r.get("id")}


def _referrers(ctx: Context, kind: str, resource_id: str) -> list[str]:
    found: list[str] = []
    if kind in ("productOffering", "productOfferingPrice", "productSpecification"):
        for offering in queries.offerings(ctx):
            body = offering.body
            if (kind == "productOffering" and resource_id in ids_of(
                    body.get("bundledProductOffering"))) or \
                    (kind == "productOfferingPrice" and resource_id in ids_of(
                        body.get("productOfferingPrice"))) or \
                    (kind == "productSpecification"
                     and offering.product_specification_id == resource_id):
                found.append(f"productOffering {offering.id!r}")
    if kind == "productOfferingPrice":
        for pop in queries.prices_other_than(ctx, resource_id):
            if resource_id in ids_of(pop.body.get("popRelationship")) | ids_of(
                    pop.body.get("bundledPopRelationship")):
                found.append(f"productOfferingPrice {pop.id!r}")
    if kind == "category":
        found += [f"category {c!r}" for c in queries.child_category_ids(ctx, resource_id)]
    return found


def is_priced(body: dict[str, Any]) -> bool:
    """Whether a price document says what it costs."""
    price = body.get("price") or {}
    if body.get("priceType") == "discount":
        return body.get("percentage") is not None or price.get("value") is not None
    return price.get("value") is not None or body.get("chargeModel") is not None


def _check_activation(ctx: Context, kind: str, body: dict[str, Any], *, label: str) -> None:
    """What must hold before a resource is Active."""
    if kind == "productOfferingPrice" and not is_priced(body):
        raise PriceMissing(
            f"{label} cannot be {body['lifecycleStatus']} without a price: give price.value, "
            "a chargeModel (or percentage for a discount)", field="price",
        )
    if kind == "productOffering":
        for index, ref in enumerate(body.get("productOfferingPrice") or []):
            pop = queries.find_price(ctx, str(ref.get("id")))
            if pop is not None and not is_priced(pop.body):
                raise PriceMissing(
                    f"{label}: productOfferingPrice {pop.id!r} has no price yet",
                    field=f"productOfferingPrice[{index}].id",
                )
        for index, ref in enumerate(body.get("bundledProductOffering") or []):
            component = queries.find_offering(ctx, str(ref.get("id")))
            if component is not None and component.lifecycle_status != ACTIVE:
                raise BundleComponentNotActive(
                    f"{label}: bundled productOffering {component.id!r} is "
                    f"{component.lifecycle_status}; activate the components first",
                    field=f"bundledProductOffering[{index}].id",
                )


def _cascade_prices(ctx: Context, offering: Row, status: str) -> None:
    """Activating an offering moves its prices in design along with it."""
    if status != ACTIVE:
        return
    for ref in offering.body.get("productOfferingPrice") or []:
        pop = queries.find_price(ctx, str(ref.get("id")))
        if pop is not None and pop.lifecycle_status == IN_DESIGN:
            set_status(ctx, kind="productOfferingPrice", resource_id=pop.id, status=status)
