"""``ingest``: make audio files verified, identified members of the content-addressed store.

Per file, one pure task (:func:`analyse_file`, run in worker processes or on Dask) reads the
bytes once and, from that one read:

* hashes them (sha256 + BitTorrent v1 pieces + v2 merkle root/layer, :mod:`.hashing`);
* probes container, stream facts and every tag (:mod:`.probe`);
* decodes the whole stream, checks it against the header and fingerprints its start
  (:mod:`.decode`, :mod:`.fingerprint`);
* copies the bytes into ``store/ab/cd/<sha256><ext>`` (temp name, fsync, rename, fsync dir).

Files up to ``MEMORY_CAP`` bytes are read into memory and everything works on that buffer;
larger ones are read through :class:`HashingReader`, which hashes the bytes as PyAV reads them
(each byte hashed once, in order, whatever PyAV seeks) and are copied into the store from the
source afterwards (verified against the sha256 of the first read).

The main process is the one writer: it walks, skips what an earlier run logged with the same
(path, size, mtime), and commits results in batches (:func:`_commit`), in walk order, so a run
interrupted anywhere and run again ends with the same store and catalog as one clean run.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from phonotheque.archive import Archive
from phonotheque.errors import AudioError, CorruptAudioError
from phonotheque.parallel import run_tasks
from phonotheque.store import match as m
from phonotheque.store.decode import DecodeCheck, check_ogg_tail, decode_check
from phonotheque.store.hashing import FileHashes, TorrentHasher
from phonotheque.store.layout import copy_file_chunks, remove_temp_files, store_bytes, store_relpath
from phonotheque.store.probe import ProbeInfo, open_container, probe_open
from phonotheque.store.walk import WalkedFile, walk

MEMORY_CAP = 64 << 20
CHUNK = 1 << 20
BATCH_FILES = 64
BATCH_SECONDS = 2.0
QUARANTINE_FILE = "quarantine.jsonl"


@dataclass(frozen=True)
class IngestOptions:
    root: str                       # archive directory (workers write the store under it)
    piece_size: int
    fingerprint_seconds: int
    min_duration_ratio: float
    memory_cap: int = MEMORY_CAP


@dataclass
class FileResult:
    path: str
    display: str
    size: int
    mtime_ns: int
    status: str = "ok"              # ok | error_corrupt | error_unsupported | error_unreadable | error_internal
    reason: str | None = None
    hashes: FileHashes | None = None
    info: ProbeInfo | None = None
    check: DecodeCheck | None = None
    store_path: str | None = None


@dataclass
class IngestResult:
    files: int = 0                  # files found by the walk
    skipped: int = 0                # already ingested with the same path, size and mtime
    stored: int = 0                 # new content in the store
    duplicates: int = 0             # identical bytes already stored
    alternatives: int = 0           # new content, same audio as a held file (role alternative)
    matched: int = 0                # linked to an existing catalog track
    new_tracks: int = 0             # new local-tags tracks
    quarantined: int = 0
    bytes: int = 0                  # bytes read
    seconds: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)   # path, status, reason

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class HashingReader(io.RawIOBase):
    """A seekable file wrapper that feeds every byte to a hasher exactly once, in file order."""

    def __init__(self, fh: io.BufferedReader, hasher: TorrentHasher) -> None:
        super().__init__()
        self._fh = fh
        self._hasher = hasher
        self._pos = 0
        self._hashed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._fh.seek(offset, whence) if whence != io.SEEK_SET else offset
        return self._pos

    def _hash_upto(self, end: int) -> None:
        if end <= self._hashed:
            return
        self._fh.seek(self._hashed)
        while self._hashed < end:
            data = self._fh.read(min(CHUNK, end - self._hashed))
            if not data:
                break
            self._hasher.update(data)
            self._hashed += len(data)

    def readinto(self, buffer: Any) -> int:
        if self._pos > self._hashed:
            self._hash_upto(self._pos)          # a forward seek: hash the gap in order
        self._fh.seek(self._pos)
        n = self._fh.readinto(buffer)
        if not n:
            return 0
        end = self._pos + n
        if end > self._hashed:
            start = self._hashed - self._pos
            self._hasher.update(memoryview(buffer)[start:n])
            self._hashed = end
        self._pos = end
        return n

    def finish(self) -> None:
        self._hash_upto(1 << 62)


def _analyse(item: WalkedFile, opts: IngestOptions) -> FileResult:
    res = FileResult(item.path, item.display, item.size, item.mtime_ns)
    hasher = TorrentHasher(opts.piece_size)
    name = item.display
    with open(item.path, "rb") as fh:
        if item.size <= opts.memory_cap:
            data = fh.read()
            hasher.update(data)
            source: io.BufferedIOBase | io.RawIOBase = io.BytesIO(data)
            tail = data[-65536:]
        else:
            data = b""
            reader = HashingReader(fh, hasher)        # type: ignore[arg-type]
            source = reader
            with open(item.path, "rb") as tfh:
                tfh.seek(max(0, item.size - 65536))
                tail = tfh.read()
        try:
            with open_container(source, name) as container:  # type: ignore[arg-type]
                tag_source = io.BytesIO(data) if data else open(item.path, "rb")  # noqa: SIM115
                try:
                    info = probe_open(container, name, tag_source)
                finally:
                    tag_source.close()
                if "ogg" in container.format.name.split(","):
                    check_ogg_tail(tail, name)
                res.check = decode_check(
                    container,
                    name,
                    fingerprint_seconds=opts.fingerprint_seconds,
                    min_duration_ratio=opts.min_duration_ratio,
                    header_duration_ms=info.header_duration_ms,
                )
                res.info = info
        finally:
            if not data and isinstance(source, HashingReader):
                source.finish()
    res.hashes = hasher.finish()
    rel = store_relpath(res.hashes.sha256, res.info.ext)
    chunks: Iterable[bytes] = [data] if data else _verified_copy(item.path, res.hashes.sha256, name)
    store_bytes(Path(opts.root), rel, chunks)
    res.store_path = rel
    return res


def _verified_copy(path: str, sha256: str, name: str) -> Iterator[bytes]:
    import hashlib

    h = hashlib.sha256()
    for chunk in copy_file_chunks(path, CHUNK):
        h.update(chunk)
        yield chunk
    if h.hexdigest() != sha256:
        raise CorruptAudioError(name, "the file changed while it was being ingested")


def analyse_file(opts: IngestOptions, item: WalkedFile) -> FileResult:
    """The pure per-file task: never raises for a bad file, the result says what happened."""
    try:
        return _analyse(item, opts)
    except AudioError as exc:
        return FileResult(item.path, item.display, item.size, item.mtime_ns, exc.status, exc.reason)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        return FileResult(item.path, item.display, item.size, item.mtime_ns, "error_unreadable", reason)
    except Exception as exc:  # a bug or an exotic library failure must not stop the run
        reason = f"internal error: {type(exc).__name__}: {exc}"[:500]
        return FileResult(item.path, item.display, item.size, item.mtime_ns, "error_internal", reason)


# -- the writer ----------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _licence(tags: dict[str, list[str]]) -> str | None:
    return m.first(tags, "license", "licence", "copyright", "wcop")


def _log(conn: Any, r: FileResult, status: str, **cols: Any) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO ingest_log(path, size, mtime_ns, status, reason, sha256, file_id, duplicate_of, at, "
        "track_id, match_method) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            r.display, r.size, r.mtime_ns, status, r.reason, r.hashes.sha256 if r.hashes else None,
            cols.get("file_id"), cols.get("duplicate_of"), _now(), cols.get("track_id"), cols.get("match_method"),
        ),
    )  # fmt: skip


def _commit(conn: Any, r: FileResult, out: IngestResult) -> None:
    """Record one analysed file: files row, match, track links, ingest_log (inside a transaction)."""
    if r.status != "ok" or r.hashes is None or r.info is None or r.check is None:
        _log(conn, r, r.status)
        out.quarantined += 1
        out.errors.append({"path": r.display, "status": r.status, "reason": r.reason or ""})
        return
    info, check, h = r.info, r.check, r.hashes
    tags = info.tags
    existing = conn.execute("SELECT id FROM files WHERE sha256 = ?", (h.sha256,)).fetchone()
    if existing is not None:
        file_id = int(existing[0])
        found = m.by_ids(conn, tags) or m.by_tags(conn, tags, check.duration_ms, check.fingerprint)
        track_id = None
        if found is not None:
            m.link(conn, found.track_id, file_id, found)
            track_id = found.track_id
        _log(conn, r, "duplicate_of", file_id=file_id, duplicate_of=file_id, track_id=track_id,
             match_method=found.method if found else None)  # fmt: skip
        out.duplicates += 1
        return
    licence = _licence(tags)
    cur = conn.execute(
        "INSERT INTO files(sha256, size, tier, store_path, ext, container, codec, bitrate, sample_rate, channels, "
        "bits_per_sample, duration_ms, header_duration_ms, fingerprint, fingerprint_duration, tags, licence, "
        "piece_size, v1_pieces, v1_tail, v2_root, v2_layer, ingested_at, lossless, source_path) "
        "VALUES (?,?,'original',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            h.sha256, h.size, r.store_path, info.ext, info.container, info.codec, info.bitrate, info.sample_rate,
            info.channels, info.bits_per_sample, check.duration_ms, info.header_duration_ms, check.fingerprint,
            check.fingerprint_duration, orjson.dumps(tags, option=orjson.OPT_SORT_KEYS).decode(), licence, h.piece_size, h.v1_pieces,
            h.v1_tail, h.v2_root, h.v2_layer, _now(), int(info.lossless), r.display,
        ),
    )  # fmt: skip
    file_id = int(cur.lastrowid)
    out.stored += 1
    found = (
        m.by_ids(conn, tags)
        or m.by_tags(conn, tags, check.duration_ms, check.fingerprint)
        or m.by_fingerprint(conn, check.duration_ms, check.fingerprint, exclude_file=file_id)
    )
    if found is None:
        tid = m.create_track(
            conn, tags, file_name=r.display, duration_ms=check.duration_ms, sha256=h.sha256, licence=licence
        )
        found = m.Match(tid, "new_from_tags", 1.0)
        out.new_tracks += 1
    else:
        out.matched += 1
    m.link(conn, found.track_id, file_id, found)
    if found.method != "new_from_tags":
        held = conn.execute("SELECT count(*) FROM track_files WHERE track_id = ?", (found.track_id,)).fetchone()[0]
        if held > 1:
            out.alternatives += 1       # same track, another file: one of them is now an alternative
    _log(conn, r, "success", file_id=file_id, track_id=found.track_id, match_method=found.method)


def write_quarantine(archive: Archive) -> int:
    """Rewrite ``quarantine/quarantine.jsonl`` from the log: one line per file in error."""
    qdir = archive.quarantine_dir
    qdir.mkdir(parents=True, exist_ok=True)
    tmp = qdir / (QUARANTINE_FILE + ".tmp")
    n = 0
    with open(tmp, "wb") as fh:
        for row in archive.conn.execute(
            "SELECT path, size, mtime_ns, status, reason, at FROM ingest_log WHERE status LIKE 'error%' ORDER BY path"
        ):
            fh.write(orjson.dumps(dict(row)) + b"\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, qdir / QUARANTINE_FILE)
    return n


def ingest(
    archive: Archive,
    paths: Sequence[str | Path],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[..., None] | None = None,
    batch_files: int = BATCH_FILES,
) -> IngestResult:
    """Ingest files and folders (``@list.txt`` for file lists) into the archive's store.

    ``workers``: processes (default: setting ``store.workers``, 0 = one per core); ``scheduler``:
    ``None`` (local pool), ``"local"`` (Dask LocalCluster) or ``"tcp://host:port"``; ``progress``:
    ``advance(n=1, total=None)`` callback; ``batch_files``: results per write transaction (a
    batch is also committed every ``BATCH_SECONDS``).
    """
    start = time.perf_counter()
    out = IngestResult()
    conn = archive.conn
    remove_temp_files(archive.store_dir)
    walked = walk(paths, exclude=[archive.root])
    out.files = len(walked.files)
    with archive.transaction() as tx:
        m.refresh_match_keys(tx)
        for display, reason in walked.problems:
            r = FileResult(display, display, 0, 0, "error_unreadable", reason)
            _commit(tx, r, out)
    done = {
        row[0]: (row[1], row[2])
        for row in conn.execute("SELECT path, size, mtime_ns FROM ingest_log WHERE size IS NOT NULL")
    }
    todo = [f for f in walked.files if done.get(f.display) != (f.size, f.mtime_ns)]
    out.skipped = len(walked.files) - len(todo)
    if progress is not None:
        progress(0, total=len(todo))
    opts = IngestOptions(
        root=str(archive.root),
        piece_size=int(archive.settings["store.piece_size"]),
        fingerprint_seconds=int(archive.settings["store.fingerprint_seconds"]),
        min_duration_ratio=float(archive.settings["store.min_duration_ratio"]),
    )
    if workers is None:
        workers = int(archive.settings["store.workers"]) or None
    task = partial(analyse_file, opts)
    batch: list[FileResult] = []
    last = time.monotonic()

    def flush() -> None:
        with archive.transaction() as tx:
            for r in batch:
                _commit(tx, r, out)
        batch.clear()

    try:
        for item, result in run_tasks(task, todo, workers=workers, scheduler=scheduler, progress=progress,
                                      ordered=True):  # fmt: skip
            if isinstance(result, BaseException):
                reason = f"internal error: {type(result).__name__}: {result}"[:500]
                result = FileResult(item.path, item.display, item.size, item.mtime_ns, "error_internal", reason)
            out.bytes += result.size
            batch.append(result)
            if len(batch) >= batch_files or time.monotonic() - last > BATCH_SECONDS:
                flush()
                last = time.monotonic()
        if batch:
            flush()
    finally:
        write_quarantine(archive)
    out.seconds = round(time.perf_counter() - start, 3)
    return out
