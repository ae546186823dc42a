"""What was in force: which products, with which price versions and quantities, were in
force for a billing account or an identifier during a period (exact effective intervals
in business time), from the products' history. The function rating and billing use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.ordering import queries
from openbss.ordering.identifiers import _spellings
from openbss.ordering.intervals import (
    ChangeKind,
    EffectiveInterval,
    ProductChange,
    intervals_by_product,
)
from openbss.ordering.models import (
    ProductHistory,
    ProductIdentifier,
)


@dataclass(frozen=True)
class InForce:
    """A product's effective intervals inside a period (see ordering.intervals)."""

    product_id: str
    billing_account_id: str | None
    intervals: tuple[EffectiveInterval, ...]


def _changes_of(rows: Sequence[Any]) -> list[ProductChange]:
    """Interval changes from history rows (ORM rows or column rows: change, at, after)."""
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
          claims: Sequence[Any]) -> list[EffectiveInterval]:
    cut: list[EffectiveInterval] = []
    for interval in intervals:
        for claim in claims:
            lo = max(interval.start, claim.valid_from)
            hi = min(interval.end, claim.valid_to) if claim.valid_to else interval.end
            if lo < hi:
                cut.append(replace(interval, start=lo, end=hi))
    return sorted(cut, key=lambda i: i.start)


@dataclass(frozen=True)
class IdentifierInterval:
    """An identifier held by a product during ``[start, end)`` with what was in force then
    (``kind`` active or suspended): one row of the table that bulk guiding joins usage
    against."""

    name: str  # canonical identifier name: msisdn, imsi, username, apiKey …
    value: str  # normal form (MSISDN in E.164)
    product_id: str
    billing_account_id: str | None
    parent_id: str | None  # the bundle product the product belongs to
    start: datetime
    end: datetime
    kind: str  # "active" | "suspended"
    price_version: str  # the offering id in force
    quantity: int


def identifier_intervals(ctx: Context, *, start: datetime, end: datetime,
                         name: str | None = None) -> list[IdentifierInterval]:
    """Every identifier (of ``name``, or all) held by a product during ``[start, end)``,
    cut to the product's effective intervals: the set-based form of :func:`in_force` by
    identifier, for guiding files of usage (a few statements, whatever the size)."""
    claims = queries.claim_rows_during(ctx, start, end, name)
    by_product: dict[str, list[Any]] = {}
    for claim in claims:
        by_product.setdefault(claim.product_id, []).append(claim)
    histories: dict[str, list[Any]] = {}
    for h in queries.claimant_history_rows(ctx, start, end, name):
        histories.setdefault(h.product_id, []).append(h)
    found = intervals_by_product({pid: _changes_of(rows) for pid, rows in histories.items()},
                                 start, end, include_suspended=True)
    rows: list[IdentifierInterval] = []
    for pid, intervals in sorted(found.items()):
        for claim in by_product.get(pid, []):
            for interval in _held(intervals, [claim]):
                rows.append(IdentifierInterval(
                    claim.name, claim.value, pid, claim.billing_account_id,
                    claim.parent_id, interval.start, interval.end,
                    interval.kind.value, interval.price_version, interval.quantity))
    return sorted(rows, key=lambda r: (r.name, r.value, r.start))
