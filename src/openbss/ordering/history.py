"""The history of a product: one row per change (what, when in business time, which
order item, who), in the vocabulary of :mod:`openbss.ordering.intervals`, and its
reading for ``GET /api/v1/products/{id}/history``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openbss.core.context import Context
from openbss.ordering import queries
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.models import (
    Product,
    ProductHistory,
    ProductStatus,
)

#: Statuses in which a product is live (in force for rating and billing).
LIVE = frozenset({ProductStatus.ACTIVE, ProductStatus.SUSPENDED,
                  ProductStatus.PENDING_TERMINATE})


def _quantity(body: dict[str, Any]) -> int:
    return int(body.get("quantity") or 1)


def _history(ctx: Context, row: Product, change: str, *, at: datetime,
             before: dict[str, Any] | None, after: dict[str, Any] | None,
             order_id: str | None, order_item_id: str | None) -> None:
    ctx.session.add(ProductHistory(
        tenant_id=ctx.tenant_id, product_id=row.id, seq=queries.next_history_seq(ctx, row.id),
        at=at, change=change, status=row.status, before=before, after=after,
        order_id=order_id, order_item_id=order_item_id, actor=ctx.actor))



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
        if new in LIVE and old not in LIVE:
            changes.append((ChangeKind.STARTED.value,
                            (status[0], {**status[1], "priceVersion": new_offering,
                                         "quantity": _quantity(after)})))
        elif new == ProductStatus.SUSPENDED:
            changes.append((ChangeKind.SUSPENDED.value, status))
        elif old == ProductStatus.SUSPENDED and new in LIVE:
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



def product_history(ctx: Context, *, product_id: str) -> list[dict[str, Any]]:
    queries.product(ctx, product_id)
    return [{"seq": h.seq, "at": h.at.isoformat().replace("+00:00", "Z"),
             "change": h.change, "status": h.status, "before": h.before, "after": h.after,
             "productOrder": ({"id": h.order_id, "orderItemId": h.order_item_id}
                              if h.order_id else None),
             "actor": h.actor} for h in queries.history(ctx, [product_id])]
