"""``package``: turn planned, stored files into a progressive release of reproducible torrents.

Order of work (nothing is written before every check passed):

1. read the plan (release order), the exclusion list and what is already published;
2. pick the stored file that serves each remaining track (see :mod:`phonotheque.release.select`) and
   ``stat()`` every one of them: a missing or changed file stops the run with the full list;
3. cut the files into batches of about ``target_size`` in release order, give each file a portable path
   (:mod:`phonotheque.release.paths`) and build each torrent from the hashes stored at ingest
   (:mod:`phonotheque.release.torrent`) — no audio byte is read;
4. replace every *unpublished* torrent of the release in one transaction, committed only once the seeding
   trees (hard links into the store) are made: a helper process (:mod:`phonotheque.release.linker`) links
   them under hidden temporary names on the other core during steps 3-4, and a tree that cannot be made
   rolls the transaction back. The file index is written meanwhile, under temporary names. Then write the
   ``.torrent`` files, the metadata torrents, the torrent list and the release notes, and put the index and
   the trees in place. Published torrents are never touched.

Running it again with the same inputs gives the same infohashes; after ``release publish`` it prepares
the next batches only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phonotheque.archive import Archive
from phonotheque.errors import NotFoundError, PlanError, ReleaseError
from phonotheque.release import outputs
from phonotheque.release.bencode import decode, encode
from phonotheque.release.link_worker import link_or_copy
from phonotheque.release.linker import TreeLinker
from phonotheque.release.paths import MAX_PATH_UNITS, PathMaker, unique_paths, units
from phonotheque.release.select import (
    PlannedTrack,
    StoredFile,
    check_store,
    excluded_tracks,
    load_hashes,
    planned_tracks,
    shipped_files,
    total_planned_listens,
)
from phonotheque.release.torrent import (
    VERSIONS,
    BuiltTorrent,
    Entry,
    build_torrent,
    parse_trackers,
    parse_web_seeds,
)
from phonotheque.store.hashing import hash_file
from phonotheque.units import format_size, parse_size

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
Progress = Callable[..., None]


@dataclass
class TorrentSummary:
    name: str
    kind: str
    content: str
    batch: int
    infohash_v1: str | None
    infohash_v2: str | None
    size: int
    padded_size: int
    file_count: int
    tracks: int


@dataclass
class PackageResult:
    release: str
    release_dir: str
    version: str
    piece_size: int
    target_size: int
    torrents: list[TorrentSummary] = field(default_factory=list)
    published_kept: int = 0
    tracks_planned: int = 0
    tracks_packaged: int = 0
    tracks_pending: int = 0
    tracks_excluded: int = 0
    size: int = 0
    padded_size: int = 0
    links: int = 0
    copies: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def padding_overhead(self) -> float:
        return (self.padded_size - self.size) / self.size if self.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["padding_overhead"] = self.padding_overhead
        return d


def check_release_name(release: str) -> str:
    if not NAME_RE.match(release or ""):
        raise ReleaseError(f"release name {release!r}: use 1-64 letters, digits, '.', '_' or '-' "
                           "(starting with a letter or digit)")
    return release


def _ext(f: StoredFile) -> str:
    return f.ext or os.path.splitext(f.store_path)[1]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Batch:
    number: int
    files: list[int]
    built: BuiltTorrent | None = None
    paths: dict[int, tuple[str, ...]] = field(default_factory=dict)
    staging: Path = Path()  # its seeding tree, under a hidden name until the database has the torrent


def _cut_batches(order: list[int], files: dict[int, StoredFile], target: int, ps: int, first: int,
                 warnings: list[str]) -> list[_Batch]:
    batches: list[_Batch] = []
    cur: list[int] = []
    cur_size = 0
    oversized: list[int] = []
    for fid in order:
        padded = files[fid].size + (-files[fid].size) % ps
        if padded > target:
            oversized.append(files[fid].size)
            if cur:
                batches.append(_Batch(first + len(batches), cur))
                cur, cur_size = [], 0
            batches.append(_Batch(first + len(batches), [fid]))
            continue
        if cur and cur_size + padded > target:
            batches.append(_Batch(first + len(batches), cur))
            cur, cur_size = [], 0
        cur.append(fid)
        cur_size += padded
    if cur:
        batches.append(_Batch(first + len(batches), cur))
    if oversized:
        warnings.append(f"{len(oversized)} file(s) are larger than the target size {format_size(target)} "
                        f"(largest {format_size(max(oversized))}): each got a torrent of its own")
    return batches


def package(
    archive: Archive,
    *,
    release: str,
    target_size: int | str | None = None,
    version: str | None = None,
    trackers: str | Sequence[str] | None = None,
    web_seeds: str | Sequence[str] | None = None,
    metadata: bool = True,
    progress: Progress | None = None,
) -> PackageResult:
    """Prepare the next batches of release ``release`` (see the module docstring).

    ``metadata=False`` skips the metadata torrents (catalog snapshot, Parquet export, patches) in this run:
    published ones stay, unpublished ones are dropped (they would no longer describe the release).
    """
    started = time.perf_counter()
    clock = [started]

    def lap(phase: str) -> None:
        now = time.perf_counter()
        result.timings[phase] = result.timings.get(phase, 0.0) + now - clock[0]
        clock[0] = now

    check_release_name(release)
    settings = archive.settings
    target = parse_size(target_size if target_size is not None else settings["release.target_size"],
                        what="target size", allow_zero=False)
    version = version or settings["release.version"]
    if version not in VERSIONS:
        raise ReleaseError(f"torrent version {version!r}: must be one of {', '.join(VERSIONS)}")
    tiers = parse_trackers(trackers if trackers is not None else (settings["release.trackers"] or None))
    seeds = parse_web_seeds(web_seeds if web_seeds is not None else (settings["release.web_seeds"] or None))
    ps: int = settings["store.piece_size"]
    if target < ps:
        raise ReleaseError(f"target size {format_size(target)} is smaller than one piece ({format_size(ps)}); "
                           "use a target of at least the piece size (e.g. 1TB)")
    rel_dir = archive.releases_dir / release
    result = PackageResult(release=release, release_dir=str(rel_dir), version=version, piece_size=ps,
                           target_size=target)
    # A helper process links the seeding trees into hidden staging directories while this process builds the
    # torrents and writes the database; started first, its start-up (~15 ms) overlaps reading the plan.
    run = _Run(archive, release, rel_dir, target, version, ps, tiers, seeds, metadata, TreeLinker(archive.root),
               result, lap, progress or (lambda *a, **k: None))
    lap("open")
    try:
        _package(run)
    except BaseException:
        run.linker.discard()  # no half-built staging directory stays behind a failed run
        raise
    finally:
        run.linker.close()
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class _Run:
    """What one packaging run works with."""

    archive: Archive
    release: str
    rel_dir: Path
    target: int
    version: str
    ps: int
    tiers: list[list[str]]
    seeds: list[str]
    metadata: bool
    linker: TreeLinker
    result: PackageResult
    lap: Callable[[str], None]
    advance: Progress


def _package(run: _Run) -> None:
    archive, release, rel_dir, ps, result, lap = run.archive, run.release, run.rel_dir, run.ps, run.result, run.lap
    conn = archive.conn
    tracks = planned_tracks(conn)
    if not tracks:
        raise PlanError("the plan is empty: no track is planned for release (run `phonotheque plan --budget ...`)")
    result.tracks_planned = len(tracks)
    excluded = excluded_tracks(conn)
    published = conn.execute(
        "SELECT rt.track_id, rt.file_id, t.id, rt.path, t.batch, t.kind FROM release_tracks rt "
        "JOIN torrents t ON t.id = rt.torrent_id WHERE rt.release_name = ? AND t.published_at IS NOT NULL",
        (release,),
    ).fetchall()
    done = {r[0] for r in published}
    placed = {r[1]: (r[2], r[3]) for r in published}
    row = conn.execute("SELECT max(batch), count(*) FROM torrents WHERE release_name = ? AND kind = 'audio' "
                       "AND published_at IS NOT NULL", (release,)).fetchone()
    next_batch, result.published_kept = (row[0] or 0) + 1, row[1]
    lap("plan")
    remaining = [t for t in tracks if t.track_id not in done and t.track_id not in excluded]
    result.tracks_excluded = sum(1 for t in tracks if t.track_id in excluded and t.track_id not in done)
    shipped = shipped_files(conn, remaining)
    ready = [t for t in remaining if t.track_id in shipped]
    result.tracks_pending = len(remaining) - len(ready)
    if not ready and not done:
        raise ReleaseError(f"none of the {len(remaining)} planned track(s) has its file in the store yet "
                           "(run `phonotheque ingest` / `phonotheque transcode` first)")

    # files new to this run, in the release order of their first track
    first_track: dict[int, PlannedTrack] = {}
    tracks_of: dict[int, list[PlannedTrack]] = {}
    new_files: dict[int, StoredFile] = {}
    for t in ready:
        f = shipped[t.track_id]
        tracks_of.setdefault(f.file_id, []).append(t)
        if f.file_id not in placed and f.file_id not in new_files:
            new_files[f.file_id] = f
            first_track[f.file_id] = t
    lap("files")
    check_store(archive, list(new_files.values()), ps)
    lap("stat")

    batches = _cut_batches(list(new_files), new_files, run.target, ps, next_batch, result.warnings)
    run.advance(0, total=len(batches) + 2, description=f"building {len(batches)} torrent(s)")
    _clear_staging(rel_dir)
    makers: dict[int, PathMaker] = {}
    for b in batches:
        name = f"{release}-audio-{b.number:04d}"
        budget = MAX_PATH_UNITS - units(name) - 1
        make = makers.get(budget) or makers.setdefault(budget, PathMaker(budget))
        raw = {}
        for fid in b.files:
            t = first_track[fid]
            raw[t.track_id] = make(t.names, _ext(new_files[fid]))
        unique = unique_paths(raw, max_units=budget)
        b.paths = {fid: unique[first_track[fid].track_id] for fid in b.files}
        b.staging = rel_dir / "data" / f".{name}.partial"
        run.linker.link(b.staging, [(new_files[fid].store_path, "/".join(b.paths[fid])) for fid in b.files])
        lap("paths")
        hashes = load_hashes(conn, b.files)
        entries = [Entry(b.paths[fid], new_files[fid].size, *hashes[fid]) for fid in b.files]
        lap("hashes")
        b.built = build_torrent(name, entries, piece_size=ps, version=run.version, trackers=run.tiers,
                                web_seeds=run.seeds)
        lap("bencode")
        run.advance(1)
    _write_and_place(run, batches, tracks_of, new_files, shipped, placed)


def _write_and_place(run: _Run, batches: list[_Batch], tracks_of: dict[int, list[PlannedTrack]],
                     new_files: dict[int, StoredFile], shipped: dict[int, StoredFile],
                     placed: dict[int, tuple[int, str]]) -> None:
    """Database (one transaction, committed once the helper has linked every tree; the file index is written
    meanwhile), then .torrent files, metadata torrents, index and list; then the trees are put in place."""
    archive, release, rel_dir, ps, result, lap = run.archive, run.release, run.rel_dir, run.ps, run.result, run.lap
    version, tiers, seeds, linker, advance = run.version, run.tiers, run.seeds, run.linker, run.advance
    conn = archive.conn

    # -- write: database first (one transaction), then files; a re-run converges either way ---------
    created = {r[0]: r[1] for r in conn.execute(
        "SELECT name, created_at FROM torrents WHERE release_name = ?", (release,))}
    today = datetime.now(UTC).date().isoformat()
    # nothing published in this release: its audio torrents are exactly these batches, so the file index is
    # written from them (not read back from the database), under temporary names, while the helper may still
    # be linking; it is put in place with the other files after the commit
    from_batches = not placed and result.published_kept == 0
    index: outputs.IndexWriter | None = None

    def before_commit() -> None:  # inside the transaction: a tree that cannot be made rolls it all back
        nonlocal index
        lap("database")
        if from_batches:
            index = _index_from_batches(rel_dir / "index", batches, tracks_of, new_files, shipped)
            lap("index")
        for b in batches:
            linked = linker.wait(b.staging)
            result.links += linked
            result.copies += len(b.files) - linked
        lap("seeding trees (wait)")

    try:
        _write_database(archive, release, run.target, version, ps, batches, tracks_of, new_files, shipped, placed,
                        created, today, result, before_commit)
    except BaseException:
        if index is not None:
            index.abort()
        raise
    lap("commit")

    keep = {r[0] for r in conn.execute("SELECT name FROM torrents WHERE release_name = ?", (release,))}
    _clean_release_dir(rel_dir, keep)
    repaired = _repair_published_trees(archive, release, rel_dir)
    if repaired:
        result.warnings.append(f"re-linked the seeding tree of {repaired} published torrent(s) that was missing")
    for b in batches:
        assert b.built is not None
        outputs.write_atomic(rel_dir / "torrents" / f"{b.built.name}.torrent", b.built.metainfo, sync=False)
    lap("torrent files")
    advance(1, description="metadata torrents")
    if run.metadata:
        result.torrents.extend(_metadata_torrents(archive, release, batches, new_files, version, tiers, seeds, ps,
                                                  created, today, bool(batches)))
    lap("metadata torrents")
    refresh_release_files(archive, release, sync=False, index=index)
    lap("index, list, notes")
    for b in batches:
        assert b.built is not None
        outputs.replace_dir(b.staging, rel_dir / "data" / b.built.name)
    if result.copies:
        result.warnings.append(f"{result.copies} file(s) copied into the seeding tree: the release directory is "
                               "on another filesystem than the store")
    lap("seeding trees")
    advance(1)


def _write_database(archive: Archive, release: str, target: int, version: str, ps: int, batches: list[_Batch],
                    tracks_of: dict[int, list[PlannedTrack]], new_files: dict[int, StoredFile],
                    shipped: dict[int, StoredFile], placed: dict[int, tuple[int, str]], created: dict[str, str],
                    today: str, result: PackageResult, before_commit: Callable[[], None]) -> None:
    """One transaction: the release row, the new torrents, their files and the tracks they serve; then
    ``before_commit()``, whose exception rolls it all back."""
    with archive.transaction() as c:
        c.execute("INSERT INTO releases(name, created_at, target_size, version) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT(name) DO UPDATE SET target_size = excluded.target_size, version = excluded.version",
                  (release, _now(), target, version))
        _drop_unpublished(c, release)
        for b in batches:
            assert b.built is not None
            bt = b.built
            served = [t for fid in b.files for t in tracks_of[fid]]
            pops = [t.popularity for t in served if t.popularity is not None]
            cur = c.execute(
                "INSERT INTO torrents(release_name, batch, name, kind, content, version, infohash_v1, infohash_v2,"
                " magnet, size, padded_size, piece_size, file_count, popularity_min, popularity_max, listens,"
                " torrent_path, created_at) VALUES (?, ?, ?, 'audio', 'audio', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (release, b.number, bt.name, version, bt.infohash_v1, bt.infohash_v2, bt.magnet, bt.size,
                 bt.padded_size, ps, bt.file_count, min(pops, default=None), max(pops, default=None),
                 sum(t.listens for t in served), f"torrents/{bt.name}.torrent", created.get(bt.name, today)),
            )
            tid = cur.lastrowid
            offsets, paths = bt.offsets, b.paths
            joined = {fid: "/".join(paths[fid]) for fid in b.files}
            c.executemany(
                "INSERT INTO torrent_files(torrent_id, file_id, path, offset, size, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                [(tid, fid, joined[fid], offsets[paths[fid]], new_files[fid].size, new_files[fid].sha256)
                 for fid in b.files],
            )
            c.executemany(
                "INSERT OR REPLACE INTO release_tracks(release_name, track_id, file_id, torrent_id, path,"
                " sha256_original, listens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(release, t.track_id, fid, tid, joined[fid], shipped[t.track_id].sha256_original, t.listens)
                 for fid in b.files for t in tracks_of[fid]],
            )
            result.torrents.append(TorrentSummary(bt.name, "audio", "audio", b.number, bt.infohash_v1,
                                                  bt.infohash_v2, bt.size, bt.padded_size, bt.file_count,
                                                  len(served)))
            result.size += bt.size
            result.padded_size += bt.padded_size
        # new tracks served by a file that is already in a published torrent
        c.executemany(
            "INSERT OR REPLACE INTO release_tracks(release_name, track_id, file_id, torrent_id, path,"
            " sha256_original, listens) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(release, t.track_id, fid, placed[fid][0], placed[fid][1], shipped[t.track_id].sha256_original,
              t.listens) for fid, ts in tracks_of.items() if fid in placed for t in ts],
        )
        before_commit()
    result.tracks_packaged = sum(s.tracks for s in result.torrents)


def _drop_unpublished(c: Any, release: str) -> None:
    ids = "SELECT id FROM torrents WHERE release_name = ? AND published_at IS NULL"
    c.execute(f"DELETE FROM release_tracks WHERE torrent_id IN ({ids})", (release,))
    c.execute(f"DELETE FROM torrent_files WHERE torrent_id IN ({ids})", (release,))
    c.execute(f"DELETE FROM torrents WHERE id IN ({ids})", (release,))


def _clear_staging(rel_dir: Path) -> None:
    """Make the release's directories; remove what an interrupted run left (hidden temporary entries)."""
    for sub in ("torrents", "data", "index"):
        (rel_dir / sub).mkdir(parents=True, exist_ok=True)
        for p in (rel_dir / sub).iterdir():
            if p.name.startswith("."):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _clean_release_dir(rel_dir: Path, keep: set[str]) -> None:
    """Remove torrents and seeding trees of unpublished torrents that are no longer in the release
    (hidden entries are this run's staging directories, or were cleared by :func:`_clear_staging`)."""
    for p in (rel_dir / "torrents").iterdir():
        if not p.name.startswith(".") and p.suffix == ".torrent" and p.stem not in keep:
            p.unlink()
    for p in (rel_dir / "data").iterdir():
        if not p.name.startswith(".") and p.name not in keep:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _index_from_batches(index_dir: Path, batches: list[_Batch], tracks_of: dict[int, list[PlannedTrack]],
                        files: dict[int, StoredFile], shipped: dict[int, StoredFile]) -> outputs.IndexWriter:
    """The file index of a release whose audio torrents are exactly ``batches`` (nothing published yet),
    from the rows this run is writing to the database: the same rows, in the same order, as
    :func:`outputs.write_index` reads back (a test compares them byte for byte)."""
    writer = outputs.IndexWriter(index_dir, batch_rows=outputs.INDEX_BATCH_ROWS)
    try:
        for b in batches:
            bt = b.built
            assert bt is not None
            rows = []
            for fid in b.files:
                f, path = files[fid], b.paths[fid]
                joined, offset = "/".join(path), bt.offsets[path]
                for t in tracks_of[fid]:
                    rows.append((t.track_id, t.isrc, joined, offset, f.size, f.sha256,
                                 shipped[t.track_id].sha256_original, f.tier, t.listens, fid))
            rows.sort(key=lambda r: (r[3], r[0]))  # as the SQL: ORDER BY offset, track id
            constants = (bt.name, bt.infohash_v1, bt.infohash_v2)
            i = 0
            while i < len(rows):
                n = writer.batch_rows - len(writer.columns[0])
                writer.add(constants, rows[i : i + n])
                i += n
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return writer


def _hash_tree(root: Path, ps: int) -> list[Entry]:
    entries = []
    for p in sorted(x for x in root.rglob("*") if x.is_file()):
        h = hash_file(p, ps)
        entries.append(Entry(p.relative_to(root).parts, h.size, h.v1_pieces, h.v1_tail, h.v2_root, h.v2_layer))
    return entries


def _metadata_torrents(archive: Archive, release: str, batches: list[_Batch], files: dict[int, StoredFile],
                       version: str, tiers: list[list[str]], seeds: list[str], ps: int, created: dict[str, str],
                       today: str, new_audio: bool) -> list[TorrentSummary]:
    """Patches torrent per new audio batch (when patches exist) and the catalog torrent."""
    conn = archive.conn
    rel_dir = archive.releases_dir / release
    jobs: list[tuple[str, str, int, Callable[[Path], bool]]] = []
    patch_dir = archive.store_dir / "patches"
    for b in batches:
        patches = [patch_dir / f"{files[fid].sha256}.zstdpatch" for fid in b.files]
        patches = [p for p in patches if p.is_file()]
        if patches:
            def fill_patches(staging: Path, patches: list[Path] = patches) -> bool:
                for p in patches:
                    link_or_copy(str(p), str(staging / p.name))
                return True
            jobs.append((f"{release}-patches-{b.number:04d}", "patches", b.number, fill_patches))
    published_catalogs = conn.execute(
        "SELECT count(*) FROM torrents WHERE release_name = ? AND content = 'catalog' AND published_at IS NOT NULL",
        (release,)).fetchone()[0]
    if new_audio or published_catalogs == 0:
        def fill_catalog(staging: Path) -> bool:
            return outputs.catalog_snapshot(archive, staging / "catalog.sqlite.zst", staging / "parquet",
                                            rel_dir / ".snapshot")
        jobs.append((f"{release}-catalog-{published_catalogs + 1:04d}", "catalog", 0, fill_catalog))
    out = []
    for name, content, batch, fill in jobs:
        staging = rel_dir / "data" / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        fill(staging)
        sums = outputs.sha256sums(staging, [p for p in staging.rglob("*") if p.is_file()])
        (staging / "SHA256SUMS").write_text(sums, encoding="utf-8")
        bt = build_torrent(name, _hash_tree(staging, ps), piece_size=ps, version=version, trackers=tiers,
                           web_seeds=seeds)
        with archive.transaction() as c:
            c.execute("DELETE FROM torrents WHERE name = ? AND published_at IS NULL", (name,))
            cur = c.execute(
                "INSERT INTO torrents(release_name, batch, name, kind, content, version, infohash_v1, infohash_v2,"
                " magnet, size, padded_size, piece_size, file_count, listens, torrent_path, created_at)"
                " VALUES (?, ?, ?, 'metadata', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (release, batch, name, content, version, bt.infohash_v1, bt.infohash_v2, bt.magnet, bt.size,
                 bt.padded_size, ps, bt.file_count, f"torrents/{name}.torrent", created.get(name, today)),
            )
            c.executemany(
                "INSERT INTO torrent_files(torrent_id, file_id, path, offset, size) VALUES (?, NULL, ?, ?, ?)",
                [(cur.lastrowid, "/".join(p), off, None) for p, off in bt.offsets.items()],
            )
        outputs.write_atomic(rel_dir / "torrents" / f"{name}.torrent", bt.metainfo)
        outputs.replace_dir(staging, rel_dir / "data" / name)
        out.append(TorrentSummary(name, "metadata", content, batch, bt.infohash_v1, bt.infohash_v2, bt.size,
                                  bt.padded_size, bt.file_count, 0))
    return out


def refresh_release_files(archive: Archive, release: str, *, sync: bool = True,
                          index: outputs.IndexWriter | None = None) -> dict[str, Any]:
    """Rewrite torrents.json, the file index and RELEASE-NOTES.md from the database.

    ``sync=False`` (packaging) skips the fsync of torrents.json: like the index and the notes it is
    regenerated from the database by every run; ``publish`` syncs it, as it then becomes authoritative.
    ``index``: a finished index of the same rows, written from what packaging held in memory (a first
    packaging) instead of reading them back; it is put in place here."""
    conn = archive.conn
    rel_dir = archive.releases_dir / release
    doc = outputs.torrent_list(archive, conn, release, total_planned_listens(conn))
    if index is not None:
        index.commit()
        rows = index.rows
    else:
        rows = outputs.write_index(conn, release, rel_dir / "index")
    outputs.write_torrent_list(rel_dir / "torrents.json", doc, sync=sync)
    notes = outputs.release_notes(doc, piece_size=archive.settings["store.piece_size"], index_rows=rows)
    outputs.write_atomic(rel_dir / "RELEASE-NOTES.md", notes.encode("utf-8"), sync=False)
    return doc


@dataclass
class PublishResult:
    release: str
    published: list[str]
    already_published: int


def publish(archive: Archive, *, release: str) -> PublishResult:
    """Mark every unpublished torrent of ``release`` published: from now on it is never rewritten."""
    check_release_name(release)
    conn = archive.conn
    if conn.execute("SELECT 1 FROM releases WHERE name = ?", (release,)).fetchone() is None:
        raise NotFoundError(f"release {release}: no such release (run `phonotheque package --release {release}`)")
    rows = conn.execute("SELECT name, infohash_v1, infohash_v2, kind FROM torrents WHERE release_name = ? "
                        "AND published_at IS NULL ORDER BY batch, kind, name", (release,)).fetchall()
    _check_written(archive.releases_dir / release, rows)
    names = [r[0] for r in rows]
    already = conn.execute("SELECT count(*) FROM torrents WHERE release_name = ? AND published_at IS NOT NULL",
                           (release,)).fetchone()[0]
    with archive.transaction() as c:
        c.execute("UPDATE torrents SET published_at = ? WHERE release_name = ? AND published_at IS NULL",
                  (_now(), release))
    refresh_release_files(archive, release)
    return PublishResult(release, names, already)


def _check_written(rel_dir: Path, rows: list[Any]) -> None:
    """Every torrent about to be published is on disk, with the infohash the database has, and its tree."""
    problems = []
    for name, ih1, ih2, _kind in rows:
        path = rel_dir / "torrents" / f"{name}.torrent"
        try:
            info = encode(decode(path.read_bytes())[b"info"])
        except (OSError, ReleaseError, KeyError, TypeError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if (ih1 and hashlib.sha1(info).hexdigest() != ih1) or (ih2 and hashlib.sha256(info).hexdigest() != ih2):
            problems.append(f"{path.name}: infohash differs from the database")
        if not (rel_dir / "data" / name).is_dir():
            problems.append(f"data/{name}: seeding tree missing")
    if problems:
        raise ReleaseError(f"release {rel_dir.name} is incomplete (interrupted packaging?): {'; '.join(problems)}; "
                           f"run `phonotheque package --release {rel_dir.name}` again, then publish")


def _repair_published_trees(archive: Archive, release: str, rel_dir: Path) -> int:
    """Re-link the seeding tree of a published audio torrent whose data directory was deleted."""
    repaired = 0
    for tid, name in archive.conn.execute(
        "SELECT id, name FROM torrents WHERE release_name = ? AND kind = 'audio' AND published_at IS NOT NULL",
        (release,),
    ).fetchall():
        if (rel_dir / "data" / name).exists():
            continue
        staging = rel_dir / "data" / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        made: set[str] = set()
        for path, store_path in archive.conn.execute(
            "SELECT tf.path, f.store_path FROM torrent_files tf JOIN files f ON f.id = tf.file_id "
            "WHERE tf.torrent_id = ?", (tid,)
        ):
            link_or_copy(os.path.join(archive.root, store_path), os.path.join(staging, *path.split("/")), made)
        outputs.replace_dir(staging, rel_dir / "data" / name)
        repaired += 1
    return repaired


def list_releases(archive: Archive, *, release: str | None = None) -> list[dict[str, Any]]:
    """Every release (or one) with its torrents, as in torrents.json."""
    conn = archive.conn
    if release is not None:
        rows = conn.execute("SELECT * FROM releases WHERE name = ?", (release,)).fetchall()
        if not rows:
            raise NotFoundError(f"release {release}: no such release")
    else:
        rows = conn.execute("SELECT * FROM releases ORDER BY created_at, name").fetchall()
    total = total_planned_listens(conn)
    out = []
    for r in rows:
        doc = outputs.torrent_list(archive, conn, r["name"], total)
        out.append({"release": r["name"], "created_at": r["created_at"], "version": r["version"],
                    "target_size": r["target_size"], "torrents": doc["torrents"]})
    return out
