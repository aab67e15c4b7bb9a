"""The libopus encoder PyAV ships, called directly (ctypes) and muxed by PyAV: same bytes, less overhead.

Why: PyAV's ``AudioStream.encode`` sends every 20 ms frame through a libavfilter graph (its frame
re-chunking resampler), FFmpeg's ``libopusenc`` wrapper (a multistream encoder even for stereo) and
two Python objects per frame. Measured on a 111 s stereo track, libopus itself needs ~1.0 s CPU and
the PyAV path ~1.2–1.4 s. Here the same library — the ``libopus`` shared object PyAV's
``libavcodec`` uses, checked at load time by encoding a test signal both ways and comparing the
packets (:func:`load`) — encodes 20 ms frames straight from a numpy buffer, with the settings
``libopusenc`` applies (application audio, VBR unconstrained, complexity, bitrate, no FEC/DTX,
0 % expected loss, phase inversion allowed), and the packets are muxed by PyAV with the
timestamps ``libopusenc`` gives them (first packet at −lookahead, last packet's duration trimmed
to the real end). The output file is byte-identical to PyAV's own libopus encoding (tested), so
pre-skip and the end trim in the last granule position are exactly what the Ogg muxer writes for
FFmpeg. A stereo multistream encoder with one coupled stream and the plain encoder produce the
same packets (tested with the library), the plain one is cheaper.

Used for the Ogg container when such a library is found (:func:`load`); otherwise, and for WebM
(whose muxer wants discard-padding side data), transcoding uses PyAV's encoder.
"""

from __future__ import annotations

import ctypes
import glob
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

RATE = 48000
FRAME = 960
MAX_PACKET = 4000
APPLICATION_AUDIO = 2049
# opus_defines.h request codes
SET_BITRATE = 4002
SET_VBR = 4006
SET_COMPLEXITY = 4010
SET_INBAND_FEC = 4012
SET_PACKET_LOSS_PERC = 4014
SET_DTX = 4016
SET_VBR_CONSTRAINT = 4020
GET_LOOKAHEAD = 4027
SET_PHASE_INVERSION_DISABLED = 4046
TIME_BASE = Fraction(1, RATE)


class OpusEncodeError(Exception):
    """libopus refused a setting or a frame (the caller turns it into a TranscodeError)."""


def _candidates() -> Iterator[str]:
    """Where the libopus PyAV uses may be: the wheel's vendored copy first, then any libopus mapped
    into this process (Linux), then the system library (``find_library`` runs ldconfig: only when
    needed). Several can be loaded at once — Debian's libchromaprint pulls in the system libopus —
    so every candidate must pass :func:`_same_as_pyav` before it is used."""
    seen: set[str] = set()
    pkg = Path(av.__file__).resolve().parent
    for pattern in (str(pkg.parent / "av.libs" / "libopus*"), str(pkg / ".dylibs" / "libopus*")):
        for path in sorted(glob.glob(pattern)):
            seen.add(path)
            yield path
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            mapped = [f[5].strip() for f in (line.split(maxsplit=5) for line in maps) if len(f) == 6]
    except OSError:
        mapped = []
    for path in mapped:
        if Path(path).name.startswith("libopus") and ".so" in path and path not in seen:
            seen.add(path)
            yield path
    import ctypes.util  # noqa: PLC0415 - runs subprocesses on import paths; only needed here

    system = ctypes.util.find_library("opus")
    if system and system not in seen:
        yield system


def _declare(lib: ctypes.CDLL) -> None:
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode_float.restype = ctypes.c_int32
    lib.opus_encode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                      ctypes.c_int32]
    lib.opus_encoder_destroy.restype = None
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_get_version_string.restype = ctypes.c_char_p
    lib.opus_strerror.restype = ctypes.c_char_p


def _create(lib: ctypes.CDLL, channels: int, bitrate: int, complexity: int) -> tuple[ctypes.c_void_p, int]:
    """A libopus encoder configured as FFmpeg's ``libopus`` wrapper configures it → (handle, lookahead)."""
    err = ctypes.c_int(0)
    handle = lib.opus_encoder_create(RATE, channels, APPLICATION_AUDIO, ctypes.byref(err))
    if not handle or err.value != 0:
        raise OpusEncodeError(f"opus_encoder_create: {lib.opus_strerror(err.value).decode()}")
    enc = ctypes.c_void_p(handle)
    try:
        for request, value in ((SET_BITRATE, bitrate), (SET_COMPLEXITY, complexity), (SET_VBR, 1),
                               (SET_VBR_CONSTRAINT, 0), (SET_PACKET_LOSS_PERC, 0), (SET_INBAND_FEC, 0),
                               (SET_DTX, 0), (SET_PHASE_INVERSION_DISABLED, 0)):
            rc = lib.opus_encoder_ctl(enc, ctypes.c_int(request), ctypes.c_int(value))
            if rc != 0:
                raise OpusEncodeError(f"setting {request}={value}: {lib.opus_strerror(rc).decode()}")
        lookahead = ctypes.c_int(0)
        lib.opus_encoder_ctl(enc, ctypes.c_int(GET_LOOKAHEAD), ctypes.byref(lookahead))
    except BaseException:
        lib.opus_encoder_destroy(enc)
        raise
    return enc, lookahead.value


def _pyav_options(complexity: int) -> dict[str, str]:
    return {"vbr": "on", "compression_level": str(complexity), "application": "audio", "flags": "+bitexact"}


def _same_as_pyav(lib: ctypes.CDLL) -> bool:
    """Does ``lib`` give exactly the packets PyAV's libopus encoder gives? 0.2 s of a stereo test
    signal through both (a few ms, once per process)."""
    n = 10 * FRAME
    t = np.arange(n) / RATE
    pcm = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 1234 * t + 1.0)], axis=1)
    pcm = np.ascontiguousarray(pcm, dtype=np.float32)
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = RATE
    ctx.layout = "stereo"
    ctx.format = "flt"
    ctx.bit_rate = 75000
    ctx.options = _pyav_options(10)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="stereo")
    frame.sample_rate = RATE
    frame.pts = 0
    reference = [bytes(p) for p in ctx.encode(frame)] + [bytes(p) for p in ctx.encode(None)]
    enc, lookahead = _create(lib, 2, 75000, 10)
    try:
        frames = -(-(n + lookahead) // FRAME)
        padded = np.zeros(frames * FRAME * 2, np.float32)
        padded[: pcm.size] = pcm.reshape(-1)
        buf = ctypes.create_string_buffer(MAX_PACKET)
        ours = []
        for k in range(frames):
            size = lib.opus_encode_float(enc, padded.ctypes.data + k * FRAME * 8, FRAME, buf, MAX_PACKET)
            ours.append(buf.raw[:size])
    finally:
        lib.opus_encoder_destroy(enc)
    return ours == reference


@lru_cache(maxsize=1)
def load() -> ctypes.CDLL | None:
    """The libopus PyAV encodes with, argument types declared; None when no candidate library gives
    exactly PyAV's packets (then transcoding uses PyAV's encoder)."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            _declare(lib)
            if _same_as_pyav(lib):
                return lib
        except (OSError, AttributeError, OpusEncodeError, av.error.FFmpegError):
            continue
    return None


def version() -> str | None:
    lib = load()
    return lib.opus_get_version_string().decode() if lib is not None else None


class OggOpusWriter:
    """Encode interleaved float32 48 kHz PCM with libopus and mux it with PyAV into ``dst``.

    ``write(pcm)`` takes whole 20 ms frames (any number); ``finish(pcm)`` the final samples (any
    length, may be empty), then closes the file. ``container`` is a PyAV format name (``ogg``).
    """

    def __init__(self, dst: str | Path, channels: int, *, bitrate: int, complexity: int,
                 container: str = "ogg") -> None:
        lib = load()
        if lib is None:
            raise OpusEncodeError("libopus not found")
        if channels not in (1, 2):
            raise OpusEncodeError(f"{channels} channels (1 or 2 expected)")
        self._lib = lib
        self.channels = channels
        self._enc, self.lookahead = _create(lib, channels, bitrate, complexity)
        self._out: av.container.OutputContainer | None = None
        try:
            # the stream is declared as libopus with the same options, so the OpusHead the muxer writes
            # (channels, pre-skip = lookahead, rate) comes from FFmpeg's own libopus encoder setup
            out = av.open(str(dst), "w", format=container, container_options={"fflags": "+bitexact"})
            self._out = out
            self._stream = out.add_stream("libopus", rate=RATE, layout="mono" if channels == 1 else "stereo")
            ctx = self._stream.codec_context
            ctx.bit_rate = bitrate
            ctx.format = "flt"
            ctx.options = _pyav_options(complexity)
        except BaseException:
            self._close()
            raise
        self._buf = ctypes.create_string_buffer(MAX_PACKET)
        self._pending: av.Packet | None = None   # the last packet: its duration is known only at the end
        self._frames = 0
        self.samples = 0

    def _encode(self, pcm: npt.NDArray[np.float32]) -> None:
        frame_values = FRAME * self.channels
        if pcm.size % frame_values:
            raise ValueError(f"{pcm.size} values are not whole 20 ms frames")
        data = np.ascontiguousarray(pcm, dtype=np.float32)
        lib, enc, buf, out, stream = self._lib, self._enc, self._buf, self._out, self._stream
        assert out is not None
        base = data.ctypes.data
        step = frame_values * 4
        pts = self._frames * FRAME - self.lookahead
        ready: list[av.Packet] = [] if self._pending is None else [self._pending]
        string_at, encode, Packet = ctypes.string_at, lib.opus_encode_float, av.Packet
        for k in range(data.size // frame_values):
            n = encode(enc, base + k * step, FRAME, buf, MAX_PACKET)
            if n < 0:
                raise OpusEncodeError(f"opus_encode_float: {lib.opus_strerror(n).decode()}")
            packet = Packet(string_at(buf, n))
            packet.pts = packet.dts = pts
            packet.duration = FRAME
            packet.time_base = TIME_BASE
            packet.stream = stream
            pts += FRAME
            ready.append(packet)
        if ready:
            self._pending = ready.pop()   # held back: the last packet's duration is set in finish()
            out.mux(ready)
        self._frames += data.size // frame_values

    def write(self, pcm: npt.NDArray[np.float32]) -> None:
        """Encode whole 20 ms frames of interleaved PCM."""
        self._encode(pcm)
        self.samples += pcm.size // self.channels

    def finish(self, pcm: npt.NDArray[np.float32]) -> None:
        """Encode the last samples (zero-padded to whole frames, plus frames until the lookahead is
        flushed), give the last packet its real duration, write the trailer and close."""
        n = pcm.size // self.channels
        self.samples += n
        total = self.samples + self.lookahead          # what the packets must cover, from pts −lookahead
        frames = -(-total // FRAME)
        tail = np.zeros((frames - self._frames) * FRAME * self.channels, np.float32)
        tail[: pcm.size] = pcm
        self._encode(tail)
        out = self._out
        assert out is not None
        if self._pending is not None:
            self._pending.duration = total - (frames - 1) * FRAME
            out.mux(self._pending)
            self._pending = None
        self._close()

    def _close(self) -> None:
        try:
            if self._out is not None:
                out, self._out = self._out, None
                out.close()
        finally:
            if self._enc:
                self._lib.opus_encoder_destroy(self._enc)
                self._enc = ctypes.c_void_p(None)

    def abort(self) -> None:
        """Release the encoder and the file after a failure (the caller deletes the file)."""
        try:
            self._close()
        except (av.error.FFmpegError, OSError):
            pass
