"""``phonotheque tag``: embed catalog metadata in copies of the planned originals, keep patches.

For every track the plan keeps as original and whose original file the store holds:

1. copy the original to ``store/tmp/tag-….part``, write the tags (:func:`tags.write_tags`) —
   loudness from ``files.loudness_*`` when ingest or transcode measured it, else measured here
   from one decode (all tracks of the album, for the album gain);
2. ``make_patch(tagged, original)`` — applied and checked against the original's sha256 before
   anything is stored; a patch that does not reproduce the original is never stored;
3. write the patch to ``store/patches/<tagged sha256>.zstdpatch`` (temp name, fsync, rename),
   move the tagged copy to ``store/ab/cd/<tagged sha256><ext>``;
4. record: a ``files`` row for the tagged copy (same tier, ``derived_from`` = the original, same
   audio columns), ``files.sha256_with_embedded_meta`` on the original, ``patches``,
   ``tagged_files`` and ``media_log``.

Files whose tags cannot be written (``.mod``, ``.wav``, read-only or damaged files) are logged
with the reason and left as they were. Work is per album on a process pool; each album is
committed in one transaction, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
import orjson

from phonotheque.archive import Archive
from phonotheque.errors import AudioError, CorruptAudioError, TagWriteError
from phonotheque.store.hashing import TorrentHasher
from phonotheque.store.layout import store_relpath
from phonotheque.store.loudness import Loudness, LoudnessMeter, album_loudness
from phonotheque.store.media_common import (
    Problem,
    ProgressFn,
    RunSummary,
    clean_parts,
    hash_columns,
    insert_file,
    log,
    now,
    run_pool,
    tmp_dir,
    worker_count,
)
from phonotheque.store.patch import SUFFIX, make_patch, write_atomic
from phonotheque.store.tags import TrackMeta, detect_format, track_meta, write_tags

# columns of the original copied to its tagged copy (same audio, different bytes)
_AUDIO_COLUMNS = ("tier", "ext", "container", "codec", "bitrate", "sample_rate", "channels", "bits_per_sample",
                  "duration_ms", "header_duration_ms", "fingerprint", "fingerprint_duration", "licence",
                  "reencoded_kbit", "loudness_lufs", "loudness_peak", "album_gain_lufs")


def measure_file(path: str | Path) -> Loudness:
    """Loudness of an audio file from one full decode (float, native rate)."""
    try:
        with av.open(str(path), "r") as c:
            st = c.streams.audio[0]
            meter: LoudnessMeter | None = None
            for frame in c.decode(st):
                raw = frame.to_ndarray()
                channels = len(frame.layout.channels)
                if not frame.format.is_planar:
                    raw = raw.reshape(-1, channels).T
                scale = float(1 << (8 * raw.dtype.itemsize - 1))
                if raw.dtype.kind == "u":
                    pcm = (raw.astype(np.float32) - scale) / scale
                elif raw.dtype.kind == "i":
                    pcm = raw.astype(np.float32) / scale
                else:
                    pcm = raw.astype(np.float32, copy=False)
                if meter is None:
                    meter = LoudnessMeter(frame.sample_rate, channels)
                meter.add(pcm)
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise CorruptAudioError(path, f"cannot be decoded for loudness: {exc}") from exc
    if meter is None:
        raise CorruptAudioError(path, "no audio samples could be decoded")
    return meter.finish()


@dataclass
class TagJob:
    track_id: int
    original_file_id: int
    src: str
    ext: str
    meta: TrackMeta
    loudness: tuple[float, float] | None     # stored (lufs, peak) of the original, if measured


@dataclass
class TagAlbum:
    root: str
    piece_size: int
    album_lufs: float | None                  # stored album loudness when every track had one
    album_peak: float | None
    jobs: list[TagJob]


@dataclass
class TagOutcome:
    job: TagJob
    status: str
    reason: str | None = None
    tagged_sha256: str | None = None
    hashes: dict[str, object] | None = None
    store_path: str | None = None
    patch_path: str | None = None
    patch_size: int = 0
    original_size: int = 0
    measured: tuple[float | None, float] | None = None
    album_lufs: float | None = None
    tags: dict[str, list[str]] | None = None


def tag_album(album: TagAlbum) -> list[TagOutcome]:
    """Worker: tag copies of one album's originals, make and verify patches, store both."""
    root = Path(album.root)
    out: list[TagOutcome] = []
    measured: dict[int, Loudness] = {}
    album_lufs, album_peak = album.album_lufs, album.album_peak
    if album_lufs is None:
        for j in album.jobs:
            try:
                measured[j.track_id] = measure_file(j.src)
            except AudioError:
                pass  # reported below when the file itself is tagged
        whole = album_loudness(list(measured.values()))
        album_lufs, album_peak = whole.integrated, whole.peak
    for j in album.jobs:
        tmp = tmp_dir(root) / f"tag-{j.track_id}-{j.original_file_id}{j.ext}.part"
        try:
            out.append(_tag_one(root, album.piece_size, j, tmp, measured.get(j.track_id), album_lufs, album_peak))
        except AudioError as exc:
            out.append(TagOutcome(j, exc.status, exc.reason))
        finally:
            tmp.unlink(missing_ok=True)
    return out


def _tag_one(root: Path, piece_size: int, j: TagJob, tmp: Path, loud: Loudness | None,
             album_lufs: float | None, album_peak: float | None) -> TagOutcome:
    detect_format(j.src)  # an exotic format is reported as unsupported before any decoding
    if loud is not None:
        track_lufs, track_peak = loud.integrated, loud.peak
    elif j.loudness is not None:
        track_lufs, track_peak = j.loudness
    else:
        loud = measure_file(j.src)
        track_lufs, track_peak = loud.integrated, loud.peak
    meta = replace(j.meta, track_lufs=track_lufs, track_peak=track_peak, album_lufs=album_lufs, album_peak=album_peak)
    try:
        original = Path(j.src).read_bytes()
        shutil.copyfile(j.src, tmp)
    except OSError as exc:
        raise TagWriteError(j.src, f"cannot copy for tagging: {exc}") from exc
    kind = write_tags(tmp, meta)
    tagged = tmp.read_bytes()
    gains = meta.r128_fields() if kind == "opus" else meta.replaygain_fields()
    fields = {**meta.vorbis_fields(), **{k: [v] for k, v in gains.items()}}
    result = TagOutcome(j, "success", measured=(track_lufs, track_peak) if loud is not None else None,
                        album_lufs=album_lufs, tags=fields)
    result.original_size = len(original)
    if tagged == original:
        result.status = "already_tagged"
        return result
    patch = make_patch(tagged, original, where=j.src)  # raises PatchError unless it reproduces the original
    h = TorrentHasher(piece_size)
    h.update(tagged)
    hashes = h.finish()
    rel = store_relpath(hashes.sha256, j.ext)
    patch_rel = f"store/patches/{hashes.sha256}{SUFFIX}"
    write_atomic(root / patch_rel, patch)
    final = root / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    result.tagged_sha256 = hashes.sha256
    result.hashes = hash_columns(hashes)
    result.store_path, result.patch_path, result.patch_size = rel, patch_rel, len(patch)
    return result


def _failed_album(album: TagAlbum, exc: Exception) -> list[TagOutcome]:
    reason = f"internal error: {type(exc).__name__}: {exc}"
    return [TagOutcome(j, "error_internal", reason) for j in album.jobs]


_JOBS_SQL = """
SELECT p.track_id, t.album_id, MIN(tf.file_id) AS file_id
FROM plan p
JOIN tracks t ON t.id = p.track_id
LEFT JOIN track_files tf ON tf.track_id = p.track_id AND tf.role = 'original'
WHERE p.decision = 'original'
GROUP BY p.track_id
ORDER BY t.album_id, p.track_id
"""


def _jobs(archive: Archive, summary: RunSummary) -> list[TagAlbum]:
    conn = archive.conn
    rows = conn.execute(_JOBS_SQL).fetchall()
    summary.planned = len(rows)
    albums: dict[object, list[TagJob]] = {}
    stored: dict[object, list[tuple[float | None, float | None]]] = {}
    for r in rows:
        if r["file_id"] is None:
            summary.missing_original += 1
            continue
        if conn.execute("SELECT 1 FROM tagged_files WHERE track_id=? AND original_file_id=?",
                        (r["track_id"], r["file_id"])).fetchone():
            summary.done_before += 1
            continue
        f = conn.execute("SELECT * FROM files WHERE id=?", (r["file_id"],)).fetchone()
        key = r["album_id"] if r["album_id"] is not None else ("track", r["track_id"])
        loud = (f["loudness_lufs"], f["loudness_peak"]) if f["loudness_lufs"] is not None else None
        ext = f["ext"] or Path(f["store_path"]).suffix
        albums.setdefault(key, []).append(
            TagJob(r["track_id"], r["file_id"], str(archive.root / f["store_path"]), ext,
                   track_meta(archive, r["track_id"]), loud)
        )
        stored.setdefault(key, []).append((f["album_gain_lufs"], f["loudness_peak"]))
        summary.bytes_in += int(f["size"] or 0)
    out = []
    for key, jobs in albums.items():
        values = stored[key]
        complete = all(j.loudness is not None for j in jobs) and all(v[0] is not None for v in values)
        album_lufs = values[0][0] if complete and len({v[0] for v in values}) == 1 else None
        album_peak = max((v[1] or 0.0) for v in values) if album_lufs is not None else None
        out.append(TagAlbum(str(archive.root), int(archive.settings["store.piece_size"]), album_lufs, album_peak, jobs))
    return out


def _commit(archive: Archive, outcomes: list[TagOutcome], summary: RunSummary) -> None:
    with archive.transaction() as conn:
        for o in outcomes:
            j = o.job
            if o.status not in ("success", "already_tagged"):
                summary.failed += 1
                summary.problems.append(Problem(j.track_id, j.src, o.status, o.reason or ""))
                log(conn, "tag", j.track_id, j.original_file_id, o.status, o.reason, None)
                continue
            if o.measured is not None:
                conn.execute("UPDATE files SET loudness_lufs=?, loudness_peak=? WHERE id=? AND loudness_lufs IS NULL",
                             (o.measured[0], o.measured[1], j.original_file_id))
            if o.album_lufs is not None:
                conn.execute("UPDATE files SET album_gain_lufs=? WHERE id=? AND album_gain_lufs IS NULL",
                             (o.album_lufs, j.original_file_id))
            if o.status == "already_tagged":
                tagged_id = j.original_file_id
            else:
                orig = conn.execute("SELECT * FROM files WHERE id=?", (j.original_file_id,)).fetchone()
                row = {c: orig[c] for c in _AUDIO_COLUMNS}
                row.update(o.hashes or {})
                row.update({"derived_from": j.original_file_id, "store_path": o.store_path, "ingested_at": now(),
                            "tags": orjson.dumps(o.tags).decode() if o.tags else None})
                tagged_id = insert_file(conn, row)
                conn.execute("UPDATE files SET sha256_with_embedded_meta=? WHERE id=? AND sha256_with_embedded_meta IS NULL",
                             (o.tagged_sha256, j.original_file_id))
                conn.execute(
                    "INSERT OR IGNORE INTO patches(tagged_file_id, original_file_id, original_sha256, tagged_sha256, "
                    "path, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (tagged_id, j.original_file_id, orig["sha256"], o.tagged_sha256, o.patch_path, o.patch_size, now()),
                )
                summary.bytes_out += o.patch_size
            conn.execute("INSERT OR REPLACE INTO tagged_files(track_id, original_file_id, tagged_file_id) VALUES (?,?,?)",
                         (j.track_id, j.original_file_id, tagged_id))
            log(conn, "tag", j.track_id, j.original_file_id, o.status, None, tagged_id)
            summary.succeeded += 1
            summary.extra["patched_bytes"] = summary.extra.get("patched_bytes", 0) + o.original_size


def tag(archive: Archive, *, workers: int | None = None, progress: ProgressFn | None = None) -> RunSummary:
    """Tag copies of every planned original the store holds and keep the patches back (resumable)."""
    started = time.monotonic()
    summary = RunSummary("tag")
    clean_parts(archive.root, "tag-")
    for d in (archive.store_dir / "patches",):
        for p in d.glob(".*.part") if d.is_dir() else []:
            p.unlink(missing_ok=True)
    jobs = _jobs(archive, summary)
    if progress is not None:
        progress(0, total=sum(len(a.jobs) for a in jobs))
    for outcomes in run_pool(tag_album, jobs, worker_count(archive, workers), _failed_album):
        _commit(archive, outcomes, summary)
        if progress is not None:
            progress(len(outcomes))
    summary.seconds = time.monotonic() - started
    summary.extra["patch_bytes"] = summary.bytes_out
    return summary
