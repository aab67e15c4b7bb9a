"""Bulk-load mode and the pipelined importer give the catalog the plain import gives, kill -9 included."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from catalog_state import lines_done, snapshot

from phonotheque.archive import Archive
from phonotheque.catalog import bulk
from phonotheque.catalog.importers import import_source, pipeline
from phonotheque.catalog.roundtrip import iter_source
from phonotheque.catalog.synth import write_jsonl

BROKEN = Path(__file__).resolve().parent.parent / "data" / "import" / "broken.jsonl"


def _schema(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index','trigger') ORDER BY name"
        ).fetchall()
    finally:
        conn.close()


def _source(tmp_path: Path, n: int = 3000) -> Path:
    """Synthetic tracks with broken lines, exact and conflicting duplicates spread over many batches."""
    src = tmp_path / "lib.jsonl"
    write_jsonl(src, n, seed=7)
    lines = src.read_bytes().splitlines(keepends=True)
    broken = BROKEN.read_bytes().splitlines(keepends=True)
    changed = orjson.loads(lines[10])
    changed["popularity"] = (changed["popularity"] + 1) % 100
    out = lines[:1000] + broken + [lines[999], lines[150]]  # exact duplicates: the last line, an earlier batch's
    out += lines[1000:2000] + [orjson.dumps(changed) + b"\n"]  # a conflicting duplicate
    out += [lines[1999]] + lines[2000:]  # a duplicate of the line just before (possibly still in flight)
    src.write_bytes(b"".join(out))
    return src


def _fresh(path: Path, batch_size: int = 150) -> Archive:
    return Archive.init(path, {"catalog.batch_size": batch_size})


def test_bulk_pipelined_equals_plain_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _source(tmp_path)
    monkeypatch.setattr(pipeline, "CACHE_LIMIT", 50)  # the child trims its caches (after draining) every batch
    results = {}
    for name, bulk_on, piped in (("plain", False, False), ("bulk", True, False), ("piped", False, True),
                                 ("both", True, True)):
        a = _fresh(tmp_path / name)
        r = import_source(a, src, format="jsonl", refresh_search=False, bulk=bulk_on, pipelined=piped)
        results[name] = (r.inserted, r.duplicates, r.rejected, r.unchanged)
        assert bulk.pending(a.conn) is None
        a.close()
    assert results["plain"][0] >= 3000  # every synthetic track, and the good lines of broken.jsonl
    assert results["plain"][1] >= 3  # the three exact duplicates (and broken.jsonl's) are skipped
    assert len(set(results.values())) == 1, results
    ref = snapshot(tmp_path / "plain" / "catalog.sqlite")
    assert any("duplicate id" in r[4] and "different data" in r[4] for r in ref["import_rejects"])
    for name in ("bulk", "piped", "both"):
        assert snapshot(tmp_path / name / "catalog.sqlite") == ref, name
        # every index and trigger is back, with its exact definition
        assert _schema(tmp_path / name / "catalog.sqlite") == _schema(tmp_path / "plain" / "catalog.sqlite")
    # the exact round trip holds for the bulk + pipelined catalog
    a = Archive.open(tmp_path / "both")
    originals: dict[str, Any] = {}
    for raw in src.read_bytes().splitlines():
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
            originals.setdefault(obj["id"], obj)
    exported = list(iter_source(a, "lib"))
    assert len(exported) == results["plain"][0]
    for obj in exported:
        assert obj == originals[obj["id"]] and orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            originals[obj["id"]], option=orjson.OPT_SORT_KEYS
        )
    a.close()


def test_reimport_after_bulk_is_idempotent_and_not_bulk(tmp_path: Path) -> None:
    src = _source(tmp_path, 2500)
    a = _fresh(tmp_path / "a")
    import_source(a, src, format="jsonl", refresh_search=False, bulk=True, pipelined=True)
    before = snapshot(a.catalog_path)
    assert not bulk.qualifies(a.conn, 1, 1 << 40)  # the source has records now
    r = import_source(a, src, format="jsonl", refresh_search=False, bulk=True, pipelined=True)
    assert r.inserted == 0 and r.updated == 0 and r.unchanged >= 2500
    after = snapshot(a.catalog_path)
    assert after["tracks"] == before["tracks"] and after["records"] == before["records"]
    a.close()


def test_search_insert_trigger_kept_when_new_ids_could_be_indexed(tmp_path: Path) -> None:
    a = _fresh(tmp_path / "a")
    conn = a.conn
    conn.execute("UPDATE search_state SET value=10 WHERE key='watermark'")  # above MAX(tracks.id) = 0
    dropped = bulk.drop(conn, 1)
    assert "search_track_artists_insert" not in dropped and "tracks_popularity" in dropped
    assert bulk.pending(conn) == 1
    assert set(bulk.restore(conn)) == set(dropped)
    assert bulk.pending(conn) is None
    assert bulk.restore(conn) == []  # idempotent
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"tracks_popularity", "records_line", "search_track_artists_insert"} <= names
    a.close()


KILLABLE = """
import sys
from phonotheque.archive import Archive
from phonotheque.catalog.importers import import_source
a = Archive.open(sys.argv[1])
import_source(a, sys.argv[2], format="jsonl", refresh_search=False, bulk=True, pipelined=True)
"""


def test_kill_9_during_bulk_load_then_resume(tmp_path: Path) -> None:
    src = _source(tmp_path, 6000)
    clean = _fresh(tmp_path / "clean", 200)
    import_source(clean, src, format="jsonl", refresh_search=False, bulk=False, pipelined=False)
    clean.close()
    killed = _fresh(tmp_path / "killed", 200)
    killed.close()
    db = tmp_path / "killed" / "catalog.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(tmp_path / "killed"), str(src)])
    deadline = time.monotonic() + 120
    while lines_done(db) < 1000 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)  # the reader child dies with its parent (PR_SET_PDEATHSIG)
    partial = lines_done(db)
    assert 0 < partial < 6000
    names = {r[1] for r in _schema(db)}
    assert "tracks_popularity" not in names and "search_track_artists_insert" not in names  # still dropped

    a = Archive.open(tmp_path / "killed")
    assert bulk.pending(a.conn) == 1
    r = import_source(a, src, format="jsonl", refresh_search=False)  # resumes, in bulk mode
    assert r.resumed_from_line == partial
    assert bulk.pending(a.conn) is None
    a.close()
    assert snapshot(db) == snapshot(tmp_path / "clean" / "catalog.sqlite")
    assert _schema(db) == _schema(tmp_path / "clean" / "catalog.sqlite")


def test_any_import_restores_what_a_killed_bulk_load_dropped(tmp_path: Path) -> None:
    a = _fresh(tmp_path / "a")
    dropped = bulk.drop(a.conn, 1)  # as a bulk load killed right after starting leaves it
    assert dropped
    other = tmp_path / "other.jsonl"
    write_jsonl(other, 20, seed=1)
    import_source(a, other, format="jsonl", refresh_search=False)
    assert bulk.pending(a.conn) is None
    names = {r[0] for r in a.conn.execute("SELECT name FROM sqlite_master")}
    assert set(dropped) <= names
    a.close()


def test_records_of_batches_in_flight_count_as_already_seen(tmp_path: Path) -> None:
    """The pipelined reader overlays records written by uncommitted batches (``recent``) on ``records``."""
    from phonotheque.catalog.importers import ImportResult, RecordState, handler_for, prepare_batch
    from phonotheque.catalog.importers.common import record_digest
    from phonotheque.catalog.writer import CatalogWriter

    src = tmp_path / "t.jsonl"
    write_jsonl(src, 3, seed=2)
    lines = src.read_bytes().splitlines()
    a = _fresh(tmp_path / "a")
    a.conn.execute("INSERT INTO sources(id, name, format) VALUES (1, 't', 'jsonl')")
    h = handler_for("jsonl", src)
    key0, key1 = orjson.loads(lines[0])["id"], orjson.loads(lines[1])["id"]
    changed = orjson.loads(lines[1])
    changed["name"] += " (live)"
    recent: list[dict[str, RecordState]] = [{key0: (7, 7, 1, record_digest(lines[0])), key1: (8, 8, 2, record_digest(lines[1]))}]
    w = CatalogWriter(a.conn, 1, None)
    w.begin_batch()
    res = ImportResult(source_name="t", format="jsonl", path=str(src))
    touched: dict[str, RecordState] = {}
    prepare_batch(w, h, [(4, lines[0]), (5, orjson.dumps(changed)), (6, lines[2])], res, str(src), recent, touched)
    assert (res.duplicates, res.rejected, res.inserted) == (1, 1, 1)
    assert "first at line 2" in w.p["rejects"][0][4]
    assert list(touched) == [orjson.loads(lines[2])["id"]] and touched[orjson.loads(lines[2])["id"]][2] == 6
    a.close()


@pytest.mark.parametrize("fmt, name, mapping", [
    ("csv", "library.csv", "library.toml"),
    ("csv", "windows1252.csv", "windows1252.toml"),
    ("musicbrainz", "../musicbrainz/releases.jsonl", None),
])
def test_other_formats_bulk_and_pipelined_equal_plain(tmp_path: Path, fmt: str, name: str, mapping: str | None) -> None:
    data = Path(__file__).resolve().parent.parent / "data" / "import"
    src, m = data / name, (data / mapping if mapping else None)
    snaps, results = [], []
    for i, (bulk_on, piped) in enumerate(((False, False), (True, True))):
        a = _fresh(tmp_path / str(i), 3)  # tiny batches: several in flight
        r = import_source(a, src, format=fmt, mapping=m, refresh_search=False, bulk=bulk_on, pipelined=piped)
        results.append((r.inserted, r.duplicates, r.rejected, r.warnings, r.unchanged, r.tracks))
        a.close()
        snaps.append(snapshot(tmp_path / str(i) / "catalog.sqlite"))
    assert results[0][0] > 0
    assert results[0] == results[1]
    assert snaps[0] == snaps[1]


def test_opening_the_archive_restores_an_abandoned_bulk_load_but_keeps_a_resumable_one(tmp_path: Path) -> None:
    a = _fresh(tmp_path / "a")
    source_id = a.conn.execute(
        "INSERT INTO sources(name, format) VALUES ('gone', 'jsonl') RETURNING id"
    ).fetchone()[0]
    a.conn.execute(
        "INSERT INTO import_progress(source_id, path, digest, lines_done, finished) VALUES (?, 'x.jsonl', 'd', 10, 0)",
        (source_id,),
    )
    dropped = bulk.drop(a.conn, source_id)
    a.close()
    db = tmp_path / "a" / "catalog.sqlite"
    # an unfinished (resumable) bulk import: reopening leaves its indexes dropped for the resume
    Archive.open(tmp_path / "a").conn.close()
    assert not set(dropped) & {r[1] for r in _schema(db)}
    # the import was abandoned (its progress row finished or reset): the next open rebuilds the indexes
    conn = sqlite3.connect(db)
    conn.execute("UPDATE import_progress SET finished=1 WHERE source_id=?", (source_id,))
    conn.commit()
    conn.close()
    b = Archive.open(tmp_path / "a")
    assert bulk.pending(b.conn) is None
    b.close()
    assert set(dropped) <= {r[1] for r in _schema(db)}
