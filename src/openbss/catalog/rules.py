"""Validation of one catalog document and the typed columns derived from it.

:func:`prepare` turns a validated request model into the stored body (TMF document minus
``id``/``href``, decimals as exact strings, server-set ``lastUpdate``/``version``/
``@type``/``lifecycleStatus``) and the values of the indexed columns, checking references
and the per-resource rules. Errors are 422 naming the field.
"""

from __future__ import annotations

from typing import Any

import pycountry
from pydantic import BaseModel

from openbss.catalog import queries
from openbss.catalog.errors import (
    BundleCycle,
    CategoryCycle,
    CurrencyRequired,
    NotApplicable,
    UnknownReference,
)
from openbss.catalog.lifecycle import IN_DESIGN
from openbss.catalog.paths import path_of
from openbss.catalog.pricing import charge_model_adapter, parse_charge_model
from openbss.catalog.schemas import (
    CatalogIn,
    CategoryIn,
    ProductOfferingIn,
    ProductOfferingPriceIn,
    ProductSpecificationIn,
    Ref,
)
from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.money import validate_currency
from openbss.core.tmf import href, is_foreign_ref, iso

TYPE_NAMES = {
    "catalog": "Catalog",
    "category": "Category",
    "productSpecification": "ProductSpecification",
    "productOffering": "ProductOffering",
    "productOfferingPrice": "ProductOfferingPrice",
}


def _resolve(ctx: Context, kind: str, ref: Ref, field: str, *,
             external_ok: bool = True) -> Any:
    """The referenced row of this tenant; ``None`` for an external reference."""
    if ref.id is None:
        raise ValidationError(f"{field}.id is required", field=f"{field}.id")
    if external_ok and is_foreign_ref(ref.href, ctx.base_url):
        return None
    row = queries.find(ctx, kind, ref.id)
    if row is None:
        raise UnknownReference(f"{field}.id: {kind} {ref.id!r} does not exist",
                               field=f"{field}.id")
    return row


def _local_ref(ctx: Context, kind: str, row: Any, ref: dict[str, Any]) -> dict[str, Any]:
    """Fill ``href`` (and ``name``) of a reference to one of our resources."""
    out = dict(ref)
    out["href"] = href(ctx.base_url, path_of(kind), row.id)
    out.setdefault("name", row.name)
    return out


def _refs(ctx: Context, body: dict[str, Any], attr: str, kind: str, refs: list[Ref] | None,
          *, external_ok: bool = True) -> list[Any]:
    rows = []
    for index, ref in enumerate(refs or []):
        row = _resolve(ctx, kind, ref, f"{attr}[{index}]", external_ok=external_ok)
        if row is not None:
            body[attr][index] = _local_ref(ctx, kind, row, body[attr][index])
        rows.append(row)
    return rows


def prepare(ctx: Context, kind: str, doc: BaseModel, *, current: Any
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    body: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude_none=True)
    body.pop("lastUpdate", None)
    status = getattr(doc, "lifecycle_status", None) or (
        current.lifecycle_status if current is not None else IN_DESIGN.value)
    body["lifecycleStatus"] = status
    body.setdefault("version", current.version if current is not None else "1.0")
    body.setdefault("@type", TYPE_NAMES[kind])
    body["lastUpdate"] = iso(ctx.now)
    valid_for = getattr(doc, "valid_for", None)
    columns: dict[str, Any] = {
        "name": body["name"],
        "lifecycle_status": status,
        "version": body["version"],
        "valid_from": valid_for.start_date_time if valid_for else None,
        "valid_to": valid_for.end_date_time if valid_for else None,
        "last_update": ctx.now,
    }
    if isinstance(doc, CatalogIn):
        _refs(ctx, body, "category", "category", doc.category)
        columns["catalog_type"] = doc.catalog_type
    elif isinstance(doc, CategoryIn):
        _category(ctx, doc, body, columns, current)
    elif isinstance(doc, ProductSpecificationIn):
        _refs(ctx, body, "bundledProductSpecification", "productSpecification",
              doc.bundled_product_specification)
        body.setdefault("isBundle", False)
        columns.update(brand=doc.brand, product_number=doc.product_number,
                       is_bundle=body["isBundle"])
    elif isinstance(doc, ProductOfferingIn):
        _offering(ctx, doc, body, columns, current)
    elif isinstance(doc, ProductOfferingPriceIn):
        _price(ctx, doc, body, columns, current)
    return body, columns


def _category(ctx: Context, doc: CategoryIn, body: dict[str, Any], columns: dict[str, Any],
              current: Any) -> None:
    if doc.parent_id is not None:
        if current is not None and doc.parent_id == current.id:
            raise CategoryCycle("a category cannot be its own parent", field="parentId")
        parent = _resolve(ctx, "category", Ref(id=doc.parent_id), "parentId",
                          external_ok=False)
        seen: set[str] = set()
        while current is not None and parent is not None and parent.id not in seen:
            if parent.id == current.id:
                raise CategoryCycle("parentId would make the category its own ancestor",
                                    field="parentId")
            seen.add(parent.id)
            parent = queries.find(ctx, "category", parent.parent_id) if parent.parent_id \
                else None
    is_root = doc.is_root if doc.is_root is not None else doc.parent_id is None
    if is_root and doc.parent_id is not None:
        raise NotApplicable("a root category has no parentId", field="isRoot")
    body["isRoot"] = is_root
    _refs(ctx, body, "productOffering", "productOffering", doc.product_offering)
    _refs(ctx, body, "subCategory", "category", doc.sub_category)
    columns.update(parent_id=doc.parent_id, is_root=is_root)


def _bundles(ctx: Context, offering: Any, target_id: str) -> bool:
    """Whether ``offering`` contains ``target_id``, directly or through nested bundles."""
    pending, seen = [offering], set()
    while pending:
        node = pending.pop()
        for ref in node.body.get("bundledProductOffering") or []:
            ref_id = ref.get("id")
            if ref_id == target_id:
                return True
            if ref_id and ref_id not in seen:
                seen.add(ref_id)
                child = queries.find(ctx, "productOffering", ref_id)
                if child is not None:
                    pending.append(child)
    return False


def _offering(ctx: Context, doc: ProductOfferingIn, body: dict[str, Any],
              columns: dict[str, Any], current: Any) -> None:
    is_bundle = bool(doc.is_bundle)
    body["isBundle"] = is_bundle
    body.setdefault("isSellable", True)
    spec_id = None
    if doc.product_specification is not None:
        spec = _resolve(ctx, "productSpecification", doc.product_specification,
                        "productSpecification")
        spec_id = doc.product_specification.id
        if spec is not None:
            body["productSpecification"] = _local_ref(
                ctx, "productSpecification", spec, body["productSpecification"])
    _refs(ctx, body, "category", "category", doc.category)
    _refs(ctx, body, "productOfferingPrice", "productOfferingPrice",
          doc.product_offering_price, external_ok=False)
    bundled = doc.bundled_product_offering or []
    if is_bundle and not bundled:
        raise NotApplicable("a bundle (isBundle true) needs bundledProductOffering",
                            field="bundledProductOffering")
    if bundled and not is_bundle:
        raise NotApplicable("bundledProductOffering needs isBundle true", field="isBundle")
    seen: set[str] = set()
    for index, item in enumerate(bundled):
        field = f"bundledProductOffering[{index}]"
        if current is not None and item.id == current.id:
            raise BundleCycle("a bundle cannot contain itself", field=f"{field}.id")
        if item.id in seen:
            raise ValidationError(f"productOffering {item.id!r} is listed twice",
                                  field=f"{field}.id")
        seen.add(item.id)
        row = _resolve(ctx, "productOffering", Ref(id=item.id), field, external_ok=False)
        if current is not None and _bundles(ctx, row, current.id):
            raise BundleCycle(f"productOffering {row.id!r} already contains this "
                              "offering: bundles cannot contain each other",
                              field=f"{field}.id")
        body["bundledProductOffering"][index] = _local_ref(
            ctx, "productOffering", row, body["bundledProductOffering"][index])
        option = item.bundled_product_offering_option
        if option is not None:
            low = option.number_rel_offer_lower_limit
            high = option.number_rel_offer_upper_limit
            default = option.number_rel_offer_default
            opt = f"{field}.bundledProductOfferingOption"
            if low is not None and high is not None and low > high:
                raise ValidationError(
                    f"{opt}: numberRelOfferLowerLimit ({low}) must not exceed "
                    f"numberRelOfferUpperLimit ({high})",
                    field=f"{opt}.numberRelOfferUpperLimit")
            if default is not None and ((low is not None and default < low) or
                                        (high is not None and default > high)):
                raise ValidationError(f"{opt}: numberRelOfferDefault must lie within the "
                                      "limits", field=f"{opt}.numberRelOfferDefault")
    if doc.eligibility is not None:
        for index, code in enumerate(doc.eligibility.countries):
            if pycountry.countries.get(alpha_2=code) is None:
                raise ValidationError(f"unknown ISO 3166 country code {code!r}",
                                      field=f"eligibility.countries[{index}]")
    columns.update(is_bundle=is_bundle, is_sellable=body["isSellable"],
                   product_specification_id=spec_id)


def _price(ctx: Context, doc: ProductOfferingPriceIn, body: dict[str, Any],
           columns: dict[str, Any], current: Any) -> None:
    price_type = doc.price_type
    currency = None
    if doc.price is not None and doc.price.unit is not None:
        currency = validate_currency(doc.price.unit, field="price.unit")
    if price_type == "recurring":
        body.setdefault("recurringChargePeriodType", "month")
        body.setdefault("recurringChargePeriodLength", 1)
        body.setdefault("billingTiming", "inAdvance")
    else:
        for attr in ("recurringChargePeriodType", "recurringChargePeriodLength",
                     "billingTiming"):
            if attr in body:
                raise NotApplicable(f"{attr} applies only to recurring prices", field=attr)
    if doc.charge_model is not None:
        if price_type not in ("recurring", "usage"):
            raise NotApplicable("chargeModel applies to recurring and usage prices",
                                field="chargeModel")
        try:
            model = parse_charge_model(doc.charge_model)
        except ValidationError as exc:
            field = f"chargeModel.{exc.field}" if exc.field else "chargeModel"
            message = exc.message
            if exc.field and message.startswith(exc.field):
                message = message[len(exc.field):].lstrip(": ")
            raise ValidationError(
                f"{field}: {message}" if not message.startswith("(") else f"{field} {message}",
                field=field,
                details=[{**d, "field": f"chargeModel.{d['field']}"} for d in exc.details],
            ) from None
        # Nulls are kept: ``upTo: null`` marks the unbounded last tier.
        body["chargeModel"] = charge_model_adapter.dump_python(model, mode="json",
                                                               by_alias=True)
    if (doc.charge_model is not None or (doc.price and doc.price.value is not None)) \
            and currency is None:
        raise CurrencyRequired("price.unit (the currency) is required with a price",
                               field="price.unit")
    if doc.price is not None and doc.price.value is not None and doc.price.value < 0 \
            and price_type != "discount":
        raise ValidationError("price.value must not be negative", field="price.value")
    if doc.included_quantity is not None and price_type != "usage":
        raise NotApplicable("includedQuantity applies to usage prices",
                            field="includedQuantity")
    if doc.percentage is not None and price_type != "discount":
        raise NotApplicable("percentage applies to discount prices", field="percentage")
    if doc.application_duration is not None and price_type != "discount":
        raise NotApplicable("applicationDuration applies to discount prices",
                            field="applicationDuration")
    if doc.is_bundle:
        _refs(ctx, body, "bundledPopRelationship", "productOfferingPrice",
              doc.bundled_pop_relationship, external_ok=False)
    for index, rel in enumerate(doc.pop_relationship or []):
        field = f"popRelationship[{index}]"
        if current is not None and rel.id == current.id:
            raise BundleCycle("a price cannot relate to itself", field=f"{field}.id")
        row = _resolve(ctx, "productOfferingPrice", Ref(id=rel.id), field,
                       external_ok=False)
        body["popRelationship"][index] = _local_ref(ctx, "productOfferingPrice", row,
                                                    body["popRelationship"][index])
    body["taxCategory"] = doc.tax_category
    body["taxIncluded"] = doc.tax_included
    body["isBundle"] = bool(doc.is_bundle)
    columns.update(
        price_type=price_type,
        currency=currency,
        amount=doc.price.value if doc.price else None,
        percentage=doc.percentage,
        tax_category=doc.tax_category,
        tax_included=doc.tax_included,
        is_bundle=bool(doc.is_bundle),
    )
