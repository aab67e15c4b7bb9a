"""What a release directory holds besides the torrents: seeding trees, file index, torrent list, notes,
and the metadata torrents' content (catalog snapshot, Parquet export, patches).

Every file is written to a temporary name and renamed, so an interrupted run leaves either the old or
the new version.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import zstandard

from phonotheque.archive import CATALOG_NAME, SETTINGS_NAME, Archive
from phonotheque.units import format_size

INDEX_SCHEMA = pa.schema([
    ("track_id", pa.int64()), ("isrc", pa.string()), ("torrent", pa.string()), ("infohash_v1", pa.string()),
    ("infohash_v2", pa.string()), ("path", pa.string()), ("offset", pa.int64()), ("size", pa.int64()),
    ("sha256", pa.string()), ("sha256_original", pa.string()), ("tier", pa.string()), ("listens", pa.float64()),
    ("file_id", pa.int64()),
])


def write_atomic(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write to a temporary name and rename; ``sync=False`` for files a re-run regenerates from the database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def replace_dir(staging: Path, final: Path) -> None:
    """Put the finished ``staging`` directory at ``final`` (an older ``final`` is removed first)."""
    if final.exists():
        trash = final.with_name(f".{final.name}.old{os.getpid()}")
        os.replace(final, trash)
        os.replace(staging, final)
        shutil.rmtree(trash)
    else:
        os.replace(staging, final)


# columns that hold the operator's local filesystem paths: not part of a public release
LOCAL_PATH_COLUMNS = (("sources", "path"), ("files", "source_path"), ("import_rejects", "path"),
                      ("listen_imports", "path"))
LOCAL_TABLES = ("ingest_log", "import_progress")


def _sanitize_snapshot(path: Path) -> None:
    snap = sqlite3.connect(path, isolation_level=None)
    try:
        tables = {r[0] for r in snap.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in LOCAL_TABLES:
            if table in tables:
                snap.execute(f'DELETE FROM "{table}"')
        for table, column in LOCAL_PATH_COLUMNS:
            if table in tables and column in {r[1] for r in snap.execute(f'PRAGMA table_info("{table}")')}:
                snap.execute(f'UPDATE "{table}" SET "{column}" = NULL')
        snap.execute("PRAGMA journal_mode=DELETE")
        snap.execute("VACUUM")
    finally:
        snap.close()


def catalog_snapshot(archive: Archive, dest: Path, parquet_dir: Path, work: Path, *, level: int = 10) -> bool:
    """A consistent copy of the catalog (``VACUUM INTO``) without local paths, zstd-compressed at ``dest``,
    and its Parquet export in ``parquet_dir`` when ``phonotheque.catalog.parquet`` exists (returns whether).
    ``work`` is a scratch directory outside the torrent's tree."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        raw = work / CATALOG_NAME
        src = archive.connect(readonly=True)
        try:
            src.execute("VACUUM INTO ?", (str(raw),))
        finally:
            src.close()
        _sanitize_snapshot(raw)
        shutil.copyfile(archive.root / SETTINGS_NAME, work / SETTINGS_NAME)
        exported = parquet_export(Archive.open(work), parquet_dir)
        cctx = zstandard.ZstdCompressor(level=level, threads=-1)
        with open(raw, "rb") as fin, open(dest, "wb") as fout:
            cctx.copy_stream(fin, fout)
        return exported
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parquet_export(archive: Archive, out_dir: Path) -> bool:
    """Run ``phonotheque.catalog.parquet.export_parquet`` when that module exists; True if it ran."""
    try:
        module = importlib.import_module("phonotheque.catalog.parquet")
    except ImportError:
        return False
    export: Callable[..., Any] | None = getattr(module, "export_parquet", None)
    if export is None:
        return False
    out_dir.mkdir(parents=True, exist_ok=True)
    export(archive, out_dir)
    return True


def sha256sums(root: Path, files: Iterable[Path]) -> str:
    lines = []
    for f in sorted(files, key=lambda p: p.relative_to(root).as_posix().encode("utf-8")):
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        lines.append(f"{h.hexdigest()}  {f.relative_to(root).as_posix()}\n")
    return "".join(lines)


def torrent_rows(conn: sqlite3.Connection, release: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM torrents WHERE release_name = ? ORDER BY batch, kind, name", (release,)
    ).fetchall()
    return [dict(r) for r in rows]


def torrent_list(archive: Archive, conn: sqlite3.Connection, release: str, total_listens: float) -> dict[str, Any]:
    """The ``torrents.json`` document (format phonotheque-torrent-list, version 1)."""
    torrents = []
    for t in torrent_rows(conn, release):
        torrents.append({
            "name": t["name"], "kind": t["kind"], "content": t["content"], "batch": t["batch"],
            "torrent": f"torrents/{t['name']}.torrent", "version": t["version"],
            "infohash_v1": t["infohash_v1"], "infohash_v2": t["infohash_v2"], "magnet": t["magnet"],
            "size": t["size"], "padded_size": t["padded_size"], "file_count": t["file_count"],
            "piece_size": t["piece_size"], "popularity_min": t["popularity_min"],
            "popularity_max": t["popularity_max"], "listens": t["listens"],
            "listens_share": (t["listens"] / total_listens) if total_listens else 0.0,
            "created": t["created_at"], "published": t["published_at"] is not None,
        })
    return {"format": "phonotheque-torrent-list", "version": 1, "archive": archive.settings["archive.name"],
            "release": release, "torrents": torrents}


def write_torrent_list(path: Path, doc: dict[str, Any], *, sync: bool = True) -> None:
    write_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n", sync=sync)


INDEX_BATCH_ROWS = 32_768  # rows held at once (~60 MB of Python + Arrow objects); one Parquet row group each


class IndexWriter:
    """``files.parquet`` and ``files.csv.zst`` written under temporary names, then put in place.

    Rows arrive torrent by torrent (``add``: the torrent's name and infohashes plus its rows in
    ``_INDEX_SQL_COLUMNS`` order) and are written in record batches of at most ``batch_rows`` rows to a
    Parquet writer and, formatted as CSV, to a streaming zstd compressor, so memory stays bounded however
    many files the release holds. ``finish()`` closes both files; ``commit()`` renames them into place;
    ``abort()`` removes them (also after ``finish``)."""

    def __init__(self, index_dir: Path, *, batch_rows: int = INDEX_BATCH_ROWS) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir = index_dir
        self.batch_rows = batch_rows
        tag = f"{os.getpid()}.{id(self)}"
        self.pq_tmp = index_dir / f".files.parquet.tmp{tag}"
        self.csv_tmp = index_dir / f".files.csv.zst.tmp{tag}"
        self.rows = 0
        self.header_written = False
        self.columns: list[list[Any]] = [[] for _ in INDEX_SCHEMA]
        try:
            self.pq_writer = pq.ParquetWriter(self.pq_tmp, INDEX_SCHEMA, compression="zstd")
            self.raw = open(self.csv_tmp, "wb")  # noqa: SIM115 - closed by finish()/abort()
            # level 1: 2-3x faster than 3 on the index, and no bigger (108 vs 115 kB at 2017 rows); each
            # batch is formatted into one buffer and compressed in one call (a PythonFile calls back per chunk)
            self.zsink = zstandard.ZstdCompressor(level=1).stream_writer(self.raw, closefd=False)
        except BaseException:
            self.abort()
            raise

    def add(self, constants: Sequence[Any], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of one torrent (or a part of one): ``constants`` = (name, infohash_v1, infohash_v2)."""
        columns = self.columns
        for col, values in zip((columns[i] for i in _INDEX_SQL_COLUMNS), zip(*rows, strict=True), strict=True):
            col.extend(values)
        for col, value in zip((columns[i] for i in (2, 3, 4)), constants, strict=True):
            col.extend([value] * len(rows))
        self.rows += len(rows)
        if len(columns[0]) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        batch = pa.RecordBatch.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(self.columns, INDEX_SCHEMA, strict=True)],
            schema=INDEX_SCHEMA)
        self.pq_writer.write_batch(batch)
        self._write_csv(batch)
        for col in self.columns:
            col.clear()

    def _write_csv(self, data: pa.RecordBatch | pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(data, sink, write_options=pacsv.WriteOptions(include_header=not self.header_written))
        self.header_written = True
        self.zsink.write(sink.getvalue())

    def finish(self) -> int:
        """Write what is left and close both files; returns the number of rows."""
        if self.columns[0]:
            self._flush()
        elif self.rows == 0:  # an empty index still has its columns (and the CSV its header)
            empty = INDEX_SCHEMA.empty_table()
            self.pq_writer.write_table(empty)
            self._write_csv(empty)
        self.zsink.close()
        self.raw.close()
        self.pq_writer.close()
        return self.rows

    def commit(self) -> None:
        os.replace(self.pq_tmp, self.index_dir / "files.parquet")
        os.replace(self.csv_tmp, self.index_dir / "files.csv.zst")

    def abort(self) -> None:
        for closer in ("pq_writer", "raw"):
            obj = getattr(self, closer, None)
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - already closed or half-made: the files go anyway
                    pass
        self.pq_tmp.unlink(missing_ok=True)
        self.csv_tmp.unlink(missing_ok=True)


def write_index(conn: sqlite3.Connection, release: str, index_dir: Path, *,
                batch_rows: int = INDEX_BATCH_ROWS) -> int:
    """``files.parquet`` and ``files.csv.zst`` from the database: one row per (track, file) of the release.
    Returns rows. Streams: torrents are read one at a time in release order (each sorted by offset, then
    track id) and written through an :class:`IndexWriter`."""
    torrents = conn.execute("SELECT id, name, infohash_v1, infohash_v2 FROM torrents WHERE release_name = ? "
                            "AND kind = 'audio' ORDER BY batch, id", (release,)).fetchall()
    writer = IndexWriter(index_dir, batch_rows=batch_rows)
    try:
        cur = conn.cursor()
        cur.row_factory = None
        for tid, *constants in torrents:
            cur.execute(_INDEX_SQL, (tid,))
            while rows := cur.fetchmany(batch_rows - len(writer.columns[0])):
                writer.add(constants, rows)
        total = writer.finish()
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return total


# per torrent, in offset order; the torrent's name and infohashes are filled in per batch, not per row
_INDEX_SQL = """
SELECT rt.track_id, r.isrc, rt.path, tf.offset, f.size, f.sha256, rt.sha256_original, f.tier, rt.listens, rt.file_id
FROM release_tracks rt JOIN files f ON f.id = rt.file_id
JOIN torrent_files tf ON tf.torrent_id = rt.torrent_id AND tf.path = rt.path
LEFT JOIN tracks tr ON tr.id = rt.track_id LEFT JOIN recordings r ON r.id = tr.recording_id
WHERE rt.torrent_id = ? ORDER BY tf.offset, rt.track_id
"""
_INDEX_SQL_COLUMNS = (0, 1, 5, 6, 7, 8, 9, 10, 11, 12)  # where each selected column goes in INDEX_SCHEMA


def release_notes(doc: dict[str, Any], *, piece_size: int, index_rows: int) -> str:
    """RELEASE-NOTES.md: what the release holds and how to mirror and verify it (no timestamps)."""
    torrents = doc["torrents"]
    audio = [t for t in torrents if t["kind"] == "audio"]
    size = sum(t["size"] for t in torrents)
    padded = sum(t["padded_size"] or t["size"] for t in torrents)
    overhead = (padded - size) / size if size else 0.0
    lines = [
        f"# {doc['release']} — {doc['archive']}",
        "",
        f"{len(audio)} audio torrent(s) and {len(torrents) - len(audio)} metadata torrent(s), "
        f"{format_size(size)} in total ({index_rows} track entries in the file index).",
        f"Audio torrents are in release order: batch 1 holds the most listened tracks. Piece size "
        f"{piece_size // 1024} KiB; every file is aligned to a piece (BEP 47 pad files), padding adds "
        f"{overhead:.2%} to what a client allocates.",
        "",
        "| batch | torrent | kind | size | files | popularity | share of listens | published |",
        "|---:|---|---|---:|---:|---|---:|---|",
    ]
    for t in torrents:
        pop = "" if t["popularity_min"] is None else f"{t['popularity_min']}–{t['popularity_max']}"
        lines.append(
            f"| {t['batch']} | {t['name']} | {t['content']} | {format_size(t['size'])} | {t['file_count']} | "
            f"{pop} | {t['listens_share']:.2%} | {'yes' if t['published'] else 'not yet'} |"
        )
    lines += [
        "",
        "## Files",
        "- `torrents.json` — the authoritative torrent list (format phonotheque-torrent-list, version 1).",
        "- `torrents/<name>.torrent` — BitTorrent v1+v2 hybrid metainfo unless stated; the infohashes are "
        "reproducible from the files.",
        "- `index/files.parquet`, `index/files.csv.zst` — one row per track: torrent, path, byte offset, size, "
        "sha256, sha256 of the original when a tagged copy is shipped, tier, expected listens.",
        "- `data/<name>/` — the seeding tree of each torrent.",
        "",
        "## Mirroring",
        "Take torrents in batch order: the first ones hold the most listening per byte. Put each torrent's "
        "content at `MIRROR/<torrent name>/` and run `phonotheque verify MIRROR --release "
        f"{doc['release']}` to check it against the index.",
        "",
    ]
    return "\n".join(lines)
