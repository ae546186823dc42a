"""Allowances: included units per billing period, consumed in time order (pure).

The meaning is :mod:`openbss.rating.book` point 2. A usage price with ``included > 0``
has one bucket per ``(scope, holder, price_id, period_start)``
(:class:`~openbss.rating.book.AllowanceKey`); the holder depends on the price's
``allowance_scope``:

- ``product``: the product that used it;
- ``bundle``: the event's ``bundle_id`` (the lines of a bundle share it) — the product
  itself when it is in no bundle;
- ``account``: the billing account (every line of the account shares it) — the product
  itself when the event has no billing account.

What a bucket grants comes from ``Allowances.granted``; a bucket the service did not load
grants the price's ``included`` (and is then written into ``granted``, so the caller sees
every bucket touched). Events consume in the order given (the engines sort by
``(usage_date, key)``): ``included = min(granted - used, quantity)`` (never below 0),
``charged = quantity - included``. Only events with a quantity > 0 touch a bucket. A
price with ``allowance_destinations`` only lets events whose destination id (the
tariff's match under the price's rating plan) is listed consume; an event with no
destination id (a price without a rating plan, an unknown number) does not.

Two forms with one meaning: :func:`consume` (one event) and :func:`consume_frame` (a
Polars frame: cumulative sums per bucket over time,
``included = clip(granted - used - consumed_before, 0, quantity)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from openbss.rating.book import AllowanceKey, Allowances, UsageEvent, UsagePrice

__all__ = [
    "QUANTITY_DECIMALS",
    "bucket_of",
    "consume",
    "consume_frame",
    "consumes",
    "from_units",
    "holder_of",
    "to_units",
]

#: Decimal places of quantities in the vectorized engine (Int128 columns of
#: quantity * 10**9; Decimal(38, 9) in its schemas): nanoseconds, nano-events.
QUANTITY_DECIMALS = 9
_Q = 10**QUANTITY_DECIMALS
_ZERO = Decimal(0)


def holder_of(scope: str, *, product_id: str, bundle_id: str | None,
              billing_account_id: str | None) -> str:
    """The bucket holder of an allowance of ``scope`` for an event of ``product_id``."""
    if scope == "bundle":
        return bundle_id or product_id
    if scope == "account":
        return billing_account_id or product_id
    return product_id


def bucket_of(price: UsagePrice, event: UsageEvent) -> AllowanceKey | None:
    """The event's bucket under ``price`` (None: the price includes nothing)."""
    if price.included <= 0:
        return None
    holder = holder_of(price.allowance_scope, product_id=event.product_id,
                       bundle_id=event.bundle_id,
                       billing_account_id=event.billing_account_id)
    return AllowanceKey(price.allowance_scope, holder, price.price_id, event.period_start)


def consumes(price: UsagePrice, destination_id: str | None) -> bool:
    """Whether an event to ``destination_id`` may consume the price's allowance."""
    if price.allowance_destinations is None:
        return True
    return destination_id is not None and destination_id in price.allowance_destinations


def consume(allowances: Allowances, key: AllowanceKey, *, default_granted: Decimal,
            quantity: Decimal) -> Decimal:
    """Consume up to ``quantity`` from bucket ``key``; returns the included part and
    records it in ``allowances.used``. ``quantity`` must be > 0."""
    granted = allowances.granted.setdefault(key, default_granted)
    used = allowances.used.get(key, _ZERO)
    included = min(max(granted - used, _ZERO), quantity)
    allowances.used[key] = used + included
    return included


# -- the vectorized form ---------------------------------------------------------------


def to_units(value: Decimal, what: str) -> int:
    """``value`` as an integer number of 10⁻⁹ base units (ValueError if it has more
    decimals: the vectorized engine keeps quantities at nanounit precision)."""
    scaled = value.scaleb(QUANTITY_DECIMALS)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} has more than {QUANTITY_DECIMALS} decimals")
    return int(scaled)


def from_units(units: int) -> Decimal:
    return Decimal(f"{units}E-{QUANTITY_DECIMALS}")


BUCKET_COLUMNS = ("_scope", "_holder", "price_id", "period_start")


def column_tuples(frame: pl.DataFrame, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows of ``frame[columns]`` as tuples, fast: datetime columns are converted
    once per distinct value (there are few billing periods)."""
    values: list[list[Any]] = []
    for name in columns:
        column = frame[name]
        if isinstance(column.dtype, pl.Datetime):
            distinct = column.unique()
            instants = dict(zip(distinct.cast(pl.Int64).to_list(), distinct.to_list(),
                                strict=True))
            values.append([instants[i] for i in column.cast(pl.Int64).to_list()])
        else:
            values.append(column.to_list())
    return list(zip(*values, strict=True))


def consume_frame(frame: pl.DataFrame, allowances: Allowances) -> pl.Series:
    """The included part (Int128, 10⁻⁹ base units) of each row of ``frame``, which is
    in consumption order and has the columns ``_eligible`` (bool: the row consumes),
    ``_scope``, ``_holder``, ``price_id``, ``period_start`` (its bucket), ``_q`` (Int128
    quantity) and ``_default_granted`` (Int128: the price's ``included``). Updates
    ``allowances.granted`` (buckets not loaded) and ``allowances.used``.

    A Python loop runs over the distinct buckets only (to read and write the dicts)."""
    mask = frame["_eligible"]
    zero = pl.Series("included", [0] * frame.height, dtype=pl.Int128)
    if not mask.any():
        return zero
    rows = frame.with_row_index("_row").filter(mask)
    buckets = rows.select(*BUCKET_COLUMNS, "_default_granted").unique(
        subset=list(BUCKET_COLUMNS), keep="first", maintain_order=True)
    keys = [AllowanceKey(*values) for values in column_tuples(buckets, BUCKET_COLUMNS)]
    granted: list[int] = []
    used: list[int] = []
    defaults: dict[int, Decimal] = {}
    for key, default in zip(keys, buckets["_default_granted"].to_list(), strict=True):
        have = allowances.granted.get(key)
        if have is None:
            if default not in defaults:
                defaults[default] = from_units(default)
            allowances.granted[key] = defaults[default]
            granted.append(default)
        else:
            granted.append(to_units(have, "granted allowance"))
        spent = allowances.used.get(key)
        used.append(0 if spent is None else to_units(spent, "used allowance"))
    table = buckets.select(BUCKET_COLUMNS).with_columns(
        _bucket=pl.int_range(pl.len(), dtype=pl.Int64),
        _left=pl.Series(granted, dtype=pl.Int128) - pl.Series(used, dtype=pl.Int128))
    joined = rows.join(table, on=list(BUCKET_COLUMNS), how="left", maintain_order="left",
                       nulls_equal=True)
    before = pl.col("_q").cum_sum().over("_bucket") - pl.col("_q")
    joined = joined.with_columns(
        _included=pl.min_horizontal((pl.col("_left") - before).clip(lower_bound=0),
                                    pl.col("_q")))
    totals = joined.group_by("_bucket").agg(pl.col("_included").sum()).sort("_bucket")
    for bucket, consumed in zip(totals["_bucket"].to_list(), totals["_included"].to_list(),
                                strict=True):
        key = keys[bucket]
        allowances.used[key] = from_units(used[bucket] + consumed)
    return zero.scatter(joined["_row"], joined["_included"])
