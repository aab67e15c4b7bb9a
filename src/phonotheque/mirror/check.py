"""Check one mirrored file against its expected hashes: a pure function run in worker processes.

Full mode reads every byte once and feeds it to :class:`~phonotheque.store.hashing.TorrentHasher`
(SHA-256 of the whole file and the v2 merkle tree together; v1 SHA-1 pieces only for v1-only
torrents). Quick mode checks the size and a deterministic sample of whole pieces (a v2 piece-layer
hash or a v1 piece hash covers exactly one piece, so a piece is the smallest unit that can be
verified alone).

Files are opened read-only, non-blocking (a FIFO never hangs the run) and with ``O_NOATIME`` when
allowed: verifying a mirror changes nothing in it, not even access times.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from phonotheque.store.hashing import BLOCK, TorrentHasher, merkle_root

CHUNK = 256 << 10  # whole-file sha256 and the v2 block hashes both read it while it is in L2
QUICK_PIECES = 3
_counter: Any = None  # a shared multiprocessing.Value of bytes read, set by the pool initializer


@dataclass(frozen=True)
class FileCheck:
    """What to check: where the file is, and every hash the release publishes for it."""

    key: int
    path: str                       # absolute path in the mirror
    size: int
    piece_size: int
    v2_root: bytes | None = None
    v2_layer: bytes | None = None
    v1_pieces: bytes | None = None
    v1_padded: bool = True
    sha256: str | None = None
    quick: bool = False
    label: str = ""                 # mirror-relative path: seeds the quick sample (same on every mirror)
    whole_sha256: bool = True       # also hash the whole file (off when a v2 root covers every byte)


@dataclass
class CheckResult:
    key: int
    status: str                     # ok | corrupt | truncated | too_long | unreadable | unverified
    actual_size: int | None = None
    reason: str = ""
    bad_pieces: list[int] = field(default_factory=list)
    checked: str = ""               # what was compared: "v2+sha256", "v1 sample", "size" ...
    bytes_read: int = 0
    sha256: str | None = None       # of the whole file, when it was read whole


class _Hasher(TorrentHasher):
    """TorrentHasher without the v1 SHA-1 work when the torrent has a v2 tree to check against."""

    def __init__(self, piece_size: int, *, v1: bool, sha256: bool = True) -> None:
        super().__init__(piece_size)
        self._want_v1 = v1
        self._want_sha256 = sha256

    def update(self, data: bytes | bytearray | memoryview) -> None:
        mv = memoryview(data)
        if self._want_sha256:
            self._sha256.update(mv)
        self._size += len(mv)
        self._feed_v1(mv)
        self._feed_v2(mv)

    def _feed_v1(self, mv: memoryview) -> None:
        if self._want_v1:
            super()._feed_v1(mv)


def init_worker(counter: Any) -> None:
    global _counter
    _counter = counter


def _count(n: int) -> None:
    if _counter is not None and n:
        with _counter.get_lock():
            _counter.value += n


def _open(path: str) -> tuple[int, os.stat_result]:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        if not noatime:
            raise
        fd = os.open(path, flags)  # O_NOATIME needs ownership; fall back
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    return fd, st


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_file(task: FileCheck) -> CheckResult:
    """Check one file; never raises for problems with the file (they become the result)."""
    try:
        fd, st = _open(task.path)
    except FileNotFoundError:
        return CheckResult(task.key, "unreadable", reason="vanished during the run (or is a broken link)")
    except OSError as exc:
        return CheckResult(task.key, "unreadable", reason=exc.strerror or str(exc))
    try:
        if not stat.S_ISREG(st.st_mode):
            return CheckResult(task.key, "unreadable", reason=f"is {_kind(st.st_mode)}, not a file")
        size = st.st_size
        if size < task.size:
            return CheckResult(task.key, "truncated", size, f"{size} of {task.size} bytes", checked="size")
        if size > task.size:
            return CheckResult(task.key, "too_long", size, f"{size} bytes, expected {task.size}", checked="size")
        with os.fdopen(fd, "rb", buffering=0, closefd=True) as fh:
            fd = -1
            if task.quick and task.size > task.piece_size and (task.v2_layer or task.v1_pieces):
                return _check_sample(task, fh)
            return _check_full(task, fh)
    except OSError as exc:
        return CheckResult(task.key, "unreadable", reason=f"read failed: {exc.strerror or exc}")
    finally:
        if fd >= 0:
            os.close(fd)


def _check_full(task: FileCheck, fh: Any) -> CheckResult:
    ps = task.piece_size
    want_v1 = task.v2_root is None and task.v1_pieces is not None
    if task.size == 0:
        return CheckResult(task.key, "ok", 0, checked="size", sha256=hashlib.sha256(b"").hexdigest())
    if task.v2_root is None and not want_v1:
        hasher: Any = hashlib.sha256()  # only the file index's sha256 can judge it (compared later if unknown)
    else:
        # a v2 pieces root is a SHA-256 merkle tree over every byte: the whole-file SHA-256 adds nothing
        # unless asked for (--sha256), and skipping it saves a third of the hashing
        hasher = _Hasher(ps, v1=want_v1, sha256=task.whole_sha256 or task.v2_root is None)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = fh.readinto(buf)
        if not n:
            break
        hasher.update(view[:n])
        total += n
        _count(n)
    if total != task.size:
        status = "truncated" if total < task.size else "too_long"
        return CheckResult(task.key, status, total, f"changed while reading: {total} bytes", bytes_read=total)
    if isinstance(hasher, _Hasher):
        h = hasher.finish()
        bad: list[int] = []
        checked = []
        if task.v2_root is not None:
            checked.append("v2")
            if h.v2_root != task.v2_root:
                if task.v2_layer:
                    bad = [i for i in range(len(task.v2_layer) // 32) if h.v2_layer[i * 32 : i * 32 + 32]
                           != task.v2_layer[i * 32 : i * 32 + 32]]
                else:
                    bad = [0]
        elif task.v1_pieces is not None:
            checked.append("v1")
            got = h.v1_pieces if task.v1_padded else h.v1_pieces[:-20] + h.v1_tail
            bad = [i for i in range(len(task.v1_pieces) // 20) if got[i * 20 : i * 20 + 20]
                   != task.v1_pieces[i * 20 : i * 20 + 20]]
        sha = h.sha256 if (task.whole_sha256 or task.v2_root is None) else None
        return _verdict(task, bad, checked, sha, total, total)
    return _verdict(task, [], [], hasher.hexdigest(), total, total)


def _verdict(task: FileCheck, bad: list[int], checked: list[str], sha: str | None, read: int, size: int
             ) -> CheckResult:
    reasons = []
    if bad:
        n = len(bad)
        shown = ", ".join(str(i) for i in bad[:8]) + (" …" if n > 8 else "")
        reasons.append(f"{n} bad piece{'s' if n > 1 else ''} ({shown})")
    if task.sha256 is not None and sha is not None:
        checked.append("sha256")
        if sha != task.sha256:
            reasons.append("sha256 differs from the file index")
    status = "corrupt" if reasons else "ok"
    if not checked:
        status, reasons = "unverified", ["no hash published for this file"]
    return CheckResult(task.key, status, size, "; ".join(reasons), bad, "+".join(checked) or "size", read, sha)


def sample_pieces(path_key: str, n: int, k: int = QUICK_PIECES) -> list[int]:
    """A deterministic sample of ``k`` piece indices out of ``n``: first, last, and hash-chosen ones."""
    if n <= k:
        return list(range(n))
    chosen = {0, n - 1}
    j = 0
    while len(chosen) < k:
        digest = hashlib.sha256(f"{path_key}\x00{j}".encode()).digest()
        chosen.add(int.from_bytes(digest[:8], "big") % n)
        j += 1
    return sorted(chosen)


def _check_sample(task: FileCheck, fh: Any) -> CheckResult:
    ps = task.piece_size
    n = -(-task.size // ps)
    bad: list[int] = []
    read = 0
    use_v2 = task.v2_layer is not None
    for i in sample_pieces(task.label, n):
        fh.seek(i * ps)
        want = min(ps, task.size - i * ps)
        data = fh.read(want)
        read += len(data)
        _count(len(data))
        if len(data) != want:
            return CheckResult(task.key, "truncated", None, "changed while reading", bytes_read=read)
        if use_v2:
            assert task.v2_layer is not None
            leaves = [hashlib.sha256(data[o : o + BLOCK]).digest() for o in range(0, len(data), BLOCK)]
            ok = merkle_root(leaves, ps // BLOCK) == task.v2_layer[i * 32 : i * 32 + 32]
        else:
            assert task.v1_pieces is not None
            piece = data + bytes(ps - len(data)) if task.v1_padded and len(data) < ps else data
            ok = hashlib.sha1(piece).digest() == task.v1_pieces[i * 20 : i * 20 + 20]
        if not ok:
            bad.append(i)
    checked = f"{'v2' if use_v2 else 'v1'} sample {len(sample_pieces(task.label, n))}/{n} pieces"
    if bad:
        reason = f"{len(bad)} bad sampled piece{'s' if len(bad) > 1 else ''} ({', '.join(map(str, bad))})"
        return CheckResult(task.key, "corrupt", task.size, reason, bad, checked, read)
    return CheckResult(task.key, "ok", task.size, "", [], checked, read)
