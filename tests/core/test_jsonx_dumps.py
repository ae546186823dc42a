"""``jsonx.dumps``: the fast path (orjson, decimals as fragments of their exact digits)
writes exactly what the exact encoder writes, for any document; what orjson refuses is
written by the exact encoder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.core import jsonx

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8),  # control characters
    st.sampled_from(["\u2028", "\x7f", "é€😀", '"\\/']),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                                            timezone(timedelta(0), "GMT")])),
    st.datetimes(),  # naive
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


def test_decimals_in_document_order() -> None:
    doc = {"a": [Decimal("1E+3"), "x", Decimal("-0.000001")],
           "b": {"c": Decimal("2.50"), "d": datetime(2026, 1, 1, tzinfo=UTC)},
           "e": date(2026, 1, 2)}
    assert jsonx.dumps(doc) == _exact(doc)
    assert jsonx.dumps(doc) == ('{"a":[1000,"x",-0.000001],"b":{"c":2.50,'
                                '"d":"2026-01-01T00:00:00Z"},"e":"2026-01-02"}')


def test_what_orjson_refuses_is_written_by_the_exact_encoder() -> None:
    for doc in ({"big": 2**70, "small": -(2**70)}, {"s": "\ud800"}, {1: "x"}):
        assert jsonx._fast_dumps(doc) is None
        assert jsonx.dumps(doc) == _exact(doc)
    assert jsonx.dumps({"big": 2**70}) == '{"big":1180591620717411303424}'
    deep: list[Any] = []
    for _ in range(300):  # deeper than orjson's 254 levels
        deep = [deep]
    assert jsonx.dumps(deep) == "[" * 301 + "]" * 301
    with pytest.raises(ValueError, match="cannot be written"):
        jsonx.dumps({"x": Decimal("NaN")})
