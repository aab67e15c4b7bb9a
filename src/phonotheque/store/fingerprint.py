"""Chromaprint fingerprints fed from the one decode, and their comparison.

:class:`FingerprintFeeder` takes decoded PyAV frames, resamples them to what Chromaprint works
on (16-bit mono at 11025 Hz, its internal rate) with ``av.AudioResampler`` and feeds
libchromaprint through pyacoustid's ``chromaprint`` binding, for the first N seconds. The result
is the compressed base64 fingerprint AcoustID uses. Unlike Debian 12's ``fpcalc`` this works on
tracks shorter than 120 s.

:func:`similarity` compares two fingerprints: it decodes both to their 32-bit sub-fingerprints,
tries alignments within ±``max_shift`` items (one item ≈ 0.124 s) and returns the best share of
equal bits over the overlap (1.0 = identical; unrelated audio scores ≈ 0.5).
"""

from __future__ import annotations

from fractions import Fraction
from typing import cast

import av
import av.audio.frame
import av.filter
import chromaprint
import numpy as np

RATE = 11025
ITEM_SECONDS = 4096 / 3 / RATE        # duration one sub-fingerprint advances (~0.1238 s)


_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64, "flt": np.float32, "dbl": np.float64}
_SCALE = {"u8": 1 / 128, "s16": 1 / 32768, "s32": 1 / 2**31, "s64": 1 / 2**63, "flt": 1.0, "dbl": 1.0}
# libchromaprint's own resampler settings (filter length 16, 2^8 phases, cutoff 0.8): the same
# conversion fpcalc gets when it hands chromaprint audio at the source rate, at a fraction of the cost
RESAMPLE = f"{RATE}:filter_size=16:phase_shift=8:cutoff=0.8"


class FingerprintFeeder:
    """Feed decoded frames; :meth:`finish` returns ``(fingerprint, seconds fed)``.

    Frames are gathered into ~1 s blocks, down-mixed to mono in numpy (chromaprint averages
    channels too) and resampled to 11025 Hz by an FFmpeg ``aresample`` filter with chromaprint's
    own resampler settings: per-frame calls into PyAV's resampler cost more than the resampling.
    """

    def __init__(self, seconds: float) -> None:
        self.limit = int(seconds * RATE)
        self.fed = 0
        self._fp = chromaprint.Fingerprinter()
        self._fp.start(RATE, 1)
        self._key: tuple[str, int, int] | None = None      # (sample format, channels, rate)
        self._planes: list[list[memoryview]] = []
        self._samples = 0
        self._frames: list[av.audio.frame.AudioFrame] = []
        self._rate = 0
        self._nplanes = 0
        self._bps = 0
        self._graph: av.filter.Graph | None = None
        self._graph_rate = 0

    @property
    def done(self) -> bool:
        return self.fed >= self.limit

    def feed(self, frame: av.audio.frame.AudioFrame | None) -> None:
        if self.done:
            return
        if frame is None:
            self._flush()
            self._drain(final=True)
            return
        planes = frame.planes
        if frame.sample_rate != self._rate or len(planes) != self._nplanes:
            self._flush()
            fmt = frame.format
            channels = len(frame.layout.channels)
            self._key = (fmt.name, channels, int(frame.sample_rate))
            self._rate, self._nplanes = frame.sample_rate, len(planes)
            self._bps = fmt.bytes * (1 if fmt.is_planar else channels)
        n = frame.samples
        self._planes.append([memoryview(p)[: n * self._bps] for p in planes])
        self._frames.append(frame)                # keeps the buffers the views point into alive
        self._samples += n
        if self._samples >= self._rate:
            self._flush()

    def _flush(self) -> None:
        if not self._planes or self._key is None:
            return
        fmt_name, channels, rate = self._key
        planes, self._planes, self._samples = self._planes, [], 0
        frames, self._frames = self._frames, []       # alive until the views are copied below
        base = fmt_name.rstrip("p")
        dtype = _DTYPES.get(base)
        if dtype is None or channels < 1:
            return
        mono: np.ndarray
        if len(planes[0]) > 1:                        # planar: one buffer per channel
            mono = np.frombuffer(b"".join(p[0] for p in planes), dtype=dtype).astype(np.float32)
            for i in range(1, len(planes[0])):
                mono += np.frombuffer(b"".join(p[i] for p in planes), dtype=dtype)
        else:                                         # packed: interleaved channels
            inter = np.frombuffer(b"".join(p[0] for p in planes), dtype=dtype).astype(np.float32)
            mono = inter.reshape(-1, channels).sum(axis=1) if channels > 1 else inter
        del frames
        if base == "u8":
            mono = mono - 128.0 * channels
        mono *= _SCALE[base] * 32767.0 / channels
        pcm = np.clip(mono, -32768, 32767).astype(np.int16)
        block = av.AudioFrame.from_ndarray(pcm[np.newaxis, :], format="s16", layout="mono")
        block.sample_rate = rate
        if self._graph is None or self._graph_rate != rate:
            self._drain(final=True)
            self._graph = self._make_graph(rate)
            self._graph_rate = rate
        self._graph.push(block)
        self._drain(final=False)

    @staticmethod
    def _make_graph(rate: int) -> av.filter.Graph:
        graph = av.filter.Graph()
        src = graph.add_abuffer(format="s16", sample_rate=rate, layout="mono", time_base=Fraction(1, rate))
        res = graph.add("aresample", RESAMPLE)
        fmt = graph.add("aformat", f"sample_fmts=s16:channel_layouts=mono:sample_rates={RATE}")
        sink = graph.add("abuffersink")
        src.link_to(res)
        res.link_to(fmt)
        fmt.link_to(sink)
        graph.configure()
        return graph

    def _drain(self, final: bool) -> None:
        if self._graph is None:
            return
        if final:
            self._graph.push(None)
        while not self.done:
            try:
                out = cast(av.audio.frame.AudioFrame, self._graph.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            n = min(out.samples, self.limit - self.fed)
            self._fp.feed(bytes(out.planes[0])[: n * 2])
            self.fed += n
        if final:
            self._graph = None

    def finish(self) -> tuple[str, int]:
        if not self.done:
            self.feed(None)                   # the last block, then flush the resampler
        fp = self._fp.finish()
        text = fp.decode("ascii") if isinstance(fp, bytes) else str(fp)
        return text, round(self.fed / RATE)


def decode(fp: str) -> np.ndarray:
    """Raw 32-bit sub-fingerprints of a compressed base64 fingerprint."""
    if not fp:
        return np.zeros(0, dtype=np.uint32)
    raw, _algorithm = chromaprint.decode_fingerprint(fp.encode("ascii"))
    return np.asarray(raw, dtype=np.uint32)


def similarity(a: str | np.ndarray, b: str | np.ndarray, *, max_shift: int = 16, min_overlap: int = 20) -> float:
    """Best share of equal bits over alignments within ±``max_shift`` items; 0.0 when too short."""
    x = decode(a) if isinstance(a, str) else a
    y = decode(b) if isinstance(b, str) else b
    best = 0.0
    for shift in range(-max_shift, max_shift + 1):
        if shift >= 0:
            xs, ys = x[shift:], y
        else:
            xs, ys = x, y[-shift:]
        n = min(len(xs), len(ys))
        if n < min_overlap:
            continue
        diff = int(np.bitwise_count(xs[:n] ^ ys[:n]).sum())
        best = max(best, 1.0 - diff / (32.0 * n))
    return best
