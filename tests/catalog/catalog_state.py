"""What two catalogs must share to count as "the same import": table contents and import progress."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TABLES = {
    "sources": "id, name, format, licence, path, record_count",
    "artists": "*", "labels": "*", "market_sets": "*", "albums": "*", "album_artists": "*", "album_labels": "*",
    "recordings": "*", "recording_isrcs": "*", "tracks": "*", "track_artists": "*", "images": "*",
    "external_ids": "*", "records": "*", "import_progress": "*",
    "import_rejects": "source_id, path, line, source_key, reason",
}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every compared table's rows, sorted (row order is not part of the catalog)."""
    conn = sqlite3.connect(db)
    try:
        return {t: sorted(conn.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr) for t, cols in TABLES.items()}
    finally:
        conn.close()


def lines_done(db: Path) -> int:
    """Source lines a (possibly running) import has committed; 0 while the catalog is unreadable."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT lines_done FROM import_progress").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0
