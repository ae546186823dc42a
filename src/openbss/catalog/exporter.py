"""Export a tenant's whole catalog in the catalog file format (see :mod:`importer`).

Every resource gets a key (its own, or one made from its name), references become
``{key: ...}``, and each resource comes after those it refers to, so an export re-imports
cleanly into any tenant, and into the same one as a no-op.
"""

from __future__ import annotations

import re
from typing import Any

from openbss.catalog import queries
from openbss.catalog.importer import FORMAT, SERVER_FIELDS
from openbss.catalog.models import RESOURCE_MODELS
from openbss.core.context import Context


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def _dependencies_first(rows: list[Any], attrs: tuple[str, ...]) -> list[Any]:
    """``rows`` reordered so that a row comes after the rows its ``attrs`` refer to
    (stable otherwise; a cycle is broken where it is found)."""
    by_id = {row.id: row for row in rows}
    ordered: list[Any] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(row: Any) -> None:
        if state.get(row.id):
            return
        state[row.id] = 1
        for attr in attrs:
            for ref in row.body.get(attr) or []:
                target = by_id.get(ref.get("id")) if isinstance(ref, dict) else None
                if target is not None:
                    visit(target)
        state[row.id] = 2
        ordered.append(row)

    for row in rows:
        visit(row)
    return ordered


def export_catalog(ctx: Context) -> dict[str, Any]:
    """The tenant's whole catalog in the file format (re-imports cleanly)."""
    rows: dict[str, list[Any]] = {}
    keys: dict[str, dict[str, str]] = {}
    for kind in RESOURCE_MODELS:
        rows[kind] = queries.every(ctx, kind)
        rows[kind].sort(key=lambda r: (r.name, r.version, r.key or "", r.id))
        used: set[str] = set()
        keys[kind] = {}
        for row in rows[kind]:
            key = row.key or _slug(row.name)
            if key in used:
                key = f"{key}-v{row.version}"
            n = 2
            base = key
            while key in used:
                key, n = f"{base}-{n}", n + 1
            used.add(key)
            keys[kind][row.id] = key

    def local(kind: str, ref: Any) -> Any:
        if isinstance(ref, dict) and ref.get("id") in keys[kind]:
            return {"key": keys[kind][ref["id"]],
                    **{k: v for k, v in ref.items() if k not in ("id", "href", "name")}}
        return ref

    def doc(kind: str, row: Any) -> dict[str, Any]:
        body = {k: v for k, v in row.body.items() if k not in SERVER_FIELDS}
        return {"key": keys[kind][row.id], **body}

    out: dict[str, Any] = {"format": FORMAT}
    cats = []
    for row in rows["category"]:
        d = doc("category", row)
        if d.get("parentId") in keys["category"]:
            d["parentId"] = keys["category"][d["parentId"]]
        d.pop("productOffering", None)
        d.pop("subCategory", None)
        cats.append(d)
    out["category"] = cats
    specs = []
    for row in _dependencies_first(rows["productSpecification"],
                                   ("bundledProductSpecification",)):
        d = doc("productSpecification", row)
        if "bundledProductSpecification" in d:
            d["bundledProductSpecification"] = [local("productSpecification", r)
                                                for r in d["bundledProductSpecification"]]
        specs.append(d)
    out["productSpecification"] = specs
    # Every price goes in the top-level section, a price after the prices it relates to
    # (a discount after its base price, wherever that is offered); offerings name them by
    # key. So any export re-imports, whatever the order of the offerings.
    out["productOfferingPrice"] = []
    for row in _dependencies_first(rows["productOfferingPrice"],
                                   ("popRelationship", "bundledPopRelationship")):
        p = doc("productOfferingPrice", row)
        for attr in ("popRelationship", "bundledPopRelationship"):
            if attr in p:
                p[attr] = [local("productOfferingPrice", r) for r in p[attr]]
        out["productOfferingPrice"].append(p)
    offerings = []
    for row in _dependencies_first(rows["productOffering"], ("bundledProductOffering",)):
        d = doc("productOffering", row)
        if "productSpecification" in d:
            d["productSpecification"] = local("productSpecification", d["productSpecification"])
        for attr, kind in (("category", "category"), ("bundledProductOffering",
                                                      "productOffering"),
                           ("productOfferingPrice", "productOfferingPrice")):
            if attr in d:
                d[attr] = [local(kind, r) for r in d[attr]]
        offerings.append(d)
    out["productOffering"] = offerings
    catalogs = []
    for row in rows["catalog"]:
        d = doc("catalog", row)
        if "category" in d:
            d["category"] = [local("category", r) for r in d["category"]]
        catalogs.append(d)
    out["catalog"] = catalogs
    return out
