"""A real archive with real files in its store, hashed by store.hashing, and catalog/plan rows via SQL.

Until ingest and the planner land, this fixture plays their part: it writes files of random bytes into
``store/ab/cd/<sha256><ext>``, hashes them with :func:`phonotheque.store.hashing.hash_file` and inserts
``files``/``track_files``/``plan`` rows plus the catalog rows a path is made of.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phonotheque.archive import Archive
from phonotheque.store.hashing import hash_file

PIECE = 16384


@dataclass
class Spec:
    title: str
    artist: str = "Artist"
    album: str | None = "Album"
    year: str | None = "2001"
    number: int | None = 1
    popularity: int | None = 50
    size: int = 40_000
    listens: float = 10.0
    decision: str = "original"
    ext: str = ".flac"
    isrc: str | None = None
    seed: int | None = None          # same seed = same bytes = same stored file
    extra: dict[str, Any] = field(default_factory=dict)


class Builder:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        c = archive.conn
        c.execute("INSERT OR IGNORE INTO sources(id, name, format) VALUES (1, 'test', 'jsonl')")
        self.order = 0
        self.artists: dict[str, int] = {}
        self.albums: dict[tuple[str, str], int] = {}

    def _artist(self, name: str) -> int:
        if name not in self.artists:
            cur = self.archive.conn.execute("INSERT INTO artists(source_id, source_key, name) VALUES (1, ?, ?)",
                                            (f"ar:{name}", name))
            self.artists[name] = int(cur.lastrowid or 0)
        return self.artists[name]

    def _album(self, name: str, artist: str, year: str | None) -> int:
        key = (name, artist)
        if key not in self.albums:
            c = self.archive.conn
            cur = c.execute("INSERT INTO albums(source_id, source_key, name, release_date) VALUES (1, ?, ?, ?)",
                            (f"al:{name}|{artist}", name, year))
            aid = int(cur.lastrowid or 0)
            c.execute("INSERT INTO album_artists(album_id, position, artist_id) VALUES (?, 0, ?)",
                      (aid, self._artist(artist)))
            self.albums[key] = aid
        return self.albums[key]

    def add(self, s: Spec, *, ingested_at: str | None = None) -> int:
        c = self.archive.conn
        self.order += 1
        album_id = self._album(s.album, s.artist, s.year) if s.album is not None else None
        rec = c.execute("INSERT INTO recordings(isrc, title) VALUES (?, ?)", (s.isrc, s.title)).lastrowid
        tid = int(c.execute(
            "INSERT INTO tracks(source_id, source_key, album_id, recording_id, name, track_number, popularity)"
            " VALUES (1, ?, ?, ?, ?, ?, ?)", (f"t{self.order}:{s.title}", album_id, rec, s.title, s.number, s.popularity)
        ).lastrowid or 0)
        c.execute("INSERT INTO track_artists(track_id, position, artist_id) VALUES (?, 0, ?)",
                  (tid, self._artist(s.artist)))
        c.execute("INSERT INTO plan(track_id, decision, status, expected_listens, release_order) VALUES (?, ?, ?, ?, ?)",
                  (tid, s.decision, f"planned_{s.decision}", s.listens, self.order))
        if s.size >= 0:
            fid = self.store_file(s.size, s.ext, s.seed if s.seed is not None else tid, ingested_at=ingested_at)
            c.execute("INSERT OR IGNORE INTO track_files(track_id, file_id, role) VALUES (?, ?, 'original')",
                      (tid, fid))
        return tid

    def store_file(self, size: int, ext: str, seed: int, *, tier: str = "original",
                   derived_from: int | None = None, ingested_at: str | None = None) -> int:
        data = random.Random(seed).randbytes(size)
        tmp = self.archive.root / "incoming.tmp"
        tmp.write_bytes(data)
        ps = self.archive.settings["store.piece_size"]
        h = hash_file(tmp, ps)
        rel = Path("store") / h.sha256[:2] / h.sha256[2:4] / f"{h.sha256}{ext}"
        c = self.archive.conn
        row = c.execute("SELECT id FROM files WHERE sha256 = ?", (h.sha256,)).fetchone()
        if row:
            tmp.unlink()
            return int(row[0])
        (self.archive.root / rel).parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(self.archive.root / rel)
        when = ingested_at or datetime.now(UTC).isoformat()
        cur = c.execute(
            "INSERT INTO files(sha256, size, tier, derived_from, store_path, ext, piece_size, v1_pieces, v1_tail,"
            " v2_root, v2_layer, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (h.sha256, h.size, tier, derived_from, rel.as_posix(), ext, ps, h.v1_pieces, h.v1_tail, h.v2_root,
             h.v2_layer, when),
        )
        return int(cur.lastrowid or 0)


def new_archive(root: Path, piece: int = PIECE, **settings: Any) -> Archive:
    return Archive.init(root, settings={"store.piece_size": piece, "archive.name": "test archive", **settings})


SAMPLE = [
    Spec("Hells Bells", artist="AC/DC", album="Back in Black", year="1980", number=1, popularity=90, size=70_000,
         listens=1000, isrc="AUAP08000001"),
    Spec("Shoot to Thrill", artist="AC/DC", album="Back in Black", year="1980", number=2, popularity=80,
         size=33_000, listens=800),
    Spec("Café del Mar", artist="Energy 52", album="Café", number=1, popularity=70, size=16384, listens=500),
    Spec("Cafe\u0301 del Mar", artist="Energy 52", album="Café", number=1, popularity=70, size=20_000,
         listens=400),  # same name, NFD spelling → must not collide
    Spec("HELLO", artist="Case", album="Twins", number=3, popularity=60, size=5_000, listens=300),
    Spec("hello", artist="Case", album="Twins", number=3, popularity=60, size=6_000, listens=290),
    Spec("🎵 Émoji 🎶", artist="Ünïcødé 🎸", album="Ω", number=4, popularity=40, size=50_000, listens=100),
    Spec("שלום עולם", artist="להקה", album="אלבום", number=5, popularity=30, size=45_000, listens=50),
    Spec("CON", artist="NUL", album="AUX.", number=6, popularity=20, size=12_345, listens=20),
    Spec("x" * 300, artist="Long " * 40, album="Very " * 50, number=7, popularity=10, size=100_000, listens=10),
    Spec("Re-encoded tail", artist="Tail", album="Tail", number=1, popularity=0, size=30_000, listens=3,
         decision="reencode"),
    Spec("Not held", artist="Ghost", album="Ghost", number=1, popularity=0, size=-1, listens=2),
]


def build_sample(archive: Archive) -> Builder:
    b = Builder(archive)
    with archive.transaction():
        for s in SAMPLE:
            tid = b.add(s)
            if s.decision == "reencode":
                orig = archive.conn.execute("SELECT file_id FROM track_files WHERE track_id = ?", (tid,)).fetchone()[0]
                b.store_file(9_000, ".ogg", 10_000 + tid, tier="reencode", derived_from=orig)
    return b
