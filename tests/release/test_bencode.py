"""The bencoder is canonical and round-trips; the decoder refuses what is not canonical."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from torrent_check import bdecode

from phonotheque.errors import ReleaseError
from phonotheque.release.bencode import decode, encode

values = st.recursive(
    st.integers(-(10**30), 10**30) | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.binary(max_size=10), children, max_size=5),
    max_leaves=30,
)


@given(values)
def test_round_trip_and_matches_an_independent_decoder(value: Any) -> None:
    data = encode(value)
    assert decode(data) == value
    assert bdecode(data) == (value, len(data))
    assert encode(decode(data)) == data


@given(st.dictionaries(st.text(max_size=8), st.integers(), max_size=8))
def test_keys_sorted_as_utf8_bytes_whatever_the_insertion_order(d: dict[str, int]) -> None:
    a = encode(d)
    b = encode(dict(reversed(list(d.items()))))
    assert a == b
    keys = list(decode(a))
    assert keys == sorted(k.encode() for k in d)


def test_known_encodings() -> None:
    assert encode({"spam": ["a", 1], "cow": "moo"}) == b"d3:cow3:moo4:spaml1:ai1eee"
    assert encode(-3) == b"i-3e" and encode(0) == b"i0e" and encode(b"") == b"0:"
    assert encode("é") == b"2:\xc3\xa9"


@pytest.mark.parametrize("bad", [b"i03e", b"i-0e", b"ie", b"03:abc", b"d1:b0:1:a0:e", b"d1:a0:1:a0:e", b"i1ei2e",
                                 b"l", b"5:abc", b"x"])
def test_decoder_refuses_non_canonical_or_broken(bad: bytes) -> None:
    with pytest.raises(ReleaseError):
        decode(bad)


def test_encoder_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        encode(True)
    with pytest.raises(TypeError):
        encode(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode({"a": 1, b"a": 2})
