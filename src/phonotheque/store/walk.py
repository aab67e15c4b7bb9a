"""Safe, deterministic walk over the paths handed to ``ingest``.

* Directories are walked recursively; symlinks (to files and directories) are followed once:
  a directory reached twice (a loop, or two links to one tree) is entered once, and a file
  reached through several names is listed once (de-duplicated by ``(st_dev, st_ino)``), under
  its preferred name: a path that goes through no symlink, else the smallest path.
* Hidden and system files are skipped (``.*``, ``._*``, ``.DS_Store``, ``Thumbs.db``,
  ``desktop.ini``); inside directories only audio extensions are taken (``AUDIO_EXTENSIONS``),
  while a file named explicitly (on the command line or in a list) is always taken.
* ``@list.txt`` reads a file list: one path per line, relative paths relative to the list.
* Any filename bytes work: paths are ``str`` with undecodable bytes as surrogate escapes
  (``os.fsdecode``), and :func:`printable` gives the form stored in the catalog and shown.
* The output is sorted, so two runs over the same tree list the same files in the same order.

Problems (a missing path, a broken link, a permission error) are returned, not raised, so the
run goes on and reports them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {
        ".aac", ".ac3", ".aif", ".aifc", ".aiff", ".alac", ".ape", ".au", ".caf", ".dsf", ".dff",
        ".flac", ".it", ".m4a", ".m4b", ".mka", ".mod", ".mp1", ".mp2", ".mp3", ".mp4", ".mpc",
        ".oga", ".ogg", ".opus", ".ra", ".s3m", ".shn", ".spx", ".tak", ".tta", ".w64", ".wav",
        ".webm", ".wma", ".wv", ".xm", ".mtm", ".669", ".umx",
    }
)  # fmt: skip
SYSTEM_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})


@dataclass(frozen=True)
class WalkedFile:
    path: str            # absolute, not resolved through symlinks; may hold surrogate escapes
    display: str         # printable form (what the catalog stores)
    size: int
    mtime_ns: int


@dataclass
class WalkResult:
    files: list[WalkedFile] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)   # (printable path, reason)
    skipped: int = 0                                                  # hidden/system/non-audio entries


def printable(path: str | Path) -> str:
    """A valid-UTF-8, single-line form of a path: undecodable bytes and control characters as
    ``\\xNN`` escapes. Equal for equal paths; readable for ordinary names."""
    raw = os.fsencode(path)
    text = raw.decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return text


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name.casefold() in SYSTEM_NAMES


def read_list(list_path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Paths in a file list (one a line; blank lines and ``#`` comments ignored)."""
    try:
        with open(list_path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return [], [(printable(list_path), f"cannot read file list: {exc.strerror or exc}")]
    base = os.path.dirname(os.path.abspath(list_path))
    out: list[str] = []
    for raw in data.splitlines():
        line = raw.rstrip(b"\r")
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        entry = os.fsdecode(line)
        out.append(entry if os.path.isabs(entry) else os.path.join(base, entry))
    return out, []


def walk(
    paths: Iterable[str | Path],
    *,
    extensions: frozenset[str] = AUDIO_EXTENSIONS,
    exclude: Iterable[str | Path] = (),
) -> WalkResult:
    """Every file under ``paths`` once, sorted by path (see the module docstring).

    Directories in ``exclude`` (e.g. the archive itself) are never entered."""
    result = WalkResult()
    excluded: set[tuple[int, int]] = set()
    for ex in exclude:
        try:
            est = os.stat(ex)
            excluded.add((est.st_dev, est.st_ino))
        except OSError:
            pass
    # (dev, ino) -> (rank, path, size, mtime); rank 0 = no symlink on the way, 1 = through a symlink
    found: dict[tuple[int, int], tuple[int, str, int, int]] = {}
    # (dev, ino) -> best (rank, path) a directory was entered by; re-entered only by a better one,
    # which makes the result independent of visiting order and ends symlink loops (a loop's path
    # is longer than, and ranks no better than, the path it loops back to)
    seen_dirs: dict[tuple[int, int], tuple[int, str]] = {}

    def offer(path: str, st: os.stat_result, via_link: bool) -> None:
        key = (st.st_dev, st.st_ino)
        cand = (1 if via_link else 0, path, st.st_size, st.st_mtime_ns)
        old = found.get(key)
        if old is None or cand[:2] < old[:2]:
            found[key] = cand

    def visit_dir(top: str, via_link: bool) -> None:
        stack = [(top, via_link)]
        while stack:
            directory, link = stack.pop()
            try:
                st = os.stat(directory)
            except OSError as exc:
                result.problems.append((printable(directory), f"cannot read directory: {exc.strerror or exc}"))
                continue
            key = (st.st_dev, st.st_ino)
            if key in excluded:
                result.skipped += 1
                continue
            rank = (1 if link else 0, directory)
            old = seen_dirs.get(key)
            if old is not None and old <= rank:
                continue
            seen_dirs[key] = rank
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                result.problems.append((printable(directory), f"cannot read directory: {exc.strerror or exc}"))
                continue
            for entry in entries:
                if is_hidden(entry.name):
                    result.skipped += 1
                    continue
                is_link = entry.is_symlink()
                try:
                    est = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    reason = "broken symlink" if is_link else f"cannot stat: {exc.strerror or exc}"
                    result.problems.append((printable(entry.path), reason))
                    continue
                if stat.S_ISDIR(est.st_mode):
                    stack.append((entry.path, link or is_link))
                elif stat.S_ISREG(est.st_mode):
                    if os.path.splitext(entry.name)[1].lower() in extensions:
                        offer(entry.path, est, link or is_link)
                    else:
                        result.skipped += 1
                else:
                    result.skipped += 1

    queue: list[str] = []
    for p in paths:
        s = os.fspath(p)
        if s.startswith("@") and not os.path.exists(s):
            listed, problems = read_list(s[1:])
            queue.extend(listed)
            result.problems.extend(problems)
        else:
            queue.append(s)
    for s in queue:
        path = os.path.abspath(s)
        try:
            st = os.stat(path)
        except OSError as exc:
            reason = "broken symlink" if os.path.islink(path) else f"cannot read: {exc.strerror or exc}"
            result.problems.append((printable(path), reason))
            continue
        if stat.S_ISDIR(st.st_mode):
            visit_dir(path, os.path.islink(path))
        elif stat.S_ISREG(st.st_mode):
            offer(path, st, os.path.islink(path))
        else:
            result.problems.append((printable(path), "not a regular file or directory"))
    files = sorted(found.values(), key=lambda c: os.fsencode(c[1]))
    result.files = [WalkedFile(path=p, display=printable(p), size=size, mtime_ns=mt) for _, p, size, mt in files]
    return result
