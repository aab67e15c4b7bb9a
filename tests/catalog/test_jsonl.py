"""Web-API track objects: normalization, linking, bad input, re-import, exact round trip."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from phonotheque.archive import Archive
from phonotheque.catalog.importers import import_source
from phonotheque.catalog.remainder import same
from phonotheque.catalog.roundtrip import iter_source
from phonotheque.catalog.synth import write_jsonl
from phonotheque.errors import ImportFormatError, ImportRejectedError

DATA = Path(__file__).resolve().parent.parent / "data"
TRACKS = DATA / "import" / "tracks.jsonl"
BROKEN = DATA / "import" / "broken.jsonl"
RELEASES = DATA / "musicbrainz" / "releases.jsonl"


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_tracks_normalized_and_round_trip(archive: Archive) -> None:
    res = import_source(archive, TRACKS, format="jsonl", licence="CC-BY-4.0")
    assert (res.inserted, res.rejected) == (5, 0)
    c = archive.conn
    t2 = c.execute(
        "SELECT t.name, t.duration_ms, t.explicit, t.popularity, t.listens, m.codes, t.licence FROM tracks t "
        "JOIN market_sets m ON m.id=t.market_set_id WHERE t.source_key='t2'"
    ).fetchone()
    assert tuple(t2) == ("Dreams", 257000, 1, 88, 98765, "GB,US", "CC-BY-4.0")
    assert [r[0] for r in c.execute(
        "SELECT ar.name FROM track_artists ta JOIN artists ar ON ar.id=ta.artist_id JOIN tracks t ON t.id=ta.track_id "
        "WHERE t.source_key='t2' ORDER BY ta.position")] == ["Fleetwood Mac", "Stevie Nicks"]
    # one album shared by t1 and t2; one artist a1 even when credited under another name (t4)
    assert c.execute("SELECT COUNT(*) FROM albums").fetchone()[0] == 2
    assert c.execute("SELECT COUNT(*) FROM artists WHERE source_key='a1'").fetchone()[0] == 1
    assert c.execute("SELECT credited_name FROM track_artists ta JOIN tracks t ON t.id=ta.track_id "
                     "WHERE t.source_key='t4'").fetchone()[0] == "Fleetwood Mac & friends"
    # same ISRC on two tracks -> one recording
    rec = [r[0] for r in c.execute("SELECT recording_id FROM tracks WHERE source_key IN ('t4','t5')")]
    assert rec[0] == rec[1]
    assert c.execute("SELECT value FROM external_ids WHERE entity='track' AND kind='ean'").fetchone()[0] == "123"
    # unknown fields, float durations, credited names, a renamed album in one line: all survive
    originals = _lines(TRACKS)
    rebuilt = list(iter_source(archive, "tracks"))
    for a, b in zip(originals, rebuilt, strict=True):
        assert same(b, a), a["id"]
    assert type(rebuilt[1]["duration_ms"]) is float


def test_links_to_musicbrainz_recording_by_isrc(archive: Archive) -> None:
    import_source(archive, RELEASES, format="musicbrainz")
    n = archive.conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0]
    import_source(archive, TRACKS, format="jsonl")
    c = archive.conn
    mbid = c.execute("SELECT r.mbid FROM tracks t JOIN recordings r ON r.id=t.recording_id "
                     "WHERE t.source_key='t1'").fetchone()[0]
    assert mbid == "b25f351b-206f-4297-95bd-78459b704144"  # Second Hand News, ISRC USWB10101367
    # t1, t2 link to MusicBrainz recordings; t3 (no ISRC) and t4/t5 (one new ISRC) add two recordings
    assert c.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == n + 2
    assert all(same(a, b) for a, b in zip(iter_source(archive, "tracks"), _lines(TRACKS), strict=True))
    assert all(same(a, b) for a, b in zip(iter_source(archive, "releases"), _lines(RELEASES), strict=True))


def test_bad_lines_are_rejected_with_line_and_reason(archive: Archive) -> None:
    res = import_source(archive, BROKEN, format="jsonl")
    rows = archive.conn.execute("SELECT line, source_key, reason FROM import_rejects ORDER BY line").fetchall()
    by_line = {r[0]: r[2] for r in rows}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 12]
    assert "malformed JSON" in by_line[2]
    assert "UTF-8" in by_line[3]
    assert "missing required field 'name'" in by_line[4]
    assert "'duration_ms' out of range" in by_line[5]
    assert "'popularity' out of range: 900" in by_line[6]
    assert "30000" in by_line[7]
    assert "future" in by_line[8]
    assert "'explicit' must be true or false" in by_line[9]
    assert "duplicate id 'b1'" in by_line[10] and "line 1" in by_line[10]
    assert "expected a JSON object" in by_line[12]
    assert (res.inserted, res.rejected, res.duplicates) == (2, 10, 1)
    assert sorted(r[0] for r in archive.conn.execute("SELECT source_key FROM tracks")) == ["b1", "b14"]
    report = Path(res.report_path or "").read_text(encoding="utf-8").splitlines()
    assert report[0] == "path\tline\tkey\treason" and len(report) == 11
    # the same import again: same rejects, not twice as many
    res2 = import_source(archive, BROKEN, format="jsonl")
    assert res2.rejected == 10 and res2.unchanged == 2
    assert archive.conn.execute("SELECT COUNT(*) FROM import_rejects").fetchone()[0] == 10
    with pytest.raises(ImportRejectedError):
        import_source(archive, BROKEN, format="jsonl", strict=True)


def test_changed_records_are_updated(archive: Archive, tmp_path: Path) -> None:
    src = tmp_path / "lib.jsonl"
    lines = _lines(TRACKS)
    src.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    import_source(archive, src, format="jsonl")
    tid = archive.conn.execute("SELECT id FROM tracks WHERE source_key='t3'").fetchone()[0]
    lines[2]["popularity"] = 42
    lines[2]["name"] = "Renamed"
    lines[2]["new_field"] = {"x": [1, 2.5, None]}
    src.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    res = import_source(archive, src, format="jsonl")
    assert (res.inserted, res.updated, res.unchanged) == (0, 1, 4)
    row = archive.conn.execute("SELECT id, name, popularity FROM tracks WHERE source_key='t3'").fetchone()
    assert tuple(row) == (tid, "Renamed", 42)
    assert archive.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 5
    assert all(same(a, b) for a, b in zip(iter_source(archive, "lib"), lines, strict=True))


def test_synthetic_catalog_round_trips(archive: Archive, tmp_path: Path) -> None:
    src = tmp_path / "synth.jsonl"
    write_jsonl(src, 3000, seed=7)
    res = import_source(archive, src, format="jsonl")
    assert res.inserted == 3000 and res.rejected == 0
    assert res.bytes_per_track_remainder < 40
    assert all(same(a, b) for a, b in zip(iter_source(archive, "synth"), _lines(src), strict=True))


def test_unusable_sources_are_clear_errors(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no such file"):
        import_source(archive, tmp_path / "missing.jsonl", format="jsonl")
    with pytest.raises(ImportFormatError, match="unknown format"):
        import_source(archive, TRACKS, format="xml")
    import_source(archive, TRACKS, format="jsonl", source_name="lib")
    with pytest.raises(ImportFormatError, match="imported as jsonl"):
        import_source(archive, RELEASES, format="musicbrainz", source_name="lib")
