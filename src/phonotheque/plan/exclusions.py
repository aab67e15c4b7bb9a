"""The exclusion (takedown) list: add, list, remove, load from CSV, resolve to track ids.

Rows live in the catalog's ``exclusions`` table (kind, value, reason). Kinds: ``track`` (catalog
track id), ``isrc``, ``album`` / ``artist`` / ``recording`` (catalog id or MBID), ``source_key``
(a track's key in its source) and ``upc`` (album barcode). The planner never plans an excluded
track; package and serve read the same table.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from phonotheque.archive import Archive
from phonotheque.errors import PhonothequeError, RecordError

KINDS = ("track", "isrc", "album", "artist", "recording", "source_key", "upc")


class ExclusionError(PhonothequeError):
    """An exclusion is malformed (unknown kind, empty value or reason)."""


@dataclass(frozen=True)
class Exclusion:
    kind: str
    value: str
    reason: str
    added_at: str | None = None


def _check(kind: str, value: str, reason: str) -> tuple[str, str, str]:
    kind, value, reason = kind.strip().lower(), value.strip(), reason.strip()
    if kind not in KINDS:
        raise ExclusionError(f"exclusion kind {kind!r}: unknown (use one of {', '.join(KINDS)})")
    if not value:
        raise ExclusionError(f"exclusion {kind}: the value is empty")
    if not reason:
        raise ExclusionError(f"exclusion {kind} {value}: a reason is required")
    if kind == "isrc":
        value = value.replace("-", "").upper()
    if kind == "track" and not value.isdigit():
        raise ExclusionError(f"exclusion track {value!r}: a track id is a positive integer")
    return kind, value, reason


def read_csv(path: str | Path) -> tuple[list[Exclusion], list[RecordError]]:
    """Rows ``kind,value,reason`` (a header line is optional); bad rows are returned as errors."""
    rows: list[Exclusion] = []
    errors: list[RecordError] = []
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            for line, rec in enumerate(csv.reader(fh), start=1):
                if not rec or all(not c.strip() for c in rec) or rec[0].lstrip().startswith("#"):
                    continue
                if line == 1 and [c.strip().lower() for c in rec[:3]] == ["kind", "value", "reason"]:
                    continue
                if len(rec) < 3:
                    errors.append(RecordError(str(p), line, f"expected kind,value,reason, got {len(rec)} field(s)"))
                    continue
                try:
                    rows.append(Exclusion(*_check(rec[0], rec[1], ",".join(rec[2:]))))
                except ExclusionError as exc:
                    errors.append(RecordError(str(p), line, str(exc)))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExclusionError(f"{p}: cannot read exclusions: {exc}") from exc
    return rows, errors


def exclude_add(archive: Archive, *, isrc: str | None = None, track: int | str | None = None,
                kind: str | None = None, value: str | None = None, reason: str = "",
                file: str | Path | None = None) -> dict[str, object]:
    """Add exclusions (one by flag, or a CSV file). Returns counts and the rejected CSV rows."""
    items: list[Exclusion] = []
    errors: list[RecordError] = []
    if isrc is not None:
        items.append(Exclusion(*_check("isrc", isrc, reason)))
    if track is not None:
        items.append(Exclusion(*_check("track", str(track), reason)))
    if kind is not None or value is not None:
        items.append(Exclusion(*_check(kind or "", value or "", reason)))
    if file is not None:
        rows, errors = read_csv(file)
        items.extend(rows)
    if not items and not errors:
        raise ExclusionError("nothing to exclude: give --isrc, --track, --kind/--value or --file")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with archive.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT INTO exclusions(kind, value, reason, added_at) VALUES (?,?,?,?) "
            "ON CONFLICT(kind, value) DO UPDATE SET reason=excluded.reason",
            [(e.kind, e.value, e.reason, now) for e in items],
        )
        changed = conn.total_changes - before
    return {"added": changed, "rejected": [str(e) for e in errors]}


def exclude_list(archive: Archive) -> list[Exclusion]:
    rows = archive.conn.execute("SELECT kind, value, reason, added_at FROM exclusions ORDER BY kind, value")
    return [Exclusion(r[0], r[1], r[2], r[3]) for r in rows]


def exclude_remove(archive: Archive, *, kind: str, value: str) -> int:
    kind, value, _ = _check(kind, value, "-")
    with archive.transaction() as conn:
        cur = conn.execute("DELETE FROM exclusions WHERE kind=? AND value=?", (kind, value))
        removed = cur.rowcount
    if removed == 0:
        from phonotheque.errors import NotFoundError

        raise NotFoundError(f"exclusion {kind} {value}: not in the list")
    return removed


# a value made only of digits is a catalog id; anything else (an MBID, even one starting with digits) is not
_RESOLVE = {
    "track": "SELECT id FROM tracks WHERE id = CAST(? AS INTEGER)",
    "isrc": """SELECT t.id FROM tracks t JOIN recordings r ON r.id = t.recording_id WHERE r.isrc = ?1
               UNION SELECT t.id FROM tracks t JOIN recording_isrcs ri ON ri.recording_id = t.recording_id
                     WHERE ri.isrc = ?1
               UNION SELECT entity_id FROM external_ids WHERE entity='track' AND kind='isrc' AND value = ?1""",
    "album": """SELECT t.id FROM tracks t JOIN albums a ON a.id = t.album_id
                WHERE (a.id = CAST(?1 AS INTEGER) AND ?1 NOT GLOB '*[^0-9]*') OR a.mbid = ?1""",
    "artist": """SELECT ta.track_id FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
                 WHERE (a.id = CAST(?1 AS INTEGER) AND ?1 NOT GLOB '*[^0-9]*') OR a.mbid = ?1""",
    "recording": """SELECT t.id FROM tracks t JOIN recordings r ON r.id = t.recording_id
                    WHERE (r.id = CAST(?1 AS INTEGER) AND ?1 NOT GLOB '*[^0-9]*') OR r.mbid = ?1""",
    "source_key": "SELECT id FROM tracks WHERE source_key = ?",
    "upc": "SELECT t.id FROM tracks t JOIN albums a ON a.id = t.album_id WHERE a.upc = ?",
}


def resolve(conn: sqlite3.Connection, extra: list[Exclusion] | None = None) -> dict[int, str]:
    """Track id → reason for every track the exclusion list (plus ``extra``) covers."""
    out: dict[int, str] = {}
    rules = [Exclusion(r[0], r[1], r[2]) for r in conn.execute("SELECT kind, value, reason FROM exclusions")]
    for e in rules + list(extra or []):
        for (tid,) in conn.execute(_RESOLVE[e.kind], (e.value,)):
            out.setdefault(int(tid), f"excluded by {e.kind} {e.value}: {e.reason}")
    return out


# every (kind, value) key a track can be excluded by, looked up in the exclusions primary key: the cost
# grows with the tracks asked about, not with the length of the exclusion list
_EXCLUDED_SQL = """
WITH t AS (SELECT id, source_key, album_id, recording_id FROM tracks WHERE id IN ({marks})),
keys(track_id, kind, value) AS (
    SELECT id, 'track', CAST(id AS TEXT) FROM t
    UNION ALL SELECT id, 'source_key', source_key FROM t
    UNION ALL SELECT id, 'album', CAST(album_id AS TEXT) FROM t WHERE album_id IS NOT NULL
    UNION ALL SELECT t.id, 'album', al.mbid FROM t JOIN albums al ON al.id = t.album_id WHERE al.mbid IS NOT NULL
    UNION ALL SELECT t.id, 'upc', al.upc FROM t JOIN albums al ON al.id = t.album_id WHERE al.upc IS NOT NULL
    UNION ALL SELECT id, 'recording', CAST(recording_id AS TEXT) FROM t WHERE recording_id IS NOT NULL
    UNION ALL SELECT t.id, 'recording', r.mbid FROM t JOIN recordings r ON r.id = t.recording_id
              WHERE r.mbid IS NOT NULL
    UNION ALL SELECT t.id, 'isrc', r.isrc FROM t JOIN recordings r ON r.id = t.recording_id WHERE r.isrc IS NOT NULL
    UNION ALL SELECT t.id, 'isrc', ri.isrc FROM t JOIN recording_isrcs ri ON ri.recording_id = t.recording_id
    UNION ALL SELECT x.entity_id, 'isrc', x.value FROM external_ids x
              WHERE x.entity = 'track' AND x.kind = 'isrc' AND x.entity_id IN (SELECT id FROM t)
    UNION ALL SELECT ta.track_id, 'artist', CAST(ta.artist_id AS TEXT) FROM track_artists ta
              WHERE ta.track_id IN (SELECT id FROM t)
    UNION ALL SELECT ta.track_id, 'artist', a.mbid FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
              WHERE ta.track_id IN (SELECT id FROM t) AND a.mbid IS NOT NULL
)
SELECT DISTINCT k.track_id, e.kind, e.value, e.reason FROM keys k
JOIN exclusions e ON e.kind = k.kind AND e.value = k.value
ORDER BY k.track_id, e.kind, e.value
"""


def reasons_for(conn: sqlite3.Connection, track_ids: Sequence[int]) -> dict[int, str]:
    """``{track id: "excluded by KIND VALUE: reason"}`` for those of ``track_ids`` the exclusion list covers.

    The same matching as :func:`resolve` seen from the tracks' side (a test keeps them equal): catalog ids
    or MBIDs for album/artist/recording, any ISRC of the recording, the album's UPC, the source key. Its
    cost follows the number of tracks asked about, not the length of the list (serve asks per request).
    """
    ids = sorted({int(t) for t in track_ids})
    if not ids or conn.execute("SELECT 1 FROM exclusions LIMIT 1").fetchone() is None:
        return {}
    out: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for tid, kind, value, reason in conn.execute(_EXCLUDED_SQL.format(marks=",".join("?" * len(chunk))), chunk):
            out.setdefault(int(tid), f"excluded by {kind} {value}: {reason}")
    return out
