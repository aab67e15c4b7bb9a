"""The structural diff/patch of the round trip, on hand-picked cases and on arbitrary JSON."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.catalog.remainder import decode, diff, encode, patch, same

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=30,
)


def test_types_are_strict() -> None:
    assert not same(1, 1.0)
    assert not same(1, True)
    assert not same(0, False)
    assert not same("1", 1)
    assert not same(None, 0)
    assert same({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})  # key order is irrelevant
    for a, b in [(1, 1.0), (True, 1), ({"x": 1}, {"x": 1.0}), ([1, 2], [1, 2, 3]), ({"a": None}, {})]:
        assert same(patch(b, diff(a, b)), a)


def test_equal_values_need_no_patch() -> None:
    assert diff({"a": [1, {"b": "c"}]}, {"a": [1, {"b": "c"}]}) is None
    assert encode(None) is None
    assert decode(None) == (None, None)


def test_small_change_gives_small_patch() -> None:
    big = {f"k{i}": f"value {i}" for i in range(50)}
    changed = dict(big, k7="other")
    p = diff(changed, big)
    assert p == {"k": {"k7": {"=": "other"}}}


def test_patch_does_not_modify_shared_objects() -> None:
    shared = {"name": "x"}
    rebuilt = {"a": shared, "b": shared}
    original = {"a": {"name": "y"}, "b": {"name": "x"}}
    out = patch(rebuilt, diff(original, rebuilt))
    assert same(out, original)
    assert shared == {"name": "x"}


@settings(max_examples=250, deadline=None)
@given(json_values, json_values)
def test_diff_patch_round_trip(original: object, rebuilt: object) -> None:
    p = diff(original, rebuilt)
    # the patch survives storage (orjson + zstd) and restores the original exactly
    stored_patch, _ = decode(encode(p))
    restored = patch(orjson.loads(orjson.dumps(rebuilt)), stored_patch)
    assert same(restored, original)
    assert (p is None) == same(original, rebuilt)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_self_diff_is_empty(value: object) -> None:
    assert diff(value, orjson.loads(orjson.dumps(value))) is None
