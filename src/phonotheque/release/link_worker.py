"""Hard-link seeding trees: the functions, and the helper process that runs them during packaging.

This module imports the standard library only, so that :mod:`phonotheque.release.linker` can start it as
``python -I -S link_worker.py`` (about 15 ms) and have the links made on the other core while packaging
goes on: in a thread of the packaging process every ``link()`` would have to win the GIL back from the
thread that builds the torrents, which made linking take three times as long as linking alone.

Protocol (stdin, NUL-terminated fields; paths never contain NUL): ``T<staging dir>`` starts a tree,
then ``S<source>`` ``D<path inside the tree>`` for each file, then ``E`` ends it. For each tree, in
order, one line on stdout: ``OK <linked> <copied>`` or ``ERR <message>`` (the tree's staging directory
is then left for the caller to remove). End of input: the process exits.
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False  # the typing module costs the helper 17 ms to import: annotations only
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import BinaryIO

_NOT_LINKABLE = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)


def link_or_copy(src: str, dst: str, made: set[str] | None = None) -> bool:
    """Hard link ``src`` at ``dst``; copy when linking is impossible (other filesystem). True if linked.

    ``made`` caches the directories already created during one tree build."""
    parent = os.path.dirname(dst)
    if made is None or parent not in made:
        os.makedirs(parent, exist_ok=True)
        if made is not None:
            made.add(parent)
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in _NOT_LINKABLE:
            raise
    import shutil

    shutil.copyfile(src, dst)
    shutil.copystat(src, dst)
    return False


def link_tree(pairs: Iterable[tuple[str, str]]) -> int:
    """Hard link (or copy) every ``(src, dst)``; returns how many were linked.

    One thread, each directory made once. Measured here (ext4): a link costs 12-28 µs of kernel time and a
    directory 60-250 µs (inode allocation); a pool of 8 threads was 1.35x slower than one."""
    made: set[str] = set()
    linked = 0
    link = os.link
    for src, dst in pairs:
        parent = dst[: dst.rindex("/")]
        if parent not in made:
            try:
                os.mkdir(parent)  # the usual case: its parent exists (one system call, no stat)
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
            except FileExistsError:
                pass
            made.add(parent)
        try:
            link(src, dst)
            linked += 1
        except OSError:
            linked += link_or_copy(src, dst, made)
    return linked


def _fields(stream: BinaryIO) -> Iterator[bytes]:
    read = getattr(stream, "read1", stream.read)
    rest = b""
    while chunk := read(1 << 20):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts


def _serve() -> int:
    out = sys.stdout.buffer
    fields = iter(_fields(sys.stdin.buffer))
    for field in fields:
        if field[:1] != b"T":
            out.write(b"ERR protocol: expected a tree, got %r\n" % field[:40])
            return 2
        staging = os.fsdecode(field[1:])
        counted = [0]  # files of this tree read so far

        def pairs(staging: str = staging, counted: list[int] = counted) -> Iterator[tuple[str, str]]:
            src = ""  # linked as they arrive: a big tree streams through
            for f in fields:
                if f == b"E":
                    return
                if f[:1] == b"S":
                    src = os.fsdecode(f[1:])
                else:
                    counted[0] += 1
                    yield src, f"{staging}/{os.fsdecode(f[1:])}"

        error = None
        linked = 0
        items = pairs()
        try:
            os.mkdir(staging)
            linked = link_tree(items)
        except OSError as exc:
            error = f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
            for _ in items:  # the rest of this tree's fields
                pass
        if error is None:
            out.write(b"OK %d %d\n" % (linked, counted[0] - linked))
        else:
            out.write(b"ERR " + error.replace("\n", " ")[:2000].encode("utf-8", "replace") + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
