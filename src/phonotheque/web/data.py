"""What the web UI and the JSON API show, as library functions over a (read-only) archive.

The routes in :mod:`phonotheque.web.api` and :mod:`phonotheque.web.pages` are thin adapters over
these functions, which in turn reuse the catalog (``search``, ``lookup``, ``track_details``,
``shuffle``, ``stats``) and release (``list_releases``) functions. What is new here is what only a
server needs: the exclusion status of given tracks, the files the store holds for a track, the
"where do I get this file" pointer (release → torrent → path → byte offset), album and artist
pages, and the one stored file an audio request may read (by file id, never by a path).

Exclusions (takedowns): an excluded track keeps its metadata (marked ``excluded`` with the reason)
but has no audio and no download pointer: :class:`~phonotheque.errors.ExcludedError` (HTTP 451).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phonotheque.archive import Archive
from phonotheque.catalog.lookup import detect, lookup, track_details
from phonotheque.catalog.search import search
from phonotheque.catalog.shuffle import shuffle
from phonotheque.catalog.stats import stats
from phonotheque.errors import ExcludedError, NotFoundError, QueryError, StoreError
from phonotheque.plan.exclusions import reasons_for
from phonotheque.release.package import list_releases

MAX_LIMIT = 100
MAX_ID = 2**63 - 1
MAX_ALBUM_TRACKS = 1000
MAX_ARTIST_ALBUMS = 500

# Content-Type by extension; browsers play these in <audio> (Chromium: Ogg Vorbis/Opus, FLAC, MP3, WAV, WebM)
CONTENT_TYPES = {
    ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac", ".mp3": "audio/mpeg",
    ".wav": "audio/wav", ".webm": "audio/webm", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac",
    ".aiff": "audio/aiff", ".aif": "audio/aiff", ".wv": "audio/x-wavpack", ".ape": "audio/x-ape",
    ".mod": "audio/x-mod", ".xm": "audio/x-xm", ".it": "audio/x-it", ".s3m": "audio/x-s3m",
}
PLAYABLE = {".ogg", ".oga", ".opus", ".flac", ".mp3", ".wav", ".webm", ".m4a", ".mp4", ".aac"}
_ROLE_ORDER = {"original": 0, "reencode": 1, "shipped": 2, "alternative": 3}


def content_type(ext: str | None) -> str:
    return CONTENT_TYPES.get((ext or "").lower(), "application/octet-stream")


class ReadOnlyArchive(Archive):
    """An archive whose connection is opened read-only (no migrations, no writes, never blocks a writer)."""

    @classmethod
    def open_readonly(cls, root: str | Path) -> ReadOnlyArchive:
        opened = Archive.open(root)
        return cls(opened.root, opened.settings)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self.connect(readonly=True)
        return self._conn

    def end_read(self) -> None:
        """End a read transaction a failed request may have left open (so no old snapshot is kept)."""
        if self._conn is not None and self._conn.in_transaction:
            self._conn.rollback()


def check_id(value: int, what: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise QueryError(f"{what} {value}: ids are integers from 1 to {MAX_ID}")
    return value


# ---------------------------------------------------------------------------------------------
# exclusions (matched by plan.exclusions.reasons_for) and held files


def _held_ids(conn: sqlite3.Connection, track_ids: Sequence[int]) -> set[int]:
    if not track_ids:
        return set()
    marks = ",".join("?" * len(track_ids))
    return {r[0] for r in conn.execute(f"SELECT DISTINCT track_id FROM track_files WHERE track_id IN ({marks})",
                                       list(track_ids))}


def mark(conn: sqlite3.Connection, tracks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``excluded`` (the reason, or None) and ``held`` (the store holds a file) to track dicts."""
    ids = [t["id"] for t in tracks]
    reasons = reasons_for(conn, ids)
    held = _held_ids(conn, ids)
    for t in tracks:
        t["excluded"] = reasons.get(t["id"])
        t["held"] = t["id"] in held
    return tracks


# ---------------------------------------------------------------------------------------------
# catalog reads (reusing the catalog's functions)


def search_tracks(archive: Archive, q: str, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """A page of ranked search results; ``limit`` 1-100, ``offset`` 0-10000."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    results = mark(archive.conn, search(archive, q, limit=limit + 1, offset=offset))
    more = len(results) > limit
    return {"q": q, "limit": limit, "offset": offset, "results": results[:limit], "more": more}


def id_matches(archive: Archive, q: str) -> dict[str, Any] | None:
    """The lookup result when the whole query is an id (catalog id, ISRC, UPC/EAN, MBID, ``kind:value``)."""
    text = q.strip()
    if not text or len(text) > 200 or detect(text)[0] in ("unknown", "source"):
        return None
    result = lookup(archive, [text])[0]
    if not result["found"]:
        return None
    mark(archive.conn, result["tracks"])
    return dict(result)


def split_ids(text: str) -> list[str]:
    """Ids pasted in one field (spaces, commas, semicolons or new lines between them), each once, in order."""
    return list(dict.fromkeys(i for i in re.split(r"[\s,;]+", text) if i))


def lookup_ids(archive: Archive, ids: Sequence[str]) -> dict[str, Any]:
    """The ``lookup`` command's results (up to 400 ids), each track marked excluded/held."""
    if not ids:
        raise QueryError("lookup: give at least one id")
    results = lookup(archive, list(ids))
    for r in results:
        mark(archive.conn, r["tracks"])
    return {"results": results, "not_found": [r["query"] for r in results if not r["found"]]}


def shuffle_tracks(archive: Archive, *, n: int = 10, min_popularity: int | None = None, held: bool = False,
                   seed: int | None = None) -> list[dict[str, Any]]:
    return mark(archive.conn, shuffle(archive, n=n, min_popularity=min_popularity, held=held, seed=seed))


def summary(archive: Archive) -> dict[str, Any]:
    """The catalog statistics plus what the store holds, the releases and the exclusion list size."""
    out = stats(archive)
    one = lambda sql: archive.conn.execute(sql).fetchone()[0]  # noqa: E731
    out["store"] = {
        "files": one("SELECT count(*) FROM files"),
        "bytes": one("SELECT coalesce(sum(size), 0) FROM files"),
        "tracks_held": one("SELECT count(DISTINCT track_id) FROM track_files"),
    }
    out["releases"] = one("SELECT count(*) FROM releases")
    out["torrents"] = one("SELECT count(*) FROM torrents")
    out["exclusions"] = one("SELECT count(*) FROM exclusions")
    return out


def releases(archive: Archive, *, release: str | None = None) -> list[dict[str, Any]]:
    """Every release with its torrents, as in torrents.json (:func:`phonotheque.release.package.list_releases`)."""
    out = list_releases(archive, release=release)
    ids = {r["name"]: r["id"] for r in archive.conn.execute("SELECT id, name FROM torrents")}
    for rel in out:
        for t in rel["torrents"]:
            t["id"] = ids.get(t["name"])
    return out


# ---------------------------------------------------------------------------------------------
# tracks, files, where


def _track_row(conn: sqlite3.Connection, track_id: int) -> dict[str, Any]:
    check_id(track_id, "track")
    found = track_details(conn, [track_id])
    if not found:
        raise NotFoundError(f"track {track_id}: not in the catalog")
    return found[0]


def held_files(conn: sqlite3.Connection, track_id: int) -> list[dict[str, Any]]:
    """Files the store holds for a track: its own (original/reencode/alternative) and the copies a release ships."""
    rows = conn.execute(
        """SELECT f.id, tf.role, f.tier, f.size, f.sha256, f.ext, f.container, f.codec, f.bitrate, f.sample_rate,
                  f.channels, f.duration_ms, f.derived_from
           FROM track_files tf JOIN files f ON f.id = tf.file_id WHERE tf.track_id = ?
           UNION
           SELECT f.id, 'shipped', f.tier, f.size, f.sha256, f.ext, f.container, f.codec, f.bitrate, f.sample_rate,
                  f.channels, f.duration_ms, f.derived_from
           FROM release_tracks rt JOIN files f ON f.id = rt.file_id WHERE rt.track_id = ?
             AND NOT EXISTS (SELECT 1 FROM track_files x WHERE x.track_id = rt.track_id AND x.file_id = f.id)""",
        (track_id, track_id),
    ).fetchall()
    files = []
    for r in rows:
        d = dict(r)
        d["content_type"] = content_type(d["ext"])
        d["playable"] = (d["ext"] or "").lower() in PLAYABLE
        files.append(d)
    files.sort(key=lambda f: (not f["playable"], _ROLE_ORDER.get(f["role"], 9), f["id"]))
    return files


def where(archive: Archive, track_id: int) -> dict[str, Any]:
    """Which torrent, path and byte offset serve a track; otherwise why not (not planned, pending).

    Raises :class:`NotFoundError` for an unknown track, :class:`ExcludedError` for an excluded one.
    """
    conn = archive.conn
    _track_row(conn, track_id)
    reason = reasons_for(conn, [track_id]).get(track_id)
    if reason:
        raise ExcludedError(f"track {track_id}", reason)
    return _where(conn, track_id)


def _where(conn: sqlite3.Connection, track_id: int) -> dict[str, Any]:
    pointers = [dict(r) for r in conn.execute(
        """SELECT rt.release_name AS release, t.id AS torrent_id, t.name AS torrent, t.batch, t.version, t.magnet,
                  t.infohash_v1, t.infohash_v2, t.published_at IS NOT NULL AS published,
                  rt.path, t.name || '/' || rt.path AS torrent_path, tf.offset, f.size, f.sha256,
                  rt.sha256_original, f.tier, rt.file_id
           FROM release_tracks rt JOIN torrents t ON t.id = rt.torrent_id JOIN files f ON f.id = rt.file_id
           LEFT JOIN torrent_files tf ON tf.torrent_id = rt.torrent_id AND tf.path = rt.path
           LEFT JOIN releases rel ON rel.name = rt.release_name
           WHERE rt.track_id = ? ORDER BY rel.created_at DESC, rt.release_name""",
        (track_id,),
    )]
    for p in pointers:
        p["published"] = bool(p["published"])
    if pointers:
        return {"track_id": track_id, "available": True, "state": "released", "reason": None, "pointers": pointers}
    plan = conn.execute("SELECT decision, status, reason FROM plan WHERE track_id = ?", (track_id,)).fetchone()
    held = conn.execute("SELECT 1 FROM track_files WHERE track_id = ? LIMIT 1", (track_id,)).fetchone() is not None
    if plan is None:
        state, text = "not_planned", "not planned: no plan covers this track (run `phonotheque plan`)"
    elif plan["decision"] == "skip":
        state = "not_planned"
        text = f"not planned: {plan['status']}" + (f" ({plan['reason']})" if plan["reason"] else "")
    else:
        state = "pending"
        text = (f"pending: planned ({plan['status']}); "
                + ("the store holds a file for it; it ships with the next `phonotheque package`" if held
                   else "the store holds no file for it yet"))
    return {"track_id": track_id, "available": False, "state": state, "reason": text, "pointers": []}


def track(archive: Archive, track_id: int) -> dict[str, Any]:
    """Everything the track page shows: details, exclusion, plan decision, files held, where to get it."""
    conn = archive.conn
    t = _track_row(conn, track_id)
    mark(conn, [t])
    plan = conn.execute("SELECT decision, status, reason, release_order FROM plan WHERE track_id = ?",
                        (track_id,)).fetchone()
    t["plan"] = dict(plan) if plan else None
    t["files"] = held_files(conn, track_id)
    if t["excluded"]:
        t["where"] = {"track_id": track_id, "available": False, "state": "excluded", "reason": t["excluded"],
                      "pointers": []}
        t["audio_file_id"] = None
    else:
        t["where"] = _where(conn, track_id)
        playable = [f for f in t["files"] if f["playable"]]
        t["audio_file_id"] = playable[0]["id"] if playable else None
    return t


def album(archive: Archive, album_id: int) -> dict[str, Any]:
    """An album with its credits, labels, genres and track list (each track marked excluded/held)."""
    conn = archive.conn
    check_id(album_id, "album")
    row = conn.execute(
        """SELECT al.id, al.name, al.album_type, al.release_date, al.total_tracks, al.upc, al.mbid, al.country,
                  al.status, al.popularity, al.licence, s.name AS source, al.source_key
           FROM albums al JOIN sources s ON s.id = al.source_id WHERE al.id = ?""",
        (album_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"album {album_id}: not in the catalog")
    out = dict(row)
    out["artists"] = _credits(conn, "album_artists", "album_id", album_id)
    out["labels"] = [dict(r) for r in conn.execute(
        "SELECT l.id, l.name, x.catalog_number FROM album_labels x LEFT JOIN labels l ON l.id = x.label_id "
        "WHERE x.album_id = ? ORDER BY x.position", (album_id,))]
    out["genres"] = [r[0] for r in conn.execute(
        "SELECT g.name FROM album_genres x JOIN genres g ON g.id = x.genre_id WHERE x.album_id = ? ORDER BY x.position",
        (album_id,))]
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM tracks WHERE album_id = ? ORDER BY disc_number, track_number, id LIMIT ?",
        (album_id, MAX_ALBUM_TRACKS))]
    out["tracks"] = mark(conn, track_details(conn, ids))
    return out


def artist(archive: Archive, artist_id: int, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """An artist with genres, albums and its tracks, most popular first (paged)."""
    conn = archive.conn
    check_id(artist_id, "artist")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if not 0 <= offset <= 1_000_000:
        raise QueryError(f"offset must be between 0 and 1000000, got {offset}")
    row = conn.execute(
        """SELECT ar.id, ar.name, ar.sort_name, ar.disambiguation, ar.type, ar.country, ar.mbid, ar.popularity,
                  ar.followers, ar.licence, s.name AS source, ar.source_key
           FROM artists ar JOIN sources s ON s.id = ar.source_id WHERE ar.id = ?""",
        (artist_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"artist {artist_id}: not in the catalog")
    out = dict(row)
    out["genres"] = [r[0] for r in conn.execute(
        "SELECT g.name FROM artist_genres x JOIN genres g ON g.id = x.genre_id WHERE x.artist_id = ? "
        "ORDER BY x.position", (artist_id,))]
    out["albums"] = [dict(r) for r in conn.execute(
        """SELECT al.id, al.name, al.album_type, al.release_date, al.popularity FROM album_artists x
           JOIN albums al ON al.id = x.album_id WHERE x.artist_id = ?
           GROUP BY al.id ORDER BY al.release_date, al.name, al.id LIMIT ?""",
        (artist_id, MAX_ARTIST_ALBUMS))]
    out["track_count"] = conn.execute("SELECT count(DISTINCT track_id) FROM track_artists WHERE artist_id = ?",
                                      (artist_id,)).fetchone()[0]
    ids = [r[0] for r in conn.execute(
        """SELECT t.id FROM track_artists x JOIN tracks t ON t.id = x.track_id WHERE x.artist_id = ?
           GROUP BY t.id ORDER BY t.popularity IS NULL, t.popularity DESC, t.listens IS NULL, t.listens DESC, t.id
           LIMIT ? OFFSET ?""",
        (artist_id, limit, offset))]
    out["tracks"] = mark(conn, track_details(conn, ids))
    out["limit"], out["offset"] = limit, offset
    return out


def _credits(conn: sqlite3.Connection, table: str, key: str, owner: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        f"SELECT a.id, a.name, x.credited_name, x.join_phrase FROM {table} x JOIN artists a ON a.id = x.artist_id "
        f"WHERE x.{key} = ? ORDER BY x.position", (owner,))]


# ---------------------------------------------------------------------------------------------
# audio


@dataclass(frozen=True)
class AudioFile:
    """One stored file an audio response may read: found by its id in ``files``, inside the archive."""

    file_id: int
    path: Path
    size: int
    sha256: str
    content_type: str


def audio_file(archive: Archive, file_id: int) -> AudioFile:
    """The stored file ``file_id``; :class:`ExcludedError` if any track it serves is excluded."""
    conn = archive.conn
    check_id(file_id, "file")
    row = conn.execute("SELECT id, store_path, size, sha256, ext, derived_from FROM files WHERE id = ?",
                       (file_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"file {file_id}: not in the store")
    serves = [r[0] for r in conn.execute(
        """SELECT track_id FROM track_files WHERE file_id IN (?, ?)
           UNION SELECT track_id FROM release_tracks WHERE file_id = ?""",
        (file_id, row["derived_from"] if row["derived_from"] is not None else file_id, file_id))]
    reasons = reasons_for(conn, serves)
    if reasons:
        tid = min(reasons)
        raise ExcludedError(f"file {file_id}", f"serves track {tid}, {reasons[tid]}")
    root = archive.root.resolve()
    path = (root / row["store_path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise StoreError(f"file {file_id}: missing from the store ({row['store_path']})")
    return AudioFile(file_id, path, path.stat().st_size, row["sha256"], content_type(row["ext"]))


def track_audio_file(archive: Archive, track_id: int) -> AudioFile:
    """The file the track page plays: the track's first playable held file (original before re-encode)."""
    t = track(archive, track_id)
    if t["excluded"]:
        raise ExcludedError(f"track {track_id}", t["excluded"])
    if t["audio_file_id"] is None:
        why = "the store holds no file for it" if not t["files"] else "no held file is playable in a browser"
        raise NotFoundError(f"track {track_id}: no audio ({why})")
    return audio_file(archive, t["audio_file_id"])


def torrent_file(archive: Archive, torrent_id: int) -> tuple[str, Path]:
    """``(name, path)`` of a release's ``.torrent`` file, by torrent id."""
    check_id(torrent_id, "torrent")
    row = archive.conn.execute("SELECT name, release_name, torrent_path FROM torrents WHERE id = ?",
                               (torrent_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"torrent {torrent_id}: no such torrent")
    base = (archive.releases_dir / row["release_name"]).resolve()
    path = (base / row["torrent_path"]).resolve()
    if not path.is_relative_to(archive.releases_dir.resolve()) or not path.is_file():
        raise StoreError(f"torrent {row['name']}: its .torrent file is missing ({row['torrent_path']})")
    return row["name"], path
