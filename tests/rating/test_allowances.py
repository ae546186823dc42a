"""Allowance consumption (rating/allowances.py): the scalar form (one event at a time)
and the Polars form (cumulative sums per bucket) agree on any sequence, and the laws of
consumption hold: never more than granted, never more than the quantity, in order."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.rating.allowances import (
    consume,
    consume_frame,
    consumes,
    from_units,
    holder_of,
    to_units,
)
from openbss.rating.book import AllowanceKey, Allowances, UsagePrice

D = Decimal
P0 = datetime(2026, 3, 1, tzinfo=UTC)
P1 = datetime(2026, 4, 1, tzinfo=UTC)

buckets = st.tuples(st.sampled_from(["product", "account"]), st.sampled_from(["h1", "h2"]),
                    st.sampled_from(["x", "y"]), st.sampled_from([P0, P1]))
amounts = st.decimals(min_value=0, max_value=500, places=3, allow_nan=False,
                      allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(buckets, amounts.filter(lambda q: q > 0), st.booleans()),
                     max_size=30),
       loaded=st.dictionaries(buckets, st.tuples(amounts, amounts), max_size=4),
       default=amounts)
def test_frame_consumption_equals_consumption_in_order(
        rows: list[tuple[tuple[str, str, str, datetime], Decimal, bool]],
        loaded: dict[tuple[str, str, str, datetime], tuple[Decimal, Decimal]],
        default: Decimal) -> None:
    start = Allowances(granted={AllowanceKey(*k): g for k, (g, _) in loaded.items()},
                       used={AllowanceKey(*k): u for k, (_, u) in loaded.items()})
    scalar, vector = copy.deepcopy(start), copy.deepcopy(start)
    expected = [consume(scalar, AllowanceKey(*b), default_granted=default, quantity=q)
                if eligible else D(0) for b, q, eligible in rows]
    frame = pl.DataFrame({
        "_eligible": [e for _, _, e in rows],
        "_scope": [b[0] for b, _, _ in rows], "_holder": [b[1] for b, _, _ in rows],
        "price_id": [b[2] for b, _, _ in rows], "period_start": [b[3] for b, _, _ in rows],
        "_q": [to_units(q, "q") for _, q, _ in rows],
        "_default_granted": [to_units(default, "d")] * len(rows),
    }, schema={"_eligible": pl.Boolean, "_scope": pl.Utf8, "_holder": pl.Utf8,
               "price_id": pl.Utf8, "period_start": pl.Datetime("us", "UTC"),
               "_q": pl.Int128, "_default_granted": pl.Int128})
    got = [from_units(v) for v in consume_frame(frame, vector).to_list()]
    assert got == expected
    assert scalar.granted == vector.granted and scalar.used == vector.used
    # laws: 0 <= included <= quantity; a bucket never uses more than it grants (beyond
    # what it had already used when loaded)
    for (_bucket, q, _), included in zip(rows, got, strict=True):
        assert 0 <= included <= q
    for key, used in scalar.used.items():
        before = start.used.get(key, D(0))
        assert used - before <= max(scalar.granted[key] - before, D(0))


def test_holders_by_scope() -> None:
    ids = {"product_id": "p", "bundle_id": "b", "billing_account_id": "a"}
    assert holder_of("product", **ids) == "p"
    assert holder_of("bundle", **ids) == "b"
    assert holder_of("account", **ids) == "a"
    assert holder_of("bundle", product_id="p", bundle_id=None, billing_account_id="a") == "p"
    assert holder_of("account", product_id="p", bundle_id="b", billing_account_id=None) == "p"


def test_destination_restriction() -> None:
    price = UsagePrice(price_id="x", offering_id="o", usage_type="voice", metric=None,
                       unit="minute", scale=D(60), currency="EUR", rating_plan="RP",
                       included=D(60), allowance_destinations=("DE",))
    assert consumes(price, "DE") and not consumes(price, "FR") and not consumes(price, None)
    assert consumes(replace(price, allowance_destinations=None), None)
