"""A real archive for the web tests, built by the real pipeline from the bundled sample.

import (MusicBrainz sample, the demo catalog of the bundled audio, and a catalog of hostile names)
→ ingest the real audio → plan → transcode → tag → package → then an exclusion added *after*
packaging, so the server must withhold a track its release still lists.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

from phonotheque.archive import Archive

DATA = Path(__file__).resolve().parents[1] / "data"
SCRIPT_NAME = '<script>alert("pwned")</script> & "quotes"'
SCRIPT_ARTIST = "<img src=x onerror=alert(1)>"
RTL_NAME = "שלום עולם"
EMOJI_NAME = "🎵 Émoji 🎶"
EXCLUDED_REASON = "takedown request #42"


def _hostile_rows() -> list[dict[str, object]]:
    def row(key: str, name: str, artist: str, album: str, pop: int, isrc: str) -> dict[str, object]:
        return {
            "id": key, "name": name, "artists": [{"id": f"{key}-artist", "name": artist}],
            "album": {"id": f"{key}-album", "name": album, "album_type": "single", "release_date": "2020",
                      "release_date_precision": "year", "total_tracks": 1,
                      "artists": [{"id": f"{key}-artist", "name": artist}], "external_ids": {}},
            "external_ids": {"isrc": isrc}, "popularity": pop, "duration_ms": 123_000, "explicit": False,
            "disc_number": 1, "track_number": 1, "listens": 1000 * pop, "licence": "CC0-1.0",
        }

    return [
        row("hostile-script", SCRIPT_NAME, SCRIPT_ARTIST, '"><b>bold</b>', 40, "XXA0A2000001"),
        row("hostile-rtl", RTL_NAME, "فرقة الموسيقى", "אלבום", 35, "XXA0A2000002"),
        row("hostile-emoji", EMOJI_NAME, "Ünïcødé 🎸", "Ω", 30, "XXA0A2000003"),
    ]


@dataclass
class WebArchive:
    root: Path
    awakening: int        # held original (ogg), released in a torrent, playable
    deprecation: int      # re-encoded to Opus, released
    chaos_god: int        # held and released, then excluded: 451
    script: int           # hostile names
    rtl: int
    emoji: int
    pending: int          # planned, no file held
    skipped: int | None   # skipped by the plan (not planned), if any
    awakening_file: int   # the original file of "Awakening" in the store
    chaos_god_file: int

    def store_file(self, file_id: int) -> Path:
        """Where the store holds file ``file_id`` (read from the catalog, read-only)."""
        conn = sqlite3.connect(f"file:{self.root / 'catalog.sqlite'}?mode=ro", uri=True)
        try:
            return self.root / conn.execute("SELECT store_path FROM files WHERE id = ?", (file_id,)).fetchone()[0]
        finally:
            conn.close()


def _track(archive: Archive, source_key: str) -> int:
    return int(archive.conn.execute("SELECT id FROM tracks WHERE source_key = ?", (source_key,)).fetchone()[0])


def build(root: Path) -> WebArchive:
    from phonotheque.catalog.importers import import_source
    from phonotheque.plan.exclusions import exclude_add
    from phonotheque.plan.planner import plan
    from phonotheque.release.package import package
    from phonotheque.store.ingest import ingest
    from phonotheque.store.tagging import tag
    from phonotheque.store.transcode import transcode

    archive = Archive.init(root, {"archive.name": "web test archive", "store.piece_size": 64 * 1024})
    hostile = root.parent / "hostile.jsonl"
    hostile.write_bytes(b"\n".join(orjson.dumps(r) for r in _hostile_rows()) + b"\n")
    import_source(archive, DATA / "musicbrainz" / "releases.jsonl", format="musicbrainz",
                  source_name="musicbrainz-sample", licence="CC0-1.0")
    import_source(archive, DATA / "demo" / "catalog.jsonl", format="jsonl", source_name="demo-catalog",
                  licence="CC-BY-SA-3.0")
    import_source(archive, hostile, format="jsonl", source_name="hostile", licence="CC0-1.0")
    ingest(archive, [DATA / "audio"], workers=1)
    plan(archive, budget=None, policy="reference")
    transcode(archive, workers=1)
    tag(archive, workers=1)
    package(archive, release="r1", target_size="1MB")
    c = archive.conn
    chaos = _track(archive, "demo-track-chaos-god")
    exclude_add(archive, track=chaos, reason=EXCLUDED_REASON)
    pending = c.execute(
        "SELECT p.track_id FROM plan p WHERE p.decision != 'skip' AND NOT EXISTS (SELECT 1 FROM track_files tf "
        "WHERE tf.track_id = p.track_id) ORDER BY p.track_id LIMIT 1").fetchone()[0]
    skipped = c.execute("SELECT track_id FROM plan WHERE decision = 'skip' ORDER BY track_id LIMIT 1").fetchone()
    awakening = _track(archive, "demo-track-awakening")

    def original(tid: int) -> int:
        return int(c.execute("SELECT file_id FROM track_files WHERE track_id = ? AND role = 'original'",
                             (tid,)).fetchone()[0])

    out = WebArchive(root, awakening, _track(archive, "demo-track-deprecation"), chaos,
                     _track(archive, "hostile-script"), _track(archive, "hostile-rtl"), _track(archive, "hostile-emoji"),
                     int(pending), int(skipped[0]) if skipped else None, original(awakening), original(chaos))
    archive.close()
    return out
