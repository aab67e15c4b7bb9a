"""Catalog builder for tests: fills the core catalog tables directly with SQL (no importer needed)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from phonotheque.archive import Archive


class Builder:
    """Adds sources, artists, albums, recordings and tracks by name; reuses rows by key."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.conn: sqlite3.Connection = archive.conn
        self._ids: dict[tuple[str, str], int] = {}
        self._counter = 0

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _get(self, kind: str, key: str, sql: str, params: Sequence[Any]) -> int:
        if (kind, key) not in self._ids:
            self._ids[(kind, key)] = int(self.conn.execute(sql, params).lastrowid or 0)
        return self._ids[(kind, key)]

    def source(self, name: str = "src") -> int:
        return self._get(
            "source",
            name,
            "INSERT INTO sources(name, format, licence) VALUES (?, 'jsonl', 'CC0-1.0')",
            (name,),
        )

    def track(
        self,
        name: str,
        artists: Sequence[str] = ("Artist",),
        album: str = "Album",
        *,
        popularity: int | None = None,
        listens: int | None = None,
        isrc: str | None = None,
        recording_mbid: str | None = None,
        upc: str | None = None,
        album_mbid: str | None = None,
        source: str = "src",
        key: str | None = None,
        track_id: int | None = None,
        album_key: str | None = None,
    ) -> int:
        sid = self.source(source)
        album_id = self._get(
            "album",
            album_key or album,
            "INSERT INTO albums(source_id, source_key, name, upc, mbid) VALUES (?, ?, ?, ?, ?)",
            (sid, album_key or album, album, upc, album_mbid),
        )
        rec = None
        if isrc or recording_mbid:
            rkey = recording_mbid or isrc or ""
            rec = self._get(
                "rec",
                rkey,
                "INSERT INTO recordings(mbid, isrc, title) VALUES (?, ?, ?)",
                (recording_mbid, isrc, name),
            )
            if isrc:
                self.conn.execute(
                    "INSERT OR IGNORE INTO recording_isrcs(isrc, recording_id) VALUES (?, ?)", (isrc, rec)
                )
        tid = self.conn.execute(
            "INSERT INTO tracks(id, source_id, source_key, album_id, recording_id, name, popularity, listens, "
            "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 200000)",
            (track_id, sid, key or f"k{self._next()}", album_id, rec, name, popularity, listens),
        ).lastrowid
        for pos, artist in enumerate(artists):
            aid = self._get(
                "artist",
                artist,
                "INSERT INTO artists(source_id, source_key, name) VALUES (?, ?, ?)",
                (sid, artist, artist),
            )
            self.conn.execute(
                "INSERT INTO track_artists(track_id, position, artist_id, join_phrase) VALUES (?, ?, ?, ?)",
                (tid, pos, aid, " & " if pos < len(artists) - 1 else None),
            )
        return int(tid or 0)
