"""ingest end to end on real audio: store, quarantine, duplicates, alternatives, matching, resume."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from mutagen.oggvorbis import OggVorbis
from store_helpers import reencode

from phonotheque.archive import Archive
from phonotheque.store import ingest as ingest_mod
from phonotheque.store.hashing import hash_file
from phonotheque.store.ingest import ingest


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def statuses(archive: Archive) -> dict[str, str]:
    return {Path(r[0]).name: r[1] for r in archive.conn.execute("SELECT path, status FROM ingest_log")}


def links(archive: Archive) -> list[tuple[str, str, str, str]]:
    """(file name ingested from, track name, role, match method) for every track_files row."""
    rows = archive.conn.execute(
        "SELECT f.source_path, t.name, tf.role, tf.match_method FROM track_files tf "
        "JOIN files f ON f.id = tf.file_id JOIN tracks t ON t.id = tf.track_id ORDER BY f.source_path"
    )
    return [(Path(r[0]).name, r[1], r[2], r[3]) for r in rows]


def test_good_files_stored_bad_files_quarantined(
    archive: Archive, audio: Path, tmp_path: Path, broken: Callable[[], tuple[Path, dict[str, str]]]
) -> None:
    bad_dir, expected = broken()
    good = tmp_path / "good"
    shutil.copytree(audio, good, ignore=shutil.ignore_patterns("*.py", "*.mod"))
    before = {p.name: (sha(p), p.stat().st_mtime_ns) for p in good.iterdir()}
    result = ingest(archive, [good, bad_dir], workers=2)
    got = statuses(archive)
    for name, status in expected.items():
        assert got[name] == status, name
    assert all(got[p.name] == "success" for p in good.iterdir())
    assert result.quarantined == len(expected) and result.stored == len(before)
    # the store holds exactly the good files, under their sha256, byte for byte
    stored = sorted(p for p in archive.store_dir.rglob("*") if p.is_file())
    assert sorted(p.name.split(".")[0] for p in stored) == sorted(s for s, _ in before.values())
    for p in stored:
        assert sha(p) == p.name.split(".")[0]
        assert p.relative_to(archive.store_dir).parts[:2] == (p.name[:2], p.name[2:4])
    # originals untouched
    assert {p.name: (sha(p), p.stat().st_mtime_ns) for p in good.iterdir()} == before
    # every quarantined file has a line with its reason, and the reasons are specific
    lines = [orjson.loads(x) for x in (archive.quarantine_dir / "quarantine.jsonl").read_bytes().splitlines()]
    reasons = {Path(x["path"]).name: x["reason"] for x in lines}
    assert set(reasons) == set(expected)
    assert "0 bytes" in reasons["zero-bytes.ogg"]
    assert "header claims 240.0 s" in reasons["claims-4-minutes.wav"]
    assert "truncated" in reasons["truncated.ogg"]
    assert "CRC mismatch" in reasons["damaged-middle.ogg"]
    assert ".mod" in reasons["tracker.mod"]


def test_facts_and_hashes_recorded(archive: Archive, audio: Path) -> None:
    ingest(archive, [audio / "singularity-awakening.ogg"], workers=1)
    row = archive.conn.execute("SELECT * FROM files").fetchone()
    src = audio / "singularity-awakening.ogg"
    ref = hash_file(src, 32768)                       # an independent second read
    assert (row["sha256"], row["size"], row["v1_pieces"], row["v1_tail"], row["v2_root"], row["v2_layer"]) == (
        ref.sha256, ref.size, ref.v1_pieces, ref.v1_tail, ref.v2_root, ref.v2_layer
    )
    assert (row["container"], row["codec"], row["sample_rate"], row["channels"]) == ("ogg", "vorbis", 48000, 2)
    assert abs(row["duration_ms"] - 15000) < 100 and abs(row["header_duration_ms"] - 15000) < 100
    assert row["licence"] == "http://creativecommons.org/licenses/by-sa/3.0/"
    assert orjson.loads(row["tags"])["album"] == ["Endgame: Singularity Original Soundtrack"]
    assert row["fingerprint"].startswith("AQAA") and row["fingerprint_duration"] == 15
    track = archive.conn.execute(
        "SELECT t.name, a.name AS artist, al.name AS album, al.release_date, s.name AS source FROM tracks t "
        "JOIN track_artists ta ON ta.track_id = t.id JOIN artists a ON a.id = ta.artist_id "
        "JOIN albums al ON al.id = t.album_id JOIN sources s ON s.id = t.source_id"
    ).fetchone()
    assert tuple(track) == ("Awakening", "Maxstack", "Endgame: Singularity Original Soundtrack", "2012-12-15",
                            "local-tags")  # fmt: skip


def test_large_files_take_the_streaming_path(archive: Archive, audio: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_mod, "MEMORY_CAP", 0)      # every file through HashingReader
    opts = ingest_mod.IngestOptions(str(archive.root), 32768, 120, 0.9, memory_cap=0)
    src = audio / "fof-chaos-god-song.ogg"
    from phonotheque.store.walk import walk

    result = ingest_mod.analyse_file(opts, walk([src]).files[0])
    assert result.status == "ok", result.reason
    ref = hash_file(src, 32768)
    assert result.hashes == ref
    assert result.store_path is not None
    assert sha(archive.root / result.store_path) == ref.sha256


def test_identical_bytes_stored_once(archive: Archive, audio: Path, tmp_path: Path) -> None:
    a = tmp_path / "a" / "one.ogg"
    b = tmp_path / "b" / "copy.ogg"
    a.parent.mkdir()
    b.parent.mkdir()
    shutil.copyfile(audio / "singularity-deprecation.ogg", a)
    shutil.copyfile(audio / "singularity-deprecation.ogg", b)
    result = ingest(archive, [tmp_path / "a", tmp_path / "b"], workers=2)
    assert (result.stored, result.duplicates) == (1, 1)
    rows = {Path(r["path"]).name: r for r in archive.conn.execute("SELECT * FROM ingest_log")}
    assert rows["copy.ogg"]["status"] == "duplicate_of"
    assert rows["copy.ogg"]["duplicate_of"] == rows["one.ogg"]["file_id"]
    assert archive.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 1
    assert archive.conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1


def test_wrong_extension_and_absurd_tags(archive: Archive, audio: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "really-ogg.mp3"
    shutil.copyfile(audio / "drascula-track2.ogg", wrong)
    absurd = tmp_path / "absurd.ogg"
    shutil.copyfile(audio / "singularity-deprecation.ogg", absurd)
    tags = OggVorbis(absurd)
    tags["title"] = ["T" * 10_000]
    tags["tracknumber"] = ["-5/abc"]
    tags["discnumber"] = ["99999"]
    tags["date"] = ["31337-99-99"]
    tags["album"] = ["none"]
    tags.save()
    untagged = tmp_path / "no tags at all.ogg"
    shutil.copyfile(audio / "drascula-track2.ogg", untagged)
    u = OggVorbis(untagged)
    u.delete()
    u["encoder"] = ["x"]                                     # distinct bytes, still no title/artist
    u.save()
    result = ingest(archive, [tmp_path], workers=2)
    assert result.quarantined == 0
    exts = {r[0] for r in archive.conn.execute("SELECT ext FROM files")}
    assert exts == {".ogg"}                                  # named by content, not by the wrong name
    t = archive.conn.execute("SELECT * FROM tracks WHERE length(name) = 10000").fetchone()
    assert t["track_number"] is None and t["disc_number"] is None and t["album_id"] is None
    names = {r[0] for r in archive.conn.execute("SELECT name FROM tracks")}
    assert "no tags at all" in names                        # untagged: titled by its file name


def test_stem_is_not_merged_with_its_mix(archive: Archive, audio: Path) -> None:
    ingest(archive, [audio / "fof-chaos-god-song.ogg", audio / "fof-chaos-god-guitar.ogg"], workers=2)
    got = links(archive)
    assert [(f, role) for f, _, role, _ in got] == [("fof-chaos-god-guitar.ogg", "original"),
                                                    ("fof-chaos-god-song.ogg", "original")]  # fmt: skip
    assert archive.conn.execute("SELECT count(DISTINCT track_id) FROM track_files").fetchone()[0] == 2


def test_other_encodings_become_alternatives_best_kept(archive: Archive, audio: Path, tmp_path: Path) -> None:
    src = audio / "fof-chaos-god-song.ogg"
    shutil.copyfile(src, tmp_path / "a-song.ogg")
    (tmp_path / "b-untagged.opus").write_bytes(reencode(src, "libopus", "ogg", bit_rate=64000, rate=48000))
    result = ingest(archive, [tmp_path], workers=2)
    assert result.alternatives == 1 and result.new_tracks == 1
    assert links(archive) == [("a-song.ogg", "Chaos God", "original", "new_from_tags"),
                              ("b-untagged.opus", "Chaos God", "alternative", "fingerprint")]  # fmt: skip
    # a lossless copy arrives later: it becomes the original, the Vorbis file an alternative
    flac = tmp_path / "later" / "c-lossless.flac"
    flac.parent.mkdir()
    flac.write_bytes(reencode(src, "flac", "flac"))
    ingest(archive, [flac], workers=1)
    roles = {f: (role, method) for f, _, role, method in links(archive)}
    assert roles["c-lossless.flac"] == ("original", "fingerprint")
    assert roles["a-song.ogg"][0] == "alternative"
    assert archive.conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 1


def _catalog_track(archive: Archive, name: str, artist: str, duration_ms: int, isrc: str | None = None) -> int:
    with archive.transaction() as c:
        c.execute("INSERT OR IGNORE INTO sources(name, format) VALUES ('mb', 'musicbrainz')")
        sid = c.execute("SELECT id FROM sources WHERE name = 'mb'").fetchone()[0]
        aid = c.execute("INSERT INTO artists(source_id, source_key, name) VALUES (?, ?, ?)",
                        (sid, f"artist-{name}", artist)).lastrowid  # fmt: skip
        rid = None
        if isrc:
            rid = c.execute("INSERT INTO recordings(isrc, title) VALUES (?, ?)", (isrc, name)).lastrowid
            c.execute("INSERT INTO recording_isrcs(isrc, recording_id) VALUES (?, ?)", (isrc, rid))
        tid = c.execute(
            "INSERT INTO tracks(source_id, source_key, recording_id, name, duration_ms) VALUES (?, ?, ?, ?, ?)",
            (sid, f"track-{name}", rid, name, duration_ms),
        ).lastrowid
        c.execute("INSERT INTO track_artists(track_id, position, artist_id) VALUES (?, 0, ?)", (tid, aid))
    assert tid is not None
    return int(tid)


def test_matches_catalog_by_isrc_then_tags(archive: Archive, audio: Path, tmp_path: Path) -> None:
    by_isrc = _catalog_track(archive, "Some Other Title", "Someone", 99_000, isrc="GBAYE0601498")
    by_tags = _catalog_track(archive, "AWAKENING!", "maxstack", 15_900)     # 0.9 s longer, other spelling
    too_long = _catalog_track(archive, "Deprecation", "Maxstack", 25_000)   # 10 s off: not the same
    f = tmp_path / "isrc.ogg"
    shutil.copyfile(audio / "drascula-track2.ogg", f)
    t = OggVorbis(f)
    t["isrc"] = ["gb-aye-06-01498"]
    t.save()
    shutil.copyfile(audio / "singularity-awakening.ogg", tmp_path / "awakening.ogg")
    shutil.copyfile(audio / "singularity-deprecation.ogg", tmp_path / "deprecation.ogg")
    ingest(archive, [tmp_path], workers=2)
    rows = {Path(r["path"]).name: r for r in archive.conn.execute("SELECT * FROM ingest_log")}
    assert (rows["isrc.ogg"]["track_id"], rows["isrc.ogg"]["match_method"]) == (by_isrc, "isrc")
    assert (rows["awakening.ogg"]["track_id"], rows["awakening.ogg"]["match_method"]) == (by_tags, "tags")
    assert rows["deprecation.ogg"]["match_method"] == "new_from_tags"
    assert rows["deprecation.ogg"]["track_id"] != too_long
    conf = archive.conn.execute("SELECT confidence FROM track_files WHERE track_id = ?", (by_tags,)).fetchone()[0]
    assert 0.8 <= conf < 0.9


def test_rerun_skips_done_files_and_redoes_changed_ones(archive: Archive, audio: Path, tmp_path: Path) -> None:
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    for name in ("singularity-awakening.ogg", "drascula-track2.ogg", "tecnoballz-high-score.mod"):
        shutil.copyfile(audio / name, tmp_path / name)
    first = ingest(archive, [tmp_path], workers=2)
    assert (first.stored, first.quarantined, first.skipped) == (2, 1, 0)
    again = ingest(archive, [tmp_path], workers=2)
    assert (again.stored, again.quarantined, again.skipped) == (0, 0, 3)
    st = (tmp_path / "drascula-track2.ogg").stat()
    os.utime(tmp_path / "drascula-track2.ogg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = ingest(archive, [tmp_path], workers=1)
    assert (third.duplicates, third.skipped) == (1, 2)
    assert archive.conn.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 3
    assert archive.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 2
