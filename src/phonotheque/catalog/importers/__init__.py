"""Import source records into the catalog: :func:`import_source`.

One driver for every format. Records are read in order, parsed, checked against what the catalog
already holds for the same source key (``records.digest``), normalized into the tables by the
format's ``store``, rebuilt from what was stored, and the structural difference to the original
is kept as the record's remainder (:mod:`phonotheque.catalog.remainder`).

Batches of ``catalog.batch_size`` records are committed with the progress of the run
(``import_progress.lines_done``), so a killed import resumes where it stopped and ends with the
same catalog as an uninterrupted one. Within a run every record's ``records.line`` is set to the
line it was read from (cleared when a new run starts); a key met again at another line of the same
run is an exact duplicate (skipped and counted) or a conflicting duplicate (rejected).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from phonotheque.archive import Archive
from phonotheque.catalog import bulk as bulk_mode
from phonotheque.catalog import remainder
from phonotheque.catalog.importers import csv as csv_fmt
from phonotheque.catalog.importers import jsonl, musicbrainz, pipeline
from phonotheque.catalog.importers.common import (
    ImportResult,
    Opened,
    Reject,
    batches,
    file_identity,
    fspath,
    iter_lines,
    now_iso,
    open_source,
    record_digest,
)
from phonotheque.catalog.writer import CatalogWriter
from phonotheque.errors import ImportFormatError, ImportRejectedError

FORMATS = ("musicbrainz", "jsonl", "csv")
BULK_ALWAYS = 1 << 62  # an input size that passes every size test of bulk.qualifies

__all__ = ["FORMATS", "ImportResult", "import_source", "Handler", "handler_for"]


@dataclass
class Handler:
    """What the driver needs from a format."""

    format: str
    kind: str
    rows: Callable[[Opened, int], Iterator[tuple[int, Any]]]  # (line, raw) after skipping lines <= done
    parse: Callable[[Any], Any]
    digest: Callable[[Any], bytes]
    key: Callable[[Any, bytes], str]
    store: Callable[[CatalogWriter, Any, str, int | None], tuple[int, dict[str, Any], Any]]
    rebuild: Callable[[dict[str, Any], Any], Any]
    load: Callable[[sqlite3.Connection, int], dict[str, Any]]
    check: Callable[[Any], list[str]] | None = None
    mapping: csv_fmt.Mapping | None = None
    prefetch: Callable[[CatalogWriter, list[Any]], None] | None = None


def handler_for(fmt: str, path: Path | None = None, mapping: str | Path | None = None) -> Handler:
    if fmt == "jsonl":
        return Handler(
            "jsonl", jsonl.KIND, lambda o, skip: iter_lines(o.stream, skip), jsonl.parse, record_digest,
            lambda obj, _d: jsonl.key_of(obj), jsonl.store, jsonl.rebuild, jsonl.load, prefetch=jsonl.prefetch,
        )
    if fmt == "musicbrainz":
        return Handler(
            "musicbrainz", musicbrainz.KIND, lambda o, skip: iter_lines(o.stream, skip), musicbrainz.parse,
            record_digest, lambda obj, _d: musicbrainz.key_of(obj), musicbrainz.store, musicbrainz.rebuild,
            musicbrainz.load, prefetch=musicbrainz.prefetch,
        )
    if fmt == "csv":
        if mapping is None:
            raise ImportFormatError("--format csv needs --mapping MAP.toml (see docs/import.md)")
        m = csv_fmt.load_mapping(mapping)
        encoding = m.encoding
        if encoding == "auto" and path is not None:
            encoding = csv_fmt.detect_encoding(path)
        src = path or Path("-")

        def rows(o: Opened, skip: int) -> Iterator[tuple[int, Any]]:
            for line, row in csv_fmt.iter_rows(o, src, m, encoding):
                if line > skip:
                    yield line, row

        return Handler(
            "csv", csv_fmt.KIND, rows, lambda row: row, csv_fmt.row_digest,
            lambda row, d: csv_fmt.key_of(row, m, d),
            lambda w, row, key, ex: csv_fmt.store(w, row, key, ex, m),
            lambda eff, hints: csv_fmt.rebuild(eff, hints, m), jsonl.load, csv_fmt.check_row, m,
        )
    raise ImportFormatError(f"unknown format {fmt!r} (choose one of: {', '.join(FORMATS)})")


def _default_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".xz", ".bz2", ".zst", ".tar", ".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def _source_row(conn: sqlite3.Connection, name: str, fmt: str, licence: str | None, path: str) -> int:
    row = conn.execute("SELECT id, format FROM sources WHERE name=?", (name,)).fetchone()
    if row is not None:
        if row[1] != fmt:
            raise ImportFormatError(
                f"source {name!r} was imported as {row[1]}, not {fmt}; choose another --source-name"
            )
        conn.execute("UPDATE sources SET licence=COALESCE(?, licence), path=? WHERE id=?", (licence, path, row[0]))
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO sources(name, format, licence, path) VALUES (?,?,?,?)", (name, fmt, licence, path)
    )
    return int(cur.lastrowid or 0)


def import_source(
    archive: Archive,
    source: str | Path,
    *,
    format: str,
    mapping: str | Path | None = None,
    source_name: str | None = None,
    licence: str | None = None,
    strict: bool = False,
    progress: Callable[..., None] | None = None,
    member: str | None = None,
    refresh_search: bool = True,
    bulk: bool | None = None,
    pipelined: bool | None = None,
) -> ImportResult:
    """Import one source file (resumable, idempotent); returns counts and where the report is.

    ``strict``: rejected records still leave the rest imported, but the call ends with
    :class:`ImportRejectedError` (non-zero exit status) when there were any. ``member``: the tar
    member to read (default ``mbdump/release``). ``refresh_search=False`` skips the search index
    refresh at the end (benchmarks; the next refresh catches up). ``bulk``: build the secondary
    indexes once at the end (:mod:`phonotheque.catalog.bulk`); ``None`` decides by itself (a new
    source and a large input), ``False`` never, ``True`` whenever the source is new. ``pipelined``:
    parse and normalize in a child process while this one writes (:mod:`.pipeline`; jsonl and csv;
    ``None``: for inputs of a few MB and more).
    """
    t0 = time.perf_counter()
    path = Path(source)
    if format not in FORMATS:
        raise ImportFormatError(f"unknown format {format!r} (choose one of: {', '.join(FORMATS)})")
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    h = handler_for(format, path, mapping)
    name = source_name or _default_name(path)
    if licence is None:
        licence = archive.settings["catalog.default_licence"] if format == "musicbrainz" else None
        licence = licence or archive.settings["archive.licence"] or None
    conn = archive.conn
    spath = fspath(path)
    identity = file_identity(path)
    pending_bulk = bulk_mode.pending(conn)
    with archive.transaction():
        source_id = _source_row(conn, name, format, licence, spath)
        if h.mapping is not None:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (f"csv_mapping:{source_id}", orjson.dumps(dataclasses.asdict(h.mapping)).decode()),
            )
        prog = conn.execute(
            "SELECT digest, lines_done, finished FROM import_progress WHERE source_id=? AND path=?", (source_id, spath)
        ).fetchone()
        if prog is not None and prog[0] == identity and not prog[2]:
            done = int(prog[1])
        else:
            done = 0
            conn.execute(
                "INSERT INTO import_progress(source_id, path, digest, lines_done, finished) VALUES (?,?,?,0,0) "
                "ON CONFLICT(source_id, path) DO UPDATE SET digest=excluded.digest, lines_done=0, finished=0",
                (source_id, spath, identity),
            )
            conn.execute("UPDATE records SET line=NULL WHERE source_id=? AND line IS NOT NULL", (source_id,))
            conn.execute("DELETE FROM import_rejects WHERE source_id=? AND path=?", (source_id, spath))
    result = ImportResult(source_name=name, format=format, path=spath, resumed_from_line=done)
    if pending_bulk is not None and pending_bulk == source_id and done > 0:
        use_bulk = True  # resuming a killed bulk load: its indexes are still dropped
    else:
        if pending_bulk is not None:
            bulk_mode.restore(conn)
        use_bulk = bulk is not False and (
            bulk_mode.qualifies(conn, source_id, BULK_ALWAYS if bulk else path.stat().st_size)
        )
        if use_bulk:
            bulk_mode.drop(conn, source_id)
    result.bulk = use_bulk
    w = CatalogWriter(conn, source_id, licence)
    batch_size = max(1, int(archive.settings["catalog.batch_size"]))
    # WAL + NORMAL: the WAL is synced only at checkpoints (rare with the setting below), and neither a
    # killed process nor a power cut can corrupt the catalog (OFF would risk that for ~nothing)
    conn.execute("PRAGMA synchronous=NORMAL")
    # fewer checkpoints: the hot pages (index leaves, table tails) that every batch rewrites are
    # copied into the database once per 20,000 WAL pages instead of once per 1,000 (-10 % writer CPU)
    conn.execute("PRAGMA wal_autocheckpoint=20000")
    # page cache while the indexes grow: in bulk mode only the UNIQUE ones (random keys) do
    conn.execute("PRAGMA cache_size=-131072" if not use_bulk else "PRAGMA cache_size=-327680")
    # The cyclic GC would rescan the (large, long-lived) caches every few thousand allocations: ~25 % of
    # the CPU of an import. Parsed records make no reference cycles (freed by reference counting); a
    # rejection's exception chain does, so a batch with rejections is followed by a young-generation
    # collection, and each batch's survivors are frozen so that this collection stays small.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if pipelined is None:
            pipelined = format in pipeline.FORMATS and path.stat().st_size >= pipeline.MIN_BYTES
        if pipelined and format in pipeline.FORMATS:
            pipeline.run(
                archive, format=format, path=path, mapping=mapping, member=member, source_id=source_id,
                licence=licence, spath=spath, done=done, batch_size=batch_size, result=result, progress=progress,
            )
        else:
            _sequential(archive, w, h, path, member, done, batch_size, result, spath, progress)
        with archive.transaction():
            conn.execute(
                "UPDATE import_progress SET finished=1 WHERE source_id=? AND path=?", (source_id, spath)
            )
            conn.execute(
                "UPDATE sources SET imported_at=?, record_count=(SELECT COUNT(*) FROM records WHERE source_id=?) "
                "WHERE id=?",
                (now_iso(), source_id, source_id),
            )
        if use_bulk:
            bulk_mode.restore(conn)
    except Exception:
        if use_bulk:  # a failed run leaves a usable catalog; a resumed one would re-drop (cheap)
            bulk_mode.restore(conn)
        raise
    finally:
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA wal_autocheckpoint=1000")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # do not leave the larger WAL behind
    _finish(archive, result, source_id, spath)
    result.seconds = round(time.perf_counter() - t0, 3)
    refresh: Callable[[Archive], Any] | None
    try:
        from phonotheque.catalog.search import refresh_index as refresh
    except ImportError:
        refresh = None
    if refresh is not None and refresh_search:
        refresh(archive)
    if strict and result.rejected:
        exc = ImportRejectedError(
            f"{path}: {result.rejected} record(s) rejected (--strict); the rest was imported; "
            f"see {result.report_path}"
        )
        exc.result = result
        raise exc
    return result


def _sequential(
    archive: Archive, w: CatalogWriter, h: Handler, path: Path, member: str | None, done: int, batch_size: int,
    result: ImportResult, spath: str, progress: Callable[..., None] | None,
) -> None:
    with open_source(path, member) as opened:
        for batch in batches(h.rows(opened, done), batch_size):
            _run_batch(archive, w, h, batch, result, spath)
            if progress is not None:
                progress(len(batch), total=opened.size, done_bytes=opened.counter.count)


def _run_batch(
    archive: Archive, w: CatalogWriter, h: Handler, batch: list[tuple[int, Any]], res: ImportResult, spath: str
) -> None:
    conn = archive.conn
    rejected_before = res.rejected
    with archive.transaction():
        w.begin_batch()
        prepare_batch(w, h, batch, res, spath)
        w.flush()
        if res.rejected != rejected_before:
            gc.collect(0)
        gc.freeze()
        conn.execute(
            "UPDATE import_progress SET lines_done=? WHERE source_id=? AND path=?", (batch[-1][0], w.source_id, spath)
        )


RecordState = tuple[int, int, int | None, bytes]
"""(records.id, entity id, line in this run, digest) of a record, as ``records`` holds it."""


def prepare_batch(
    w: CatalogWriter,
    h: Handler,
    batch: list[tuple[int, Any]],
    res: ImportResult,
    spath: str,
    recent: list[dict[str, RecordState]] | None = None,
    touched: dict[str, RecordState] | None = None,
) -> None:
    """Parse, check, normalize and diff one batch into ``w.p`` (the rows :meth:`CatalogWriter.flush` writes).

    ``recent``: the record states written by batches not committed yet (oldest first), which the
    catalog's ``records`` does not show yet (the pipelined import); ``touched`` receives this batch's.
    """
    conn = w.conn
    at = now_iso()
    parsed: list[tuple[int, Any, bytes, str, Any]] = []
    for line, raw in batch:
        res.records += 1
        key = None
        try:
            digest = h.digest(raw)
            obj = h.parse(raw)
            key = h.key(obj, digest)
            if h.check is not None:
                for warning in h.check(obj):
                    res.warnings += 1
                    w.reject(spath, line, key, "warning: " + warning, at)
        except Reject as exc:
            _reject(w, res, spath, line, key, exc.reason, at)
            continue
        parsed.append((line, obj, digest, key, raw))
    if h.prefetch is not None:
        h.prefetch(w, [p[1] for p in parsed])
    existing: dict[str, RecordState] = {}
    keys = [p[3] for p in parsed]
    for i in range(0, len(keys), 900):
        chunk = keys[i : i + 900]
        marks = ",".join("?" * len(chunk))
        for rid, skey, entity, line, digest in conn.execute(
            f"SELECT id, source_key, entity_id, line, digest FROM records WHERE source_id=? AND kind=? "
            f"AND source_key IN ({marks})",
            (w.source_id, h.kind, *chunk),
        ):
            existing[skey] = (rid, entity, line, digest)
    for states in recent or ():
        for key in keys:
            st = states.get(key)
            if st is not None:
                existing[key] = st
    seen: dict[str, tuple[int, bytes]] = {}
    dumps = orjson.dumps
    for line, obj, digest, key, raw in parsed:
        first = seen.get(key)
        ex = existing.get(key)
        if first is None and ex is not None and ex[2] is not None and ex[2] != line:
            first = (ex[2], ex[3])
        if first is not None:
            if first[1] == digest:
                res.duplicates += 1
            else:
                _reject(w, res, spath, line, key, f"duplicate id {key!r} with different data (first at line {first[0]})", at)
            continue
        if ex is not None and ex[3] == digest:
            w.p["record_lines"].append((line, ex[0]))
            seen[key] = (line, digest)
            if touched is not None:
                touched[key] = (ex[0], ex[1], line, digest)
            res.unchanged += 1
            continue
        mark = w.mark()
        try:
            entity_id, eff, hints = h.store(w, obj, key, ex[1] if ex is not None else None)
            rebuilt = h.rebuild(eff, hints)
            # the common case, cheaply: the rebuild serializes to the very bytes of the line (then
            # it parses to the same value); otherwise the structural diff decides
            same = type(raw) is bytes and dumps(rebuilt) == raw
            blob = remainder.encode(None if same else remainder.diff(obj, rebuilt), hints)
        except Reject as exc:
            w.undo(mark)
            _reject(w, res, spath, line, key, exc.reason, at)
            continue
        rid = ex[0] if ex is not None else w.new_id("records")
        w.record_row(rid, h.kind, key, entity_id, line, digest, blob, existing=ex is not None)
        seen[key] = (line, digest)
        if touched is not None:
            touched[key] = (rid, entity_id, line, digest)
        if ex is None:
            res.inserted += 1
        else:
            res.updated += 1


def _reject(w: CatalogWriter, res: ImportResult, spath: str, line: int, key: str | None, reason: str, at: str) -> None:
    res.rejected += 1
    w.reject(spath, line, key, reason, at)
    if len(res.reject_samples) < 5:
        res.reject_samples.append(f"{Path(spath).name}:{line}: {reason}")


def _finish(archive: Archive, res: ImportResult, source_id: int, spath: str) -> None:
    """Totals over the whole run (also the part before a resume) and the report file."""
    conn = archive.conn
    rows = conn.execute(
        "SELECT line, source_key, reason FROM import_rejects WHERE source_id=? AND path=? ORDER BY line, id",
        (source_id, spath),
    ).fetchall()
    res.rejected = sum(1 for r in rows if not str(r[2]).startswith("warning:"))
    res.warnings = len(rows) - res.rejected
    archive.reports_dir.mkdir(parents=True, exist_ok=True)
    report = archive.reports_dir / f"import-{res.source_name}.tsv"
    tmp = report.with_suffix(".tsv.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write("path\tline\tkey\treason\n")
        for line, key, reason in rows:
            clean = " ".join(str(reason).split())
            f.write(f"{spath}\t{line}\t{key or ''}\t{clean}\n")
    os.replace(tmp, report)
    res.report_path = str(report)
    # records rows: key, digest, remainder, 4 integers and the record header; plus the two index
    # entries (source_id, kind, source_key) and (source_id, line). An estimate independent of page fill.
    rec = conn.execute(
        "SELECT COALESCE(SUM(LENGTH(remainder)), 0), "
        "COALESCE(SUM(2 * LENGTH(source_key) + LENGTH(kind) * 2 + COALESCE(LENGTH(digest), 0) "
        "+ COALESCE(LENGTH(remainder), 0) + 40), 0) FROM records WHERE source_id=?",
        (source_id,),
    ).fetchone()
    res.tracks = conn.execute("SELECT COUNT(*) FROM tracks WHERE source_id=?", (source_id,)).fetchone()[0]
    res.remainder_bytes = int(rec[0])
    res.records_bytes = int(rec[1])
    if res.tracks:
        res.bytes_per_track_remainder = round(res.remainder_bytes / res.tracks, 2)
        res.bytes_per_track_records = round(res.records_bytes / res.tracks, 2)
