"""Batched writes of normalized rows into the catalog (the importers' single writer).

The importer runs one ``BEGIN IMMEDIATE`` transaction per batch. Ids are allocated here, in
Python, from ``MAX(id)+1`` read at the start of each batch (nobody else can write meanwhile), so
every row of a batch is sent with one ``executemany`` per table at :meth:`CatalogWriter.flush`.

Shared entities — artists and labels (per source), recordings, market sets, genres — follow
**first writer wins**: a later record never rewrites them, it links to them and its own
differences go to its remainder. That keeps every earlier record's rebuild stable, which is what
makes the exact round trip hold across re-imports and several sources. Owned entities (a track
of a jsonl/csv record; an album and its tracks for a MusicBrainz release) are replaced in place
(same id) when their record changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

ArtistAttrs = tuple[str, str | None, str | None, str | None, str | None, str | None]
"""(name, sort_name, disambiguation, type, country, mbid) as stored."""

_CHUNK = 900


def chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


class _Cache(dict[Any, Any]):
    """A dict that forgets everything when it grows past ``limit`` (bounded memory, flat RSS).

    Additions are journaled so that a record rejected half-way can be undone (:meth:`CatalogWriter.undo`).
    """

    def __init__(self, limit: int, journal: list[tuple[_Cache, Any]]) -> None:
        super().__init__()
        self.limit = limit
        self.journal = journal

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            self.journal.append((self, key))
        super().__setitem__(key, value)

    def trim(self) -> None:
        if len(self) > self.limit:
            self.clear()


ALBUM_COLS = (
    "id, source_id, source_key, name, album_type, release_date, release_date_precision, total_tracks, upc, "
    "mbid, release_group_mbid, country, status, popularity, market_set_id, licence"
)
TRACK_COLS = (
    "id, source_id, source_key, album_id, recording_id, name, disc_number, track_number, number, duration_ms, "
    "explicit, popularity, listens, market_set_id, licence"
)


def _insert(table: str, cols: str) -> str:
    marks = ", ".join("?" * len(cols.split(",")))
    return f"INSERT INTO {table} ({cols}) VALUES ({marks})"


def _update(table: str, cols: str) -> str:
    """``UPDATE`` by id with the parameters in ``cols`` order rotated (id last).

    A plain UPDATE, not an UPSERT: an UPSERT's conflict handling would override the ``OR IGNORE`` of
    the search stage's triggers.
    """
    names = [c.strip() for c in cols.split(",")]
    sets = ", ".join(f"{c}=?" for c in names if c != "id")
    return f"UPDATE {table} SET {sets} WHERE id=?"


class CatalogWriter:
    """Collects the rows of one batch and writes them; caches ids of shared entities."""

    def __init__(self, conn: sqlite3.Connection, source_id: int, licence: str | None, cache_limit: int = 100_000):
        self.conn = conn
        self.source_id = source_id
        self.licence = licence
        self._journal: list[tuple[_Cache, Any]] = []
        j = self._journal
        self.artists = _Cache(cache_limit, j)  # key -> (id, ArtistAttrs)
        self.labels = _Cache(cache_limit, j)  # key -> (id, name)
        self.markets = _Cache(cache_limit, j)  # codes -> id
        self.genres = _Cache(cache_limit, j)  # name -> id
        self.rec_mbid = _Cache(cache_limit, j)  # mbid -> (id, title, duration, video, isrcs tuple)
        self.rec_isrc = _Cache(cache_limit, j)  # isrc -> (id, first isrc of that recording)
        # album key -> (id, rebuilt album object) for shared (jsonl/csv) albums; big entries, smaller cache
        self.albums = _Cache(max(1000, cache_limit // 10), j)
        self._next: dict[str, int] = {}
        self.carry_ids = False
        """Read ``MAX(id)`` at the first batch only (the pipelined import: earlier batches are in flight)."""
        self.absent_artists: set[str] = set()
        self.absent_isrcs: set[str] = set()
        self.absent_albums: set[str] = set()
        self.absent_mbids: set[str] = set()
        self.absent_labels: set[str] = set()
        self._reset_pending()

    # -- batch lifecycle --------------------------------------------------------------------------
    def _reset_pending(self) -> None:
        self.p: dict[str, list[Any]] = {
            name: []
            for name in (
                "market_sets", "genres", "artists", "labels", "recordings", "recording_mbid", "recording_isrcs",
                "albums", "albums_up", "tracks_up", "album_artists", "album_labels", "album_genres", "images", "tracks", "track_artists",
                "external_ids", "records", "records_up", "record_lines", "rejects",
                "del_album_children", "del_track_children", "del_album_tracks",
            )
        }
        self._lists = list(self.p.values())

    def prefetch(
        self,
        artist_keys: Iterable[str] = (),
        isrcs: Iterable[str] = (),
        album_keys: Iterable[str] = (),
        recording_mbids: Iterable[str] = (),
        label_keys: Iterable[str] = (),
    ) -> None:
        """Look up a batch's keys with a few ``IN`` queries instead of one query per record.

        Found rows fill the caches; keys not found are remembered as absent for this batch (what a
        per-record ``SELECT`` would have found too: rows written by this batch are not flushed yet).
        """
        c = self.conn
        todo = sorted({m for m in recording_mbids if m not in self.rec_mbid})
        found: set[str] = set()
        for chunk in chunks(todo):
            marks = ",".join("?" * len(chunk))
            for mbid in (
                r[0] for r in c.execute(f"SELECT mbid FROM recordings WHERE mbid IN ({marks})", chunk)
            ):
                found.add(mbid)  # found ones go through recording_by_mbid's own query (it also reads ISRCs)
        self.absent_mbids.update(m for m in todo if m not in found)
        todo = sorted({k for k in label_keys if k not in self.labels})
        found = set()
        for chunk in chunks(todo):
            marks = ",".join("?" * len(chunk))
            for key, lid, name in c.execute(
                f"SELECT source_key, id, name FROM labels WHERE source_id=? AND source_key IN ({marks})",
                (self.source_id, *chunk),
            ):
                self.labels[key] = (lid, name)
                found.add(key)
        self.absent_labels.update(k for k in todo if k not in found)
        todo = sorted({k for k in artist_keys if k not in self.artists})
        found = set()
        for chunk in chunks(todo):
            marks = ",".join("?" * len(chunk))
            for row in c.execute(
                f"SELECT source_key, id, name, sort_name, disambiguation, type, country, mbid FROM artists "
                f"WHERE source_id=? AND source_key IN ({marks})",
                (self.source_id, *chunk),
            ):
                self.artists[row[0]] = (row[1], (row[2], row[3], row[4], row[5], row[6], row[7]))
                found.add(row[0])
        self.absent_artists.update(k for k in todo if k not in found)
        todo = sorted({i for i in isrcs if i not in self.rec_isrc})
        found = set()
        for chunk in chunks(todo):
            marks = ",".join("?" * len(chunk))
            for isrc, rid, first in c.execute(
                f"SELECT i.isrc, r.id, r.isrc FROM recording_isrcs i JOIN recordings r ON r.id = i.recording_id "
                f"WHERE i.isrc IN ({marks}) ORDER BY r.id DESC",
                chunk,
            ):
                self.rec_isrc[isrc] = (rid, first)  # lowest id wins (rows come highest first)
                found.add(isrc)
        self.absent_isrcs.update(i for i in todo if i not in found)
        todo = sorted({k for k in album_keys if k not in self.albums})
        found = set()
        for chunk in chunks(todo):
            marks = ",".join("?" * len(chunk))
            for (key,) in c.execute(
                f"SELECT source_key FROM albums WHERE source_id=? AND source_key IN ({marks})", (self.source_id, *chunk)
            ):
                found.add(key)
        self.absent_albums.update(k for k in todo if k not in found)

    def begin_batch(self) -> None:
        self.absent_artists = set()
        self.absent_isrcs = set()
        self.absent_albums = set()
        self.absent_mbids = set()
        self.absent_labels = set()
        if self.carry_ids and self._next:
            self._reset_pending()
            return  # ids continue from the previous batch (which may not be committed yet)
        for table in ("artists", "labels", "market_sets", "genres", "recordings", "albums", "tracks", "records"):
            self._next[table] = (self.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]) + 1
        self._reset_pending()

    def mark(self) -> tuple[tuple[int, ...], dict[str, int], int]:
        """A savepoint of the pending batch (see :meth:`undo`)."""
        return tuple(map(len, self._lists)), self._next.copy(), len(self._journal)

    def undo(self, mark: tuple[tuple[int, ...], dict[str, int], int]) -> None:
        """Forget every row, id and cache entry added since ``mark`` (a record was rejected mid-way)."""
        lengths, nxt, nj = mark
        for rows, n in zip(self.p.values(), lengths, strict=True):
            del rows[n:]
        self._next = nxt
        while len(self._journal) > nj:
            cache, key = self._journal.pop()
            cache.pop(key, None)

    def new_id(self, table: str) -> int:
        i = self._next[table]
        self._next[table] = i + 1
        return i

    def abandon(self) -> None:
        """After a rolled-back batch: pending rows and every cache are invalid."""
        self._reset_pending()
        self._journal.clear()
        for cache in (self.artists, self.labels, self.markets, self.genres, self.rec_mbid, self.rec_isrc, self.albums):
            cache.clear()

    def flush(self) -> None:
        write_pending(self.conn, self.p)
        self._reset_pending()
        self._journal.clear()
        self.trim()

    def take_pending(self) -> dict[str, list[Any]]:
        """Hand the batch's rows over (to be written by :func:`write_pending` elsewhere) and start anew."""
        p = self.p
        self._reset_pending()
        self._journal.clear()
        return p

    def oversized(self) -> bool:
        return any(len(c) > c.limit for c in self._caches())

    def trim(self) -> None:
        for cache in self._caches():
            cache.trim()

    def _caches(self) -> tuple[_Cache, ...]:
        return (self.artists, self.labels, self.markets, self.genres, self.rec_mbid, self.rec_isrc, self.albums)

    # -- shared entities (first writer wins) ------------------------------------------------------
    def artist(
        self,
        key: str,
        name: str,
        sort_name: str | None = None,
        disambiguation: str | None = None,
        type_: str | None = None,
        country: str | None = None,
        mbid: str | None = None,
    ) -> tuple[int, ArtistAttrs]:
        hit = self.artists.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = None if key in self.absent_artists else self.conn.execute(
            "SELECT id, name, sort_name, disambiguation, type, country, mbid FROM artists "
            "WHERE source_id=? AND source_key=?",
            (self.source_id, key),
        ).fetchone()
        if row is not None:
            hit = (row[0], (row[1], row[2], row[3], row[4], row[5], row[6]))
        else:
            aid = self.new_id("artists")
            attrs: ArtistAttrs = (name, sort_name, disambiguation, type_, country, mbid)
            self.p["artists"].append(
                (aid, self.source_id, key, name, sort_name, disambiguation, type_, country, mbid, self.licence)
            )
            hit = (aid, attrs)
        self.artists[key] = hit
        return hit

    def label(self, key: str, name: str) -> tuple[int, str]:
        hit = self.labels.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = None if key in self.absent_labels else self.conn.execute(
            "SELECT id, name FROM labels WHERE source_id=? AND source_key=?", (self.source_id, key)
        ).fetchone()
        if row is not None:
            hit = (row[0], row[1])
        else:
            lid = self.new_id("labels")
            self.p["labels"].append((lid, self.source_id, key, name))
            hit = (lid, name)
        self.labels[key] = hit
        return hit

    def market_set(self, codes: str) -> int:
        hit = self.markets.get(codes)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = self.conn.execute("SELECT id FROM market_sets WHERE codes=?", (codes,)).fetchone()
        if row is not None:
            mid = row[0]
        else:
            mid = self.new_id("market_sets")
            self.p["market_sets"].append((mid, codes))
        self.markets[codes] = mid
        return mid  # type: ignore[no-any-return]

    def genre(self, name: str) -> int:
        hit = self.genres.get(name)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = self.conn.execute("SELECT id FROM genres WHERE name=?", (name,)).fetchone()
        if row is not None:
            gid = row[0]
        else:
            gid = self.new_id("genres")
            self.p["genres"].append((gid, name))
        self.genres[name] = gid
        return gid  # type: ignore[no-any-return]

    def recording_by_isrc(self, isrc: str, title: str | None, duration_ms: int | None) -> tuple[int, str | None]:
        """The recording carrying ``isrc`` (any source), or a new one. Returns (id, its first ISRC)."""
        hit = self.rec_isrc.get(isrc)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = None if isrc in self.absent_isrcs else self.conn.execute(
            "SELECT r.id, r.isrc FROM recording_isrcs i JOIN recordings r ON r.id = i.recording_id "
            "WHERE i.isrc=? ORDER BY r.id LIMIT 1",
            (isrc,),
        ).fetchone()
        if row is not None:
            hit = (row[0], row[1])
        else:
            rid = self.new_id("recordings")
            self.p["recordings"].append((rid, None, isrc, title, duration_ms, None))
            self.p["recording_isrcs"].append((isrc, rid))
            hit = (rid, isrc)
        self.rec_isrc[isrc] = hit
        return hit

    def recording_new(self, title: str | None, duration_ms: int | None) -> int:
        """A recording with no MBID and no ISRC (owned by the one track that needs it)."""
        rid = self.new_id("recordings")
        self.p["recordings"].append((rid, None, None, title, duration_ms, None))
        return rid

    def recording_by_mbid(
        self, mbid: str, isrcs: Sequence[str], title: str | None, duration_ms: int | None, video: int | None
    ) -> tuple[int, str | None, int | None, int | None, tuple[str, ...]]:
        """Link by recording MBID; else adopt an MBID-less recording with one of the ISRCs; else create.

        Returns (id, title, duration_ms, video, sorted ISRCs) as stored.
        """
        hit = self.rec_mbid.get(mbid)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = None if mbid in self.absent_mbids else self.conn.execute(
            "SELECT id, title, duration_ms, video FROM recordings WHERE mbid=?", (mbid,)
        ).fetchone()
        if row is not None:
            got = tuple(
                r[0]
                for r in self.conn.execute("SELECT isrc FROM recording_isrcs WHERE recording_id=? ORDER BY isrc", (row[0],))
            )
            hit = (row[0], row[1], row[2], row[3], got)
            self.rec_mbid[mbid] = hit
            return hit
        adopt = None
        for isrc in isrcs:
            if isrc in self.absent_isrcs:  # in no stored recording at all
                continue
            r = self.conn.execute(
                "SELECT r.id, r.title, r.duration_ms, r.video, r.isrc FROM recording_isrcs i "
                "JOIN recordings r ON r.id = i.recording_id WHERE i.isrc=? AND r.mbid IS NULL ORDER BY r.id LIMIT 1",
                (isrc,),
            ).fetchone()
            if r is not None:
                adopt = r
                break
        if adopt is not None:
            rid = adopt[0]
            have = {
                r[0] for r in self.conn.execute("SELECT isrc FROM recording_isrcs WHERE recording_id=?", (rid,))
            }
            self.p["recording_mbid"].append((mbid, rid))
            for isrc in isrcs:
                if isrc not in have:
                    have.add(isrc)
                    self.p["recording_isrcs"].append((isrc, rid))
                    self.rec_isrc[isrc] = (rid, adopt[4])
            hit = (rid, adopt[1], adopt[2], adopt[3], tuple(sorted(have)))
        else:
            rid = self.new_id("recordings")
            uniq = sorted(set(isrcs))
            first = isrcs[0] if isrcs else None
            self.p["recordings"].append((rid, mbid, first, title, duration_ms, video))
            for isrc in uniq:
                self.p["recording_isrcs"].append((isrc, rid))
                if isrc not in self.rec_isrc:
                    self.rec_isrc[isrc] = (rid, first)
            hit = (rid, title, duration_ms, video, tuple(uniq))
        self.rec_mbid[mbid] = hit
        return hit

    # -- owned rows -------------------------------------------------------------------------------
    def album_row(self, row: tuple[Any, ...], replace: bool) -> None:
        """``row`` in ALBUM_COLS order. ``replace``: the album exists; drop its child rows first."""
        if replace:
            self.p["albums_up"].append(row)
            self.p["del_album_children"].append(row[0])
        else:
            self.p["albums"].append(row)

    def track_row(self, row: tuple[Any, ...], replace: bool) -> None:
        if replace:
            self.p["tracks_up"].append(row)
            self.p["del_track_children"].append(row[0])
        else:
            self.p["tracks"].append(row)

    def record_row(
        self,
        record_id: int,
        kind: str,
        key: str,
        entity_id: int,
        line: int,
        digest: bytes,
        remainder: bytes | None,
        existing: bool = True,
    ) -> None:
        """``existing=False``: a new record (a plain INSERT, no conflict handling)."""
        self.p["records_up" if existing else "records"].append(
            (record_id, self.source_id, kind, key, entity_id, line, digest, remainder)
        )

    def reject(self, path: str, line: int | None, key: str | None, reason: str, at: str) -> None:
        self.p["rejects"].append((self.source_id, path, line, key, reason, at))


def write_pending(c: sqlite3.Connection, p: dict[str, list[Any]]) -> None:
    """Write one batch's rows (``CatalogWriter.p``), parents before children, one ``executemany`` each."""
    for aid in p["del_album_children"]:
        for t in ("album_artists", "album_labels", "album_genres"):
            c.execute(f"DELETE FROM {t} WHERE album_id=?", (aid,))
        c.execute("DELETE FROM images WHERE entity='album' AND entity_id=?", (aid,))
        c.execute("DELETE FROM external_ids WHERE entity='album' AND entity_id=?", (aid,))
    if p["del_track_children"]:
        c.executemany("DELETE FROM track_artists WHERE track_id=?", [(t,) for t in p["del_track_children"]])
        c.executemany(
            "DELETE FROM external_ids WHERE entity='track' AND entity_id=?", [(t,) for t in p["del_track_children"]]
        )
    c.executemany("INSERT INTO market_sets(id, codes) VALUES (?, ?)", p["market_sets"])
    c.executemany("INSERT INTO genres(id, name) VALUES (?, ?)", p["genres"])
    c.executemany(
        "INSERT INTO artists(id, source_id, source_key, name, sort_name, disambiguation, type, country, mbid, "
        "licence) VALUES (?,?,?,?,?,?,?,?,?,?)",
        p["artists"],
    )
    c.executemany("INSERT INTO labels(id, source_id, source_key, name) VALUES (?,?,?,?)", p["labels"])
    c.executemany(
        "INSERT INTO recordings(id, mbid, isrc, title, duration_ms, video) VALUES (?,?,?,?,?,?)", p["recordings"]
    )
    c.executemany("UPDATE recordings SET mbid=? WHERE id=?", p["recording_mbid"])
    c.executemany("INSERT OR IGNORE INTO recording_isrcs(isrc, recording_id) VALUES (?,?)", p["recording_isrcs"])
    c.executemany(_insert("albums", ALBUM_COLS), p["albums"])
    c.executemany(_update("albums", ALBUM_COLS), [(*r[1:], r[0]) for r in p["albums_up"]])
    c.executemany(
        "INSERT INTO album_artists(album_id, position, artist_id, credited_name, join_phrase) VALUES (?,?,?,?,?)",
        p["album_artists"],
    )
    c.executemany(
        "INSERT INTO album_labels(album_id, position, label_id, catalog_number) VALUES (?,?,?,?)", p["album_labels"]
    )
    c.executemany(
        "INSERT INTO album_genres(album_id, genre_id, position, count) VALUES (?,?,?,?)", p["album_genres"]
    )
    c.executemany(
        "INSERT INTO images(entity, entity_id, position, url, width, height) VALUES ('album',?,?,?,?,?)",
        p["images"],
    )
    c.executemany(_insert("tracks", TRACK_COLS), p["tracks"])
    c.executemany(_update("tracks", TRACK_COLS), [(*r[1:], r[0]) for r in p["tracks_up"]])
    for album_id, keep in p["del_album_tracks"]:
        old = [
            r[0] for r in c.execute("SELECT id FROM tracks WHERE album_id=?", (album_id,)) if r[0] not in keep
        ]
        for tid in old:
            c.execute("DELETE FROM track_artists WHERE track_id=?", (tid,))
            c.execute("DELETE FROM external_ids WHERE entity='track' AND entity_id=?", (tid,))
            c.execute("DELETE FROM tracks WHERE id=?", (tid,))
    c.executemany(
        "INSERT INTO track_artists(track_id, position, artist_id, credited_name, join_phrase) VALUES (?,?,?,?,?)",
        p["track_artists"],
    )
    c.executemany(
        "INSERT OR IGNORE INTO external_ids(entity, entity_id, kind, value) VALUES (?,?,?,?)", p["external_ids"]
    )
    c.executemany(
        "INSERT INTO records(id, source_id, kind, source_key, entity_id, line, digest, remainder) "
        "VALUES (?,?,?,?,?,?,?,?)",
        p["records"],
    )
    c.executemany(
        "INSERT INTO records(id, source_id, kind, source_key, entity_id, line, digest, remainder) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET entity_id=excluded.entity_id, "
        "line=excluded.line, digest=excluded.digest, remainder=excluded.remainder",
        p["records_up"],
    )
    c.executemany("UPDATE records SET line=? WHERE id=?", p["record_lines"])
    c.executemany(
        "INSERT INTO import_rejects(source_id, path, line, source_key, reason, at) VALUES (?,?,?,?,?,?)",
        p["rejects"],
    )
