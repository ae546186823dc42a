"""All SQL of the product catalog, through :mod:`openbss.core.queries` (every statement
is limited to the context's tenant by construction).

Functions take the :class:`~openbss.core.context.Context` and plain values and return
rows; the use cases (:mod:`service`, :mod:`jobs`, :mod:`importer`, :mod:`rules`) decide
what the rows mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from openbss.catalog.lifecycle import canonical_status
from openbss.catalog.models import (
    RESOURCE_MODELS,
    CatalogJob,
    CatalogResource,
    Category,
    ProductOffering,
    ProductOfferingPrice,
)
from openbss.core.context import Context
from openbss.core.errors import BadRequestError, NotFoundError
from openbss.core.queries import find_owned, get_owned, scoped
from openbss.core.tmf import ListParams, apply_filters, paginate

Row = CatalogResource  # one of the catalog's resource rows (RESOURCE_MODELS)

_EXTRA_FILTERS: dict[str, dict[str, str]] = {
    "catalog": {"catalogType": "catalog_type"},
    "category": {"parentId": "parent_id", "isRoot": "is_root"},
    "productSpecification": {"brand": "brand", "productNumber": "product_number",
                             "isBundle": "is_bundle"},
    "productOffering": {"isBundle": "is_bundle", "isSellable": "is_sellable",
                        "productSpecification.id": "product_specification_id"},
    "productOfferingPrice": {"priceType": "price_type", "price.unit": "currency",
                             "price.value": "amount", "percentage": "percentage",
                             "taxCategory": "tax_category", "taxIncluded": "tax_included",
                             "isBundle": "is_bundle"},
}


def filter_columns(kind: str) -> dict[str, Any]:
    """The list filters of a resource kind: API attribute → column."""
    model = RESOURCE_MODELS[kind]
    columns: dict[str, Any] = {
        "id": model.id, "name": model.name, "lifecycleStatus": model.lifecycle_status,
        "version": model.version, "lastUpdate": model.last_update,
        "validFor.startDateTime": model.valid_from, "validFor.endDateTime": model.valid_to,
    }
    columns.update({name: getattr(model, attr) for name, attr in _EXTRA_FILTERS[kind].items()})
    return columns


JOB_FILTERS: dict[str, Any] = {"id": CatalogJob.id, "status": CatalogJob.status,
                               "creationDate": CatalogJob.creation_date}


def _normalized(params: ListParams) -> ListParams:
    """Any spelling of lifecycleStatus in filters (``active``, ``In Design``)."""
    filters: list[tuple[str, str, list[Any]]] = []
    for name, op, values in params.filters:
        parsed: list[Any] = values
        if name == "lifecycleStatus":
            try:
                parsed = [canonical_status(v).value for v in values]
            except ValueError as exc:
                raise BadRequestError(str(exc), field="lifecycleStatus") from None
        filters.append((name, op, parsed))
    return ListParams(params.offset, params.limit, params.fields, params.sort, tuple(filters))


# -- resources ----------------------------------------------------------------------------------


def get(ctx: Context, kind: str, resource_id: str, *, lock: bool = False) -> Row:
    """The resource of this tenant, or 404 naming the kind."""
    return get_owned(ctx.session, RESOURCE_MODELS[kind], ctx.tenant_id, resource_id, kind,
                     lock=lock)


def find(ctx: Context, kind: str, resource_id: str) -> Row | None:
    """The resource of this tenant, or ``None`` (another tenant's too)."""
    return find_owned(ctx.session, RESOURCE_MODELS[kind], ctx.tenant_id, resource_id)


def get_offering(ctx: Context, offering_id: str) -> ProductOffering:
    return get_owned(ctx.session, ProductOffering, ctx.tenant_id, offering_id,
                     "productOffering")


def get_price(ctx: Context, price_id: str) -> ProductOfferingPrice:
    return get_owned(ctx.session, ProductOfferingPrice, ctx.tenant_id, price_id,
                     "productOfferingPrice")


def find_offering(ctx: Context, offering_id: str) -> ProductOffering | None:
    return find_owned(ctx.session, ProductOffering, ctx.tenant_id, offering_id)


def find_price(ctx: Context, price_id: str) -> ProductOfferingPrice | None:
    return find_owned(ctx.session, ProductOfferingPrice, ctx.tenant_id, price_id)


def page(ctx: Context, kind: str, params: ListParams) -> tuple[list[Row], int]:
    """One page of a resource list with its TMF filters and sort, and the total."""
    model = RESOURCE_MODELS[kind]
    stmt = apply_filters(scoped(ctx, model), _normalized(params), filter_columns(kind))
    return paginate(ctx.session, stmt, params, [model.name, model.version, model.id])


def every(ctx: Context, kind: str) -> list[Row]:
    """Every resource of a kind (for exports)."""
    return list(ctx.session.scalars(scoped(ctx, RESOURCE_MODELS[kind])))


def offerings(ctx: Context) -> list[ProductOffering]:
    return list(ctx.session.scalars(scoped(ctx, ProductOffering)))


def prices_other_than(ctx: Context, price_id: str) -> list[ProductOfferingPrice]:
    return list(ctx.session.scalars(
        scoped(ctx, ProductOfferingPrice).where(ProductOfferingPrice.id != price_id)))


def prices_among(ctx: Context, ids: Iterable[str]) -> list[ProductOfferingPrice]:
    return list(ctx.session.scalars(
        scoped(ctx, ProductOfferingPrice).where(ProductOfferingPrice.id.in_(list(ids)))))


def child_category_ids(ctx: Context, parent_id: str) -> list[str]:
    return list(ctx.session.scalars(scoped(ctx, Category.id).where(
        Category.parent_id == parent_id)))


def versions_named(ctx: Context, kind: str, name: str) -> list[str]:
    """The ``version`` of every resource of a kind called ``name``."""
    model = RESOURCE_MODELS[kind]
    return list(ctx.session.scalars(scoped(ctx, model.version).where(model.name == name)))


def with_key(ctx: Context, kind: str, key: str) -> list[Row]:
    """The resources of a kind whose import ``key`` is ``key`` (its versions)."""
    model = RESOURCE_MODELS[kind]
    return list(ctx.session.scalars(scoped(ctx, model).where(model.key == key)))


def key_taken(ctx: Context, kind: str, key: str) -> bool:
    model = RESOURCE_MODELS[kind]
    return ctx.session.scalar(scoped(ctx, model.id).where(model.key == key).limit(1)) \
        is not None


# -- jobs ------------------------------------------------------------------------------------------


def get_job(ctx: Context, kind: str, job_id: str) -> CatalogJob:
    """The ``importJob``/``exportJob`` of this tenant, or 404."""
    job = find_owned(ctx.session, CatalogJob, ctx.tenant_id, job_id)
    if job is None or job.kind != kind:
        raise NotFoundError(f"{kind} {job_id!r} not found", field="id")
    return job


def job_page(ctx: Context, kind: str, params: ListParams) -> tuple[Sequence[CatalogJob], int]:
    stmt = apply_filters(scoped(ctx, CatalogJob).where(CatalogJob.kind == kind),
                         _normalized(params), JOB_FILTERS)
    return paginate(ctx.session, stmt, params, [CatalogJob.creation_date, CatalogJob.id])
