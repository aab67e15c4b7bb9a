"""MusicBrainz releases: normalized rows, recording links, exact round trip, compressed and tar inputs."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from pathlib import Path

import orjson
import pytest
import zstandard

from phonotheque.archive import Archive
from phonotheque.catalog.importers import import_source
from phonotheque.catalog.remainder import same
from phonotheque.catalog.roundtrip import export_source, iter_source

DATA = Path(__file__).resolve().parent.parent / "data"
MB = DATA / "musicbrainz"

RELEASES = MB / "releases.jsonl"


def _fixture() -> list[dict]:
    return [orjson.loads(line) for line in RELEASES.read_bytes().splitlines() if line.strip()]


def _all_tracks(rel: dict) -> list[tuple[int, dict]]:
    out = []
    for m in rel["media"]:
        if "pregap" in m:
            out.append((m["position"], m["pregap"]))
        out += [(m["position"], t) for t in m.get("tracks", []) + m.get("data-tracks", [])]
    return out


def test_rows_match_the_fixture(archive: Archive) -> None:
    res = import_source(archive, RELEASES, format="musicbrainz")
    rels = _fixture()
    c = archive.conn
    assert res.inserted == len(rels) == 30 and res.rejected == 0
    tracks = [t for r in rels for t in _all_tracks(r)]
    assert c.execute("SELECT COUNT(*) FROM albums").fetchone()[0] == 30
    assert c.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == len(tracks)
    # one recording per distinct recording MBID (Collision Course's two editions share recordings)
    rec_mbids = {t["recording"]["id"] for _p, t in tracks}
    assert c.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == len(rec_mbids) < len(tracks)
    isrcs = {(i, t["recording"]["id"]) for _p, t in tracks for i in t["recording"]["isrcs"]}
    got = {tuple(r) for r in c.execute("SELECT i.isrc, r.mbid FROM recording_isrcs i JOIN recordings r ON r.id=i.recording_id")}
    assert got == isrcs
    # the Enhanced CD's data track is a track row (disc 1, position 7), and DVD tracks are there
    row = c.execute(
        "SELECT t.disc_number, t.track_number, t.number FROM tracks t JOIN albums a ON a.id=t.album_id "
        "WHERE a.mbid='2810aeef-eaf4-4ea3-a0ee-fd41f8e64285' AND t.disc_number=1 ORDER BY t.track_number DESC LIMIT 1"
    ).fetchone()
    assert tuple(row) == (1, 7, "7")
    # credits with join phrases, barcode, release group, labels
    rumours = c.execute(
        "SELECT upc, release_group_mbid, album_type, release_date, release_date_precision, licence FROM albums "
        "WHERE mbid='1a8c4ac3-6f47-4570-aedb-f1928a0498ea'"
    ).fetchone()
    assert tuple(rumours) == ("075990301024", "416bb5e5-c7d1-3977-8fd7-7c9daf6c2be6", "album", "1984-04-24", "day",
                              "CC0-1.0")
    assert c.execute("SELECT COUNT(*) FROM album_labels al JOIN albums a ON a.id=al.album_id "
                     "WHERE a.mbid='1a8c4ac3-6f47-4570-aedb-f1928a0498ea'").fetchone()[0] == 3
    jp = [r[0] for r in c.execute("SELECT DISTINCT join_phrase FROM track_artists WHERE join_phrase != ''")]
    expected_jp = {ac["joinphrase"] for _p, t in tracks for ac in t["artist-credit"] if ac["joinphrase"]}
    assert set(jp) == expected_jp and expected_jp


def test_every_release_round_trips_exactly(archive: Archive, tmp_path: Path) -> None:
    res = import_source(archive, RELEASES, format="musicbrainz")
    rels = _fixture()
    got = list(iter_source(archive, "releases"))
    assert len(got) == len(rels)
    for original, rebuilt in zip(rels, got, strict=True):
        assert same(rebuilt, original), original["id"]
    # the remainder is not a second copy of the record
    raw = RELEASES.stat().st_size
    assert res.remainder_bytes < raw / 10
    out = export_source(archive, tmp_path / "out")
    lines = (tmp_path / "out" / "releases.jsonl").read_bytes().splitlines()
    assert out["releases"]["records"] == 30
    assert all(same(orjson.loads(a), b) for a, b in zip(lines, rels, strict=True))


def test_reimport_is_idempotent(archive: Archive) -> None:
    import_source(archive, RELEASES, format="musicbrainz")
    c = archive.conn
    tables = ("albums", "tracks", "recordings", "recording_isrcs", "artists", "labels", "track_artists", "records")
    before = {t: [tuple(r) for r in c.execute(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables}
    res = import_source(archive, RELEASES, format="musicbrainz")
    assert (res.inserted, res.updated, res.unchanged) == (0, 0, 30)
    after = {t: [tuple(r) for r in c.execute(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables}
    assert before == after


def test_changed_release_is_updated_in_place(archive: Archive, tmp_path: Path) -> None:
    rels = _fixture()
    src = tmp_path / "releases.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(r) for r in rels) + b"\n")
    import_source(archive, src, format="musicbrainz")
    album_id = archive.conn.execute("SELECT id FROM albums WHERE mbid=?", (rels[0]["id"],)).fetchone()[0]
    rels[0]["title"] = "Rumours (remastered)"
    dropped = rels[0]["media"][0]["tracks"].pop()  # a track removed from the release
    rels[0]["media"][0]["track-count"] -= 1
    src.write_bytes(b"\n".join(orjson.dumps(r) for r in rels) + b"\n")
    res = import_source(archive, src, format="musicbrainz")
    assert (res.updated, res.unchanged) == (1, 29)
    c = archive.conn
    assert tuple(c.execute("SELECT id, name FROM albums WHERE mbid=?", (rels[0]["id"],)).fetchone()) == (
        album_id, "Rumours (remastered)")
    assert c.execute("SELECT COUNT(*) FROM tracks WHERE source_key=?", (dropped["id"],)).fetchone()[0] == 0
    assert all(same(a, b) for a, b in zip(iter_source(archive, "releases"), rels, strict=True))


def _tar_xz(path: Path, payload: bytes) -> None:
    with tarfile.open(path, "w:xz") as tar:
        for name, data in (("mbdump/TIMESTAMP", b"2025-01-01"), ("mbdump/release", payload)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.xz", ".jsonl.bz2", ".jsonl.zst", ".tar.xz"])
def test_compressed_and_tar_inputs(archive: Archive, tmp_path: Path, suffix: str) -> None:
    payload = RELEASES.read_bytes()
    path = tmp_path / f"mbdump{suffix}"
    if suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(payload))
    elif suffix == ".jsonl.xz":
        path.write_bytes(lzma.compress(payload))
    elif suffix == ".jsonl.bz2":
        path.write_bytes(bz2.compress(payload))
    elif suffix == ".jsonl.zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(payload))
    else:
        _tar_xz(path, payload)
    res = import_source(archive, path, format="musicbrainz", source_name="dump")
    assert res.inserted == 30 and res.rejected == 0
    assert all(same(a, b) for a, b in zip(iter_source(archive, "dump"), _fixture(), strict=True))


def test_two_sources_share_recordings(archive: Archive, tmp_path: Path) -> None:
    """The same recording MBID from two sources (and a jsonl track by ISRC) links to one recording."""
    rels = _fixture()
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(orjson.dumps(rels[3]) + b"\n")  # Collision Course, Enhanced CD + DVD
    second.write_bytes(orjson.dumps(rels[21]) + b"\n")  # Collision Course, CD + DVD (same recordings)
    import_source(archive, first, format="musicbrainz")
    n1 = archive.conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0]
    import_source(archive, second, format="musicbrainz")
    shared = {t["recording"]["id"] for _p, t in _all_tracks(rels[3])} & {
        t["recording"]["id"] for _p, t in _all_tracks(rels[21])}
    assert shared
    total = {t["recording"]["id"] for r in (rels[3], rels[21]) for _p, t in _all_tracks(r)}
    assert archive.conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == len(total)
    assert n1 == len({t["recording"]["id"] for _p, t in _all_tracks(rels[3])})
    for name, rel in (("a", rels[3]), ("b", rels[21])):
        assert same(next(iter_source(archive, name)), rel)
