"""Portable path rules, as properties over arbitrary names (hypothesis) plus the named hard cases."""

from __future__ import annotations

import random
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.release.paths import (
    MAX_PATH_UNITS,
    PathMaker,
    TrackNames,
    bucket_name,
    clean_ext,
    sanitize,
    track_path,
    unique_paths,
)

WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in range(10)}
ILLEGAL = set('<>:"/\\|?*')

# names from every corner: any code point (surrogates excluded: they cannot come from UTF-8 text)
any_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=400)
hard_text = st.sampled_from(["CON", "nul.txt", "COM1", "Lpt9.flac", "..", ".", " ", "a.", "a ", "🎵" * 100,
                             "שלום", "\u202eevil\u202c.exe", "e\u0301", "é", "ÉCOLE", "école", "\x00\x1f\x7f",
                             "Ǆ", "ß", "SS", "ﬃ", "K", "\u212a", "AC/DC", "a\\b", "x" * 300])
names = st.one_of(any_text, hard_text)


def assert_portable_component(c: str) -> None:
    assert c, "empty component"
    assert unicodedata.normalize("NFC", c) == c, f"{c!r} not NFC"
    assert len(c.encode("utf-8")) <= 255
    assert not ILLEGAL & set(c), f"{c!r} has an illegal character"
    assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in c), f"{c!r} has a control character"
    assert not any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in c)
    assert not c.endswith((".", " ")) and not c.startswith((".", " ")), repr(c)
    assert c.split(".")[0].rstrip(" ").upper() not in WINDOWS_RESERVED, repr(c)


def fold_key(path: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


@given(names)
def test_sanitize_always_gives_a_portable_component(text: str) -> None:
    c = sanitize(text)
    assert_portable_component(c)
    assert sanitize(c) == c, "sanitize is idempotent"


@given(names, st.integers(8, 100))
def test_sanitize_respects_a_length_budget(text: str, budget: int) -> None:
    c = sanitize(text, max_units=budget)
    assert len(c.encode("utf-16-le")) // 2 <= budget
    assert_portable_component(c)


track_names = st.builds(
    TrackNames,
    track_id=st.integers(1, 10**12),
    popularity=st.none() | st.integers(0, 100),
    album_artist=st.none() | names, album=st.none() | names, album_id=st.none() | st.integers(1, 10**12),
    year=st.none() | st.text(max_size=12), disc_number=st.none() | st.integers(0, 99),
    disc_count=st.none() | st.integers(0, 99), track_number=st.none() | st.integers(0, 9999),
    track_artist=st.none() | names, title=st.none() | names, ext=st.none() | st.text(max_size=12),
)


@settings(max_examples=150, deadline=None)
@given(track_names, st.integers(120, MAX_PATH_UNITS))
def test_track_paths_are_portable_and_bounded(t: TrackNames, budget: int) -> None:
    comps = track_path(t, max_units=budget)
    for c in comps:
        assert_portable_component(c)
    path = "/".join(comps)
    assert len(path) <= budget and len(path.encode("utf-16-le")) // 2 <= budget
    assert comps[-1].endswith(clean_ext(t.ext))
    assert comps[0] == bucket_name(t.popularity)


def _variants(base: str) -> list[str]:
    return [base, base.upper(), base.lower(), unicodedata.normalize("NFD", base), base.swapcase()]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(names, names, names), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_unique_paths_never_collide_casefolded_and_ignore_input_order(parts: list[tuple[str, str, str]],
                                                                      rnd: random.Random) -> None:
    entries: dict[int, tuple[str, ...]] = {}
    key = 1
    for artist, album, title in parts:
        for a, t in zip(_variants(artist), _variants(title), strict=True):   # case/normalization twins
            entries[key] = track_path(TrackNames(key, 50, a, album, 1, "2000", 1, 1, 1, a, t, ".flac"),
                                      max_units=200)
            key += 1
    out = unique_paths(entries, max_units=200)
    joined = {k: "/".join(v) for k, v in out.items()}
    folded = [fold_key(p) for p in joined.values()]
    assert len(set(folded)) == len(folded), "two paths equal under casefold+NFC"
    dirs = {fold_key("/".join(v[:i])) for v in out.values() for i in range(1, len(v))}
    assert not dirs & set(folded), "a file path equals a directory path"
    # sibling directories never differ only by case/normalization
    spell: dict[str, set[str]] = {}
    for v in out.values():
        for i in range(1, len(v)):
            spell.setdefault(fold_key("/".join(v[:i])), set()).add("/".join(v[:i]))
    assert all(len(s) == 1 for s in spell.values())
    for v in out.values():
        for c in v:
            assert_portable_component(c)
        assert len("/".join(v).encode("utf-16-le")) // 2 <= 200
    items = list(entries.items())
    rnd.shuffle(items)
    assert unique_paths(dict(items), max_units=200) == out


def test_named_hard_cases() -> None:
    assert sanitize("CON") == "CON_" and sanitize("nul.txt") == "nul_.txt" and sanitize("COM1.flac") == "COM1_.flac"
    assert sanitize("AC/DC") == "AC_DC" and sanitize('a<b>c:d"e|f?g*h\\i') == "a_b_c_d_e_f_g_h_i"
    assert sanitize("trailing dots...") == "trailing dots" and sanitize("  spaced  ") == "spaced"
    assert sanitize("\u202egnp.exe") == "gnp.exe"
    assert sanitize("Cafe\u0301") == "Café"
    assert sanitize("") == "_" and sanitize("...") == "_" and sanitize(".hidden") == "_hidden"
    assert sanitize("🎵 Émoji 🎶") == "🎵 Émoji 🎶" and sanitize("שלום עולם") == "שלום עולם"
    long = sanitize("é" * 300)
    assert len(long.encode()) <= 255 and set(long) == {"é"}
    t = TrackNames(7, 90, "AC/DC", "Back in Black", 3, "1980-07-25", 1, 2, 1, "AC/DC", "Hells Bells", "FLAC")
    assert track_path(t) == ("pop 90-100", "AC_DC", "1980 Back in Black (3)", "1-01 AC_DC - Hells Bells.flac")
    # the same title spelled NFC and NFD becomes the same text, then gets told apart by track id
    a = track_path(TrackNames(1, 5, "X", "Y", 2, None, None, None, 1, "X", "Café", ".ogg"))
    b = track_path(TrackNames(2, 5, "X", "Y", 2, None, None, None, 1, "X", "Cafe\u0301", ".ogg"))
    assert a == b
    out = unique_paths({1: a, 2: b})
    assert out[1][-1] == "01 X - Café [1].ogg" and out[2][-1] == "01 X - Café [2].ogg"


def test_buckets() -> None:
    assert [bucket_name(p) for p in (None, 0, 1, 9, 10, 55, 89, 90, 100)] == [
        "pop unknown", "pop 00", "pop 01-09", "pop 01-09", "pop 10-19", "pop 50-59", "pop 80-89", "pop 90-100",
        "pop 90-100"]
    assert clean_ext("FLAC") == ".flac" and clean_ext(".ogg") == ".ogg" and clean_ext("../x") == ".bin"


def _reference_track_path(t: TrackNames, max_units: int, ext: str | None) -> tuple[str, ...]:
    """The straightforward composition (sanitize every part, no cache, no fast path): what PathMaker must equal."""
    from phonotheque.release.paths import ALBUM_UNITS, ARTIST_UNITS, BUCKET_UNITS, fit, units

    bucket = sanitize(bucket_name(t.popularity), max_units=BUCKET_UNITS)
    artist_cap = max(8, min(ARTIST_UNITS, (max_units - BUCKET_UNITS) // 4))
    artist = sanitize(t.album_artist or t.track_artist or "Unknown Artist", max_units=artist_cap,
                      fallback="Unknown Artist")
    album_cap = max(12, min(ALBUM_UNITS, (max_units - BUCKET_UNITS) // 3))
    if t.album_id is None:
        album = sanitize("No Album", max_units=album_cap)
    else:
        year = (t.year or "")[:4]
        year = year if year.isdigit() else ""
        suffix = f" ({t.album_id})"
        album_cap = max(album_cap, units(suffix) + 4)
        album = fit(sanitize(f"{year} {t.album or 'Untitled'}".strip(), max_units=album_cap, fallback="Untitled"),
                    suffix, max_units=album_cap)
    number = f"{t.track_number:02d}" if t.track_number is not None else "00"
    if t.disc_number is not None and (t.disc_count or 1) > 1:
        number = f"{t.disc_number}-{number}"
    e = clean_ext(ext if ext is not None else t.ext)
    room = max_units - sum(units(c) + 1 for c in (bucket, artist, album))
    stem = sanitize(f"{number} {t.track_artist or t.album_artist or 'Unknown Artist'} - {t.title or 'Untitled'}",
                    max_units=max(room - units(e), 8))
    return (bucket, artist, album, fit(stem, e, max_units=max(room, 8 + units(e))))


plain_text = st.text(st.sampled_from("abcXYZ .-_()'&,;09"), max_size=140)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(track_names, st.builds(
    TrackNames, track_id=st.integers(1, 10**6), popularity=st.none() | st.integers(0, 100),
    album_artist=st.none() | plain_text, album=st.none() | plain_text, album_id=st.none() | st.integers(1, 50),
    year=st.none() | st.sampled_from(["1999", "2001-05-01", "x"]), disc_number=st.none() | st.integers(0, 3),
    disc_count=st.none() | st.integers(0, 3), track_number=st.none() | st.integers(0, 120),
    track_artist=st.none() | plain_text, title=st.none() | plain_text, ext=st.none() | st.sampled_from([".ogg", "FLAC"]),
)), min_size=1, max_size=12), st.integers(120, MAX_PATH_UNITS), st.none() | st.sampled_from([".opus", "mp3", ""]))
def test_path_maker_equals_the_plain_composition(tracks: list[TrackNames], budget: int, ext: str | None) -> None:
    """PathMaker caches directories per album and skips sanitize() for plain ASCII names: same result."""
    make = PathMaker(budget)
    for t in tracks + tracks:  # the second round is served from the caches
        assert make(t, ext) == _reference_track_path(t, budget, ext) == track_path(t, max_units=budget, ext=ext)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pop 00", "POP 00"]), st.sampled_from(["A", "a", "B", "É", "E\u0301"]),
                          st.sampled_from(["x", "X", "y"]), st.sampled_from(["1.ogg", "1.OGG", "2.ogg", "x", "X"])),
                min_size=1, max_size=10), st.integers(8, 30))
def test_unique_paths_fast_check_changes_nothing(paths: list[tuple[str, ...]], budget: int) -> None:
    """When the one-pass check says nothing is to do, the full algorithm indeed changes nothing."""
    import phonotheque.release.paths as P

    entries = dict(enumerate(paths, 1))
    fast = unique_paths(entries, max_units=budget)
    original = P._nothing_to_do
    try:
        P._nothing_to_do = lambda *a: False  # type: ignore[assignment]
        slow = unique_paths(entries, max_units=budget)
    finally:
        P._nothing_to_do = original
    assert fast == slow
