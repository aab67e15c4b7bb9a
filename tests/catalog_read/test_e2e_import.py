"""End to end through the real importer (skipped until phonotheque.catalog.importers lands)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.catalog import synth
from phonotheque.catalog.lookup import lookup
from phonotheque.catalog.search import search
from phonotheque.catalog.shuffle import shuffle
from phonotheque.catalog.stats import stats
from phonotheque.cli.main import cli

importers = pytest.importorskip("phonotheque.catalog.importers")
if not hasattr(importers, "import_source"):
    pytest.skip("importer not available", allow_module_level=True)

DATA = Path(__file__).resolve().parents[1] / "data" / "musicbrainz" / "releases.jsonl"


def test_musicbrainz_records_are_searchable_and_looked_up(archive: Archive) -> None:
    importers.import_source(archive, DATA, format="musicbrainz")
    hits = search(archive, "fleetwood dreams")
    assert hits and hits[0]["name"] == "Dreams" and "Fleetwood Mac" in hits[0]["artists"]
    row = archive.conn.execute(
        "SELECT t.id, r.mbid, r.isrc, al.upc, al.mbid FROM tracks t JOIN recordings r ON r.id = t.recording_id "
        "JOIN albums al ON al.id = t.album_id WHERE r.isrc IS NOT NULL AND al.upc IS NOT NULL LIMIT 1"
    ).fetchone()
    res = lookup(archive, [str(row[0]), row[1], row[2], row[3], row[4]])
    assert all(r["found"] for r in res)
    assert row[0] in [t["id"] for t in res[1]["tracks"]] and row[0] in [t["id"] for t in res[2]["tracks"]]
    s = stats(archive)
    assert s["tracks"] == archive.conn.execute("SELECT count(*) FROM tracks").fetchone()[0] > 100
    assert s["unique_isrcs"] > 0 and s["sources"][0]["format"] == "musicbrainz"
    assert len(shuffle(archive, n=10, seed=1)) == 10


def test_reimport_of_a_changed_record_updates_search(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "cat.jsonl"
    synth.write_jsonl(path, 2000, seed=4)
    importers.import_source(archive, path, format="jsonl", source_name="cat")
    lines = path.read_bytes().splitlines()
    obj = orjson.loads(lines[10])
    old = obj["name"]
    obj["name"] = "Zyxwvut Renamed"
    lines[10] = orjson.dumps(obj)
    path.write_bytes(b"\n".join(lines) + b"\n")
    importers.import_source(archive, path, format="jsonl", source_name="cat")
    hits = search(archive, "zyxwvut")
    assert [h["name"] for h in hits] == ["Zyxwvut Renamed"]
    assert (
        hits[0]["id"]
        == archive.conn.execute("SELECT id FROM tracks WHERE source_key = ?", (obj["id"],)).fetchone()[0]
    )
    assert old != obj["name"]


def test_cli_search_and_shuffle_json(archive: Archive) -> None:
    importers.import_source(archive, DATA, format="musicbrainz")
    runner = CliRunner()
    res = runner.invoke(cli, ["search", "-A", str(archive.root), "--json", "--limit", "3", "rumo*"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert 0 < len(data) <= 3 and all(d["album"] == "Rumours" for d in data)
    bad = runner.invoke(cli, ["search", "-A", str(archive.root), "NEAR("])
    assert bad.exit_code == 1 and "error:" in bad.output and "Traceback" not in bad.output
    shuf = runner.invoke(cli, ["shuffle", "-A", str(archive.root), "-n", "4", "--json", "--seed", "3"])
    assert shuf.exit_code == 0 and len(json.loads(shuf.stdout)) == 4
