"""Catalog statistics for the report, aggregated in SQL (one GROUP BY per figure, no row loops).

Every function takes a connection and returns plain Python data (lists of tuples, dicts), so the
numbers can be printed in tables next to their charts and checked independently in tests.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from phonotheque.plan.listens import ListensModel

FEATURES = ("tempo", "loudness", "danceability", "energy", "valence", "acousticness",
            "instrumentalness", "speechiness", "liveness")


def overview(conn: sqlite3.Connection) -> dict[str, int | float]:
    one = lambda sql: conn.execute(sql).fetchone()[0] or 0  # noqa: E731
    return {
        "tracks": one("SELECT COUNT(*) FROM tracks"),
        "artists": one("SELECT COUNT(*) FROM artists"),
        "albums": one("SELECT COUNT(*) FROM albums"),
        "recordings": one("SELECT COUNT(*) FROM recordings"),
        "distinct ISRCs": one("SELECT COUNT(DISTINCT isrc) FROM recordings WHERE isrc IS NOT NULL"),
        "tracks with popularity": one("SELECT COUNT(popularity) FROM tracks"),
        "tracks with listen counts": one("SELECT COUNT(listens) FROM tracks"),
        "total duration (hours)": round(one("SELECT SUM(duration_ms) FROM tracks") / 3.6e6, 1),
        "tracks with audio features": one("SELECT COUNT(*) FROM audio_features"),
        "exclusions": one("SELECT COUNT(*) FROM exclusions"),
    }


def popularity(conn: sqlite3.Connection, model: ListensModel) -> list[dict[str, Any]]:
    """Per popularity value (None = unknown): tracks, tracks with listens, expected listens."""
    out = []
    for pop, n, n_lis, s_lis in conn.execute(
        "SELECT popularity, COUNT(*), COUNT(listens), COALESCE(SUM(listens), 0) FROM tracks GROUP BY popularity"
    ):
        est = float(model.from_popularity([pop if pop is not None else 0])[0])
        out.append({"popularity": pop, "tracks": n, "expected_listens": float(s_lis) + (n - n_lis) * est})
    return out


def coverage_by_popularity(rows: list[dict[str, Any]]) -> list[tuple[int, float, float]]:
    """(threshold p, share of tracks with popularity >= p, share of listens they draw), p = 100..0."""
    tracks = sum(r["tracks"] for r in rows)
    listens = sum(r["expected_listens"] for r in rows)
    by = {r["popularity"]: r for r in rows if r["popularity"] is not None}
    out, ct, cl = [], 0, 0.0
    for p in range(100, -1, -1):
        r = by.get(p)
        if r:
            ct += r["tracks"]
            cl += r["expected_listens"]
        out.append((p, ct / tracks if tracks else 0.0, cl / listens if listens else 0.0))
    return out


def durations(conn: sqlite3.Connection, bucket_s: int = 30, cap_s: int = 1200) -> list[tuple[int, int]]:
    """(bucket start in seconds, tracks); the last bucket collects everything >= cap_s."""
    rows = conn.execute(
        "SELECT MIN(duration_ms / ?, ?), COUNT(*) FROM tracks WHERE duration_ms IS NOT NULL GROUP BY 1 ORDER BY 1",
        (bucket_s * 1000, cap_s // bucket_s),
    ).fetchall()
    return [(int(b) * bucket_s, int(n)) for b, n in rows]


def explicit(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(popularity band, tracks, explicit tracks) plus an 'all' row first."""
    rows = conn.execute(
        "SELECT CASE WHEN popularity IS NULL THEN -1 WHEN popularity = 0 THEN 0 ELSE 1 + (popularity - 1) / 20 END,"
        " COUNT(*), SUM(explicit = 1), COUNT(explicit) FROM tracks GROUP BY 1 ORDER BY 1"
    ).fetchall()
    names = {-1: "unknown", 0: "0", 1: "1–20", 2: "21–40", 3: "41–60", 4: "61–80", 5: "81–100"}
    known = sum(r[3] for r in rows)
    if known == 0:
        return []
    total = [("all", sum(r[1] for r in rows), sum(r[2] or 0 for r in rows))]
    return total + [(names.get(int(b), str(b)), int(n), int(e or 0)) for b, n, e, _ in rows]


def tracks_per_isrc(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """(tracks sharing one ISRC, how many ISRCs)."""
    return [tuple(r) for r in conn.execute(
        "SELECT c, COUNT(*) FROM (SELECT COUNT(*) AS c FROM tracks t JOIN recordings r ON r.id = t.recording_id"
        " WHERE r.isrc IS NOT NULL GROUP BY r.isrc) GROUP BY c ORDER BY c"
    )]


def markets(conn: sqlite3.Connection) -> tuple[list[tuple[str, int]], list[tuple[int, int]]]:
    """Tracks available per market (country), and tracks by number of markets (0 = no market data)."""
    per_country: dict[str, int] = {}
    per_count: dict[int, int] = {}
    for codes, n in conn.execute(
        "SELECT m.codes, COUNT(*) FROM tracks t LEFT JOIN market_sets m ON m.id = t.market_set_id "
        "GROUP BY t.market_set_id"
    ):
        cs = [c for c in (codes or "").split(",") if c]
        per_count[len(cs)] = per_count.get(len(cs), 0) + n
        for c in cs:
            per_country[c] = per_country.get(c, 0) + n
    if not per_country:
        return [], []
    return sorted(per_country.items(), key=lambda kv: (-kv[1], kv[0])), sorted(per_count.items())


def genres(conn: sqlite3.Connection, top: int = 25) -> list[tuple[str, int]]:
    """Top genres by tracks of the first credited artist (an artist's genres all count)."""
    return [tuple(r) for r in conn.execute(
        "SELECT g.name, COUNT(*) FROM track_artists ta JOIN artist_genres ag ON ag.artist_id = ta.artist_id "
        "JOIN genres g ON g.id = ag.genre_id WHERE ta.position = 0 GROUP BY g.id ORDER BY 2 DESC, 1 LIMIT ?", (top,)
    )]


def artists_by_popularity(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    return [tuple(r) for r in conn.execute(
        "SELECT popularity, COUNT(*) FROM artists WHERE popularity IS NOT NULL GROUP BY popularity ORDER BY 1")]


def albums_per_year(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    return [(int(y), int(n)) for y, n in conn.execute(
        "SELECT CAST(substr(release_date, 1, 4) AS INTEGER) AS y, COUNT(*) FROM albums "
        "WHERE release_date GLOB '[0-9][0-9][0-9][0-9]*' GROUP BY y ORDER BY y")]


def tracks_per_album(conn: sqlite3.Connection, cap: int = 40) -> list[tuple[int, int]]:
    """(tracks on the album, albums); the last bucket collects albums with >= cap tracks."""
    return [tuple(r) for r in conn.execute(
        "SELECT MIN(c, ?), COUNT(*) FROM (SELECT COUNT(*) AS c FROM tracks WHERE album_id IS NOT NULL "
        "GROUP BY album_id) GROUP BY 1 ORDER BY 1", (cap,))]


def key_mode(conn: sqlite3.Connection) -> list[tuple[int, int, int]]:
    """(key 0–11, mode 0/1, tracks)."""
    return [tuple(r) for r in conn.execute(
        "SELECT key, mode, COUNT(*) FROM audio_features WHERE key BETWEEN 0 AND 11 AND mode IN (0, 1) "
        "GROUP BY key, mode ORDER BY key, mode")]


def feature_correlations(conn: sqlite3.Connection) -> tuple[list[str], list[list[float]], int]:
    """Pearson correlations between audio features, from sums computed in one SQL scan."""
    present = [f for f in FEATURES
               if conn.execute(f"SELECT COUNT({f}) FROM audio_features").fetchone()[0] > 1]  # noqa: S608
    if len(present) < 2:
        return [], [], 0
    terms = []
    for i, a in enumerate(present):
        for b in present[i:]:
            terms.append(f"SUM({a}*{b})")
    sums = [f"SUM({f})" for f in present]
    cond = " AND ".join(f"{f} IS NOT NULL" for f in present)
    row = conn.execute(f"SELECT COUNT(*), {', '.join(sums + terms)} FROM audio_features WHERE {cond}").fetchone()  # noqa: S608
    n = row[0]
    if n < 2:
        return [], [], 0
    s = dict(zip(present, row[1:1 + len(present)], strict=True))
    cross: dict[tuple[str, str], float] = {}
    k = 1 + len(present)
    for i, a in enumerate(present):
        for b in present[i:]:
            cross[(a, b)] = cross[(b, a)] = row[k]
            k += 1
    cov = {(a, b): cross[(a, b)] / n - s[a] * s[b] / n / n for a in present for b in present}
    matrix = []
    for a in present:
        line = []
        for b in present:
            d = math.sqrt(max(cov[(a, a)], 0.0) * max(cov[(b, b)], 0.0))
            line.append(cov[(a, b)] / d if d > 0 else float("nan"))
        matrix.append(line)
    return present, matrix, n
