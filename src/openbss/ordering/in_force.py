"""What was in force: which products, with which price versions and quantities, were in
force for a billing account or an identifier during a period (exact effective intervals
in business time), from the products' history. The function rating and billing use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple

from openbss.core import jsonx
from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.periods import to_utc
from openbss.ordering import queries
from openbss.ordering.identifiers import _spellings
from openbss.ordering.intervals import (
    _FOREVER,
    ChangeKind,
    EffectiveInterval,
    IntervalKind,
    ProductChange,
    effective_intervals,
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


#: The history entries that make intervals (the others — created, updated … — are read
#: neither by :func:`_changes_of` nor by the set-based walk).
_INTERVAL_CHANGES = tuple(k.value for k in ChangeKind)
_ACTIVE, _SUSPENDED = IntervalKind.ACTIVE, IntervalKind.SUSPENDED


class _Entry(NamedTuple):
    """A history row with its ``after`` decoded (what :func:`_changes_of` reads)."""

    at: datetime
    change: str
    after: Any


def _valid_version(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _valid_quantity(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


_Life = list[tuple[datetime, datetime, IntervalKind, str, int]]


def _life(entries: Sequence[tuple[datetime, str, Any]], lo: datetime,
          hi: datetime) -> _Life | None:
    """``effective_intervals(_changes_of(entries), lo, hi)`` as plain tuples (start, end,
    kind, price_version, quantity) for entries (at, change, after): without an object
    per change or interval. None when the history is not one this walk takes (it breaks
    a rule, has a non-UTC instant or an ``after`` that is not an object): the caller
    asks the reference function, which answers or raises exactly as :func:`in_force`
    does. ``lo``/``hi``: UTC, ``lo < hi``."""
    last: datetime | None = None
    unordered = False
    for at, _, after in entries:
        if type(at) is not datetime or at.tzinfo is not UTC \
                or (after is not None and type(after) is not dict):
            return None
        if last is not None and at < last:
            unordered = True
        last = at
    # changes in ``at`` order, those of one instant in the order given (a stable sort)
    ordered = sorted(entries, key=itemgetter(0)) if unordered else entries
    # the pieces of the product's life: where each starts, with what was in force
    pieces: list[tuple[datetime, IntervalKind, Any, Any]] = []
    state: IntervalKind | None = None
    version: Any = ""
    quantity: Any = 0
    new_version: Any
    new_quantity: Any
    ended = False
    for at, change, after in ordered:
        if ended:
            return None
        if change == "started":
            if state is not None:
                return None
            new_version = (after or {}).get("priceVersion")
            new_quantity = (after or {}).get("quantity")
            if not _valid_version(new_version) or not _valid_quantity(new_quantity):
                return None
            version, quantity, state = new_version, new_quantity, _ACTIVE
        elif state is None:
            return None
        elif change == "plan_changed":
            new_version = (after or {}).get("priceVersion")
            if not _valid_version(new_version):
                return None
            version = new_version
        elif change == "quantity_changed":
            new_quantity = (after or {}).get("quantity")
            if not _valid_quantity(new_quantity):
                return None
            quantity = new_quantity
        elif change == "suspended":
            if state is not _ACTIVE:
                return None
            state = _SUSPENDED
        elif change == "resumed":
            if state is not _SUSPENDED:
                return None
            state = _ACTIVE
        elif change == "terminated":
            ended = True
            pieces.append((at, _ACTIVE, "", 0))  # sentinel: the end of life
            continue
        else:
            return None
        pieces.append((at, state, version, quantity))
    if not ended and pieces:
        pieces.append((_FOREVER, _ACTIVE, "", 0))  # the last piece has not ended
    # intervals between the pieces (empty ones gone), neighbours alike merged
    # (merge_adjacent), clipped to [lo, hi)
    life: _Life = []
    merged: list[Any] | None = None
    for index in range(len(pieces) - 1):
        begin, kind, ver, qty = pieces[index]
        finish = pieces[index + 1][0]
        if finish <= begin:
            continue
        if merged is not None:
            if merged[1] == begin and merged[2] is kind and merged[3] == ver \
                    and merged[4] == qty:
                merged[1] = finish
                continue
            if merged[0] < hi and merged[1] > lo:
                life.append((max(merged[0], lo), min(merged[1], hi), *merged[2:]))
        merged = [begin, finish, kind, ver, qty]
    if merged is not None and merged[0] < hi and merged[1] > lo:
        life.append((max(merged[0], lo), min(merged[1], hi), *merged[2:]))
    return life


_UNREAD = object()


#: The columns of :func:`identifier_interval_columns`, as :class:`IdentifierInterval`.
INTERVAL_COLUMNS = ("name", "value", "product_id", "billing_account_id", "parent_id",
                    "start", "end", "kind", "price_version", "quantity")


def identifier_interval_columns(ctx: Context, *, start: datetime, end: datetime,
                                name: str | None = None,
                                values: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """:func:`identifier_intervals` as columns (:data:`INTERVAL_COLUMNS`, one list each;
    ``kind`` its string value), by product id and claim, not sorted: no object per row,
    for guiding files. ``values``: only identifiers of these values (of ``name``), read
    with ``IN`` lists — a file's distinct identifiers, not all the claims of the period."""
    if values is None:
        claims = queries.claim_rows_during(ctx, start, end, name)
        history = queries.claimant_history_rows(ctx, start, end, name,
                                                changes=_INTERVAL_CHANGES)
    else:
        claims = queries.claim_rows_during(ctx, start, end, name, values)
        history = queries.history_rows_of(ctx, {c.product_id for c in claims},
                                          changes=_INTERVAL_CHANGES)
    by_product: dict[str, list[Any]] = {}
    for claim in claims:
        held = by_product.get(claim[2])  # product_id
        if held is None:
            by_product[claim[2]] = [claim]
        else:
            held.append(claim)
    # each product's entries (at, change, after), ``after`` decoded as the JSON column
    # type does (jsonx.loads), each distinct text once: the answers are only read
    decoded: dict[Any, Any] = {}
    histories: dict[str, list[tuple[datetime, str, Any]]] = {}
    current: list[tuple[datetime, str, Any]] = []
    current_id = None
    for product_id, at, change, after in history:
        if product_id != current_id:
            current_id, current = product_id, histories.setdefault(product_id, [])
        if isinstance(after, str | bytes):
            parsed = decoded.get(after, _UNREAD)
            if parsed is _UNREAD:
                parsed = decoded[after] = jsonx.loads(after)
            after = parsed
        current.append((at, change, after))
    rows: list[tuple[Any, ...]] = []
    if histories:
        effective_intervals([], start, end)  # the period's checks (ValidationError end)
        lo, hi = to_utc(start, "start"), to_utc(end, "end")
    append = rows.append
    for product_id in sorted(histories):
        entries = histories[product_id]
        life = _life(entries, lo, hi)
        if life is None:  # the reference walk: the same intervals, or its error
            life = [(i.start, i.end, i.kind, i.price_version, i.quantity)
                    for i in effective_intervals(_changes_of([_Entry(*e) for e in entries]),
                                                 start, end,
                                                 include_suspended=True,
                                                 field=f"history[{product_id}]")]
        if not life:
            continue
        for claim_name, value, _, valid_from, valid_to, account, parent \
                in by_product.get(product_id, ()):
            for begin, finish, kind, version, quantity in life:
                cut_lo = max(begin, valid_from)
                cut_hi = min(finish, valid_to) if valid_to else finish
                if cut_lo < cut_hi:  # the cuts of sorted, disjoint intervals stay sorted
                    append((claim_name, value, product_id, account, parent, cut_lo, cut_hi,
                            kind.value, version, quantity))
    if not rows:
        return {column: [] for column in INTERVAL_COLUMNS}
    return dict(zip(INTERVAL_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))


def identifier_intervals(ctx: Context, *, start: datetime, end: datetime,
                         name: str | None = None,
                         values: Iterable[str] | None = None) -> list[IdentifierInterval]:
    """Every identifier (of ``name``, or all; of ``values`` when given) held by a product
    during ``[start, end)``, cut to the product's effective intervals: the set-based form
    of :func:`in_force` by identifier, for guiding files of usage (a few statements,
    whatever the size)."""
    columns = identifier_interval_columns(ctx, start=start, end=end, name=name,
                                          values=values)
    rows = [IdentifierInterval(*row) for row in zip(*columns.values(), strict=True)]
    return sorted(rows, key=lambda r: (r.name, r.value, r.start))
