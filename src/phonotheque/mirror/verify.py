"""Verify a full or partial mirror against a release's published artifacts.

``verify(mirror_dir, release_dir=… | torrent_list=…)`` reads the torrent list, the .torrent files
and the file index, walks the mirror once (reading nothing but directory entries), matches every
expected file to what is on disk — exactly, or renamed only in case / Unicode normalization — and
checks the held files in a process pool, largest first so a big file never waits behind small
ones. Full mode hashes every byte once (SHA-256 + v2 merkle root); quick mode checks sizes and a
deterministic sample of pieces. Nothing in the mirror is ever written, renamed or deleted.

A mirror holding a few torrents of a large release is normal: torrents with no file present are
"not held" and summarised in one line; partially held torrents list what they miss.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import stat
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from phonotheque.errors import MirrorError
from phonotheque.mirror.artifacts import (
    FileIndex,
    ListedTorrent,
    TorrentList,
    load_index,
    load_torrent_list,
    release_paths,
)
from phonotheque.mirror.check import QUICK_PIECES, CheckResult, FileCheck, check_file, init_worker
from phonotheque.units import format_size

DAMAGED = ("corrupt", "truncated", "too_long", "unreadable", "unverified")
Progress = Callable[..., None]


@dataclass
class Entry:
    """One thing found in the mirror tree."""

    kind: str                       # file | dir | special | broken
    size: int = 0
    reason: str = ""


@dataclass
class FileFinding:
    torrent: str
    path: str                       # inside the torrent root
    mirror_path: str                # expected, relative to MIRROR_DIR
    status: str                     # ok | missing | corrupt | truncated | too_long | unreadable | unverified
    size: int
    actual_size: int | None = None
    actual_path: str | None = None  # set when held under another name
    renamed: str | None = None      # case | unicode | case+unicode
    reason: str = ""
    bad_pieces: list[int] = field(default_factory=list)
    checked: str = ""
    sha256: str | None = None
    tracks: tuple[str, ...] = ()


@dataclass
class TorrentReport:
    name: str
    kind: str
    batch: int
    state: str                      # complete | partial | not_held | unverifiable
    files: int
    files_present: int
    files_ok: int
    bytes: int
    bytes_ok: int
    listens_share: float
    error: str | None = None
    problems: list[FileFinding] = field(default_factory=list)   # present but not intact, or renamed
    missing: list[str] = field(default_factory=list)            # only for partially held torrents

    @property
    def intact(self) -> bool:
        return not any(p.status in DAMAGED for p in self.problems)


@dataclass
class VerifyReport:
    mirror_dir: str
    torrent_list: str
    index: str | None
    mode: str                       # full | quick
    torrents: list[TorrentReport]
    extra: list[str]
    warnings: list[str]
    files_total: int
    files_present: int
    files_ok: int
    bytes_total: int
    bytes_ok: int
    bytes_read: int
    tracks_total: int
    tracks_preserved: int
    listens_total: float
    listens_preserved: float
    listens_share: float
    listens_source: str             # index | torrent list
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every file present is intact (missing and extra files do not count)."""
        return all(t.intact for t in self.torrents)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.torrents:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["held"] = self.counts()
        for t, td in zip(self.torrents, d["torrents"], strict=True):
            td["intact"] = t.intact
        return d


# -- scanning -------------------------------------------------------------------------------------
def scan_mirror(root: Path) -> tuple[dict[str, Entry], list[str]]:
    """Every entry under ``root`` by '/'-separated relative path; symlinks followed, loops cut."""
    entries: dict[str, Entry] = {}
    warnings: list[str] = []
    rst = os.stat(root)
    seen = {(rst.st_dev, rst.st_ino)}
    stack = [("", str(root))]
    while stack:
        rel, abspath = stack.pop()
        try:
            with os.scandir(abspath) as it:
                items = list(it)
        except OSError as exc:
            if not rel:
                raise MirrorError(f"{root}: cannot list the mirror directory ({exc.strerror or exc})") from exc
            warnings.append(f"{rel}: cannot list directory ({exc.strerror or exc})")
            entries[rel] = Entry("special", reason=f"directory cannot be listed ({exc.strerror or exc})")
            continue
        for item in items:
            name = item.name
            r = f"{rel}/{name}" if rel else name
            try:
                st = item.stat(follow_symlinks=True)
            except FileNotFoundError:
                entries[r] = Entry("broken", reason="broken symbolic link")
                continue
            except OSError as exc:
                entries[r] = Entry("special", reason=exc.strerror or str(exc))
                continue
            if stat.S_ISDIR(st.st_mode):
                entries[r] = Entry("dir", reason="is a directory, not a file")
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    stack.append((r, item.path))
            elif stat.S_ISREG(st.st_mode):
                entries[r] = Entry("file", st.st_size)
            else:
                kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device"
                entries[r] = Entry("special", reason=f"is {kind}, not a file")
    return entries, warnings


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def fold(path: str) -> str:
    """The key two names share when they differ only in case or Unicode normalization."""
    return unicodedata.normalize("NFC", path).casefold()


def rename_kind(expected: str, actual: str) -> str:
    if unicodedata.normalize("NFC", expected) == unicodedata.normalize("NFC", actual):
        return "unicode"
    if expected.casefold() == actual.casefold():
        return "case"
    return "case+unicode"


# -- expected files ---------------------------------------------------------------------------------
@dataclass
class _Expected:
    torrent: ListedTorrent
    check: FileCheck
    path: str
    mirror_path: str
    index_key: tuple[str, str] | None = None


def _expected_files(tl: TorrentList, index: FileIndex | None, quick: bool,
                    mirror: Path, sha256: bool = False) -> tuple[list[_Expected], dict[str, ListedTorrent]]:
    """Files every torrent puts in the mirror; a torrent without a usable .torrent falls back to the index."""
    out: list[_Expected] = []
    unverifiable: dict[str, ListedTorrent] = {}
    indexed = _by_torrent(index) if index is not None else {}
    for t in tl.torrents:
        if t.meta is not None:
            for f in t.meta.files:
                check = FileCheck(
                    key=len(out), path=str(mirror / f.mirror_path), size=f.size, piece_size=t.meta.piece_size,
                    v2_root=f.v2_root, v2_layer=f.v2_layer, v1_pieces=f.v1_pieces, v1_padded=f.v1_padded,
                    quick=quick, label=f.mirror_path, whole_sha256=sha256,
                )
                out.append(_Expected(t, check, f.path, f.mirror_path))
        elif index is not None and indexed.get(t.name):
            for p in sorted(indexed[t.name]):
                ientry = index.files[(t.name, p)]
                mp_ = f"{t.name}/{p}"
                check = FileCheck(key=len(out), path=str(mirror / mp_), size=ientry.size, piece_size=1 << 20,
                                  sha256=ientry.sha256, quick=quick, label=mp_)
                out.append(_Expected(t, check, p, mp_))
        else:
            unverifiable[t.name] = t
    return out, unverifiable


def _by_torrent(index: FileIndex) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t_name, p in index.files:
        out.setdefault(t_name, []).append(p)
    return out


def _apply_index(expected: list[_Expected], findings: dict[int, FileFinding], results: dict[int, CheckResult],
                 index: FileIndex, warnings: list[str]) -> None:
    """Tracks and sha256 from the file index: compared with the sha256 the workers computed while hashing."""
    indexed = _by_torrent(index)
    known: dict[str, set[str]] = {}
    for e in expected:
        t = e.torrent
        paths = indexed.get(t.name, [])
        ipath = e.path
        if t.meta is not None and t.meta.single_file and (t.name, ipath) not in index.files and len(paths) == 1:
            ipath = paths[0]
        known.setdefault(t.name, set()).add(ipath)
        ientry = index.files.get((t.name, ipath))
        if ientry is None:
            continue
        f = findings[e.check.key]
        f.tracks, f.sha256 = ientry.tracks, ientry.sha256
        if ientry.size != e.check.size:
            warnings.append(f"{e.mirror_path}: file index says {ientry.size} bytes, the torrent {e.check.size}")
        r = results.get(e.check.key)
        if r is None or r.sha256 is None or ientry.sha256 is None or e.check.sha256 is not None:
            continue  # not read whole (quick sample, missing, damaged) or already compared in the worker
        if f.status not in ("ok", "corrupt", "unverified"):
            continue
        was_unverified = f.status == "unverified"
        f.checked = "sha256" if was_unverified else f"{f.checked}+sha256"
        if r.sha256 != ientry.sha256:
            earlier = "" if was_unverified else f.reason
            f.status = "corrupt"
            f.reason = "; ".join(x for x in (earlier, "sha256 differs from the file index") if x)
        elif was_unverified:
            f.status, f.reason = "ok", ""
    for t_name, paths in indexed.items():
        stray = [p for p in paths if p not in known.get(t_name, set())]
        if stray and t_name in known:
            warnings.append(f"{t_name}: file index lists {len(stray)} file(s) not in the torrent, e.g. {stray[0]}")


# -- running the checks -----------------------------------------------------------------------------
def _planned_read(c: FileCheck) -> int:
    if c.quick and c.size > c.piece_size and (c.v2_layer or c.v1_pieces):
        return min(QUICK_PIECES * c.piece_size, c.size)
    return c.size


class _LocalCounter:
    """The in-process stand-in for a shared multiprocessing.Value (no semaphore, no helper process)."""

    def __init__(self) -> None:
        self.value = 0

    def get_lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def run_checks(checks: list[FileCheck], *, workers: int | None, progress: Progress | None,
               warnings: list[str] | None = None, during: Callable[[], None] | None = None) -> dict[int, CheckResult]:
    """Check files in a process pool (largest first); ``progress(n, total=…)`` advances in bytes.

    ``during()`` runs once in this process while the workers hash (the first tasks are queued before).
    ``workers=1`` checks in this process. If worker processes cannot be started (a sandbox without
    semaphores, an interpreter the user may not execute), the rest is checked in this process.
    Workers are forked where the platform can (instant start, nothing re-imported); they only hash
    files and touch no lock or thread of the parent.
    """
    results: dict[int, CheckResult] = {}
    if not checks:
        return results
    total = sum(_planned_read(c) for c in checks)
    if progress is not None:
        progress(0, total=total)
    order = sorted(checks, key=lambda c: (-_planned_read(c), c.key))
    nworkers = max(1, min(workers or os.cpu_count() or 1, len(order)))
    counter: Any = _LocalCounter()
    reported = 0

    def tick() -> None:
        nonlocal reported
        if progress is not None:
            now = counter.value
            if now > reported:
                progress(now - reported)
                reported = now

    if nworkers > 1:
        try:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            counter = ctx.Value("q", 0)
            _run_pool(order, nworkers, ctx, counter, results, tick, during)
            return results
        except (OSError, BrokenProcessPool) as exc:
            if warnings is not None:
                warnings.append(f"worker processes failed ({exc}); checked the rest in one process")
            done = counter.value
            counter = _LocalCounter()
            counter.value = reported = done
    if during is not None:
        during()
    init_worker(counter)
    try:
        for c in order:
            if c.key not in results:
                results[c.key] = check_file(c)
                tick()
    finally:
        init_worker(None)
    return results


def _run_pool(order: list[FileCheck], nworkers: int, ctx: Any, counter: Any, results: dict[int, CheckResult],
              tick: Callable[[], None], during: Callable[[], None] | None) -> None:
    finished: queue.SimpleQueue[Future[CheckResult]] = queue.SimpleQueue()  # O(1) per completion
    with ProcessPoolExecutor(nworkers, mp_context=ctx, initializer=init_worker, initargs=(counter,)) as pool:
        it = iter(order)
        inflight = 0

        def submit() -> bool:
            nonlocal inflight
            nxt = next(it, None)
            if nxt is None:
                return False
            pool.submit(check_file, nxt).add_done_callback(finished.put)
            inflight += 1
            return True

        try:
            # enough queued work to keep the workers busy while ``during`` runs in this process
            while inflight < 256 and submit():
                pass
            if during is not None:
                during()
            while inflight:
                try:
                    fut = finished.get(timeout=0.2)
                except queue.Empty:
                    tick()
                    continue
                inflight -= 1
                r = fut.result()
                results[r.key] = r
                submit()
                tick()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    tick()


# -- the verify entry point ------------------------------------------------------------------------
def verify(
    mirror_dir: str | Path,
    *,
    release_dir: str | Path | None = None,
    torrent_list: str | Path | None = None,
    quick: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    sha256: bool = False,
) -> VerifyReport:
    """Check a mirror against a release's torrent list, torrents and file index (read-only).

    Full mode checks every byte against the v2 pieces root (a SHA-256 merkle tree over 16 KiB
    blocks), or the v1 piece hashes plus the index's SHA-256 for v1-only torrents. ``sha256=True``
    also computes each file's whole SHA-256 and compares it with the file index.
    """
    started = time.monotonic()
    mirror = Path(mirror_dir)
    if not mirror.exists():
        raise MirrorError(f"{mirror}: no such mirror directory")
    if not mirror.is_dir():
        raise MirrorError(f"{mirror}: is a file, not a mirror directory")
    if workers is not None and workers < 1:
        raise MirrorError(f"--workers must be at least 1, got {workers}")
    if release_dir is None and torrent_list is None and (mirror / "torrents.json").is_file():
        torrent_list = mirror / "torrents.json"
    list_path, index_path = release_paths(release_dir, torrent_list)
    tl = load_torrent_list(list_path)
    warnings: list[str] = [t.error for t in tl.torrents if t.error]
    # the index only adds sha256 and tracks: read it while the workers hash, unless a torrent needs it
    # now (its .torrent is unusable, so its files are known from the index alone)
    defer = all(t.meta is not None for t in tl.torrents)
    index: FileIndex | None = None if defer else load_index(index_path)
    expected, unverifiable = _expected_files(tl, index, quick, mirror, sha256)
    try:
        found, scan_warnings = scan_mirror(mirror)
    except OSError as exc:
        raise MirrorError(f"{mirror}: cannot read the mirror directory ({exc.strerror or exc})") from exc
    warnings.extend(scan_warnings)

    # match expected files to what is on disk: exactly, then by folded name
    findings: dict[int, FileFinding] = {}
    taken: set[str] = set()
    to_check: list[FileCheck] = []
    folded: dict[str, list[str]] = {}
    expected_names = {e.mirror_path for e in expected}
    for rel, entry in found.items():
        if rel not in expected_names and entry.kind != "dir":
            folded.setdefault(fold(rel), []).append(rel)
    unlistable = {rel for rel, entry in found.items() if entry.reason.startswith("directory cannot be listed")}
    for e in expected:
        c = e.check
        f = FileFinding(e.torrent.name, e.path, e.mirror_path, "missing", c.size, sha256=c.sha256)
        findings[c.key] = f
        actual = e.mirror_path if e.mirror_path in found else None
        if actual is None:
            cands = [r for r in folded.get(fold(e.mirror_path), []) if r not in taken]
            if cands:
                sized = [r for r in cands if found[r].kind == "file" and found[r].size == c.size]
                actual = sorted(sized or cands)[0]
                f.actual_path = actual
                f.renamed = rename_kind(e.mirror_path, actual)
        if actual is None:
            blocked = next((d for d in _parents(e.mirror_path) if d in unlistable), None)
            if blocked is not None:  # present or not, nobody can tell: its directory cannot be listed
                f.status, f.reason = "unreadable", f"in {blocked}: {found[blocked].reason}"
            continue
        taken.add(actual)
        entry = found[actual]
        if entry.kind != "file":
            f.status, f.reason = "unreadable", entry.reason
            continue
        f.actual_size = entry.size
        to_check.append(replace(c, path=str(mirror / actual)) if f.actual_path else c)

    loaded: list[FileIndex] = []
    results = run_checks(to_check, workers=workers, progress=progress, warnings=warnings,
                         during=lambda: loaded.append(load_index(index_path)))
    index = index or (loaded[0] if loaded else load_index(index_path))
    if index.path is None:
        warnings.append(f"{index_path}: no file index; sha256 and track listens are not checked")
    for key, r in results.items():
        f = findings[key]
        f.status, f.reason, f.bad_pieces, f.checked = r.status, r.reason, r.bad_pieces, r.checked
        if r.actual_size is not None:
            f.actual_size = r.actual_size
    _apply_index(expected, findings, results, index, warnings)

    extra = sorted(
        rel for rel, entry in found.items()
        if entry.kind != "dir" and rel not in taken and rel not in expected_names
    )
    root = mirror.resolve()
    if list_path.resolve().is_relative_to(root):  # the release artifacts sit inside the mirror: not extra
        artifacts = {list_path.resolve(), index_path.resolve(), index_path.with_name("files.csv.zst").resolve()}
        artifacts |= {(list_path.parent / t.torrent).resolve() for t in tl.torrents}
        extra = [rel for rel in extra if (mirror / rel).resolve() not in artifacts]
    return _assemble(mirror, tl, index, expected, findings, unverifiable, extra, warnings, quick, results,
                     list_path, started)


def _assemble(mirror: Path, tl: TorrentList, index: FileIndex, expected: list[_Expected],
              findings: dict[int, FileFinding], unverifiable: dict[str, ListedTorrent], extra: list[str],
              warnings: list[str], quick: bool, results: dict[int, CheckResult], list_path: Path,
              started: float) -> VerifyReport:
    per: dict[str, list[FileFinding]] = {}
    for e in expected:
        per.setdefault(e.torrent.name, []).append(findings[e.check.key])
    torrents: list[TorrentReport] = []
    tracks_ok: set[str] = set()
    for t in tl.torrents:
        fs = per.get(t.name, [])
        present = [f for f in fs if f.status != "missing"]
        ok = [f for f in present if f.status == "ok"]
        for f in ok:
            tracks_ok.update(f.tracks)
        if t.name in unverifiable:
            state = "unverifiable"
        elif not present:
            state = "not_held"
        elif len(present) == len(fs):
            state = "complete"
        else:
            state = "partial"
        torrents.append(TorrentReport(
            name=t.name, kind=t.kind, batch=t.batch, state=state, files=len(fs), files_present=len(present),
            files_ok=len(ok), bytes=sum(f.size for f in fs), bytes_ok=sum(f.size for f in ok),
            listens_share=t.listens_share, error=t.error,
            problems=[f for f in present if f.status != "ok" or f.renamed],
            missing=[f.path for f in fs if f.status == "missing"] if state == "partial" else [],
        ))
    if index.path is not None:
        total = index.total_listens
        kept = float(sum(index.track_listens.get(x, 0.0) for x in tracks_ok))
        source = "index"
    else:
        total = float(sum(t.listens for t in tl.torrents))
        kept = float(sum(t.listens for t, r in zip(tl.torrents, torrents, strict=True)
                         if r.state == "complete" and r.intact))
        source = "torrent list"
    all_f = list(findings.values())
    return VerifyReport(
        mirror_dir=str(mirror), torrent_list=str(list_path), index=str(index.path) if index.path else None,
        mode="quick" if quick else "full", torrents=torrents, extra=extra, warnings=warnings,
        files_total=len(all_f), files_present=sum(f.status != "missing" for f in all_f),
        files_ok=sum(f.status == "ok" for f in all_f), bytes_total=sum(f.size for f in all_f),
        bytes_ok=sum(f.size for f in all_f if f.status == "ok"),
        bytes_read=sum(r.bytes_read for r in results.values()),
        tracks_total=len(index.track_listens), tracks_preserved=len(tracks_ok),
        listens_total=total, listens_preserved=kept, listens_share=kept / total if total > 0 else 0.0,
        listens_source=source, seconds=round(time.monotonic() - started, 3),
    )


# -- human summary --------------------------------------------------------------------------------
def summary_lines(report: VerifyReport, *, limit: int = 20) -> list[str]:
    """A short human summary: held torrents, problems (capped), what the mirror preserves."""
    lines: list[str] = []
    counts = report.counts()
    held = [t for t in report.torrents if t.state in ("complete", "partial")]
    lines.append(
        f"{report.mode} verify of {report.mirror_dir}: {len(report.torrents)} torrents in the list — "
        + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
    )
    for t in held:
        mark = "ok" if t.intact else "DAMAGED"
        lines.append(
            f"  {t.name} (batch {t.batch}): {t.state}, {t.files_ok}/{t.files} files intact, "
            f"{format_size(t.bytes_ok)} of {format_size(t.bytes)} — {mark}"
        )
    not_held = [t for t in report.torrents if t.state == "not_held"]
    if not_held:
        lines.append(
            f"  not held: {len(not_held)} torrents, {format_size(sum(t.bytes for t in not_held))}, "
            f"{100 * sum(t.listens_share for t in not_held):.1f} % of listens"
        )
    problems = [(t, p) for t in report.torrents for p in t.problems]
    shown = 0
    for _t, p in problems:
        if shown >= limit:
            break
        where = p.mirror_path + (f" (held as {p.actual_path}: renamed, {p.renamed})" if p.renamed else "")
        status = "renamed" if p.status == "ok" else p.status
        lines.append(f"  {status}: {where}" + (f" — {p.reason}" if p.reason else ""))
        shown += 1
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more findings (see --json)")
    for t in report.torrents:
        if t.missing:
            head = ", ".join(t.missing[:3]) + (" …" if len(t.missing) > 3 else "")
            lines.append(f"  missing from {t.name}: {len(t.missing)} of {t.files} files ({head})")
        if t.state == "unverifiable":
            lines.append(f"  unverifiable: {t.name}: {t.error}")
    renamed = sum(1 for _t, p in problems if p.renamed)
    if renamed:
        lines.append(f"  {renamed} file(s) held under a name differing in case or Unicode normalization: "
                     "rename them to the torrent's names before seeding")
    if report.extra:
        head = ", ".join(report.extra[:3]) + (" …" if len(report.extra) > 3 else "")
        lines.append(f"  extra: {len(report.extra)} files not in any torrent ({head})")
    for w in report.warnings[:limit]:
        lines.append(f"  warning: {w}")
    tracks = f"{report.tracks_preserved} of {report.tracks_total} tracks, " if report.tracks_total else ""
    lines.append(
        f"preserves {report.files_ok} of {report.files_total} files, {tracks}{format_size(report.bytes_ok)} of "
        f"{format_size(report.bytes_total)}, {100 * report.listens_share:.2f} % of the release's listens"
        + ("" if report.listens_source == "index" else " (from the torrent list)")
    )
    damaged = sum(1 for _t, p in problems if p.status in DAMAGED)
    lines.append("result: everything present is intact" if report.ok
                 else f"result: {damaged} file(s) present but not intact")
    return lines
