"""``jsonx.dumps``: the fast path (the C encoder with placeholders) writes exactly what
the exact encoder writes, for any document."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.core import jsonx

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.sampled_from([jsonx._MARK, '"' + jsonx._MARK + '"']),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
    st.dates(),
)
documents = st.recursive(
    leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                    st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=25)


def _exact(value: Any) -> str:
    parts: list[str] = []
    jsonx._encode(value, parts)
    return "".join(parts)


@settings(max_examples=500, deadline=None)
@given(documents)
def test_the_fast_path_writes_what_the_exact_encoder_writes(value: Any) -> None:
    assert jsonx.dumps(value) == _exact(value)


def test_decimals_in_document_order_with_placeholder_lookalikes() -> None:
    doc = {"a": [Decimal("1E+3"), jsonx._MARK, Decimal("-0.000001")],
           "b": {"c": Decimal("2.50"), "d": datetime(2026, 1, 1, tzinfo=UTC)},
           "e": date(2026, 1, 2)}
    assert jsonx.dumps(doc) == _exact(doc)
    assert jsonx.dumps(doc).startswith('{"a":[1000,')
