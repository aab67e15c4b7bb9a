"""Shared pieces of the importers: opening (compressed) sources, value checks, the result type."""

from __future__ import annotations

import bz2
import datetime as _dt
import gzip
import hashlib
import io
import lzma
import os
import re
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import zstandard

from phonotheque.errors import ImportFormatError

MAX_DURATION_MS = 7 * 24 * 3600 * 1000  # a week: anything longer is a data error
MAX_YEAR = _dt.date.today().year + 5
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class Reject(Exception):
    """One record is unusable; ``reason`` is the one-line why (the caller adds source and line)."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


@dataclass
class ImportResult:
    """What one ``import_source`` call did."""

    source_name: str
    format: str
    path: str
    records: int = 0  # records read in this run (resumed runs count from the resume point)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # exact duplicate records within the file, skipped
    rejected: int = 0
    warnings: int = 0
    resumed_from_line: int = 0
    bulk: bool = False  # bulk-load mode: secondary indexes dropped for the load, rebuilt at its end
    tracks: int = 0  # tracks of this source in the catalog after the run
    report_path: str | None = None
    remainder_bytes: int = 0  # compressed remainders of this source, total
    records_bytes: int = 0  # the records rows (key, digest, line, remainder) of this source, total
    bytes_per_track_remainder: float = 0.0
    bytes_per_track_records: float = 0.0
    seconds: float = 0.0
    reject_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- values ---------------------------------------------------------------------------------------
def opt_str(rec: dict[str, Any], key: str) -> str | None:
    v = rec.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        return v
    raise Reject(f"field {key!r} must be a string, got {type(v).__name__} {v!r}"[:200])


def req_str(rec: dict[str, Any], key: str) -> str:
    v = rec.get(key)
    if v is None:
        raise Reject(f"missing required field {key!r}")
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise Reject(f"field {key!r} must be a string, got {v!r}"[:200])
    return str(v)


def opt_int(rec: dict[str, Any], key: str, lo: int | None = None, hi: int | None = None) -> int | None:
    """An integer (a float is accepted and stored rounded; the remainder keeps the exact value)."""
    v = rec.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        raise Reject(f"field {key!r} must be a number, got {v!r}")
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise Reject(f"field {key!r} must be a finite number, got {v!r}")
        v = round(v)  # stored rounded; the record's remainder keeps the exact value
    if not isinstance(v, int):
        raise Reject(f"field {key!r} must be a number, got {v!r}"[:200])
    if lo is not None and v < lo:
        raise Reject(f"field {key!r} out of range: {v} < {lo}")
    if hi is not None and v > hi:
        raise Reject(f"field {key!r} out of range: {v} > {hi}")
    return v


def opt_bool(rec: dict[str, Any], key: str) -> int | None:
    v = rec.get(key)
    if v is None:
        return None
    if v is True or v is False:
        return int(v)
    if type(v) is int and v in (0, 1):
        return v
    raise Reject(f"field {key!r} must be true or false, got {v!r}"[:200])


def check_date(value: Any, precision: Any, what: str = "release_date") -> tuple[str | None, str | None]:
    """Validate a YYYY[-MM[-DD]] date; returns (date, precision) with the precision derived if absent."""
    if value is None:
        if precision is not None and precision not in ("year", "month", "day"):
            raise Reject(f"{what}_precision must be year, month or day, got {precision!r}")
        return None, precision
    if not isinstance(value, str):
        raise Reject(f"{what} must be a string, got {value!r}"[:200])
    if value == "":
        return "", precision
    m = _DATE_RE.match(value)
    if not m:
        raise Reject(f"{what} is not YYYY, YYYY-MM or YYYY-MM-DD: {value!r}"[:200])
    year = int(m.group(1))
    if year > MAX_YEAR:
        raise Reject(f"{what} year {year} is in the future")
    if m.group(2) and not 1 <= int(m.group(2)) <= 12:
        raise Reject(f"{what} month out of range: {value!r}")
    if m.group(3) and not 1 <= int(m.group(3)) <= 31:
        raise Reject(f"{what} day out of range: {value!r}")
    derived = "day" if m.group(3) else "month" if m.group(2) else "year"
    if precision is None:
        return value, derived
    if precision not in ("year", "month", "day"):
        raise Reject(f"{what}_precision must be year, month or day, got {precision!r}"[:200])
    return value, precision


def date_precision(value: str | None) -> str | None:
    if not value:
        return None
    return {4: "year", 7: "month", 10: "day"}.get(len(value))


# -- files ----------------------------------------------------------------------------------------
def file_identity(path: Path) -> str:
    """Size + mtime + hash of the first 64 KiB: enough to tell whether a resume is the same file."""
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(65536))
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()[:32]}"


class _Counting(io.RawIOBase):
    """Counts the bytes read from the underlying (compressed) file, for progress."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.raw.readinto(b)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


@dataclass
class Opened:
    stream: IO[bytes]
    counter: _Counting
    size: int


@contextmanager
def open_source(path: Path, member: str | None = None) -> Iterator[Opened]:
    """Open a source as a binary line stream: plain, .gz, .xz, .bz2, .zst or a tar archive member.

    A tar archive (``.tar``, ``.tar.xz``, ``.tar.gz``, ``.tar.bz2``, ``.tar.zst``) is streamed and
    the member named ``member`` (or, by default, the first one whose name ends with
    ``/release`` as in MusicBrainz's ``mbdump/release``) is read line by line.
    """
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file")
    if path.is_dir():
        raise ImportFormatError(f"{path}: is a directory, expected a file")
    size = path.stat().st_size
    raw = path.open("rb")
    counter = _Counting(raw)
    buffered = io.BufferedReader(counter, 1 << 20)
    name = path.name.lower()
    try:
        if ".tar" in name:
            stream = _zst_tar(buffered) if name.endswith(".zst") else buffered
            tar = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115
            try:
                for info in tar:
                    wanted = info.name == member if member else info.name.endswith("/release") or info.name == "release"
                    if info.isfile() and wanted:
                        fobj = tar.extractfile(info)
                        if fobj is None:
                            break
                        yield Opened(io.BufferedReader(fobj, 1 << 20), counter, size)  # type: ignore[arg-type,type-var]
                        return
            except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
                raise ImportFormatError(f"{path}: unreadable tar archive: {exc}") from exc
            finally:
                tar.close()
            raise ImportFormatError(f"{path}: no {member or 'mbdump/release'} member in the archive")
        if name.endswith(".gz"):
            yield Opened(gzip.GzipFile(fileobj=buffered), counter, size)  # type: ignore[arg-type]
        elif name.endswith(".xz"):
            yield Opened(lzma.LZMAFile(buffered), counter, size)  # type: ignore[arg-type]  # noqa: SIM115
        elif name.endswith(".bz2"):
            yield Opened(bz2.BZ2File(buffered), counter, size)  # type: ignore[arg-type]
        elif name.endswith(".zst"):
            reader = zstandard.ZstdDecompressor().stream_reader(buffered)
            yield Opened(io.BufferedReader(reader, 1 << 20), counter, size)  # type: ignore[arg-type]
        else:
            yield Opened(buffered, counter, size)
    finally:
        raw.close()


def _zst_tar(buffered: IO[bytes]) -> IO[bytes]:
    return zstandard.ZstdDecompressor().stream_reader(buffered)  # type: ignore[return-value]


def iter_lines(stream: IO[bytes], skip: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(line_number, stripped_bytes)`` for every non-empty line, numbered from 1, after ``skip`` lines."""
    n = 0
    for line in stream:
        n += 1
        if n <= skip:
            continue
        line = line.strip()
        if line:
            yield n, line


def record_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=12).digest()


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fspath(path: Path) -> str:
    return os.fspath(path.resolve())


BATCH_BYTES = 16 << 20
"""A batch also ends after this many source bytes: big MusicBrainz releases (tens of kB each) would
otherwise hold ``catalog.batch_size`` parsed releases in memory at once (~600 MiB peak for 5,000)."""


def batches(rows: Iterator[tuple[int, Any]], batch_size: int) -> Iterator[list[tuple[int, Any]]]:
    """``(line, raw)`` items grouped into batches of ``batch_size`` items or ``BATCH_BYTES`` of raw lines."""
    batch: list[tuple[int, Any]] = []
    nbytes = 0
    for item in rows:
        batch.append(item)
        raw = item[1]
        if type(raw) is bytes:
            nbytes += len(raw)
        if len(batch) >= batch_size or nbytes >= BATCH_BYTES:
            yield batch
            batch = []
            nbytes = 0
    if batch:
        yield batch

