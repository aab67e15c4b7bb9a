"""Streaming decode (PyAV) and the full decode check of ingest.

Public API (transcode and other stages use it)::

    for frame in decode_frames("song.flac", format="s16", layout="stereo", rate=48000):
        ...                                    # av.AudioFrame, resampled when asked

    check = decode_check(container, name, fingerprint_seconds=120, min_duration_ratio=0.9,
                         header_duration_ms=info.header_duration_ms)

Every FFmpeg error is translated at the boundary into :class:`CorruptAudioError` (mid-stream
failure, truncation, a stream shorter than its header claims) or
:class:`UnsupportedAudioError` (no decoder), with the file name and the position.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import av.audio.frame
import av.container
import av.logging

from phonotheque.errors import CorruptAudioError, UnsupportedAudioError
from phonotheque.store.fingerprint import FingerprintFeeder
from phonotheque.store.probe import open_container


@dataclass(frozen=True)
class DecodeCheck:
    duration_ms: int              # decoded samples / sample rate
    samples: int
    fingerprint: str | None
    fingerprint_duration: int | None


def decode_frames(
    source: str | Path | BinaryIO,
    *,
    format: str | None = None,
    layout: str | None = None,
    rate: int | None = None,
    name: str | None = None,
) -> Iterator[av.audio.frame.AudioFrame]:
    """Decoded frames of the first audio stream, resampled when ``format/layout/rate`` are given."""
    label = name or (os.fspath(source) if isinstance(source, str | Path) else getattr(source, "name", "<stream>"))
    with open_container(source, str(label)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format=format, layout=layout, rate=rate) if (format or layout or rate) else None
        for frame in _frames(container, stream, str(label)):
            if resampler is None:
                yield frame
            else:
                yield from resampler.resample(frame)
        if resampler is not None:
            yield from resampler.resample(None)


def _frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, name: str
) -> Iterator[av.audio.frame.AudioFrame]:
    """Decoded frames; FFmpeg errors — raised, or only logged (a CRC mismatch, a damaged packet
    FFmpeg skips) — become :class:`CorruptAudioError` with the position."""
    if stream.codec_context is None or not stream.codec_context.name:
        raise UnsupportedAudioError(name, "no decoder for this audio stream")
    last_pts: int | None = None

    def where() -> float:
        return float(last_pts * stream.time_base) if last_pts is not None and stream.time_base else 0.0

    level = av.logging.get_level()
    if level is None or level < av.logging.ERROR:
        av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            for packet in container.demux(stream):
                if logs and any(lvl <= av.logging.ERROR for lvl, _, _ in logs):
                    break
                last_pts = packet.pts if packet.pts is not None else last_pts
                yield from packet.decode()  # type: ignore[misc]
        except av.error.DecoderNotFoundError as exc:
            raise UnsupportedAudioError(name, f"no decoder: {exc}") from exc
        except av.FFmpegError as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CorruptAudioError(name, f"decode error at {where():.1f} s: {reason}") from exc
        errors = [msg for level, _, msg in logs if level <= av.logging.ERROR]
    if errors:
        reason = " ".join(errors[0].split())
        raise CorruptAudioError(name, f"stream error at {where():.1f} s: {reason}")


def decode_check(
    container: av.container.InputContainer,
    name: str,
    *,
    fingerprint_seconds: float,
    min_duration_ratio: float,
    header_duration_ms: int | None,
) -> DecodeCheck:
    """Decode the whole first audio stream; fingerprint its start; compare with the header."""
    stream = container.streams.audio[0]
    feeder = FingerprintFeeder(fingerprint_seconds) if fingerprint_seconds > 0 else None
    samples = 0
    rate = 0
    feeding = feeder is not None
    for frame in _frames(container, stream, name):
        samples += frame.samples
        if feeding:
            rate = frame.sample_rate
            feeder.feed(frame)  # type: ignore[union-attr]
            feeding = not feeder.done  # type: ignore[union-attr]
        elif not rate:
            rate = frame.sample_rate
    rate = rate or stream.sample_rate or 0
    if samples == 0 or rate == 0:
        raise CorruptAudioError(name, "no audio could be decoded")
    duration_ms = int(samples * 1000 / rate)
    if header_duration_ms and duration_ms < min_duration_ratio * header_duration_ms:
        raise CorruptAudioError(
            name,
            f"decoded {duration_ms / 1000:.1f} s but the header claims {header_duration_ms / 1000:.1f} s "
            f"(truncated or damaged)",
        )
    fp: str | None = None
    fp_len: int | None = None
    if feeder is not None:
        try:
            fp, fp_len = feeder.finish()
        except Exception as exc:  # chromaprint raises a bare FingerprintError on bad input
            raise CorruptAudioError(name, f"fingerprint failed: {exc!r}") from exc
    return DecodeCheck(duration_ms=duration_ms, samples=samples, fingerprint=fp, fingerprint_duration=fp_len)


def check_ogg_tail(tail: bytes, name: str) -> None:
    """An Ogg file must end with a complete page flagged end-of-stream; else it was cut short.

    ``tail`` is the last bytes of the file (64 KiB is enough: a page is at most 65,307 bytes).
    """
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        if len(tail) - pos >= 27:
            version, flags = tail[pos + 4], tail[pos + 5]
            nseg = tail[pos + 26]
            if version == 0 and len(tail) - pos >= 27 + nseg:
                body = sum(tail[pos + 27 : pos + 27 + nseg])
                end = pos + 27 + nseg + body
                if end == len(tail):
                    if not flags & 0x04:
                        raise CorruptAudioError(name, "truncated: the last Ogg page is not an end-of-stream page")
                    return
        pos = tail.rfind(b"OggS", 0, pos)
    raise CorruptAudioError(name, "truncated: the file ends inside an Ogg page")

