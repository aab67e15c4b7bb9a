"""`package` end to end on a real archive: layout, contract, reproducibility, no audio read, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard
from release_fixtures import SAMPLE, Builder, Spec, build_sample, new_archive
from torrent_check import bdecode, check_torrent

from phonotheque.archive import Archive
from phonotheque.errors import PlanError, ReleaseError, StoreError
from phonotheque.release.package import list_releases, package, publish

TORRENT_KEYS = {"name", "kind", "content", "batch", "torrent", "version", "infohash_v1", "infohash_v2", "magnet",
                "size", "padded_size", "file_count", "piece_size", "popularity_min", "popularity_max", "listens",
                "listens_share", "created", "published"}
INDEX_COLUMNS = ["track_id", "isrc", "torrent", "infohash_v1", "infohash_v2", "path", "offset", "size", "sha256",
                 "sha256_original", "tier", "listens", "file_id"]


def _doc(archive: Archive, release: str) -> dict:
    return json.loads((archive.releases_dir / release / "torrents.json").read_text())


def _file_offsets(torrent: Path) -> dict[str, int]:
    meta, _ = bdecode(torrent.read_bytes())
    out, off = {}, 0
    for f in meta[b"info"][b"files"]:
        if f.get(b"attr") != b"p":
            out["/".join(p.decode() for p in f[b"path"])] = off
        off += f[b"length"]
    return out


def test_release_directory_follows_the_contract(sample_archive: Archive) -> None:
    a = sample_archive
    result = package(a, release="r1", target_size="150KB")
    rel = a.releases_dir / "r1"
    doc = _doc(a, "r1")
    assert doc["format"] == "phonotheque-torrent-list" and doc["version"] == 1
    assert doc["archive"] == "test archive" and doc["release"] == "r1"
    batches = [t["batch"] for t in doc["torrents"]]
    assert batches == sorted(batches)
    audio = [t for t in doc["torrents"] if t["kind"] == "audio"]
    assert len(audio) >= 3 and [t["batch"] for t in audio] == list(range(1, len(audio) + 1))
    assert {t["content"] for t in doc["torrents"] if t["kind"] == "metadata"} == {"catalog"}
    planned_listens = sum(s.listens for s in SAMPLE)
    for t in doc["torrents"]:
        assert set(t) == TORRENT_KEYS
        assert t["torrent"] == f"torrents/{t['name']}.torrent" and (rel / t["torrent"]).is_file()
        assert len(t["infohash_v1"]) == 40 and len(t["infohash_v2"]) == 64 and t["published"] is False
        assert t["magnet"].startswith(f"magnet:?xt=urn:btih:{t['infohash_v1']}&xt=urn:btmh:1220{t['infohash_v2']}")
        assert t["padded_size"] >= t["size"] and t["padded_size"] % t["piece_size"] == 0
        assert t["listens_share"] == pytest.approx(t["listens"] / planned_listens)
        # the independent reader recomputes every hash from the seeding tree
        assert check_torrent(rel / t["torrent"], rel / "data" / t["name"]) == {"v1": t["infohash_v1"],
                                                                              "v2": t["infohash_v2"]}
    # most listened first: batch 1 holds the top tracks, shares decrease
    shares = [t["listens_share"] for t in audio]
    assert shares == sorted(shares, reverse=True)
    held = [s for s in SAMPLE if s.size >= 0]
    assert sum(t["listens_share"] for t in audio) == pytest.approx(sum(s.listens for s in held) / planned_listens)
    assert result.tracks_pending == 1 and result.tracks_packaged == len(held)

    # the file index: parquet and csv.zst agree, one row per track, paths/offsets/hashes are true
    table = pq.read_table(rel / "index" / "files.parquet")
    assert table.column_names == INDEX_COLUMNS
    csv = pacsv.read_csv(io.BytesIO(zstandard.ZstdDecompressor().decompress(
        (rel / "index" / "files.csv.zst").read_bytes(), max_output_size=1 << 26)))
    assert csv.num_rows == table.num_rows == len(held)
    by_name = {t["name"]: t for t in doc["torrents"]}
    store_inodes = {p.stat().st_ino for p in (a.store_dir).rglob("*") if p.is_file()}
    for row in table.to_pylist():
        t = by_name[row["torrent"]]
        assert row["infohash_v1"] == t["infohash_v1"] and row["infohash_v2"] == t["infohash_v2"]
        data = rel / "data" / row["torrent"] / row["path"]
        assert hashlib.sha256(data.read_bytes()).hexdigest() == row["sha256"] and data.stat().st_size == row["size"]
        assert data.stat().st_ino in store_inodes, "seeding tree must be hard links into the store"
        assert _file_offsets(rel / t["torrent"])[row["path"]] == row["offset"]
        assert row["offset"] % t["piece_size"] == 0
        assert row["sha256_original"] is None
    tiers = {r["tier"] for r in table.to_pylist()}
    assert tiers == {"original", "reencode"}
    isrcs = {r["isrc"] for r in table.to_pylist()} - {None}
    assert isrcs == {"AUAP08000001"}
    notes = (rel / "RELEASE-NOTES.md").read_text()
    assert "r1-audio-0001" in notes and "padding adds" in notes
    # the catalog torrent holds a consistent SQLite copy without local paths
    cat = rel / "data" / "r1-catalog-0001"
    raw = zstandard.ZstdDecompressor().decompress((cat / "catalog.sqlite.zst").read_bytes(), max_output_size=1 << 28)
    assert raw[:16] == b"SQLite format 3\x00"
    sums = (cat / "SHA256SUMS").read_text()
    assert hashlib.sha256((cat / "catalog.sqlite.zst").read_bytes()).hexdigest() in sums


def test_same_inputs_give_the_same_infohashes(tmp_path: Path) -> None:
    a1 = new_archive(tmp_path / "a1")
    build_sample(a1)
    a2 = new_archive(tmp_path / "a2")
    build_sample(a2)
    r1 = package(a1, release="r", target_size="150KB", trackers="udp://t.example:80/announce")
    bytes1 = {p.name: p.read_bytes() for p in (a1.releases_dir / "r" / "torrents").glob("*-audio-*")}
    again = package(a1, release="r", target_size="150KB", trackers="udp://t.example:80/announce")
    r2 = package(a2, release="r", target_size="150KB", trackers="udp://t.example:80/announce")
    audio = lambda r: [(t.name, t.infohash_v1, t.infohash_v2) for t in r.torrents if t.kind == "audio"]  # noqa: E731
    assert audio(r1) == audio(again) == audio(r2)
    assert bytes1 == {p.name: p.read_bytes() for p in (a1.releases_dir / "r" / "torrents").glob("*-audio-*")}
    assert bytes1 == {p.name: p.read_bytes() for p in (a2.releases_dir / "r" / "torrents").glob("*-audio-*")}


def _rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def test_packaging_reads_no_audio(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a", piece=65536)
    b = Builder(a)
    with a.transaction():
        for i in range(8):
            b.add(Spec(f"Song {i}", album=f"Album {i // 3}", number=i, size=8_000_000 + i * 1001, listens=100 - i))
    audio_bytes = sum(p.stat().st_size for p in a.store_dir.rglob("*") if p.is_file())
    # a first packaging in this process imports modules lazily (Parquet export: ~1.5 MB of .pyc files);
    # do it on another archive so that only this run's own reads are counted below
    warm = new_archive(tmp_path / "warm", piece=65536)
    with warm.transaction():
        Builder(warm).add(Spec("Warm-up", size=1000))
    package(warm, release="w")
    before = _rchar()
    first = package(a, release="r", target_size="20MB")
    read = _rchar() - before
    # reading even one audio file would cost 8 MB; the catalog snapshot, its Parquet export and their hashes
    # read about 2 MB (the catalog and its WAL, twice)
    assert read < 8_000_000, f"package read {read} bytes ({audio_bytes} bytes of audio in the store)"
    # proof by substitution: replace every stored file's bytes (same size, old mtime) — the torrents do not
    # change, because they are built from the hashes stored at ingest
    for p in a.store_dir.rglob("*"):
        if p.is_file():
            st = p.stat()
            p.write_bytes(random.Random(p.name).randbytes(st.st_size))
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = package(a, release="r", target_size="20MB")
    assert [(t.infohash_v1, t.infohash_v2) for t in first.torrents if t.kind == "audio"] == \
           [(t.infohash_v1, t.infohash_v2) for t in second.torrents if t.kind == "audio"]


def test_missing_or_changed_store_files_stop_before_anything_is_written(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a")
    b = Builder(a)
    with a.transaction():
        for i in range(5):
            b.add(Spec(f"S{i}", number=i, size=20_000 + i), ingested_at="2020-01-01T00:00:00+00:00")
    paths = {r[0]: a.root / r[1] for r in a.conn.execute("SELECT id, store_path FROM files")}
    for p in paths.values():
        os.utime(p, (1_500_000_000, 1_500_000_000))  # 2017: written before the 2020 ingest
    paths[1].unlink()
    with open(paths[2], "ab") as fh:
        fh.write(b"x")
    os.utime(paths[3])  # touched now, ingested in 2020
    with pytest.raises(StoreError) as err:
        package(a, release="r")
    msg = str(err.value)
    assert msg.startswith("3 store file(s) missing or changed since ingest, nothing written")
    assert f"{paths[1].relative_to(a.root)}: missing" in msg
    assert f"{paths[2].relative_to(a.root)}: size 20002 on disk, 20001 at ingest" in msg
    assert f"{paths[3].relative_to(a.root)}: modified after ingest" in msg
    assert not a.releases_dir.exists()
    assert a.conn.execute("SELECT count(*) FROM torrents").fetchone()[0] == 0


def test_a_file_without_stored_hashes_stops_the_run_and_leaves_no_partial_tree(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a")
    b = Builder(a)
    with a.transaction():
        for i in range(40):
            b.add(Spec(f"S{i}", artist=f"A{i % 3}", album=f"B{i % 5}", number=i, size=20_000 + i))
    last = a.conn.execute("SELECT max(id) FROM files").fetchone()[0]
    with a.transaction() as c:  # the last batch's file: seeding trees of earlier batches are being linked
        c.execute("UPDATE files SET v1_pieces = NULL WHERE id = ?", (last,))
    with pytest.raises(ReleaseError, match="no torrent hashes stored"):
        package(a, release="r", target_size="100KB", metadata=False)
    rel = a.releases_dir / "r"
    assert [p.name for p in (rel / "data").iterdir()] == []  # no staging directory left behind
    assert [p.name for p in (rel / "torrents").iterdir()] == []
    assert a.conn.execute("SELECT count(*) FROM torrents").fetchone()[0] == 0


def test_empty_plan_and_nothing_held_are_clear(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a")
    with pytest.raises(PlanError, match="the plan is empty"):
        package(a, release="r")
    b = Builder(a)
    with a.transaction():
        b.add(Spec("ghost", size=-1))
    with pytest.raises(ReleaseError, match="none of the 1 planned track"):
        package(a, release="r")
    with pytest.raises(ReleaseError, match="release name"):
        package(a, release="../evil")
    assert not a.releases_dir.exists()


def test_target_smaller_than_a_file(sample_archive: Archive) -> None:
    with pytest.raises(ReleaseError, match="smaller than one piece"):
        package(sample_archive, release="r", target_size="1KB")
    result = package(sample_archive, release="r", target_size="16KiB")
    audio = [t for t in result.torrents if t.kind == "audio"]
    assert all(t.file_count == 1 for t in audio) and len(audio) == 11
    assert any("larger than the target size" in w and "each got a torrent of its own" in w for w in result.warnings)


def test_progressive_release_never_rewrites_published_torrents(sample_archive: Archive) -> None:
    a = sample_archive
    first = package(a, release="r", target_size="150KB")
    rel = a.releases_dir / "r"
    published_bytes = {p.name: p.read_bytes() for p in (rel / "torrents").iterdir()}
    pub = publish(a, release="r")
    assert len(pub.published) == len(first.torrents) and pub.already_published == 0
    assert all(t["published"] for t in _doc(a, "r")["torrents"])
    # nothing new: a re-run changes nothing
    again = package(a, release="r", target_size="150KB")
    assert again.torrents == [] and again.published_kept == 4
    # new tracks arrive in the plan (and one earlier-pending track gets its file)
    b = Builder(a)
    b.order = 100
    with a.transaction():
        for i in range(3):
            b.add(Spec(f"Late {i}", artist="Late", album="Late", number=i, size=30_000 + i, listens=5))
    later = package(a, release="r", target_size="150KB", trackers=["udp://new.example:1/announce"])
    new_audio = [t for t in later.torrents if t.kind == "audio"]
    assert [t.batch for t in new_audio] == [5] and new_audio[0].tracks == 3
    assert later.tracks_packaged == 3
    assert [t.name for t in later.torrents if t.kind == "metadata"] == ["r-catalog-0002"]
    for name, data in published_bytes.items():
        assert (rel / "torrents" / name).read_bytes() == data
    doc = _doc(a, "r")
    assert [t["published"] for t in doc["torrents"]].count(False) == 2
    rows = pq.read_table(rel / "index" / "files.parquet").to_pylist()
    assert len(rows) == 11 + 3 and len({r["track_id"] for r in rows}) == 14
    assert list_releases(a)[0]["release"] == "r" and len(list_releases(a, release="r")[0]["torrents"]) == 7


def test_shared_file_is_shipped_once_and_indexed_per_track(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a")
    b = Builder(a)
    with a.transaction():
        b.add(Spec("Same song", album="Original", number=1, seed=42, listens=20))
        b.add(Spec("Same song", album="Best of", number=9, seed=42, listens=10))
    result = package(a, release="r")
    audio = [t for t in result.torrents if t.kind == "audio"]
    assert len(audio) == 1 and audio[0].file_count == 1 and audio[0].tracks == 2
    rows = pq.read_table(a.releases_dir / "r" / "index" / "files.parquet").to_pylist()
    assert len(rows) == 2 and rows[0]["path"] == rows[1]["path"] and rows[0]["track_id"] != rows[1]["track_id"]


def test_tagged_copies_ship_with_patches_and_original_hash(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a")
    b = Builder(a)
    with a.transaction():
        tid = b.add(Spec("Tagged", size=40_000))
        orig_id, orig_sha = a.conn.execute(
            "SELECT f.id, f.sha256 FROM files f JOIN track_files tf ON tf.file_id = f.id WHERE tf.track_id = ?",
            (tid,)).fetchone()
        tagged_id = b.store_file(40_500, ".flac", 777, derived_from=orig_id)
        tagged_sha = a.conn.execute("SELECT sha256 FROM files WHERE id = ?", (tagged_id,)).fetchone()[0]
        a.conn.execute("UPDATE files SET sha256_with_embedded_meta = ? WHERE id = ?", (tagged_sha, orig_id))
    (a.store_dir / "patches").mkdir()
    (a.store_dir / "patches" / f"{tagged_sha}.zstdpatch").write_bytes(b"patch bytes")
    result = package(a, release="r")
    row = pq.read_table(a.releases_dir / "r" / "index" / "files.parquet").to_pylist()[0]
    assert row["sha256"] == tagged_sha and row["sha256_original"] == orig_sha and row["file_id"] == tagged_id
    patches = [t for t in result.torrents if t.content == "patches"]
    assert [t.name for t in patches] == ["r-patches-0001"] and patches[0].batch == 1
    data = a.releases_dir / "r" / "data" / "r-patches-0001"
    assert (data / f"{tagged_sha}.zstdpatch").read_bytes() == b"patch bytes"
    check_torrent(a.releases_dir / "r" / "torrents" / "r-patches-0001.torrent", data)


def test_exclusions_are_honoured(sample_archive: Archive) -> None:
    a = sample_archive
    with a.transaction() as c:
        c.execute("INSERT INTO exclusions(kind, value, reason) VALUES ('isrc', 'AUAP08000001', 'takedown')")
    result = package(a, release="r")
    assert result.tracks_excluded == 1
    rows = pq.read_table(a.releases_dir / "r" / "index" / "files.parquet").to_pylist()
    assert all(r["isrc"] != "AUAP08000001" for r in rows) and len(rows) == 10


def test_exclusion_by_mbid_added_after_planning_is_honoured(sample_archive: Archive) -> None:
    """The planner's matching applies: an album MBID (here one starting with another album's id) excludes
    that album's tracks only."""
    a = sample_archive
    albums = [r[0] for r in a.conn.execute("SELECT DISTINCT album_id FROM tracks WHERE album_id IS NOT NULL "
                                           "ORDER BY album_id")]
    assert len(albums) >= 2
    target, other = albums[-1], albums[0]
    mbid = f"{other}0b2dd9a-4f0c-4a4e-9b7e-0c7a1c1e2f3a"  # starts with the other album's catalog id
    with a.transaction() as c:
        c.execute("UPDATE albums SET mbid = ? WHERE id = ?", (mbid, target))
        c.execute("INSERT INTO exclusions(kind, value, reason) VALUES ('album', ?, 'takedown')", (mbid,))
    hit = {r[0] for r in a.conn.execute("SELECT id FROM tracks WHERE album_id = ?", (target,))}
    kept = {r[0] for r in a.conn.execute("SELECT id FROM tracks WHERE album_id = ?", (other,))}
    result = package(a, release="r")
    assert result.tracks_excluded == len(hit) > 0
    shipped = {r["track_id"] for r in pq.read_table(a.releases_dir / "r" / "index" / "files.parquet").to_pylist()}
    assert not shipped & hit and kept <= shipped


def test_copies_when_the_release_is_on_another_filesystem(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem")
    a = new_archive(tmp_path / "a")
    build_sample(a)
    elsewhere = shm / f"phonotheque-test-{os.getpid()}-{tmp_path.name}"
    elsewhere.mkdir()
    try:
        a.releases_dir.symlink_to(elsewhere)
        result = package(a, release="r", target_size="150KB")
        assert result.copies == 11 and result.links == 0
        assert any("another filesystem" in w for w in result.warnings)
        for t in _doc(a, "r")["torrents"]:
            check_torrent(a.releases_dir / "r" / t["torrent"], a.releases_dir / "r" / "data" / t["name"])
    finally:
        shutil.rmtree(elsewhere)


def test_per_track_tagged_copies_from_tagged_files(tmp_path: Path) -> None:
    """`phonotheque tag` writes one tagged copy per track (tagged_files): each track ships its own copy."""
    a = new_archive(tmp_path / "a")
    b = Builder(a)
    with a.transaction() as c:
        t1 = b.add(Spec("Shared", album="First", number=1, seed=5))
        t2 = b.add(Spec("Shared", album="Second", number=2, seed=5))
        t3 = b.add(Spec("Other", album="Third", number=3, seed=6))
        orig = c.execute("SELECT file_id FROM track_files WHERE track_id = ?", (t1,)).fetchone()[0]
        orig_sha = c.execute("SELECT sha256 FROM files WHERE id = ?", (orig,)).fetchone()[0]
        tag1 = b.store_file(40_100, ".flac", 501, derived_from=orig)
        tag2 = b.store_file(40_200, ".flac", 502, derived_from=orig)
        c.execute("UPDATE files SET sha256_with_embedded_meta = (SELECT sha256 FROM files WHERE id = ?) WHERE id = ?",
                  (tag1, orig))
        c.executemany("INSERT INTO tagged_files(track_id, original_file_id, tagged_file_id) VALUES (?, ?, ?)",
                      [(t1, orig, tag1), (t2, orig, tag2)])
        orig3 = c.execute("SELECT file_id FROM track_files WHERE track_id = ?", (t3,)).fetchone()[0]
        c.execute("INSERT INTO tagged_files(track_id, original_file_id, tagged_file_id) VALUES (?, ?, ?)",
                  (t3, orig3, orig3))  # already tagged: the original itself is shipped
        c.execute("UPDATE files SET source_path = '/home/operator/private/music.flac'")
    package(a, release="r")
    rows = {r["track_id"]: r for r in pq.read_table(a.releases_dir / "r" / "index" / "files.parquet").to_pylist()}
    assert rows[t1]["file_id"] == tag1 and rows[t2]["file_id"] == tag2 and rows[t3]["file_id"] == orig3
    assert rows[t1]["sha256_original"] == rows[t2]["sha256_original"] == orig_sha
    assert rows[t3]["sha256_original"] is None
    # the catalog torrent holds no local path of the operator
    cat = a.releases_dir / "r" / "data" / "r-catalog-0001"
    raw = zstandard.ZstdDecompressor().decompress((cat / "catalog.sqlite.zst").read_bytes(), max_output_size=1 << 28)
    assert b"/home/operator/private" not in raw
    if (cat / "parquet").is_dir():
        assert (cat / "parquet" / "tracks.parquet").is_file()
        for p in (cat / "parquet").iterdir():
            assert b"/home/operator/private" not in p.read_bytes()


def test_publish_refuses_an_incomplete_release_and_a_rerun_repairs_it(sample_archive: Archive) -> None:
    a = sample_archive
    first = package(a, release="r", target_size="150KB")
    rel = a.releases_dir / "r"
    (rel / "torrents" / "r-audio-0002.torrent").unlink()          # as if killed after the database commit
    shutil.rmtree(rel / "data" / "r-audio-0003")
    with pytest.raises(ReleaseError, match="incomplete .* r-audio-0002.torrent.*data/r-audio-0003: seeding tree missing"):
        publish(a, release="r")
    again = package(a, release="r", target_size="150KB")
    assert [t.infohash_v2 for t in again.torrents if t.kind == "audio"] == \
           [t.infohash_v2 for t in first.torrents if t.kind == "audio"]
    publish(a, release="r")
    shutil.rmtree(rel / "data" / "r-audio-0001")                  # a published tree deleted by hand
    later = package(a, release="r", target_size="150KB")
    assert any("re-linked the seeding tree of 1 published" in w for w in later.warnings)
    doc = _doc(a, "r")
    t = next(t for t in doc["torrents"] if t["name"] == "r-audio-0001")
    assert check_torrent(rel / t["torrent"], rel / "data" / t["name"])["v2"] == t["infohash_v2"]


def test_kill_9_mid_run_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    def make(root: Path) -> Archive:
        a = new_archive(root, piece=16384)
        b = Builder(a)
        with a.transaction():
            for i in range(60):
                b.add(Spec(f"Song {i}", artist=f"Artist {i % 7}", album=f"Album {i % 11}", number=i,
                           size=20_000 + 997 * i, listens=1000 - i))
        return a

    clean = make(tmp_path / "clean")
    package(clean, release="r", target_size="300KB")
    reference = [(t["name"], t["infohash_v1"], t["infohash_v2"]) for t in _doc(clean, "r")["torrents"]
                 if t["kind"] == "audio"]
    victim = make(tmp_path / "victim")
    victim.close()
    exe = Path(sys.executable).with_name("phonotheque")
    for delay in (0.4, 0.7, 1.0):
        proc = subprocess.Popen([str(exe), "package", "-A", str(victim.root), "--release", "r",
                                 "--target-size", "300KB"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    victim = Archive.open(victim.root)
    rel = victim.releases_dir / "r"
    for sub, name in (("index", ".files.parquet.tmp999.1"), ("torrents", ".r-audio-0001.torrent.tmp999"),
                      ("data", ".r-audio-0001.partial")):  # what a kill at any moment can leave behind
        (rel / sub).mkdir(parents=True, exist_ok=True)
        (rel / sub / name).write_bytes(b"half-written")
    package(victim, release="r", target_size="300KB")
    doc = _doc(victim, "r")
    assert [(t["name"], t["infohash_v1"], t["infohash_v2"]) for t in doc["torrents"] if t["kind"] == "audio"] \
        == reference
    assert sorted(p.name for p in (rel / "data").iterdir()) == sorted(t["name"] for t in doc["torrents"])
    leftovers = [p for sub in ("torrents", "index") for p in (rel / sub).iterdir() if p.name.startswith(".")]
    assert leftovers == []  # temporary files of the killed runs are gone
    for t in doc["torrents"]:
        check_torrent(rel / t["torrent"], rel / "data" / t["name"])
    publish(victim, release="r")


def test_settings_give_the_default_trackers_web_seeds_and_version(tmp_path: Path) -> None:
    a = new_archive(tmp_path / "a", **{"release.trackers": "udp://s.example:1/announce|udp://t.example:2/announce",
                                       "release.web_seeds": "https://ws.example/", "release.version": "v1"})
    build_sample(a)
    result = package(a, release="r", metadata=False)
    assert all(t.kind == "audio" for t in result.torrents)
    meta = bdecode((a.releases_dir / "r" / "torrents" / "r-audio-0001.torrent").read_bytes())[0]
    assert meta[b"announce-list"] == [[b"udp://s.example:1/announce"], [b"udp://t.example:2/announce"]]
    assert meta[b"url-list"] == [b"https://ws.example/"] and b"file tree" not in meta[b"info"]


def test_hashes_made_at_another_piece_size_are_refused(sample_archive: Archive) -> None:
    with sample_archive.transaction() as c:
        c.execute("UPDATE files SET piece_size = 65536 WHERE id = 1")
    with pytest.raises(StoreError, match="hashed with piece size 65536, the archive uses 16384"):
        package(sample_archive, release="r")
