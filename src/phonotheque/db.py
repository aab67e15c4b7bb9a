"""SQLite connections and per-stage migrations.

The catalog is one SQLite file in WAL mode. The core catalog schema is versioned with
``PRAGMA user_version`` (what plain SQLite tools show); each later stage (plan, store, release)
keeps its own version in ``schema_migrations`` so stages evolve independently. Migrations are
lists of SQL scripts applied in order inside one transaction each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from phonotheque.errors import CatalogSchemaError


def connect(path: Path, *, readonly: bool = False, timeout: float = 60.0) -> sqlite3.Connection:
    """Open the catalog: WAL, NORMAL sync, foreign keys on, rows as sqlite3.Row."""
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=60000")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def apply_user_version_migrations(conn: sqlite3.Connection, migrations: Sequence[str], what: str) -> int:
    """Bring the core schema up to ``len(migrations)`` using ``PRAGMA user_version``."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    target = len(migrations)
    if current > target:
        raise CatalogSchemaError(
            f"{what}: schema version {current} is newer than this phonotheque understands ({target}); upgrade phonotheque"
        )
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                conn.execute("ROLLBACK")
                continue
            for stmt in _split(migrations[version - 1]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return target


def apply_stage_migrations(conn: sqlite3.Connection, stage: str, migrations: Sequence[str]) -> int:
    """Bring one stage's tables up to ``len(migrations)``, tracked in ``schema_migrations``."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (stage TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_migrations WHERE stage=?", (stage,)).fetchone()
    current = row[0] if row else 0
    target = len(migrations)
    if current > target:
        raise CatalogSchemaError(f"stage {stage}: schema version {current} is newer than this phonotheque ({target})")
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT version FROM schema_migrations WHERE stage=?", (stage,)).fetchone()
            if row and row[0] >= version:
                conn.execute("ROLLBACK")
                continue
            for stmt in _split(migrations[version - 1]):
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations(stage, version) VALUES(?, ?) "
                "ON CONFLICT(stage) DO UPDATE SET version=excluded.version",
                (stage, version),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return target


def _split(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement aware)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
