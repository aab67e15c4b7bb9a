"""The one handle on an archive directory.

An archive directory holds::

    archive.toml        settings (see phonotheque.settings)
    catalog.sqlite      the system of record (WAL)
    store/              content-addressed audio (store/ab/cd/<sha256><ext>)
    quarantine/         reports on files that could not be ingested
    releases/<name>/    torrents, seeding trees, file index, torrent list
    reports/            import reports and the HTML report

``Archive`` is passed explicitly to every library function; there is no global state.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from phonotheque import db
from phonotheque.catalog import bulk, search_schema
from phonotheque.catalog import schema as catalog_schema
from phonotheque.errors import ArchiveError
from phonotheque.plan import schema as plan_schema
from phonotheque.release import schema as release_schema
from phonotheque.settings import Settings, render_toml
from phonotheque.store import media_schema
from phonotheque.store import schema as store_schema

CATALOG_NAME = "catalog.sqlite"
SETTINGS_NAME = "archive.toml"
STAGES = (
    ("search", search_schema.MIGRATIONS),
    ("plan", plan_schema.MIGRATIONS),
    ("store", store_schema.MIGRATIONS),
    ("media", media_schema.MIGRATIONS),
    ("release", release_schema.MIGRATIONS),
)


def default_archive_dir() -> Path:
    """``$PHONOTHEQUE_ARCHIVE`` or the current directory (DESIGN.md's contract)."""
    env = os.environ.get("PHONOTHEQUE_ARCHIVE")
    return Path(env) if env else Path.cwd()


class Archive:
    """An initialised archive directory: settings, catalog connection, paths."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self._conn: sqlite3.Connection | None = None

    # -- creation and opening -------------------------------------------------------------
    @classmethod
    def init(cls, root: str | Path | None = None, settings: Mapping[str, Any] | None = None) -> Archive:
        """Create (or re-open) an archive directory. Idempotent: an existing archive is kept."""
        path = Path(root) if root is not None else default_archive_dir()
        if path.exists() and not path.is_dir():
            raise ArchiveError(f"{path}: exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        toml_path = path / SETTINGS_NAME
        if not toml_path.exists():
            Settings(settings)  # validate before writing anything
            tmp = toml_path.with_suffix(".toml.tmp")
            tmp.write_text(render_toml(settings), encoding="utf-8")
            os.replace(tmp, toml_path)
        archive = cls(path, Settings.load(toml_path))
        archive.connect().close()
        archive._conn = None
        return archive

    @classmethod
    def open(cls, root: str | Path | None = None) -> Archive:
        """Open an existing archive; a clear error if the directory is not one."""
        path = Path(root) if root is not None else default_archive_dir()
        if not path.exists():
            raise ArchiveError(f"{path}: no such archive directory (create one with `phonotheque init`)")
        if not path.is_dir():
            raise ArchiveError(f"{path}: is not a directory")
        if not (path / SETTINGS_NAME).exists() or not (path / CATALOG_NAME).exists():
            raise ArchiveError(f"{path}: not a phonotheque archive (run `phonotheque init {path}` first)")
        return cls(path, Settings.load(path / SETTINGS_NAME))

    # -- paths ----------------------------------------------------------------------------
    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_NAME

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    # -- database -------------------------------------------------------------------------
    def connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        """A new connection with every stage's schema up to date (read-only skips migrations)."""
        conn = db.connect(self.catalog_path, readonly=readonly)
        if not readonly:
            db.apply_user_version_migrations(conn, catalog_schema.MIGRATIONS, str(self.catalog_path))
            for stage, migrations in STAGES:
                db.apply_stage_migrations(conn, stage, migrations)
            bulk.restore_abandoned(conn)  # indexes an abandoned bulk import left dropped
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """A shared connection for this handle (the single writer of this process)."""
        if self._conn is None:
            self._conn = self.connect()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` on the shared connection; rollback on any error."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Archive({str(self.root)!r})"
