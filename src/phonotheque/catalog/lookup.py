"""Look tracks up by catalog id, ISRC, UPC/EAN, MusicBrainz id or source id, in batches.

The kind of each id is detected from its shape (an explicit ``kind:`` prefix wins):

========================  ==========================================================================
``123``                   catalog track id (1-11 digits)
``isrc:…`` / ISRC shape   ``CC-XXX-YY-NNNNN`` with or without dashes → the recording(s) and their tracks
``upc:…`` / 12-14 digits  UPC-A, EAN-13, GTIN-14 barcode → the album's tracks (leading zeros ignored)
``mbid:…`` / a UUID       recording MBID → its tracks; release MBID → album tracks; track MBID; artist
``SOURCE:KEY``            ``tracks.source_key`` (else album/artist) in the source named SOURCE
========================  ==========================================================================

Every result names what matched and lists tracks with album, artists, recording (ISRCs, MBID) and
the other tracks sharing the recording.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from phonotheque.archive import Archive
from phonotheque.errors import QueryError

MAX_IDS = 400
MAX_TRACKS_PER_ID = 100
MAX_SHARING = 50
_ISRC = re.compile(r"^[A-Z]{2}-?[A-Z0-9]{3}-?\d{2}-?\d{5}$", re.I)
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_KINDS = ("id", "track", "isrc", "upc", "ean", "mbid")


def detect(value: str) -> tuple[str, str]:
    """``(kind, normalized value)`` of one id; kind is id, isrc, upc, mbid, source or unknown."""
    text = value.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in _KINDS:
        kind = {"track": "id", "ean": "upc"}.get(prefix.lower(), prefix.lower())
        return _normalize(kind, rest.strip())
    if text.isdigit() and text.isascii():
        return _normalize("upc" if len(text) >= 12 else "id", text)
    if _ISRC.match(text):
        return _normalize("isrc", text)
    if _UUID.match(text):
        return _normalize("mbid", text)
    if sep and prefix and rest:
        return "source", text
    return "unknown", text


def _normalize(kind: str, value: str) -> tuple[str, str]:
    if kind == "id":
        return ("id", str(int(value))) if value.isdigit() and value.isascii() and len(value) <= 18 else ("unknown", value)
    if kind == "isrc":
        v = value.replace("-", "").upper()
        return ("isrc", v) if _ISRC.match(v) else ("unknown", value)
    if kind == "upc":
        return ("upc", value.lstrip("0") or "0") if value.isdigit() and value.isascii() else ("unknown", value)
    if kind == "mbid":
        v = value.lower().replace("-", "")
        if not re.fullmatch(r"[0-9a-f]{32}", v):
            return "unknown", value
        return "mbid", f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    return "unknown", value


def lookup(archive: Archive, ids: Sequence[str]) -> list[dict[str, Any]]:
    """One result per id, in order: ``{"query", "kind", "found", "matched", "tracks", ...}``.

    ``found`` is False (with a ``reason``) for unknown or unrecognised ids. Raises
    :class:`QueryError` for more than 400 ids.
    """
    if isinstance(ids, str):
        ids = [ids]
    if len(ids) > MAX_IDS:
        raise QueryError(f"lookup takes at most {MAX_IDS} ids per call, got {len(ids)}")
    conn = archive.conn
    out = []
    for raw in ids:
        kind, value = detect(str(raw))
        result: dict[str, Any] = {"query": raw, "kind": kind, "found": False, "matched": None, "tracks": []}
        if kind == "unknown":
            result["reason"] = "not a catalog id, ISRC, UPC/EAN, MBID or SOURCE:KEY"
            out.append(result)
            continue
        matched, track_ids, extra = _match(conn, kind, value)
        if track_ids or extra:
            result.update(found=True, matched=matched, tracks=track_details(conn, track_ids[:MAX_TRACKS_PER_ID]))
            result["track_count"] = len(track_ids)
            result.update(extra)
        else:
            result["reason"] = "not in the catalog"
        out.append(result)
    return out


def _ids(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> list[int]:
    return [r[0] for r in conn.execute(sql, tuple(params))]


def _match(conn: sqlite3.Connection, kind: str, value: str) -> tuple[str | None, list[int], dict[str, Any]]:
    if kind == "id":
        return "track", _ids(conn, "SELECT id FROM tracks WHERE id = ?", (int(value),)), {}
    if kind == "isrc":
        ids = _ids(
            conn,
            """SELECT t.id FROM recording_isrcs ri JOIN tracks t ON t.recording_id = ri.recording_id
               WHERE ri.isrc = ?
               UNION SELECT t.id FROM recordings r JOIN tracks t ON t.recording_id = r.id WHERE r.isrc = ?
               UNION SELECT entity_id FROM external_ids WHERE entity = 'track' AND kind = 'isrc' AND value = ?
               ORDER BY 1""",
            (value, value, value),
        )
        return "recording", ids, {}
    if kind == "upc":
        variants = {value, value.zfill(12), value.zfill(13), value.zfill(14)}
        marks = ",".join("?" * len(variants))
        ids = _ids(
            conn,
            f"""SELECT t.id FROM albums al JOIN tracks t ON t.album_id = al.id WHERE al.upc IN ({marks})
                UNION SELECT t.id FROM external_ids e JOIN tracks t ON t.album_id = e.entity_id
                 WHERE e.entity = 'album' AND e.kind IN ('upc', 'ean', 'barcode') AND e.value IN ({marks})
                ORDER BY 1""",
            [*variants, *variants],
        )
        return "album", ids, {}
    if kind == "mbid":
        ids = _ids(conn, "SELECT t.id FROM recordings r JOIN tracks t ON t.recording_id = r.id WHERE r.mbid = ? "
                         "ORDER BY t.id", (value,))
        if ids:
            return "recording", ids, {}
        ids = _ids(conn, "SELECT t.id FROM albums al JOIN tracks t ON t.album_id = al.id WHERE al.mbid = ? "
                         "ORDER BY t.disc_number, t.track_number, t.id", (value,))
        if ids:
            return "album", ids, {}
        ids = _ids(conn, "SELECT id FROM tracks WHERE source_key = ? UNION SELECT entity_id FROM external_ids "
                         "WHERE entity = 'track' AND kind = 'mbid' AND value = ? ORDER BY 1", (value, value))
        if ids:
            return "track", ids, {}
        return _artist_match(conn, _ids(conn, "SELECT id FROM artists WHERE mbid = ?", (value,)))
    # SOURCE:KEY
    source, _, key = value.partition(":")
    ids = _ids(conn, "SELECT t.id FROM tracks t JOIN sources s ON s.id = t.source_id WHERE s.name = ? "
                     "AND t.source_key = ?", (source, key))
    if not ids:
        ids = _ids(conn, "SELECT t.entity_id FROM external_ids t WHERE t.entity = 'track' AND t.kind = ? "
                         "AND t.value = ?", (source, key))
    if ids:
        return "track", ids, {}
    ids = _ids(conn, "SELECT t.id FROM albums al JOIN sources s ON s.id = al.source_id JOIN tracks t "
                     "ON t.album_id = al.id WHERE s.name = ? AND al.source_key = ? "
                     "ORDER BY t.disc_number, t.track_number, t.id", (source, key))
    if ids:
        return "album", ids, {}
    return _artist_match(conn, _ids(conn, "SELECT a.id FROM artists a JOIN sources s ON s.id = a.source_id "
                                          "WHERE s.name = ? AND a.source_key = ?", (source, key)))


def _artist_match(conn: sqlite3.Connection, artist_ids: list[int]) -> tuple[str | None, list[int], dict[str, Any]]:
    if not artist_ids:
        return None, [], {}
    marks = ",".join("?" * len(artist_ids))
    artists = [dict(r) for r in conn.execute(f"SELECT id, name, mbid FROM artists WHERE id IN ({marks})", artist_ids)]
    ids = _ids(conn, f"SELECT DISTINCT track_id FROM track_artists WHERE artist_id IN ({marks}) ORDER BY 1", artist_ids)
    return "artist", ids, {"artists": artists}


def track_details(conn: sqlite3.Connection, track_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Full records of tracks (in the given order): album, artists, recording, tracks sharing it."""
    if not track_ids:
        return []
    marks = ",".join("?" * len(track_ids))
    rows = {
        r["id"]: r
        for r in conn.execute(
            f"""SELECT t.id, t.name, s.name AS source, t.source_key, t.disc_number, t.track_number,
                       t.duration_ms, t.explicit, t.popularity, t.listens, t.licence, t.recording_id,
                       al.id AS album_id, al.name AS album_name, al.upc, al.release_date, al.mbid AS album_mbid,
                       r.mbid AS recording_mbid, r.title AS recording_title
                FROM tracks t JOIN sources s ON s.id = t.source_id
                LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN recordings r ON r.id = t.recording_id
                WHERE t.id IN ({marks})""",
            list(track_ids),
        )
    }
    credits = artists_of(conn, list(rows))
    out = []
    for tid in track_ids:
        r = rows.get(tid)
        if r is None:
            continue
        rec_id = r["recording_id"]
        recording = None
        sharing: list[int] = []
        if rec_id is not None:
            isrcs = [x[0] for x in conn.execute("SELECT isrc FROM recording_isrcs WHERE recording_id = ? ORDER BY isrc",
                                                 (rec_id,))]
            recording = {"id": rec_id, "mbid": r["recording_mbid"], "title": r["recording_title"], "isrcs": isrcs}
            sharing = _ids(conn, "SELECT id FROM tracks WHERE recording_id = ? AND id != ? ORDER BY id LIMIT ?",
                           (rec_id, tid, MAX_SHARING))
        out.append({
            "id": tid,
            "name": r["name"],
            "source": r["source"],
            "source_key": r["source_key"],
            "album": {"id": r["album_id"], "name": r["album_name"], "upc": r["upc"],
                      "release_date": r["release_date"], "mbid": r["album_mbid"]} if r["album_id"] else None,
            "artists": credits.get(tid, []),
            "recording": recording,
            "disc_number": r["disc_number"],
            "track_number": r["track_number"],
            "duration_ms": r["duration_ms"],
            "explicit": None if r["explicit"] is None else bool(r["explicit"]),
            "popularity": r["popularity"],
            "listens": r["listens"],
            "licence": r["licence"],
            "sharing_recording": sharing,
        })
    return out


def artists_of(conn: sqlite3.Connection, track_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Credited artists per track, in credit order."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not track_ids:
        return out
    marks = ",".join("?" * len(track_ids))
    for r in conn.execute(
        f"""SELECT ta.track_id, a.id, a.name, ta.credited_name, ta.join_phrase FROM track_artists ta
            JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id IN ({marks}) ORDER BY ta.track_id, ta.position""",
        list(track_ids),
    ):
        out.setdefault(r[0], []).append(
            {"id": r[1], "name": r[2], "credited_name": r[3], "join_phrase": r[4]}
        )
    return out


def credit_line(credits: list[dict[str, Any]]) -> str:
    """``"A feat. B"`` from credits: credited names and join phrases (", " when none is given)."""
    parts = []
    for i, c in enumerate(credits):
        parts.append(c["credited_name"] or c["name"])
        if i < len(credits) - 1:
            parts.append(c["join_phrase"] if c["join_phrase"] else ", ")
        elif c["join_phrase"]:
            parts.append(c["join_phrase"])
    return "".join(parts)
