"""The pipelined import: a child process reads, parses, normalizes and diffs; this process writes.

On two cores the Python work of a batch (parsing, checks, normalization, rebuild and remainder)
overlaps with SQLite writing the previous batch. The child owns the :class:`CatalogWriter` (its
caches and id counters) on a *read-only* connection and sends each batch's pending rows
(:meth:`CatalogWriter.take_pending`, pickled) to this process, which writes them with
:func:`write_pending` and the batch's ``import_progress.lines_done`` in one transaction, then acks.

What the child reads must not depend on batches still in flight (sent, not yet committed):

* ids continue from the child's own counters (``carry_ids``), not from ``MAX(id)``;
* every shared entity an in-flight batch created is in the child's caches: caches are only
  trimmed when nothing is in flight;
* the record states an in-flight batch wrote are overlaid on what ``records`` shows
  (``recent``), so a key met again is still a duplicate of its first line.

At most :data:`DEPTH` batches are in flight. Kill-safety is the sequential path's: only this
process writes, one committed transaction per batch; the child dies with it (``PR_SET_PDEATHSIG``,
and a closed pipe in any case). Used for line formats whose records make only these reads
(jsonl, csv); MusicBrainz's recording adoption reads rows an in-flight batch may update.
"""

from __future__ import annotations

import collections
import gc
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from phonotheque import db
from phonotheque.archive import Archive
from phonotheque.catalog.importers.common import ImportResult, batches, open_source
from phonotheque.catalog.writer import CatalogWriter, write_pending
from phonotheque.errors import ImportFormatError, PhonothequeError

DEPTH = 2
"""Batches sent but not yet acknowledged before the child waits."""
CACHE_LIMIT = 100_000
"""Entries per cache of the child's :class:`CatalogWriter` (sent to the child; tests lower it)."""
MIN_BYTES = 4 << 20
"""Inputs smaller than this are imported in-process (starting the child costs ~0.3 s)."""
FORMATS = ("jsonl", "csv")

_CHILD = "import sys; from phonotheque.catalog.importers.pipeline import main; main(sys.argv[1:])"
_COUNTS = ("records", "inserted", "updated", "unchanged", "duplicates", "rejected", "warnings")


def run(
    archive: Archive,
    *,
    format: str,
    path: Path,
    mapping: str | Path | None,
    member: str | None,
    source_id: int,
    licence: str | None,
    spath: str,
    done: int,
    batch_size: int,
    result: ImportResult,
    progress: Callable[..., None] | None,
) -> None:
    """Import ``path`` from line ``done`` on with a reader child; counts go into ``result``."""
    conn = archive.conn
    args = [str(archive.catalog_path), format, str(path), None if mapping is None else str(mapping), member,
            source_id, licence, spath, done, batch_size, CACHE_LIMIT]
    # a fresh interpreter (not fork: no SQLite state may cross a fork; not multiprocessing's spawn,
    # which re-runs the caller's __main__)
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, orjson.dumps(args).decode()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    inp, ack = proc.stdout, proc.stdin
    try:
        while True:
            msg = _recv(inp)
            if msg is None:
                raise ImportFormatError(f"{path}: the import's reader process died (exit {proc.wait()})")
            if msg[0] == "batch":
                _kind, pending, last_line, n, done_bytes, size = msg
                with archive.transaction():
                    write_pending(conn, pending)
                    conn.execute(
                        "UPDATE import_progress SET lines_done=? WHERE source_id=? AND path=?",
                        (last_line, source_id, spath),
                    )
                del pending
                ack.write(b"k")
                ack.flush()
                if progress is not None:
                    progress(n, total=size, done_bytes=done_bytes)
            elif msg[0] == "end":
                counts, samples = msg[1], msg[2]
                for name in _COUNTS:
                    setattr(result, name, getattr(result, name) + counts[name])
                result.reject_samples.extend(samples[: 5 - len(result.reject_samples)])
                break
            else:
                raise msg[1]
    finally:
        for f in (inp, ack):
            try:
                f.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _send(out: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=5)
    out.write(struct.pack("<Q", len(data)))
    out.write(data)
    out.flush()


def _recv(inp: IO[bytes]) -> Any:
    head = inp.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    data = inp.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed pipe ends the child at its next send
        pass


def main(argv: list[str]) -> None:
    """The child (``python -c _CHILD ARGS_JSON``): batches on stdout, acks on stdin."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle
    gc.disable()  # as in the in-process path: the caches are large and long-lived, records make no cycles
    out = sys.stdout.buffer
    ack = sys.stdin.buffer
    sys.stdout = sys.stderr  # nothing else may write into the message stream
    catalog, format, path, mapping, member, source_id, licence, spath, done, batch_size, limit = orjson.loads(argv[0])
    try:
        _read(out, ack, catalog, format, Path(path), mapping, member, source_id, licence, spath, done, batch_size, limit)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        pass  # the writer is gone
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the writer
        err: BaseException = exc if isinstance(exc, PhonothequeError) else ImportFormatError(f"{path}: {exc!r}")
        try:
            _send(out, ("error", err))
        except (pickle.PicklingError, TypeError, AttributeError):
            _send(out, ("error", ImportFormatError(f"{path}: {err}")))
        except OSError:
            pass
    finally:
        os._exit(0)


def _read(
    out: IO[bytes], ack: IO[bytes], catalog: str, format: str, path: Path, mapping: str | None, member: str | None,
    source_id: int, licence: str | None, spath: str, done: int, batch_size: int, cache_limit: int,
) -> None:
    from phonotheque.catalog.importers import handler_for, prepare_batch

    h = handler_for(format, path, mapping)
    conn = db.connect(Path(catalog), readonly=True)
    conn.row_factory = None  # plain tuples: the importers index rows by position
    conn.execute("PRAGMA cache_size=-32768")
    w = CatalogWriter(conn, source_id, licence, cache_limit)
    w.carry_ids = True
    res = ImportResult(source_name="", format=format, path=spath)
    recent: collections.deque[dict[str, Any]] = collections.deque()

    def wait_ack() -> None:
        if not ack.read(1):
            raise EOFError
        recent.popleft()

    def send(batch: list[tuple[int, Any]], size: int, count: int) -> None:
        w.begin_batch()
        touched: dict[str, Any] = {}
        rejected = res.rejected
        prepare_batch(w, h, batch, res, spath, list(recent), touched)
        _send(out, ("batch", w.take_pending(), batch[-1][0], len(batch), count, size))
        recent.append(touched)
        if res.rejected != rejected:
            gc.collect(0)
        gc.freeze()
        while len(recent) >= DEPTH:
            wait_ack()
        if w.oversized():  # trimming forgets entities an in-flight batch created: wait for them first
            while recent:
                wait_ack()
            w.trim()

    try:
        with open_source(path, member) as opened:
            for batch in batches(h.rows(opened, done), batch_size):
                send(batch, opened.size, opened.counter.count)
        while recent:
            wait_ack()
    except sqlite3.Error as exc:
        raise ImportFormatError(f"{path}: reading the catalog failed: {exc}") from exc
    finally:
        conn.close()
    counts = {name: getattr(res, name) for name in _COUNTS}
    _send(out, ("end", counts, res.reject_samples))

