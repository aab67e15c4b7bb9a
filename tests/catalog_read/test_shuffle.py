"""Uniformity checked with a chi-square test whose critical value comes from the
Wilson-Hilferty approximation of the chi-square quantile (independent of the code under test)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from catalog_builder import Builder

from phonotheque.archive import Archive
from phonotheque.catalog.shuffle import shuffle, shuffle_ids
from phonotheque.errors import QueryError

Z_999 = 3.090232  # standard normal 0.999 quantile


def chi2_critical(df: int, z: float = Z_999) -> float:
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2(counts: Counter[int], population: list[int], draws: int) -> float:
    expected = draws / len(population)
    return sum((counts[p] - expected) ** 2 / expected for p in population)


def gappy_catalog(build: Builder) -> list[int]:
    """40 tracks: ids with huge gaps, very different popularity and title lengths."""
    ids = []
    track_id = 1
    rng = random.Random(5)
    for i in range(40):
        track_id += rng.choice([1, 1, 2, 3, 8])  # gaps: about half the id range is empty
        title = "x" * (1 + (i % 7) * 40)
        ids.append(build.track(title, popularity=(i * 37) % 101, track_id=track_id))
    return ids


def test_uniform_over_whole_catalog_despite_gaps(archive: Archive, build: Builder) -> None:
    ids = gappy_catalog(build)
    draws = 5000
    rng = random.Random(1)
    counts = Counter(shuffle_ids(archive.conn, 1, rng=rng)[0] for _ in range(draws))
    assert set(counts) <= set(ids)
    assert chi2(counts, ids, draws) < chi2_critical(len(ids) - 1)


def test_rejection_path_is_taken(archive: Archive, build: Builder) -> None:
    gappy_catalog(build)
    calls: list[str] = []
    archive.conn.set_trace_callback(calls.append)
    shuffle_ids(archive.conn, 5, rng=random.Random(0))
    archive.conn.set_trace_callback(None)
    assert not any("OFFSET" in c for c in calls)


def test_the_test_can_fail_naive_next_rowid_is_rejected(archive: Archive, build: Builder) -> None:
    ids = gappy_catalog(build)
    lo, hi = min(ids), max(ids)
    rng = random.Random(1)
    counts: Counter[int] = Counter()
    for _ in range(5000):
        r = rng.randint(lo, hi)
        counts[archive.conn.execute("SELECT min(id) FROM tracks WHERE id >= ?", (r,)).fetchone()[0]] += 1
    assert chi2(counts, ids, 5000) > chi2_critical(len(ids) - 1)


def test_uniform_over_filtered_set(archive: Archive, build: Builder) -> None:
    ids = gappy_catalog(build)
    conn = archive.conn
    eligible = [r[0] for r in conn.execute("SELECT id FROM tracks WHERE popularity >= 50")]
    assert 10 < len(eligible) < len(ids)
    rng = random.Random(2)
    counts = Counter(shuffle_ids(conn, 1, min_popularity=50, rng=rng)[0] for _ in range(4000))
    assert set(counts) <= set(eligible)
    assert chi2(counts, eligible, 4000) < chi2_critical(len(eligible) - 1)


def test_uniform_on_sparse_set_uses_exact_path(archive: Archive, build: Builder) -> None:
    ids = [
        build.track(f"t{i}", track_id=tid, popularity=100 if i % 2 else 0)
        for i, tid in enumerate([1, 2, 3, 4, 5, 6, 10**12])
    ]
    eligible = [i for n, i in enumerate(ids) if n % 2]
    rng = random.Random(3)
    counts = Counter(shuffle_ids(archive.conn, 1, min_popularity=100, rng=rng)[0] for _ in range(600))
    assert set(counts) == set(eligible)
    assert chi2(counts, eligible, 600) < chi2_critical(len(eligible) - 1)
    counts = Counter(shuffle_ids(archive.conn, 1, rng=rng)[0] for _ in range(700))
    assert chi2(counts, ids, 700) < chi2_critical(len(ids) - 1)


def test_held_filter_and_distinct_draws(archive: Archive, build: Builder) -> None:
    ids = [build.track(f"song {i}") for i in range(200)]
    conn = archive.conn
    held = ids[::20]
    for n, t in enumerate(held):
        conn.execute(
            "INSERT INTO files(sha256, size, tier, store_path, piece_size) VALUES (?, 1, 'original', ?, 16384)",
            (f"{n:064x}", f"store/{n}"),
        )
        conn.execute(
            "INSERT INTO track_files(track_id, file_id, role) VALUES (?, last_insert_rowid(), 'original')",
            (t,),
        )
    got = shuffle(archive, n=50, held=True, seed=4)
    assert sorted(t["id"] for t in got) == sorted(held)  # all of them, once each
    many = shuffle(archive, n=150, seed=5)
    assert len({t["id"] for t in many}) == 150
    assert shuffle(archive, n=3, seed=9) == shuffle(archive, n=3, seed=9)


def test_empty_catalog_and_bad_arguments(archive: Archive) -> None:
    assert shuffle(archive, n=5) == []
    with pytest.raises(QueryError):
        shuffle(archive, n=0)
    with pytest.raises(QueryError):
        shuffle(archive, min_popularity=101)
