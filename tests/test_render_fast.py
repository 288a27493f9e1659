"""The plain-JSON fast path of ``to_jsonable`` gives exactly what the full walk gives,
and refuses exactly what the full walk refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resultgate import TooLarge
from resultgate._limits import DEFAULT_LIMITS, Limits
from resultgate._render import jsonable, to_jsonable

leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
plain = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=40,
)
odd = st.tuples(st.integers()) | st.just(float("nan")) | st.just(2**14001) | st.binary(max_size=3)
mixed = st.recursive(
    leaves | odd,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.integers() | st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=30,
)


def walk_only(value: Any, limits: Limits, strict: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(jsonable, "_plain_fits", lambda value, budget: False)
        return to_jsonable(value, limits=limits, strict=strict)


@settings(max_examples=300, deadline=None)
@given(value=plain)
def test_plain_values_render_as_themselves_and_as_the_walk_does(value: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        slow = walk_only(value, DEFAULT_LIMITS, True, mp)
    fast = to_jsonable(value, limits=DEFAULT_LIMITS, strict=True)
    assert fast == slow
    assert fast[0] is value  # no copy


@settings(max_examples=300, deadline=None)
@given(value=mixed)
def test_anything_else_renders_as_the_walk_does(value: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        slow = walk_only(value, DEFAULT_LIMITS, True, mp)
    assert to_jsonable(value, limits=DEFAULT_LIMITS, strict=True) == slow


@pytest.mark.parametrize(
    ("limits", "value"),
    [
        (Limits(max_render_items=10), list(range(11))),
        (Limits(max_render_bytes=100), ["x" * 200]),
        (Limits(max_depth=5), [[[[[[[1]]]]]]]),
    ],
    ids=["items", "bytes", "depth"],
)
def test_the_caps_hold_on_the_fast_path(limits: Limits, value: Any) -> None:
    with pytest.raises(TooLarge):
        to_jsonable(value, limits=limits, strict=True)
    _, truncated = to_jsonable(value, limits=limits, strict=False)
    assert truncated is True


def test_a_tuple_still_becomes_a_list() -> None:
    rendering, _ = to_jsonable({"pair": (1, 2)}, limits=DEFAULT_LIMITS, strict=True)
    assert rendering == {"pair": [1, 2]}
    assert type(rendering["pair"]) is list
