"""The direct libopus encoder: byte-identical to FFmpeg's own libopus encoder (through PyAV), any length."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.errors import TranscodeError
from phonotheque.store import libopus
from phonotheque.store.transcode import encode_opus, read_back


def test_the_library_pyav_uses_is_found() -> None:
    # the fast path must really run here, or the other tests compare the fallback with itself
    assert libopus.load() is not None
    assert (libopus.version() or "").startswith("libopus ")


@pytest.mark.parametrize("key", ["flac16", "flac24", "mono22", "surround", "mp3", "vorbis", "m4a"])
def test_same_bytes_as_ffmpeg_libopusenc(media: dict[str, Path], tmp_path: Path, key: str) -> None:
    # reference: PyAV's codec context, i.e. FFmpeg's libopusenc wrapper (multistream encoder, its own
    # option mapping, its own timestamps and end padding) — an implementation independent of ours
    ref = encode_opus(media[key], tmp_path / "ref.opus", engine="pyav")
    ours = encode_opus(media[key], tmp_path / "ours.opus", engine="libopus")
    assert (tmp_path / "ours.opus").read_bytes() == (tmp_path / "ref.opus").read_bytes()
    assert ours.loudness.integrated == ref.loudness.integrated
    assert ours.expected_samples == ref.expected_samples


def test_same_bytes_with_other_settings(media: dict[str, Path], tmp_path: Path) -> None:
    for bitrate, complexity in ((32000, 5), (128000, 0)):
        encode_opus(media["vorbis2"], tmp_path / "ref.opus", bitrate=bitrate, complexity=complexity, engine="pyav")
        encode_opus(media["vorbis2"], tmp_path / "ours.opus", bitrate=bitrate, complexity=complexity,
                    engine="libopus")
        assert (tmp_path / "ours.opus").read_bytes() == (tmp_path / "ref.opus").read_bytes()


def _wav(path: Path, x: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(x.T * 32767).astype("<i2").tobytes())


@settings(max_examples=12, deadline=None)
@given(n=st.integers(min_value=1, max_value=9000), channels=st.sampled_from([1, 2]),
       rate=st.sampled_from([48000, 44100, 8000]), seed=st.integers(0, 2**16))
def test_any_length_same_bytes_and_exact_end(tmp_path_factory: pytest.TempPathFactory, n: int, channels: int,
                                             rate: int, seed: int) -> None:
    # lengths around frame and lookahead boundaries: the last packet's duration and the end granule
    d = tmp_path_factory.mktemp("len")
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, (channels, n))
    _wav(d / "in.wav", x, rate)
    info = encode_opus(d / "in.wav", d / "ours.opus", engine="libopus")
    encode_opus(d / "in.wav", d / "ref.opus", engine="pyav")
    data = (d / "ours.opus").read_bytes()
    assert data == (d / "ref.opus").read_bytes()
    _, samples, pre_skip = read_back(d / "ours.opus", 1 << 16)
    assert samples == info.expected_samples == round(n * 48000 / rate)
    # last page granule − pre-skip = the exact length (parsed by hand)
    last = data.rindex(b"OggS")
    assert int.from_bytes(data[last + 6 : last + 14], "little") - pre_skip == info.expected_samples


def test_engine_choice_is_checked(media: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(TranscodeError, match="ogg container"):
        encode_opus(media["flac16"], tmp_path / "o.webm", container="webm", engine="libopus")
    with pytest.raises(TranscodeError, match="unknown encoder engine"):
        encode_opus(media["flac16"], tmp_path / "o.opus", engine="lame")
    # webm goes through PyAV's encoder under auto
    info = encode_opus(media["flac16"], tmp_path / "o.webm", container="webm")
    assert info.expected_samples == 4 * 48000


def test_writer_rejects_bad_use(tmp_path: Path) -> None:
    with pytest.raises(libopus.OpusEncodeError, match="channels"):
        libopus.OggOpusWriter(tmp_path / "x.opus", 6, bitrate=75000, complexity=10)
    with pytest.raises(libopus.OpusEncodeError, match="setting"):
        libopus.OggOpusWriter(tmp_path / "y.opus", 2, bitrate=75000, complexity=99)
    w = libopus.OggOpusWriter(tmp_path / "z.opus", 2, bitrate=75000, complexity=10)
    with pytest.raises(ValueError, match="whole 20 ms frames"):
        w.write(np.zeros(100, np.float32))
    w.abort()


def test_auto_uses_the_direct_encoder_for_ogg(media: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []

    class Counting(libopus.OggOpusWriter):
        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(1)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(libopus, "OggOpusWriter", Counting)
    encode_opus(media["flac16"], tmp_path / "o.opus")
    assert made == [1]
    encode_opus(media["flac16"], tmp_path / "o.webm", container="webm")
    assert made == [1]


def test_another_libopus_in_the_process_is_refused() -> None:
    # regression: with Debian's libchromaprint imported first, the system libopus (another version) is
    # mapped before PyAV's; picking it made encodes differ between processes (kill -9 rerun != clean run)
    import ctypes
    import ctypes.util

    import chromaprint  # noqa: F401  (loads the system libavcodec and libopus, as ingest does)

    libopus.load.cache_clear()
    lib = libopus.load()
    assert lib is not None and libopus._same_as_pyav(lib)
    system = ctypes.util.find_library("opus")
    if system is None:
        pytest.skip("no system libopus to compare with")
    other = ctypes.CDLL(system)
    libopus._declare(other)
    if other.opus_get_version_string() != lib.opus_get_version_string():
        assert not libopus._same_as_pyav(other)
