"""Catalog fixtures for the plan tests: real SQLite archives filled with SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonotheque.archive import Archive
from phonotheque.report.sample import fill_sample_catalog


@pytest.fixture
def sample_archive(tmp_path: Path) -> Archive:
    """A 3,000-track skewed catalog (popularity, listens, shared ISRCs, a few missing values)."""
    archive = Archive.init(tmp_path / "arc")
    fill_sample_catalog(archive, 3000, seed=7)
    return archive


@pytest.fixture
def tiny_archive(tmp_path: Path) -> Archive:
    """Six hand-written tracks whose plan can be worked out by hand (see test_planner.py)."""
    archive = Archive.init(tmp_path / "tiny")
    with archive.transaction() as c:
        c.execute("INSERT INTO sources(id, name, format) VALUES (1, 'hand', 'csv')")
        c.executemany("INSERT INTO artists(id, source_id, source_key, name, popularity, followers) VALUES (?,1,?,?,?,?)",
                      [(1, "a1", "Big", 80, 5_000_000), (2, "a2", "Small", 10, 10), (3, "a3", "Nobody", None, None)])
        c.execute("INSERT INTO albums(id, source_id, source_key, name, popularity, upc) VALUES (1,1,'al1','A',60,'0001')")
        c.execute("INSERT INTO albums(id, source_id, source_key, name, popularity, upc) VALUES (2,1,'al2','B',5,'0002')")
        c.executemany("INSERT INTO recordings(id, isrc, duration_ms) VALUES (?,?,?)",
                      [(1, "USAAA0000001", 200_000), (2, "USAAA0000002", 180_000), (3, None, 240_000),
                       (4, "USAAA0000004", None)])
        # id, album, recording, duration, popularity, listens
        tracks = [
            (1, 1, 1, 200_000, 70, None),      # popular hit
            (2, 2, 1, 200_000, 0, None),       # same ISRC on a compilation, unpopular
            (3, 2, 2, 180_000, 0, None),       # tail, secondary from artist 2 → low
            (4, 1, 3, 240_000, None, 12_000),  # listens known, no popularity
            (5, 2, 4, None, None, None),       # nothing known; duration missing everywhere
            (6, 1, None, 150_000, 40, None),
        ]
        c.executemany("INSERT INTO tracks(id, source_id, source_key, album_id, recording_id, name, duration_ms, "
                      "popularity, listens) VALUES (?,1,?,?,?,?,?,?,?)",
                      [(t[0], f"t{t[0]}", t[1], t[2], f"Track {t[0]}", t[3], t[4], t[5]) for t in tracks])
        c.executemany("INSERT INTO track_artists(track_id, position, artist_id) VALUES (?,0,?)",
                      [(1, 1), (2, 1), (3, 2), (4, 1), (5, 3), (6, 1)])
    return archive
