"""New versions of an offering: ``POST /api/v1/catalog/productOffering/{id}/version``.

An Active offering is immutable; to change it, its document and its prices are copied
into a new ``In design`` offering with new ids, so subscriptions that bought the old
version keep pointing at an immutable document (grandfathering).
"""

from __future__ import annotations

from openbss.catalog import queries
from openbss.catalog.errors import VersionNotHigher
from openbss.catalog.lifecycle import IN_DESIGN
from openbss.catalog.models import ProductOffering, ProductOfferingPrice
from openbss.catalog.schemas import NewVersionIn
from openbss.catalog.service import create_from_document, ids_of
from openbss.core.context import Context


def version_key(version: str) -> tuple[int, ...]:
    """A dotted version as a comparable tuple (``"2.10"`` > ``"2.9"``; junk is ``(0,)``)."""
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def _related_price_ids(pop: ProductOfferingPrice) -> set[str]:
    return ids_of(pop.body.get("popRelationship")) | ids_of(pop.body.get("bundledPopRelationship"))


def new_offering_version(ctx: Context, *, offering_id: str,
                         data: NewVersionIn) -> ProductOffering:
    """Copy an offering (and its prices) into a new ``In design`` version.

    ``data.version`` defaults to the next major (``1.0`` → ``2.0``) above every version of
    the same name; it must be higher than all (:class:`VersionNotHigher`).
    ``data.valid_for`` replaces the copy's ``validFor``.
    """
    source = queries.get_offering(ctx, offering_id)
    version = data.version
    highest = max(version_key(v) for v in queries.versions_named(ctx, "productOffering",
                                                                   source.name))
    if version is None:
        version = f"{highest[0] + 1}.0"
    elif version_key(version) <= highest:
        raise VersionNotHigher(
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
            for rel_id in _related_price_ids(queries.get_price(ctx, ref["id"])))]
        for ref in ready or pending:  # a cycle: copy the rest as they are
            pop = queries.get_price(ctx, ref["id"])
            copy = {k: v for k, v in pop.body.items() if k != "lastUpdate"}
            copy.update(lifecycleStatus=IN_DESIGN.value, version=version)
            for attr in ("popRelationship", "bundledPopRelationship"):
                if copy.get(attr):
                    copy[attr] = [{k: v for k, v in {**rel, "id": copied.get(rel.get("id"),
                                                                           rel.get("id"))}
                                   .items() if k != "href"} for rel in copy[attr]]
            copied[ref["id"]] = create_from_document(ctx, kind="productOfferingPrice",
                                                     doc=copy).id
        pending = [ref for ref in pending if ref["id"] not in copied]
    prices = [{**{k: v for k, v in ref.items() if k not in ("id", "href")},
               "id": copied[ref["id"]]} for ref in refs]
    body.update(lifecycleStatus=IN_DESIGN.value, version=version)
    if prices:
        body["productOfferingPrice"] = prices
    if data.valid_for is not None:
        body["validFor"] = data.valid_for.model_dump(mode="json", by_alias=True,
                                                     exclude_none=True)
    row = create_from_document(ctx, kind="productOffering", doc=body)
    assert isinstance(row, ProductOffering)
    row.previous_version_id = source.id
    return row


__all__ = ["new_offering_version", "version_key"]
