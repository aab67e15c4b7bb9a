"""Helpers shared by the store tests: re-encode real audio, build broken files."""

from __future__ import annotations

import io
import shutil
import struct
from pathlib import Path

import av


def reencode(src: Path, codec: str, fmt: str, *, bit_rate: int | None = None, rate: int | None = None,
             seconds: float | None = None, loops: int = 1) -> bytes:
    """Decode ``src`` with PyAV and encode it again (``loops`` times back to back, to make it longer)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        ost: av.AudioStream | None = None
        for _ in range(loops):
            with av.open(str(src)) as inp:
                ist = inp.streams.audio[0]
                if ost is None:
                    stream = out.add_stream(codec, rate=rate or ist.sample_rate, layout=ist.layout.name)
                    assert isinstance(stream, av.AudioStream), codec  # codec is a str: the stubs cannot tell
                    ost = stream
                    if bit_rate:
                        ost.bit_rate = bit_rate
                for frame in inp.decode(ist):
                    if seconds is not None:
                        assert frame.pts is not None and frame.time_base is not None
                        if frame.pts * frame.time_base >= seconds:
                            break
                    frame.pts = None
                    for pk in ost.encode(frame):
                        out.mux(pk)
        assert ost is not None
        for pk in ost.encode(None):
            out.mux(pk)
    return buf.getvalue()


def wav_header(data_bytes: int, rate: int = 44100, channels: int = 2, bits: int = 16) -> bytes:
    """A canonical 44-byte WAV header declaring ``data_bytes`` of PCM."""
    block = channels * bits // 8
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip


def make_broken(dest: Path, audio_dir: Path) -> dict[str, str]:
    """Write the bad-input zoo into ``dest``; returns {file name: expected status}."""
    dest.mkdir(parents=True, exist_ok=True)
    song = (audio_dir / "singularity-awakening.ogg").read_bytes()
    (dest / "truncated.ogg").write_bytes(song[: len(song) // 2])
    (dest / "zero-bytes.ogg").write_bytes(b"")
    (dest / "garbage.ogg").write_bytes(bytes(range(256)) * 40)
    # 512 bytes whose header claims 4 minutes of 44.1 kHz stereo PCM
    (dest / "claims-4-minutes.wav").write_bytes(wav_header(240 * 44100 * 4) + bytes(512 - 44))
    mid = bytearray(song)
    mid[len(mid) // 2 : len(mid) // 2 + 200] = b"\xff" * 200
    (dest / "damaged-middle.ogg").write_bytes(bytes(mid))
    shutil.copyfile(audio_dir / "tecnoballz-high-score.mod", dest / "tracker.mod")
    return {
        "truncated.ogg": "error_corrupt",
        "zero-bytes.ogg": "error_corrupt",
        "garbage.ogg": "error_corrupt",
        "claims-4-minutes.wav": "error_corrupt",
        "damaged-middle.ogg": "error_corrupt",
        "tracker.mod": "error_unsupported",
    }
