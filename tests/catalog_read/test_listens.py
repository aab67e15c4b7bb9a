from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from catalog_builder import Builder
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.catalog.listens import import_listens
from phonotheque.catalog.search import refresh_index, search
from phonotheque.cli.main import cli
from phonotheque.errors import ImportFormatError

MBID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"


def listens(archive: Archive) -> dict[int, int | None]:
    return {r[0]: r[1] for r in archive.conn.execute("SELECT id, listens FROM tracks ORDER BY id")}


@pytest.fixture
def three(build: Builder) -> tuple[int, int, int]:
    a = build.track("A", isrc="GBAYE0601498", recording_mbid=MBID, popularity=10, album="One")
    b = build.track("A", isrc="GBAYE0601498", recording_mbid=MBID, popularity=60, album="Two")
    c = build.track("C", isrc="GBAYE0601499", popularity=0, listens=7)
    return a, b, c


def test_csv_with_header_ids_isrcs_mbids_and_bad_lines(
    archive: Archive, three: tuple[int, int, int], tmp_path: Path
) -> None:
    a, b, c = three
    f = tmp_path / "counts.csv"
    f.write_text(
        "identifier,plays\n"
        f"{a},5\n"
        "GBAYE0601498,100\n"  # recording on two tracks: credited to b (more popular)
        f"{MBID},1\n"
        "gb-aye-06-01499,3\n"
        "USXX99999999,4\n"  # line 6: not in catalog
        "GBAYE0601499,lots\n"  # line 7: bad count
        "GBAYE0601499,-2\n"  # line 8: negative
        "\n"
        "garbage,1\n",  # line 10: not an id
        encoding="utf-8",
    )
    s = import_listens(archive, f)
    assert s["format"] == "csv" and s["listens"] == 109 and s["tracks"] == 3
    assert listens(archive) == {a: 5, b: 101, c: 10}
    assert [r["line"] for r in s["rejects"]] == [6, 7, 8, 10]
    assert "not in the catalog" in s["rejects"][0]["reason"] and "lots" in s["rejects"][1]["reason"]
    assert (
        archive.conn.execute("SELECT count(*) FROM import_rejects WHERE path = ?", (str(f),)).fetchone()[0]
        == 4
    )
    # the same content again (even under another name) is counted once
    g = tmp_path / "copy.csv"
    g.write_bytes(f.read_bytes())
    again = import_listens(archive, g)
    assert again["already_imported"] and listens(archive) == {a: 5, b: 101, c: 10}


def test_csv_without_header_semicolons_bom_and_single_column(
    archive: Archive, three: tuple[int, int, int], tmp_path: Path
) -> None:
    a, b, c = three
    f = tmp_path / "plays.txt"
    f.write_bytes(f"\ufeff{c};1 000\n{a};2\n".encode())
    assert import_listens(archive, f)["listens"] == 1002
    g = tmp_path / "one-per-row.csv"
    g.write_text(f"{a}\n{a}\n{c}\n")
    assert import_listens(archive, g)["listens"] == 3
    assert listens(archive) == {a: 4, b: None, c: 1008}


def test_listenbrainz_events(archive: Archive, three: tuple[int, int, int], tmp_path: Path) -> None:
    a, b, c = three
    events = [
        {
            "listened_at": 1,
            "track_metadata": {
                "artist_name": "x",
                "track_name": "A",
                "additional_info": {"recording_mbid": MBID},
            },
        },
        {"listened_at": 2, "track_metadata": {"mbid_mapping": {"recording_mbid": MBID}}},
        {"listened_at": 3, "track_metadata": {"additional_info": {"isrc": "GBAYE0601499"}}},
        {"track_id": a},
        {"isrc": "GBAYE0601499", "count": 4},
        {"track_metadata": {"track_name": "no ids"}},
        [1, 2],
    ]
    lines = [json.dumps(e) for e in events]
    lines.insert(3, "{not json")
    f = tmp_path / "listens.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = import_listens(archive, f)
    assert s["format"] == "events" and s["listens"] == 8
    assert listens(archive) == {a: 1, b: 2, c: 12}
    assert [r["line"] for r in s["rejects"]] == [4, 7, 8]


def test_listens_move_search_ranking(archive: Archive, build: Builder, tmp_path: Path) -> None:
    quiet = build.track("Echo one", listens=1)
    build.track("Echo two", listens=1000)
    refresh_index(archive)
    assert search(archive, "echo")[0]["name"] == "Echo two"
    f = tmp_path / "l.csv"
    f.write_text(f"{quiet},1000000000\n")
    import_listens(archive, f)
    assert search(archive, "echo")[0]["name"] == "Echo one"


def test_missing_file_and_bad_format(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no such"):
        import_listens(archive, tmp_path / "nope.csv")
    (tmp_path / "x.csv").write_text("1,1\n")
    with pytest.raises(ImportFormatError, match="unknown listens format"):
        import_listens(archive, tmp_path / "x.csv", format="xml")


def test_cli(archive: Archive, three: tuple[int, int, int], tmp_path: Path) -> None:
    a, _, _ = three
    f = tmp_path / "l.csv"
    f.write_text(f"{a},3\nnope,1\n")
    res = CliRunner().invoke(cli, ["listens", "-A", str(archive.root), str(f)])
    assert res.exit_code == 0, res.output
    assert "3 listens credited to 1 tracks" in res.stdout
    res = CliRunner().invoke(cli, ["listens", "-A", str(archive.root), "--json", str(f)])
    assert json.loads(res.stdout)["already_imported"] is True


def test_kill_9_then_rerun_counts_once(archive: Archive, build: Builder, tmp_path: Path) -> None:
    ids = [build.track(f"t{i}") for i in range(2000)]
    archive.close()
    f = tmp_path / "big.csv"
    rows = [f"{ids[i % len(ids)]},1" for i in range(400_000)]
    f.write_text("\n".join(rows) + "\n")
    cmd = [sys.executable, "-m", "phonotheque.cli.main", "listens", "-A", str(archive.root), str(f)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed before it finished
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    reopened = Archive.open(archive.root)
    total = reopened.conn.execute("SELECT sum(events), count(*) FROM listen_imports").fetchone()
    assert reopened.conn.execute("SELECT sum(listens) FROM tracks").fetchone()[0] == 400_000
    assert tuple(total) == (400_000, 1)
    reopened.close()
