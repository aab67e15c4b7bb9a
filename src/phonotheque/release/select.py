"""What a release ships: planned tracks, the file each one is served by, and a check of the store.

Reads only the catalog (SQL) and ``stat()`` of store files — never their bytes.

Which file serves a track: the plan's decision picks the tier (``original`` → the track's original
file, ``reencode`` → the transcode derived from it). When that file has a tagged copy
(``files.sha256_with_embedded_meta`` names another stored file), the tagged copy is shipped and the
original's sha256 goes to the file index as ``sha256_original`` (the patch in
``store/patches/<tagged sha256>.zstdpatch`` restores it). A planned track with no stored file in its
tier yet is *pending*: it is left for a later batch, not an error.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from phonotheque.archive import Archive
from phonotheque.errors import ReleaseError, StoreError
from phonotheque.plan.exclusions import resolve
from phonotheque.release.paths import TrackNames

MTIME_TOLERANCE_S = 60.0


def _q(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """A cursor yielding plain tuples (faster than sqlite3.Row on millions of rows)."""
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(sql, params)


class PlannedTrack(NamedTuple):
    track_id: int
    release_order: int
    decision: str
    listens: float
    popularity: int | None
    isrc: str | None
    names: TrackNames


class StoredFile(NamedTuple):
    file_id: int
    sha256: str
    size: int
    tier: str
    store_path: str
    ext: str | None
    piece_size: int
    ingested_at: str | None
    sha256_original: str | None


def _artist_credits(conn: sqlite3.Connection, table: str, key: str) -> dict[int, str]:
    """``{track or album id: "A feat. B"}`` for planned tracks (credits joined in position order)."""
    if key == "track_id":
        scope = "SELECT track_id FROM plan WHERE decision != 'skip'"
    else:
        scope = "SELECT t.album_id FROM plan p JOIN tracks t ON t.id = p.track_id WHERE p.decision != 'skip'"
    rows = _q(conn,
        f"SELECT x.{key}, coalesce(x.credited_name, a.name), x.join_phrase FROM {table} x "
        f"JOIN artists a ON a.id = x.artist_id WHERE x.{key} IN ({scope}) ORDER BY x.{key}, x.position"
    )
    parts: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    for owner, name, join in rows:
        parts[owner].append((name, join))
    out: dict[int, str] = {}
    for owner, credits in parts.items():
        text = ""
        for i, (name, join) in enumerate(credits):
            text += name
            if i < len(credits) - 1:
                text += join if join else ", "
        out[owner] = text
    return out


def excluded_tracks(conn: sqlite3.Connection) -> set[int]:
    """Tracks hit by the exclusion (takedown) list, matched exactly as the planner matches them
    (:func:`phonotheque.plan.exclusions.resolve`: catalog ids or MBIDs, any ISRC of the recording, UPC,
    source key) — an exclusion added after planning is honoured here too."""
    return set(resolve(conn))  # an empty list resolves with one query


def planned_tracks(conn: sqlite3.Connection) -> list[PlannedTrack]:
    """Every track the plan keeps, in release order (most popular first)."""
    track_artists = _artist_credits(conn, "track_artists", "track_id")
    album_artists = _artist_credits(conn, "album_artists", "album_id")
    # discs per album, only for albums where a planned track has a disc number (one grouped pass instead of
    # a correlated subquery per track)
    discs = dict(_q(conn,
        """
        SELECT album_id, max(disc_number) FROM tracks WHERE album_id IN (
            SELECT t.album_id FROM plan p JOIN tracks t ON t.id = p.track_id
            WHERE p.decision != 'skip' AND t.disc_number IS NOT NULL AND t.album_id IS NOT NULL)
        GROUP BY album_id
        """
    ).fetchall())
    rows = _q(conn,
        """
        SELECT p.track_id, p.release_order, p.decision, coalesce(p.expected_listens, 0), t.popularity, t.name,
               t.disc_number, t.track_number, t.album_id, al.name, al.release_date, r.isrc
        FROM plan p JOIN tracks t ON t.id = p.track_id
        LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN recordings r ON r.id = t.recording_id
        WHERE p.decision != 'skip' AND p.release_order IS NOT NULL
        ORDER BY p.release_order, p.track_id
        """
    ).fetchall()
    get_album_artist, get_track_artist, get_discs = album_artists.get, track_artists.get, discs.get
    return [
        PlannedTrack(tid, order, decision, float(listens), pop, isrc, TrackNames(
            tid, pop, get_album_artist(album_id) if album_id else None, album, album_id, date, disc,
            get_discs(album_id) if disc is not None else None, number, get_track_artist(tid), title, None))
        for tid, order, decision, listens, pop, title, disc, number, album_id, album, date, isrc in rows
    ]


def total_planned_listens(conn: sqlite3.Connection) -> float:
    row = _q(conn, "SELECT coalesce(sum(expected_listens), 0) FROM plan WHERE decision != 'skip'").fetchone()
    return float(row[0])


_FILE_COLS = "f.id, f.sha256, f.size, f.tier, f.store_path, f.ext, f.piece_size, f.ingested_at, " \
             "f.sha256_with_embedded_meta, f.derived_from"


def shipped_files(conn: sqlite3.Connection, tracks: list[PlannedTrack]) -> dict[int, StoredFile]:
    """``{track_id: file to ship}`` for the tracks held in their planned tier (others are pending)."""
    wanted = {t.track_id: t.decision for t in tracks}
    originals: dict[int, tuple[Any, ...]] = {}
    reencodes: dict[int, tuple[Any, ...]] = {}
    rows = _q(conn,
        f"SELECT tf.track_id, tf.role, {_FILE_COLS} FROM track_files tf JOIN files f ON f.id = tf.file_id "
        "JOIN plan p ON p.track_id = tf.track_id WHERE p.decision != 'skip' ORDER BY tf.track_id, f.id"
    )
    for row in rows:
        tid, role, tier = row[0], row[1], row[5]
        if role == "original" and tier == "original" and row[11] is None:
            originals.setdefault(tid, row)
        elif tier == "reencode" and role in ("reencode", "original"):
            reencodes.setdefault(tid, row)
    need_derived = [o[2] for tid, o in originals.items() if wanted.get(tid) == "reencode" and tid not in reencodes]
    derived: dict[int, tuple[Any, ...]] = {}
    for chunk_start in range(0, len(need_derived), 500):
        chunk = need_derived[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for row in _q(conn,
            f"SELECT f.derived_from, 'reencode', {_FILE_COLS} FROM files f WHERE f.tier = 'reencode' "
            f"AND f.derived_from IN ({marks}) ORDER BY f.id", chunk
        ):
            derived.setdefault(row[0], row)
    chosen: dict[int, tuple[Any, ...]] = {}
    for tid, decision in wanted.items():
        if decision == "original" and tid in originals:
            chosen[tid] = originals[tid]
        elif decision == "reencode":
            if tid in reencodes:
                chosen[tid] = reencodes[tid]
            elif tid in originals and originals[tid][2] in derived:
                chosen[tid] = derived[originals[tid][2]]
    # tagged copies: per track (tagged_files, written by `phonotheque tag`), else files.sha256_with_embedded_meta
    per_track: dict[tuple[int, int], int] = {}
    tagged_originals: set[int] = set()
    if _q(conn, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='tagged_files'").fetchone():
        for tid, orig, tagged_id in _q(conn, "SELECT track_id, original_file_id, tagged_file_id FROM tagged_files"):
            per_track[(tid, orig)] = tagged_id
            tagged_originals.add(orig)
    by_id: dict[int, tuple[Any, ...]] = {}
    ids = sorted(set(per_track.values()))
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for row in _q(conn,
            f"SELECT 0, '', {_FILE_COLS} FROM files f WHERE f.id IN ({','.join('?' * len(chunk))})", chunk
        ):
            by_id[row[2]] = row
    tagged_shas = sorted({r[10] for r in chosen.values() if r[10] and r[2] not in tagged_originals})
    tagged: dict[str, tuple[Any, ...]] = {}
    for i in range(0, len(tagged_shas), 500):
        chunk = tagged_shas[i : i + 500]
        for row in _q(conn,
            f"SELECT 0, '', {_FILE_COLS} FROM files f WHERE f.sha256 IN ({','.join('?' * len(chunk))})", chunk
        ):
            tagged[row[3]] = row
    out: dict[int, StoredFile] = {}
    for tid, row in chosen.items():
        original_sha = None
        key = (tid, row[2])
        if key in per_track:
            if per_track[key] != row[2] and per_track[key] in by_id:
                original_sha, row = row[3], by_id[per_track[key]]
        elif row[2] in tagged_originals:
            pass  # tagged for other tracks only: their tags would be wrong for this one, ship the original
        elif row[10] and row[10] in tagged:
            original_sha, row = row[3], tagged[row[10]]
        out[tid] = StoredFile(
            file_id=row[2], sha256=row[3], size=row[4], tier=row[5], store_path=row[6], ext=row[7],
            piece_size=row[8], ingested_at=row[9], sha256_original=original_sha,
        )
    return out


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def check_store(archive: Archive, files: list[StoredFile], piece_size: int) -> None:
    """Every file exists with its recorded size, is not newer than its ingest, was hashed at ``piece_size``.

    Raises one :class:`StoreError` listing every problem (nothing is written before this passes).
    """
    problems: list[str] = []
    root = str(archive.root) + os.sep
    times: dict[str | None, float | None] = {}
    stat = os.stat
    for f in files:
        try:
            st = stat(root + f.store_path)
        except FileNotFoundError:
            problems.append(f"{f.store_path}: missing")
            continue
        except OSError as exc:
            problems.append(f"{f.store_path}: cannot stat ({exc.strerror})")
            continue
        if st.st_size != f.size:
            problems.append(f"{f.store_path}: size {st.st_size} on disk, {f.size} at ingest (changed)")
            continue
        if f.ingested_at not in times:
            times[f.ingested_at] = _parse_time(f.ingested_at)
        ingested = times[f.ingested_at]
        if ingested is not None and st.st_mtime > ingested + MTIME_TOLERANCE_S:
            problems.append(f"{f.store_path}: modified after ingest ({f.ingested_at})")
            continue
        if f.piece_size != piece_size:
            problems.append(f"{f.store_path}: hashed with piece size {f.piece_size}, the archive uses {piece_size}")
    if problems:
        shown = "; ".join(problems[:20])
        more = f"; … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise StoreError(f"{len(problems)} store file(s) missing or changed since ingest, nothing written: "
                         f"{shown}{more}")


def load_hashes(conn: sqlite3.Connection, file_ids: list[int]) -> dict[int, tuple[bytes, bytes, bytes, bytes]]:
    """``{file_id: (v1_pieces, v1_tail, v2_root, v2_layer)}``; a file without stored hashes is an error."""
    out: dict[int, tuple[bytes, bytes, bytes, bytes]] = {}
    for i in range(0, len(file_ids), 500):
        chunk = file_ids[i : i + 500]
        for fid, p, t, r, layer, path in _q(conn,
            "SELECT id, v1_pieces, v1_tail, v2_root, v2_layer, store_path FROM files "
            f"WHERE id IN ({','.join('?' * len(chunk))})", chunk
        ):
            if p is None or t is None or r is None:
                raise ReleaseError(f"{path}: no torrent hashes stored (re-run `phonotheque ingest` on it)")
            out[fid] = (p, t, r, layer or b"")  # BLOBs come back as bytes
    return out


def store_file(archive: Archive, f: StoredFile) -> Path:
    return archive.root / f.store_path
