"""``jsonx.check_bounds``: the fast pass (no paths) agrees with the path-naming walk."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.core import jsonx

_LIMIT = 10 ** jsonx.MAX_NUMBER_DIGITS
numbers = st.one_of(
    st.integers(min_value=-_LIMIT * 10, max_value=_LIMIT * 10),
    st.sampled_from([_LIMIT - 1, _LIMIT, -_LIMIT + 1, -_LIMIT, True, False]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("1e999"), Decimal("1e-999"), Decimal("1" * 51), Decimal(0)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.builds(lambda: jsonx._Oversized("1" * 60)),
)
texts = st.text(alphabet=st.sampled_from("ab\x00\x01é"), max_size=5)
leaves = st.one_of(st.none(), texts, numbers)
documents = st.recursive(
    leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                    st.dictionaries(texts, inner, max_size=4),
                                    st.dictionaries(st.integers(0, 3), inner, max_size=2)),
    max_leaves=30)


def _slow(value: Any) -> bool:
    """The reference: the path-naming walk alone."""
    original = jsonx._within_bounds
    jsonx._within_bounds = lambda _value: False  # type: ignore[assignment]
    try:
        jsonx.check_bounds(value)
        return True
    except jsonx.BoundsError:
        return False
    finally:
        jsonx._within_bounds = original  # type: ignore[assignment]


@settings(max_examples=400, deadline=None)
@given(documents)
def test_the_fast_pass_agrees_with_the_walk(value: Any) -> None:
    assert jsonx._within_bounds(value) == _slow(value)


def nested(depth: int) -> Any:
    value: Any = 0
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [jsonx.MAX_DEPTH - 1, jsonx.MAX_DEPTH, jsonx.MAX_DEPTH + 1])
def test_depth_and_size_limits_agree(depth: int) -> None:
    assert jsonx._within_bounds(nested(depth)) == _slow(nested(depth))
    assert jsonx._within_bounds(nested(jsonx.MAX_DEPTH)) is True
    assert jsonx._within_bounds(nested(jsonx.MAX_DEPTH + 1)) is False
    for size in (jsonx.MAX_NODES - 1, jsonx.MAX_NODES):
        value = [0] * size  # plus the list itself
        assert jsonx._within_bounds(value) == _slow(value) == (size + 1 <= jsonx.MAX_NODES)


def test_the_error_still_names_the_path() -> None:
    with pytest.raises(jsonx.NumberOutOfRangeError) as exc:
        jsonx.check_bounds({"a": [{"b": 1}, {"c": 10 ** 60}]})
    assert exc.value.field == "a[1].c"


def test_a_nul_character_is_refused_where_it_is() -> None:
    with pytest.raises(jsonx.NulCharacterError) as exc:
        jsonx.check_bounds({"a": [{"b": "ok"}, {"c": "x\x00y"}]})
    assert exc.value.field == "a[1].c"
    with pytest.raises(jsonx.NulCharacterError) as exc:
        jsonx.loads_bounded('{"a": {"k\\u0000": 1}}')
    assert exc.value.field == "a" and "attribute name" in exc.value.message
    assert jsonx.check_bounds({"a": "\\u0000 is six characters"})  # not a NUL
