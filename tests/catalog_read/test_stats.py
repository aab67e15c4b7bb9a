from __future__ import annotations

import json

from catalog_builder import Builder
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.catalog.stats import stats
from phonotheque.cli.main import cli


def test_counts_and_distributions(archive: Archive, build: Builder) -> None:
    # ISRC A on 3 tracks, B on 1, C on 2; one track without ISRC
    for album in ("One", "Two", "Three"):
        build.track("Song A", ["X"], album, isrc="AAAAA0000001", popularity=0, listens=10)
    build.track("Song B", ["X", "Y"], "One", isrc="AAAAA0000002", popularity=55, listens=5000)
    build.track("Song C", ["Z"], "Four", isrc="AAAAA0000003", popularity=100)
    build.track("Song C", ["Z"], "Five", isrc="AAAAA0000003", popularity=9)
    build.track("No ISRC", ["Z"], "Five")
    s = stats(archive)
    assert (s["tracks"], s["artists"], s["albums"], s["recordings"]) == (7, 3, 5, 3)
    assert s["unique_isrcs"] == 3 and s["tracks_with_isrc"] == 6
    assert s["tracks_per_isrc"] == {"1": 1, "2": 1, "3-5": 1, "6-10": 0, "11-20": 0, "21+": 0}
    assert s["max_tracks_per_isrc"] == 3
    h = s["popularity_histogram"]
    assert h["0-9"] == 4 and h["50-59"] == 1 and h["90-100"] == 1 and h["null"] == 1
    assert sum(h.values()) == 7 and s["popularity_zero"] == 3
    assert s["listens"] == {
        "total": 5030,
        "tracks_with_listens": 4,
        "tracks_under_1000": 3,
        "files_imported": 0,
    }
    assert s["sources"] == [
        {"name": "src", "format": "jsonl", "licence": "CC0-1.0", "records": 0, "tracks": 7}
    ]


def test_stats_cli_json(archive: Archive, build: Builder) -> None:
    build.track("One")
    res = CliRunner().invoke(cli, ["stats", "-A", str(archive.root), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["tracks"] == 1
    human = CliRunner().invoke(cli, ["stats", "-A", str(archive.root)])
    assert "tracks" in human.stdout and "1" in human.stdout
