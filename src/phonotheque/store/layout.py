"""The content-addressed store: ``store/ab/cd/<sha256><ext>``, written atomically.

A file is written to a temporary name in its final directory (``.<sha256>.<pid>.tmp``),
fsync'd, renamed into place and the directory fsync'd, so a crash leaves either nothing or the
complete file under its final name — never a partial file that looks complete. Temporary names
start with a dot so nothing mistakes them for content; :func:`remove_temp_files` deletes those a
killed run left behind. Identical bytes have one name, so storing them twice is a no-op.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
EXT = re.compile(r"^\.[a-z0-9]{1,8}$")
TEMP_SUFFIX = ".tmp"


def store_relpath(sha256: str, ext: str) -> str:
    """``store/ab/cd/<sha256><ext>`` (relative to the archive directory; always ``/``)."""
    if not SHA256_HEX.match(sha256):
        raise ValueError(f"not a lower-case hex sha256: {sha256!r}")
    if ext and not EXT.match(ext):
        raise ValueError(f"bad store extension: {ext!r}")
    return f"store/{sha256[:2]}/{sha256[2:4]}/{sha256}{ext}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_bytes(root: Path, relpath: str, chunks: Iterable[bytes | memoryview]) -> bool:
    """Write ``chunks`` to ``root/relpath`` atomically; False (nothing written) if it exists."""
    final = root / relpath
    if final.exists():
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{os.getpid()}{TEMP_SUFFIX}"
    try:
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(final.parent)
    return True


def copy_file_chunks(path: str, chunk: int = 1 << 20) -> Iterable[bytes]:
    with open(path, "rb") as fh:
        while data := fh.read(chunk):
            yield data


def remove_temp_files(store_dir: Path) -> int:
    """Delete temporary files a killed run left in ``store/ab/cd/``; returns how many."""
    removed = 0
    if not store_dir.is_dir():
        return 0
    for first in os.scandir(store_dir):
        if not first.is_dir(follow_symlinks=False):
            continue
        for second in os.scandir(first.path):
            if not second.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(second.path):
                if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                    os.unlink(entry.path)
                    removed += 1
    return removed
