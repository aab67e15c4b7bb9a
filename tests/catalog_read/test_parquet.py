from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import zstandard
from catalog_builder import Builder

from phonotheque.archive import Archive
from phonotheque.catalog.parquet import export_parquet, export_sqlite


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The first column of the first row ``sql`` returns (the query must return a row)."""
    row = con.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def test_every_table_readable_by_duckdb(archive: Archive, build: Builder, tmp_path: Path) -> None:
    for i in range(300):
        build.track(
            f"Chanson n°{i} — été",
            ["Zoë", "李"],
            f"Album {i % 7}",
            popularity=i % 101,
            listens=i * 1000 if i % 3 else None,
            isrc=f"FRAAA24{i:05d}",
        )
    archive.conn.execute(
        "INSERT INTO records(source_id, kind, source_key, entity_id, digest, remainder) "
        "VALUES (1, 'track', 'k', 1, x'00ff', NULL)"
    )
    archive.conn.execute("INSERT INTO meta(key, value) VALUES ('n', 42)")  # an int in a TEXT column
    out = tmp_path / "pq"
    res = export_parquet(archive, out, row_group=64)  # several row groups per table
    tables = {
        r[0]
        for r in archive.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    assert set(res["tables"]) == tables
    con = duckdb.connect()
    for table in tables:
        n = _scalar(con, f"SELECT count(*) FROM read_parquet('{out / (table + '.parquet')}')")
        assert (
            n
            == archive.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            == res["tables"][table]["rows"]
        )
    got = con.execute(
        f"SELECT id, name, popularity, listens FROM read_parquet('{out}/tracks.parquet') ORDER BY id"
    ).fetchall()
    want = [
        tuple(r) for r in archive.conn.execute("SELECT id, name, popularity, listens FROM tracks ORDER BY id")
    ]
    assert got == want
    assert (
        _scalar(con, f"SELECT digest FROM read_parquet('{out}/records.parquet')") == b"\x00\xff"
    )
    assert _scalar(con, f"SELECT value FROM read_parquet('{out}/meta.parquet')") == "42"
    assert not list(out.glob(".*tmp"))


def test_sqlite_copy_is_consistent_and_compressed(archive: Archive, build: Builder, tmp_path: Path) -> None:
    for i in range(100):
        build.track(f"t{i}")
    res = export_sqlite(archive, tmp_path / "copy", compress=True)
    copy = Path(res["path"])
    shell = subprocess.run(
        ["sqlite3", str(copy), "PRAGMA integrity_check; SELECT count(*) FROM tracks;"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.split() == ["ok", "100"]
    raw = zstandard.ZstdDecompressor().decompress(Path(res["zst_path"]).read_bytes())
    assert raw == copy.read_bytes()
    assert sqlite3.connect(copy).execute("PRAGMA user_version").fetchone()[0] >= 1
