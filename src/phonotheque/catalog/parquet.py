"""Exports of the whole catalog: every table as Parquet, or a consistent SQLite copy.

Parquet: one file per table (``<out>/<table>.parquet``), written in row groups of
``ROW_GROUP`` rows read from one consistent snapshot (a single read transaction), so memory stays
bounded however large the catalog. Column types come from the declared SQLite types (INTEGER →
int64, REAL → float64, TEXT → string, BLOB → binary); a column whose values do not fit its declared
type (SQLite allows that) is written as strings and listed under ``coerced``.

SQLite: the online backup API copies a consistent snapshot while readers and the writer go on;
``compress=True`` also writes ``catalog.sqlite.zst`` (streamed zstd).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from phonotheque.archive import Archive
from phonotheque.errors import ArchiveError

ROW_GROUP = 65_536


def _tables(conn: sqlite3.Connection) -> list[str]:
    """Exportable tables: every table except SQLite internals and FTS/virtual shadow tables."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    virtual = {r[0] for r in rows if (r[1] or "").upper().startswith("CREATE VIRTUAL")}
    shadow = {r[0] for r in rows for v in virtual if r[0].startswith(v + "_")}
    return [r[0] for r in rows if r[0] not in virtual and r[0] not in shadow]


def _arrow_type(declared: str) -> pa.DataType:
    t = (declared or "").upper()
    if "INT" in t:
        return pa.int64()
    if any(x in t for x in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in t:
        return pa.binary()
    if any(x in t for x in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    return pa.string()  # untyped / NUMERIC columns: written as text, lossless for any value


def _column(values: list[Any], typ: pa.DataType) -> tuple[pa.Array, bool]:
    try:
        if typ == pa.string():
            values = [v if v is None or isinstance(v, str) else (v.hex() if isinstance(v, bytes) else str(v))
                      for v in values]
        return pa.array(values, type=typ), False
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else (v.hex() if isinstance(v, bytes) else str(v)) for v in values],
                        type=pa.string()), True


def export_parquet(
    archive: Archive, out_dir: str | Path, *, progress: Callable[..., None] | None = None, row_group: int = ROW_GROUP
) -> dict[str, Any]:
    """Write every catalog table to ``out_dir/<table>.parquet``; returns ``{table: {rows, bytes, path}}``.

    Files are written to a temporary name and renamed, so a partial export never looks complete.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    conn = archive.connect(readonly=True)
    result: dict[str, Any] = {"tables": {}, "coerced": []}
    try:
        conn.execute("BEGIN")  # one snapshot for every table
        for table in _tables(conn):
            info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            names = [c[1] for c in info]
            types = [_arrow_type(c[2]) for c in info]
            path = out / f"{table}.parquet"
            tmp = out / f".{table}.parquet.tmp"
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            writer: pq.ParquetWriter | None = None
            schema = pa.schema([pa.field(n, t) for n, t in zip(names, types, strict=True)])
            rows = 0
            try:
                while True:
                    batch = cursor.fetchmany(row_group)
                    if not batch and writer is not None:
                        break
                    arrays = []
                    for i, typ in enumerate(types):
                        arr, coerced = _column([r[i] for r in batch], typ)
                        if coerced:
                            result["coerced"].append(f"{table}.{names[i]}")
                            types[i] = pa.string()
                            schema = schema.set(i, pa.field(names[i], pa.string()))
                            if writer is not None:  # type changed after the first row group: start over
                                writer.close()
                                writer = None
                                cursor = conn.execute(f'SELECT * FROM "{table}"')
                                rows = 0
                                break
                        arrays.append(arr)
                    else:
                        if writer is None:
                            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                        rows += len(batch)
                        if progress and batch:
                            progress(len(batch))
                        if not batch:
                            break
            finally:
                if writer is not None:
                    writer.close()
            os.replace(tmp, path)
            result["tables"][table] = {"rows": rows, "bytes": path.stat().st_size, "path": str(path)}
        conn.execute("COMMIT")
    finally:
        conn.close()
    return result


def export_sqlite(archive: Archive, out_dir: str | Path, *, compress: bool = False, level: int = 10) -> dict[str, Any]:
    """A consistent copy of the catalog in ``out_dir/catalog.sqlite`` via the SQLite backup API.

    ``compress=True`` also writes ``catalog.sqlite.zst``. Returns paths and sizes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dest_path = out / "catalog.sqlite"
    if dest_path.resolve() == archive.catalog_path.resolve():
        raise ArchiveError(f"{out}: refusing to export the catalog onto itself")
    tmp = out / ".catalog.sqlite.tmp"
    tmp.unlink(missing_ok=True)
    src = archive.connect(readonly=True)
    dest = sqlite3.connect(tmp)
    try:
        src.backup(dest, pages=4096)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()
        src.close()
    os.replace(tmp, dest_path)
    result: dict[str, Any] = {"path": str(dest_path), "bytes": dest_path.stat().st_size}
    if compress:
        zpath = out / "catalog.sqlite.zst"
        ztmp = out / ".catalog.sqlite.zst.tmp"
        cctx = zstandard.ZstdCompressor(level=level, threads=-1)
        with open(dest_path, "rb") as fin, open(ztmp, "wb") as fout:
            cctx.copy_stream(fin, fout, size=dest_path.stat().st_size)
        os.replace(ztmp, zpath)
        result.update(zst_path=str(zpath), zst_bytes=zpath.stat().st_size)
    return result
