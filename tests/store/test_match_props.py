"""Property tests: tag parsers, name normalization, legacy-text repair, the one-pass hashing reader."""

from __future__ import annotations

import io
import random
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.store.hashing import TorrentHasher
from phonotheque.store.ingest import HashingReader
from phonotheque.store.match import normalize, parse_date, parse_number
from phonotheque.store.probe import fix_legacy_text

CP1252_SPECIALS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"


@given(st.text())
def test_normalize_gives_a_plain_key(text: str) -> None:
    key = normalize(text)
    assert key == key.strip() and "  " not in key
    assert key == key.casefold()
    assert all(c.isalnum() or c in " _" or unicodedata.combining(c) for c in key)


@given(st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "Zs"])))
def test_normalize_ignores_ascii_case_and_spacing(text: str) -> None:
    assert normalize(text.upper()) == normalize("  " + text.lower().replace(" ", "   ") + " ")


def test_normalize_examples() -> None:
    assert normalize("The Beatles") == normalize("beatles") == "beatles"
    assert normalize("Beyoncé") == normalize("BEYONCE")
    assert normalize("Rock & Roll!") == normalize("rock and roll")


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=0, max_value=99))
def test_parse_number(n: int, total: int) -> None:
    got = parse_number(f"{n}/{total}")
    assert got == (n if 1 <= n <= 999 else None)
    assert parse_number(str(n)) == got


@given(st.text())
def test_parse_number_never_raises(text: str) -> None:
    got = parse_number(text)
    assert got is None or 1 <= got <= 999


@given(st.dates())
def test_parse_date(d: object) -> None:
    text = d.isoformat()  # type: ignore[attr-defined]
    got = parse_date(text)
    if 1000 <= int(text[:4]) <= 2100:
        assert got == (text, "day")
        assert parse_date(text[:7]) == (text[:7], "month")
    else:
        assert got is None


@given(st.text(alphabet=st.characters(codec="cp1252", categories=["L", "N", "P", "Zs"]), min_size=1),
       st.sampled_from(CP1252_SPECIALS))  # fmt: skip
def test_cp1252_read_as_latin1_is_repaired(text: str, special: str) -> None:
    original = text + special
    raw = original.encode("cp1252")
    try:
        raw.decode("utf-8")
        return                                  # also valid UTF-8: ambiguous, UTF-8 wins by design
    except UnicodeDecodeError:
        pass
    assert fix_legacy_text(raw.decode("latin-1")) == original


@given(st.text(min_size=1).filter(lambda t: not t.isascii() and all(ord(c) < 0xD800 for c in t)))
def test_utf8_read_as_latin1_is_repaired(text: str) -> None:
    assert fix_legacy_text(text.encode("utf-8").decode("latin-1")) == text


@given(st.text())
def test_fix_leaves_proper_text_alone(text: str) -> None:
    if all(not (0x80 <= ord(c) <= 0xFF) and not (0xDC80 <= ord(c) <= 0xDCFF) for c in text):
        assert fix_legacy_text(text) == text


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=100_000), st.integers(min_value=0, max_value=2**32))
def test_hashing_reader_hashes_every_byte_once_whatever_the_seeks(data: bytes, seed: int) -> None:
    rng = random.Random(seed)
    hasher = TorrentHasher(16384)
    reader = HashingReader(io.BufferedReader(io.BytesIO(data)), hasher)  # type: ignore[arg-type]
    for _ in range(rng.randint(0, 30)):                  # what a demuxer does: reads, seeks both ways
        op = rng.random()
        if op < 0.3:
            reader.seek(rng.randint(0, len(data) + 10))
        elif op < 0.4:
            reader.seek(-rng.randint(0, 100), io.SEEK_END)
        else:
            got = reader.read(rng.randint(1, 70_000))
            pos = reader.tell() - len(got)
            assert got == data[pos : pos + len(got)]
    reader.finish()
    ref = TorrentHasher(16384)
    ref.update(data)
    assert hasher.finish() == ref.finish()
