"""Bulk-load mode of the importer: secondary indexes are built once at the end instead of per row.

Maintaining ~12 secondary-index entries per imported track (random inserts into B-trees that
outgrow the page cache) and evaluating the search stage's ``AFTER INSERT`` trigger per credit row
cost about as much as writing the rows themselves. A large import into a *new* source (no record of
that source in the catalog yet) therefore:

1. :func:`drop` — in one committed transaction, saves the SQL of every droppable secondary index
   of the tables the importer writes (and of the search stage's ``AFTER INSERT`` triggers when
   their ``WHEN`` cannot fire: every new ``tracks.id`` is above ``search_state.watermark``) into
   ``meta`` rows ``bulk_dropped:…``, then drops them;
2. imports as usual (UNIQUE constraints and their indexes stay: they are what the importer's
   lookups and idempotency rely on);
3. :func:`restore` — recreates each saved object with its exact SQL (sorted index builds) and
   deletes the ``meta`` rows, in one transaction.

Kill-safety: the ``meta`` rows are committed together with the drops, so a process killed in
between leaves a catalog that is correct (every constraint holds; only lookups are slower) and
knows what to rebuild. :func:`restore` runs at the start of every import (a resumed bulk import of
the same source keeps the objects dropped and restores them when it ends) and can be called by any
other opener (``Archive.connect`` should; it is cheap when nothing is pending).
"""

from __future__ import annotations

import sqlite3

PREFIX = "bulk_dropped:"
SOURCE_KEY = PREFIX + "source"
BULK_MIN_BYTES = 32 << 20
"""Below this input size the per-row index maintenance is cheaper than rebuilding whole indexes."""

TABLES = (
    "artists", "labels", "market_sets", "genres", "albums", "album_artists", "album_labels", "album_genres",
    "recordings", "recording_isrcs", "tracks", "track_artists", "images", "external_ids", "records",
)
KEEP = frozenset({"recording_isrcs_rec", "tracks_album"})
"""Indexes the importers' own lookups use (MusicBrainz recording adoption, album track lists)."""


def pending(conn: sqlite3.Connection) -> int | None:
    """The source id of an unfinished bulk load (objects still dropped), or ``None``."""
    row = conn.execute("SELECT value FROM meta WHERE key=?", (SOURCE_KEY,)).fetchone()
    return None if row is None else int(row[0])


def qualifies(conn: sqlite3.Connection, source_id: int, input_bytes: int) -> bool:
    """A new source (no records yet) and an input large enough, also relative to the catalog."""
    if input_bytes < BULK_MIN_BYTES:
        return False
    if conn.execute("SELECT 1 FROM records WHERE source_id=? LIMIT 1", (source_id,)).fetchone() is not None:
        return False
    # rebuilding an index costs in proportion to the whole table: only worth it when this input is a
    # sizeable part of what the catalog will hold
    existing = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
    est_new = input_bytes // 1024  # web-API track lines are ~0.5-1 KiB
    return bool(est_new >= existing // 2)


def drop(conn: sqlite3.Connection, source_id: int) -> list[str]:
    """Save and drop the droppable indexes/triggers (one committed transaction); their names."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        marks = ",".join("?" * len(TABLES))
        objs = conn.execute(
            f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "
            f"AND type IN ('index', 'trigger') ORDER BY type, name",
            TABLES,
        ).fetchall()
        wm = conn.execute("SELECT value FROM search_state WHERE key='watermark'").fetchone()
        top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM tracks").fetchone()[0]
        triggers_ok = wm is not None and int(wm[0] or 0) <= int(top)
        dropped = []
        for type_, name, sql in objs:
            if type_ == "index" and name in KEEP:
                continue
            if type_ == "trigger" and not (
                triggers_ok and name.startswith("search_") and " AFTER INSERT ON " in " ".join(sql.split()).upper()
            ):
                continue
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (f"{PREFIX}{type_}:{name}", sql),
            )
            conn.execute(f'DROP {type_.upper()} "{name}"')
            dropped.append(name)
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (SOURCE_KEY, str(source_id)),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return dropped


def restore(conn: sqlite3.Connection) -> list[str]:
    """Recreate every object an unfinished or finished bulk load dropped (idempotent); their names."""
    if conn.execute("SELECT 1 FROM meta WHERE key >= ? AND key < ? LIMIT 1", (PREFIX, PREFIX + "\uffff")).fetchone() is None:
        return []
    conn.execute("PRAGMA threads=2")  # the sorter of CREATE INDEX may use a helper thread
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(
            "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key", (PREFIX, PREFIX + "\uffff")
        ).fetchall()
        made = []
        for key, sql in rows:
            if key == SOURCE_KEY:
                continue
            type_, name = key[len(PREFIX):].split(":", 1)
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type=? AND name=?", (type_, name)).fetchone()
            if exists is None:
                conn.execute(sql)
                made.append(name)
        conn.execute("DELETE FROM meta WHERE key >= ? AND key < ?", (PREFIX, PREFIX + "\uffff"))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA threads=0")
    return made


def restore_abandoned(conn: sqlite3.Connection) -> list[str]:
    """:func:`restore`, unless the pending bulk load is still resumable (its import is unfinished).

    Called by every read-write ``Archive.connect``: a bulk load that was killed and whose import
    can still be resumed keeps its objects dropped (the resumed import stays in bulk mode and
    restores them at its end, and a running import is never disturbed); anything else — a load
    whose progress row was reset, finished or removed — gets its indexes back at once.
    """
    source_id = pending(conn)
    if source_id is None:
        return []
    unfinished = conn.execute(
        "SELECT 1 FROM import_progress WHERE source_id=? AND finished=0 LIMIT 1", (source_id,)
    ).fetchone()
    return [] if unfinished is not None else restore(conn)

