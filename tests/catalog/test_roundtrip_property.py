"""Property tests: arbitrary well-formed jsonl tracks and arbitrary CSV cells round-trip exactly."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from phonotheque.archive import Archive
from phonotheque.catalog.importers import import_source
from phonotheque.catalog.remainder import same
from phonotheque.catalog.roundtrip import iter_source

NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]  # each example imports into a new archive: slow to shrink
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
ids = st.text("abcdefXYZ0123", min_size=1, max_size=4)
extra = st.dictionaries(st.text("xyz_", min_size=1, max_size=4).map(lambda k: "x_" + k),
                        st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-1e6, 1e6) | text, max_size=2)
artist = st.fixed_dictionaries({"id": ids, "name": text})
album = st.fixed_dictionaries({
    "id": ids, "name": text,
    "album_type": st.sampled_from(["album", "single", "compilation", None]),
    "release_date": st.sampled_from(["1999", "2001-05", "2010-12-31", None]),
    "total_tracks": st.integers(0, 30),
    "artists": st.lists(artist, max_size=2),
    "external_ids": st.fixed_dictionaries({}, optional={"upc": st.text("0123456789", min_size=1, max_size=12)}),
    "label": st.none() | text,
    "images": st.lists(st.fixed_dictionaries({"url": text, "width": st.integers(1, 999) | st.none(),
                                              "height": st.integers(1, 999)}), max_size=2),
})
track = st.fixed_dictionaries(
    {
        "name": text,
        "artists": st.lists(artist, max_size=3),
        "external_ids": st.fixed_dictionaries({}, optional={"isrc": st.sampled_from(["USAAA0000001", "GBBBB9900002",
                                                                                     "FRCCC1200003"])}),
        "popularity": st.integers(0, 100) | st.none(),
        "duration_ms": st.integers(0, 10**7) | st.floats(0, 10**7).map(float) | st.none(),
        "explicit": st.booleans() | st.none(),
        "disc_number": st.integers(0, 5),
        "track_number": st.integers(0, 40),
        "available_markets": st.lists(st.sampled_from(["US", "GB", "FR", "JP"]), max_size=4),
    },
    optional={"album": album, "listens": st.integers(0, 10**9)},
).flatmap(lambda t: extra.map(lambda e: {**t, **e}))


def _fresh() -> tuple[tempfile.TemporaryDirectory[str], Archive]:
    tmp = tempfile.TemporaryDirectory()
    return tmp, Archive.init(Path(tmp.name) / "a")


@settings(max_examples=10, deadline=None, phases=NO_SHRINK,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(track, min_size=1, max_size=25))
def test_jsonl_tracks_round_trip(tracks: list[dict]) -> None:
    for i, t in enumerate(tracks):
        t["id"] = f"t{i}"  # ids unique: a repeated id with other data is (correctly) rejected
    tmp, archive = _fresh()
    try:
        src = Path(tmp.name) / "p.jsonl"
        src.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in tracks))
        res = import_source(archive, src, format="jsonl", refresh_search=False)
        assert res.rejected == 0, res.reject_samples
        got = list(iter_source(archive, "p"))
        assert len(got) == len(tracks)
        for a, b in zip(got, tracks, strict=True):
            assert same(a, b)
    finally:
        archive.close()
        tmp.cleanup()


cell = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"), max_size=10)


@settings(max_examples=10, deadline=None, phases=NO_SHRINK, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(cell.filter(lambda s: s.strip() != ""), cell, cell), min_size=1, max_size=20))
def test_csv_rows_round_trip(rows: list[tuple[str, str, str]]) -> None:
    tmp, archive = _fresh()
    try:
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        w.writerow(["key", "title", "who", "note"])
        data = [[f"k{i}", *r] for i, r in enumerate(rows)]
        w.writerows(data)
        src = Path(tmp.name) / "p.csv"
        src.write_text(buf.getvalue(), encoding="utf-8", newline="")
        mapping = Path(tmp.name) / "m.toml"
        mapping.write_text('[csv]\ndelimiter = ","\n[columns]\nid = "key"\nname = "title"\n'
                           'artists = { column = "who", separator = ";" }\n', encoding="utf-8")
        res = import_source(archive, src, format="csv", mapping=mapping, refresh_search=False)
        assert res.rejected == 0, res.reject_samples
        got = list(iter_source(archive, "p"))
        expected = list(csv.DictReader(io.StringIO(buf.getvalue(), newline="")))
        assert got == expected
    finally:
        archive.close()
        tmp.cleanup()
