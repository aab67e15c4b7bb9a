"""Pieces shared by the transcode and tag runs: store paths, the worker pool, the media log."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from phonotheque import parallel
from phonotheque.archive import Archive
from phonotheque.store.hashing import FileHashes

T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[..., None]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tmp_dir(archive_root: Path) -> Path:
    d = archive_root / "store" / "tmp"
    d.mkdir(parents=True, exist_ok=True)
    return d


def clean_parts(archive_root: Path, prefix: str) -> int:
    """Delete temp files a killed run left behind (``store/tmp/<prefix>*.part``)."""
    d = archive_root / "store" / "tmp"
    n = 0
    if d.is_dir():
        for p in d.glob(f"{prefix}*.part"):
            p.unlink(missing_ok=True)
            n += 1
    return n


def worker_count(archive: Archive, workers: int | None) -> int:
    if workers is None or workers <= 0:
        workers = int(archive.settings["store.workers"]) or (os.cpu_count() or 1)
    return max(1, workers)


def run_pool(fn: Callable[[T], R], tasks: Iterable[T], workers: int, on_error: Callable[[T, Exception], R]) -> Iterator[R]:
    """Results of ``fn`` over ``tasks`` as they complete: in-process for one worker, else on
    :func:`phonotheque.parallel.run_tasks` (a process pool, bounded in flight). A task that raises
    becomes ``on_error(task, exc)`` so the run goes on. On Ctrl-C pending tasks are cancelled; running
    workers clean up their temp files."""
    if workers <= 1:
        for t in tasks:
            try:
                yield fn(t)
            except Exception as exc:  # a bug or an unexpected library error: reported, the run goes on
                yield on_error(t, exc)
        return
    for item, result in parallel.run_tasks(fn, tasks, workers=workers):
        if isinstance(result, Exception):
            yield on_error(item, result)
        elif isinstance(result, BaseException):
            raise result
        else:
            yield result


def hash_columns(h: FileHashes) -> dict[str, Any]:
    return {
        "sha256": h.sha256, "size": h.size, "piece_size": h.piece_size, "v1_pieces": h.v1_pieces,
        "v1_tail": h.v1_tail, "v2_root": h.v2_root, "v2_layer": h.v2_layer,
    }


def insert_file(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Insert a ``files`` row unless its sha256 is already held; returns the id either way."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO files ({cols}) VALUES ({marks}) ON CONFLICT(sha256) DO NOTHING", tuple(row.values()))
    found = conn.execute("SELECT id FROM files WHERE sha256=?", (row["sha256"],)).fetchone()
    return int(found[0])


def log(conn: sqlite3.Connection, step: str, track_id: int, source_file_id: int | None, status: str,
        reason: str | None, file_id: int | None) -> None:
    conn.execute(
        "INSERT INTO media_log(step, track_id, source_file_id, status, reason, file_id, at) VALUES (?,?,?,?,?,?,?) "
        "ON CONFLICT(step, track_id) DO UPDATE SET source_file_id=excluded.source_file_id, status=excluded.status, "
        "reason=excluded.reason, file_id=excluded.file_id, at=excluded.at",
        (step, track_id, source_file_id, status, reason, file_id, now()),
    )


@dataclass
class Problem:
    track_id: int
    path: str
    status: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "path": self.path, "status": self.status, "reason": self.reason}


@dataclass
class RunSummary:
    """What a transcode or tag run did; ``problems`` lists every track that failed, with why."""

    step: str
    planned: int = 0            # tracks the plan puts on this step
    done_before: int = 0        # already done by an earlier run
    missing_original: int = 0   # planned but no original file held
    succeeded: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "planned": self.planned, "done_before": self.done_before,
            "missing_original": self.missing_original, "succeeded": self.succeeded, "failed": self.failed,
            "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "audio_seconds": round(self.audio_seconds, 3), "seconds": round(self.seconds, 3),
            **self.extra, "problems": [p.as_dict() for p in self.problems],
        }
