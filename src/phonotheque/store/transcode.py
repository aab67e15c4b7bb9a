"""Long-tail tier: Opus transcodes, encoded in-process with PyAV (libopus), verified, hashed.

:func:`transcode_file` is the core, path in / path out:

1. decode the source once (any format FFmpeg reads: FLAC 16/24-bit, MP3 with ID3 junk, Vorbis,
   WAV ...), resample to 48 kHz float with libswresample (filter delay compensated, flushed at the
   end so no sample is lost), encode with libopus VBR in 20 ms frames — for Ogg by calling the libopus
   PyAV ships directly (:mod:`phonotheque.store.libopus`: the same bytes as PyAV's encoder, ~15 % less
   CPU), else through PyAV's codec context. Frame timestamps count
   samples from zero, so the Ogg muxer writes pre-skip (the encoder's 312-sample look-ahead) in
   OpusHead and the exact end trim in the last page's granule position (granule − pre-skip = the
   number of 48 kHz samples). Albums therefore play gapless within the resampler's tolerance.
   Per-frame Python work is kept out of the loop: decoded frames go into an ``AudioFifo`` and are
   resampled ~0.7 s at a time, the 48 kHz PCM is metered and cut into 20 ms encoder frames in
   batches of one second (the resampler is stream-exact, so the output bytes are the same as
   frame-by-frame processing).
2. meter EBU R128 loudness on the same 48 kHz PCM (:mod:`phonotheque.store.loudness`).
3. optionally embed tags (:mod:`phonotheque.store.tags`) into the temp file.
4. read the output back once: sha256 + BitTorrent v1/v2 hashes (:class:`TorrentHasher`) and a full
   decode of the same bytes, whose sample count must match the source within one Opus frame plus
   pre-skip;
5. rename the temp file (``.<name>.part`` beside the destination) into place. A failure at any
   step deletes the temp file; nothing half-written is ever left under the final name.

Channels: mono stays mono, stereo stays stereo; anything with more than two channels (5.1, 7.1,
quad, unknown layouts) is **downmixed to stereo** by libswresample's standard matrix (centre and
surrounds at −3 dB, LFE dropped). Reason: the long-tail tier is a listening copy at a fixed byte
budget — 75 kbit/s spread over six coupled channels (Opus mapping family 1) is well below the
~128 kbit/s Opus needs for transparent 5.1, while the same bits make a good stereo file; the
original keeps the surround mix whenever the plan keeps the original.

:func:`transcode` runs this over every track the plan puts on the re-encode tier, one album per
task on a process pool, and records the results (``files``, ``track_files`` role ``reencode``,
``media_log``).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import orjson

from phonotheque.archive import Archive
from phonotheque.errors import (
    AudioError,
    CorruptAudioError,
    SettingsError,
    TranscodeError,
    UnsupportedAudioError,
)
from phonotheque.store import libopus
from phonotheque.store.hashing import FileHashes, TorrentHasher
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
from phonotheque.store.tags import TrackMeta, track_meta, write_tags

OPUS_RATE = 48000
FRAME = 960          # 20 ms at 48 kHz
MIN_DURATION_RATIO = 0.9   # as ingest's store.min_duration_ratio: less decoded than this share = truncated
CONTAINERS = {"ogg": ("ogg", ".opus"), "webm": ("webm", ".webm")}


@dataclass
class EncodeInfo:
    """What encoding found before the output is read back."""

    source_samples: int      # decoded samples of the source, at its own rate
    source_rate: int
    source_channels: int
    expected_samples: int    # the same duration at 48 kHz
    channels: int            # channels of the Opus stream
    loudness: Loudness


@dataclass
class TranscodeResult:
    src: str
    dst: str
    hashes: FileHashes
    samples: int             # decoded 48 kHz samples of the output (pre-skip and end trim applied)
    pre_skip: int
    info: EncodeInfo

    @property
    def sha256(self) -> str:
        return self.hashes.sha256

    @property
    def size(self) -> int:
        return self.hashes.size

    @property
    def duration_ms(self) -> int:
        return round(self.samples * 1000 / OPUS_RATE)

    @property
    def reencoded_kbit(self) -> float:
        seconds = self.samples / OPUS_RATE
        return round(self.size * 8 / seconds / 1000, 2) if seconds else 0.0


def output_layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def part_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.part")


SOURCE_BATCH = 1 << 15     # source samples merged before one resampler call (cuts per-frame PyAV overhead)
HOLD = 2 * FRAME           # 48 kHz samples held back so the end can be trimmed exactly
ENCODE_BATCH = 50 * FRAME  # 48 kHz samples encoded (and metered) per batch, in 20 ms frames


def encode_opus(
    src: str | Path,
    dst: str | Path,
    *,
    bitrate: int = 75000,
    complexity: int = 10,
    container: str = "ogg",
    engine: str = "auto",
) -> EncodeInfo:
    """Decode ``src``, encode Opus into ``dst`` (written directly: callers pass a temp name).

    ``engine``: ``libopus`` calls the libopus PyAV ships directly (:mod:`phonotheque.store.libopus`,
    Ogg only, same bytes, less overhead), ``pyav`` encodes through PyAV's codec context, ``auto``
    (default) the first when it is available for the container.
    """
    if container not in CONTAINERS:
        raise TranscodeError(src, f"unknown container {container!r} (use ogg or webm)")
    if engine not in ("auto", "libopus", "pyav"):
        raise TranscodeError(src, f"unknown encoder engine {engine!r} (use auto, libopus or pyav)")
    direct = engine == "libopus" or (engine == "auto" and container == "ogg" and libopus.load() is not None)
    if direct and (container != "ogg" or libopus.load() is None):
        raise TranscodeError(src, "the direct libopus encoder needs the ogg container and a loadable libopus")
    try:
        inp = av.open(str(src))
    except av.error.InvalidDataError as exc:
        raise CorruptAudioError(src, f"cannot be read as audio: {exc}") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise UnsupportedAudioError(src, f"cannot be opened: {exc}") from exc
    try:
        if not inp.streams.audio:
            raise UnsupportedAudioError(src, "has no audio stream")
        ist = inp.streams.audio[0]
        source_rate = ist.codec_context.sample_rate or 0
        source_channels = ist.codec_context.channels or 0
        if source_rate <= 0 or source_channels <= 0:
            raise UnsupportedAudioError(src, "audio stream has no sample rate or channel count")
        layout = output_layout(source_channels)
        channels = 1 if layout == "mono" else 2
        fmt, _ = CONTAINERS[container]
        writer: libopus.OggOpusWriter | None = None
        out: av.container.OutputContainer | None = None
        try:
            if direct:
                try:
                    writer = libopus.OggOpusWriter(dst, channels, bitrate=bitrate, complexity=complexity,
                                                   container=fmt)
                except libopus.OpusEncodeError as exc:
                    raise TranscodeError(src, f"libopus encoder: {exc}") from exc
            else:
                # bitexact: fixed Ogg serial number and no version strings: the same input gives the same bytes
                out = av.open(str(dst), "w", format=fmt, container_options={"fflags": "+bitexact"})
                ost = out.add_stream("libopus", rate=OPUS_RATE, layout=layout)
                ctx = ost.codec_context
                ctx.bit_rate = bitrate
                ctx.format = "flt"
                ctx.options = {"vbr": "on", "compression_level": str(complexity), "application": "audio",
                               "flags": "+bitexact"}
            resampler = av.AudioResampler(format="flt", layout=layout, rate=OPUS_RATE)
            meter = LoudnessMeter(OPUS_RATE, channels)
            pts = 0
            source_samples = 0
            by_rate: dict[int, int] = {}     # decoded samples per sample rate (odd streams change rate)
            in_fifo: av.AudioFifo | None = None   # decoded frames merged for one resampler call per batch
            out_fifo = av.AudioFifo()             # 48 kHz PCM cut into 20 ms encoder frames
            pending: list[np.ndarray] = []   # resampled interleaved 48 kHz float PCM not yet encoded
            pending_n = 0

            def encode(pcm: np.ndarray, last: bool = False) -> None:
                """Meter and encode interleaved PCM in 20 ms frames (only the last call may end short)."""
                nonlocal pts
                if pcm.size:
                    meter.add_interleaved(pcm)
                if writer is not None:
                    try:
                        if last:
                            writer.finish(pcm)
                        else:
                            writer.write(pcm)
                    except libopus.OpusEncodeError as exc:
                        raise TranscodeError(src, f"libopus encoder: {exc}") from exc
                    pts += pcm.size // channels
                    return
                if not pcm.size:
                    return
                assert out is not None
                big = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout=layout)
                big.sample_rate = OPUS_RATE
                out_fifo.write(big)
                for f in out_fifo.read_many(FRAME, partial=True):
                    f.pts = pts
                    pts += f.samples
                    for packet in ost.encode(f):
                        out.mux(packet)

            def emit(frames: list[av.AudioFrame], final: bool = False) -> None:
                nonlocal pending, pending_n
                for f in frames:
                    # a view of the frame's buffer (to_ndarray would copy it twice); flt is packed: one plane
                    pending.append(np.frombuffer(memoryview(f.planes[0]), np.float32, f.samples * channels))
                    pending_n += f.samples
                if not pending or (pending_n < ENCODE_BATCH + HOLD and not final):
                    return
                data = np.concatenate(pending) if len(pending) > 1 else pending[0]
                n = (pending_n - HOLD) // FRAME * FRAME if pending_n > HOLD else 0
                encode(data[: n * channels])
                pending, pending_n = [data[n * channels :]], pending_n - n

            def flush_batch() -> None:
                nonlocal in_fifo
                if in_fifo is not None and in_fifo.samples:
                    emit(resampler.resample(in_fifo.read(in_fifo.samples)))
                in_fifo = None

            try:
                for packet in inp.demux(ist):
                    for frame in packet.decode():
                        if not frame.samples:
                            continue
                        source_samples += frame.samples
                        rate = frame.sample_rate or source_rate
                        by_rate[rate] = by_rate.get(rate, 0) + frame.samples
                        if in_fifo is not None and (frame.format.name != in_fifo.format.name
                                                    or frame.layout != in_fifo.layout
                                                    or frame.sample_rate != in_fifo.sample_rate):
                            flush_batch()
                        if in_fifo is None:
                            in_fifo = av.AudioFifo()
                        frame.pts = None
                        in_fifo.write(frame)
                        if in_fifo.samples >= SOURCE_BATCH:
                            flush_batch()
                flush_batch()
            except av.error.FFmpegError as exc:
                raise CorruptAudioError(src, f"decoding failed after {source_samples} samples: {exc}") from exc
            emit(resampler.resample(None), final=True)
            if source_samples == 0:
                raise CorruptAudioError(src, "no audio samples could be decoded")
            source_seconds = sum((Fraction(n, r) for r, n in by_rate.items()), Fraction(0))
            if ist.duration and ist.time_base:
                announced = float(ist.duration * ist.time_base)
                if float(source_seconds) < MIN_DURATION_RATIO * announced:
                    raise CorruptAudioError(
                        src, f"truncated: decoded {float(source_seconds):.2f} s of the {announced:.2f} s its header announces"
                    )
            # exact end: round(duration x 48 kHz) samples in all (libswresample emits the ceiling), so an
            # album's track boundaries drift by at most half a sample per track instead of one
            expected = round(source_seconds * OPUS_RATE)
            want = max(expected - pts, 0)
            tail = pending[0] if pending else np.zeros(0, np.float32)
            if want * channels <= tail.size:
                tail = tail[: want * channels]
            else:
                tail = np.concatenate([tail, np.zeros(want * channels - tail.size, np.float32)])
            encode(tail, last=True)
            if out is not None:
                for packet in ost.encode(None):
                    out.mux(packet)
        finally:
            if writer is not None:
                writer.abort()
            if out is not None:
                out.close()
    finally:
        inp.close()
    return EncodeInfo(source_samples, source_rate, source_channels, expected, channels, meter.finish())


def read_back(path: str | Path, piece_size: int) -> tuple[FileHashes, int, int]:
    """One read of ``path``: torrent hashes + a full decode of the same bytes → (hashes, samples, pre-skip)."""
    data = Path(path).read_bytes()
    hasher = TorrentHasher(piece_size)
    hasher.update(data)
    hashes = hasher.finish()
    samples = 0
    try:
        with av.open(io.BytesIO(data), "r") as c:
            for frame in c.decode(c.streams.audio[0]):
                samples += frame.samples
    except (av.error.FFmpegError, IndexError) as exc:
        raise TranscodeError(path, f"output does not decode: {exc}") from exc
    pre_skip = _opus_pre_skip(data)
    return hashes, samples, pre_skip


def _opus_pre_skip(data: bytes) -> int:
    i = data.find(b"OpusHead")
    if i < 0 or i + 12 > len(data):
        return 0
    return int.from_bytes(data[i + 10 : i + 12], "little")


def check_duration(path: str | Path, samples: int, expected: int, pre_skip: int) -> None:
    tolerance = FRAME + max(pre_skip, 312)
    if abs(samples - expected) > tolerance:
        raise TranscodeError(
            path, f"output has {samples} samples at 48 kHz, source has {expected} (tolerance {tolerance})"
        )


def transcode_file(
    src: str | Path,
    dst: str | Path,
    *,
    bitrate: int = 75000,
    complexity: int = 10,
    container: str = "ogg",
    piece_size: int = 1 << 20,
    before_hash: Callable[[Path, EncodeInfo], None] | None = None,
) -> TranscodeResult:
    """Transcode ``src`` to Opus at ``dst`` atomically, verified and hashed.

    ``before_hash(temp_path, info)`` may modify the temp file (embed tags) before it is read back.
    """
    dst = Path(dst)
    tmp = part_path(dst)
    try:
        info = encode_opus(src, tmp, bitrate=bitrate, complexity=complexity, container=container)
        if before_hash is not None:
            before_hash(tmp, info)
        hashes, samples, pre_skip = read_back(tmp, piece_size)
        check_duration(src, samples, info.expected_samples, pre_skip)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return TranscodeResult(str(src), str(dst), hashes, samples, pre_skip, info)


# -- the archive run --------------------------------------------------------------------------

@dataclass
class TrackJob:
    track_id: int
    original_file_id: int
    src: str                   # absolute path of the original
    meta: TrackMeta | None
    duration_ms: int | None = None   # the original's decoded duration recorded at ingest, if known


@dataclass
class AlbumJob:
    """Tracks of one album are transcoded together so the album loudness is known before tagging."""

    root: str
    tracks: list[TrackJob]
    bitrate: int
    complexity: int
    container: str
    piece_size: int


@dataclass
class TrackOutcome:
    track_id: int
    original_file_id: int
    src: str
    status: str                          # success | error_* (AudioError.status)
    reason: str | None = None
    result: TranscodeResult | None = None
    store_path: str | None = None
    tags: dict[str, list[str]] | None = None
    album_lufs: float | None = None


def transcode_album(job: AlbumJob) -> list[TrackOutcome]:
    """Worker: encode every track, measure the album, tag, read back, move into the store."""
    root = Path(job.root)
    ext = CONTAINERS[job.container][1]
    outcomes: list[TrackOutcome] = []
    encoded: list[tuple[TrackJob, Path, EncodeInfo]] = []
    parts: list[Path] = []
    try:
        for t in job.tracks:
            tmp = tmp_dir(root) / f"transcode-{t.track_id}-{t.original_file_id}{ext}.part"
            parts.append(tmp)
            try:
                info = encode_opus(t.src, tmp, bitrate=job.bitrate, complexity=job.complexity, container=job.container)
                encoded.append((t, tmp, info))
            except AudioError as exc:
                tmp.unlink(missing_ok=True)
                outcomes.append(TrackOutcome(t.track_id, t.original_file_id, t.src, exc.status, exc.reason))
        album = album_loudness([info.loudness for _, _, info in encoded])
        for t, tmp, info in encoded:
            try:
                fields: dict[str, list[str]] | None = None
                if t.meta is not None and job.container == "ogg":
                    meta = replace(t.meta, track_lufs=info.loudness.integrated, track_peak=info.loudness.peak,
                                   album_lufs=album.integrated, album_peak=album.peak)
                    write_tags(tmp, meta)
                    fields = {**meta.vorbis_fields(), **{k: [v] for k, v in meta.r128_fields().items()}}
                hashes, samples, pre_skip = read_back(tmp, job.piece_size)
                check_duration(t.src, samples, info.expected_samples, pre_skip)
                if t.duration_ms is not None:
                    check_duration(t.src, samples, round(t.duration_ms * OPUS_RATE / 1000), pre_skip)
                rel = store_relpath(hashes.sha256, ext)
                final = root / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                result = TranscodeResult(t.src, str(final), hashes, samples, pre_skip, info)
                outcomes.append(TrackOutcome(t.track_id, t.original_file_id, t.src, "success", None, result, rel,
                                             fields, album.integrated))
            except AudioError as exc:
                outcomes.append(TrackOutcome(t.track_id, t.original_file_id, t.src, exc.status, exc.reason))
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        for p in parts:
            p.unlink(missing_ok=True)
    return outcomes


def _failed_album(job: AlbumJob, exc: Exception) -> list[TrackOutcome]:
    reason = f"internal error: {type(exc).__name__}: {exc}"
    return [TrackOutcome(t.track_id, t.original_file_id, t.src, "error_internal", reason) for t in job.tracks]


_JOBS_SQL = """
SELECT p.track_id, t.album_id, MIN(tf.file_id) AS file_id
FROM plan p
JOIN tracks t ON t.id = p.track_id
LEFT JOIN track_files tf ON tf.track_id = p.track_id AND tf.role = 'original'
WHERE p.decision = 'reencode'
  AND NOT EXISTS (SELECT 1 FROM track_files r WHERE r.track_id = p.track_id AND r.role = 'reencode')
GROUP BY p.track_id
ORDER BY t.album_id, p.track_id
"""


def _jobs(archive: Archive, summary: RunSummary, with_tags: bool) -> list[AlbumJob]:
    conn = archive.conn
    s = archive.settings
    summary.planned = conn.execute("SELECT COUNT(*) FROM plan WHERE decision='reencode'").fetchone()[0]
    rows = conn.execute(_JOBS_SQL).fetchall()
    summary.done_before = summary.planned - len(rows)
    albums: dict[object, list[TrackJob]] = {}
    for r in rows:
        if r["file_id"] is None:
            summary.missing_original += 1
            continue
        f = conn.execute("SELECT store_path, size, duration_ms FROM files WHERE id=?", (r["file_id"],)).fetchone()
        src = archive.root / f["store_path"]
        summary.bytes_in += int(f["size"] or 0)
        meta = track_meta(archive, r["track_id"]) if with_tags else None
        key = r["album_id"] if r["album_id"] is not None else ("track", r["track_id"])
        albums.setdefault(key, []).append(TrackJob(r["track_id"], r["file_id"], str(src), meta, f["duration_ms"]))
    container = str(s["transcode.container"])
    if container not in CONTAINERS:
        raise SettingsError(f"setting transcode.container: {container!r} is not one of {', '.join(CONTAINERS)}")
    return [
        AlbumJob(str(archive.root), tracks, int(s["transcode.bitrate"]), int(s["transcode.complexity"]),
                 container, int(s["store.piece_size"]))
        for tracks in albums.values()
    ]


def _commit(archive: Archive, outcomes: list[TrackOutcome], summary: RunSummary) -> None:
    with archive.transaction() as conn:
        for o in outcomes:
            if o.result is None:
                summary.failed += 1
                summary.problems.append(Problem(o.track_id, o.src, o.status, o.reason or ""))
                log(conn, "transcode", o.track_id, o.original_file_id, o.status, o.reason, None)
                continue
            r = o.result
            orig = conn.execute("SELECT licence FROM files WHERE id=?", (o.original_file_id,)).fetchone()
            row = {
                **hash_columns(r.hashes), "tier": "reencode", "derived_from": o.original_file_id,
                "store_path": o.store_path, "ext": Path(o.store_path or "").suffix,
                "container": "ogg" if r.dst.endswith(".opus") else "webm", "codec": "opus",
                "bitrate": round(r.size * 8 * OPUS_RATE / r.samples) if r.samples else None,
                "sample_rate": OPUS_RATE, "channels": r.info.channels, "duration_ms": r.duration_ms,
                "header_duration_ms": r.duration_ms,
                "tags": orjson.dumps(o.tags).decode() if o.tags is not None else None,
                "licence": orig["licence"] if orig else None, "reencoded_kbit": r.reencoded_kbit,
                "loudness_lufs": r.info.loudness.integrated, "loudness_peak": r.info.loudness.peak,
                "album_gain_lufs": o.album_lufs, "ingested_at": now(),
            }
            file_id = insert_file(conn, row)
            conn.execute(
                "INSERT OR IGNORE INTO track_files(track_id, file_id, role, match_method, confidence) "
                "VALUES (?, ?, 'reencode', 'transcode', 1.0)", (o.track_id, file_id),
            )
            conn.execute(
                "UPDATE files SET loudness_lufs=?, loudness_peak=?, album_gain_lufs=COALESCE(album_gain_lufs, ?) "
                "WHERE id=? AND loudness_lufs IS NULL",
                (r.info.loudness.integrated, r.info.loudness.peak, o.album_lufs, o.original_file_id),
            )
            log(conn, "transcode", o.track_id, o.original_file_id, "success", None, file_id)
            summary.succeeded += 1
            summary.bytes_out += r.size
            summary.audio_seconds += r.samples / OPUS_RATE


TranscodeSummary = RunSummary


def transcode(archive: Archive, *, workers: int | None = None, progress: ProgressFn | None = None,
              tags: bool = True) -> TranscodeSummary:
    """Transcode every track the plan re-encodes and that has an original, resumably.

    Each album is one task (the album loudness goes into every file's tags); tasks run on a
    process pool of ``workers`` (default: ``store.workers``, else one per core). Results are
    committed by this process, one transaction per album; a killed run loses at most the
    albums in flight, leaves no temp file behind after the next start, and the next run
    finishes the rest. Failures are logged in ``media_log`` and listed in the summary.
    """
    started = time.monotonic()
    summary = RunSummary("transcode")
    clean_parts(archive.root, "transcode-")
    jobs = _jobs(archive, summary, tags)
    n_tracks = sum(len(j.tracks) for j in jobs)
    if progress is not None:
        progress(0, total=n_tracks)
    for outcomes in run_pool(transcode_album, jobs, worker_count(archive, workers), _failed_album):
        _commit(archive, outcomes, summary)
        if progress is not None:
            progress(len(outcomes))
    summary.seconds = time.monotonic() - started
    summary.extra["speed_x_realtime"] = round(summary.audio_seconds / summary.seconds, 2) if summary.seconds else None
    return summary
