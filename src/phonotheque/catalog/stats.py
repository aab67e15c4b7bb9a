"""Catalog statistics: counts, ISRC sharing, popularity histogram, listens, sources."""

from __future__ import annotations

from typing import Any

from phonotheque.archive import Archive

TRACKS_PER_ISRC_BUCKETS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, None))


def _bucket_label(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"{lo}+"
    return str(lo) if lo == hi else f"{lo}-{hi}"


def stats(archive: Archive) -> dict[str, Any]:
    """Counts and distributions of the catalog (one read transaction, consistent).

    Keys: ``tracks, artists, albums, recordings, labels, unique_isrcs, tracks_with_isrc,
    tracks_per_isrc`` (ISRC count per bucket of how many tracks carry it), ``popularity_histogram``
    (tracks per popularity decile ``0-9`` … ``90-100`` plus ``null``), ``popularity_zero``,
    ``listens`` (total, tracks with listens, tracks under 1,000, listen files imported),
    ``sources`` (name, format, licence, records, tracks).
    """
    conn = archive.conn
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    conn.execute("BEGIN")
    try:
        out: dict[str, Any] = {
            "tracks": one("SELECT count(*) FROM tracks"),
            "artists": one("SELECT count(*) FROM artists"),
            "albums": one("SELECT count(*) FROM albums"),
            "recordings": one("SELECT count(*) FROM recordings"),
            "labels": one("SELECT count(*) FROM labels"),
        }
        per_isrc = conn.execute(
            """SELECT n, count(*) FROM (
                   SELECT ri.isrc, count(DISTINCT t.id) AS n FROM recording_isrcs ri
                   JOIN tracks t ON t.recording_id = ri.recording_id GROUP BY ri.isrc)
               GROUP BY n ORDER BY n"""
        ).fetchall()
        out["unique_isrcs"] = one("SELECT count(DISTINCT isrc) FROM recording_isrcs")
        out["tracks_with_isrc"] = one(
            "SELECT count(*) FROM tracks t WHERE EXISTS (SELECT 1 FROM recording_isrcs ri "
            "WHERE ri.recording_id = t.recording_id)"
        )
        buckets = {_bucket_label(lo, hi): 0 for lo, hi in TRACKS_PER_ISRC_BUCKETS}
        for n, count in per_isrc:
            for lo, hi in TRACKS_PER_ISRC_BUCKETS:
                if n >= lo and (hi is None or n <= hi):
                    buckets[_bucket_label(lo, hi)] += count
                    break
        out["tracks_per_isrc"] = buckets
        out["max_tracks_per_isrc"] = max((n for n, _ in per_isrc), default=0)
        hist = {f"{d * 10}-{d * 10 + 9 if d < 9 else 100}": 0 for d in range(10)}
        hist["null"] = 0
        for decile, count in conn.execute(
            "SELECT CASE WHEN popularity IS NULL THEN -1 ELSE min(popularity / 10, 9) END, count(*) "
            "FROM tracks GROUP BY 1"
        ):
            hist["null" if decile < 0 else f"{decile * 10}-{decile * 10 + 9 if decile < 9 else 100}"] = count
        out["popularity_histogram"] = hist
        out["popularity_zero"] = one("SELECT count(*) FROM tracks WHERE popularity = 0")
        total, with_listens, under_1000 = conn.execute(
            "SELECT coalesce(sum(listens), 0), count(listens), sum(listens < 1000) FROM tracks"
        ).fetchone()
        out["listens"] = {
            "total": total,
            "tracks_with_listens": with_listens,
            "tracks_under_1000": under_1000 or 0,
            "files_imported": one("SELECT count(*) FROM listen_imports"),
        }
        out["sources"] = [
            dict(r)
            for r in conn.execute(
                """SELECT s.name, s.format, s.licence, s.record_count AS records,
                          (SELECT count(*) FROM tracks t WHERE t.source_id = s.id) AS tracks
                   FROM sources s ORDER BY s.id"""
            )
        ]
    finally:
        conn.execute("COMMIT")
    return out
