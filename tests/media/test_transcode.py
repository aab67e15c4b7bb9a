"""transcode_file on real inputs: channels, rates, bit depths, odd files, exact length, gapless albums."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from phonotheque.errors import AudioError, CorruptAudioError, UnsupportedAudioError
from phonotheque.store.hashing import hash_file
from phonotheque.store.transcode import FRAME, transcode_file


def ogg_pages(data: bytes) -> list[tuple[int, int]]:
    """(granule position, header type) of every Ogg page, parsed by hand (independent of FFmpeg/mutagen)."""
    pages = []
    i = 0
    while i < len(data):
        assert data[i : i + 4] == b"OggS", f"no page at {i}"
        header_type = data[i + 5]
        granule = int.from_bytes(data[i + 6 : i + 14], "little", signed=True)
        nseg = data[i + 26]
        body = sum(data[i + 27 : i + 27 + nseg])
        pages.append((granule, header_type))
        i += 27 + nseg + body
    return pages


def opus_head(data: bytes) -> tuple[int, int]:
    """(channels, pre-skip) from the OpusHead packet."""
    j = data.index(b"OpusHead")
    return data[j + 9], int.from_bytes(data[j + 10 : j + 12], "little")


def ffmpeg_decode(path: Path, channels: int) -> np.ndarray:
    """Decode with the ffmpeg CLI (a separate program from the in-process PyAV) to float PCM at 48 kHz."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, channels).T


def source_samples(path: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    rate = int(out.strip())
    raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a", "-ac", "1",
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return len(raw) // 4, rate


@pytest.mark.parametrize(
    ("key", "channels"),
    [("flac16", 2), ("flac24", 2), ("mono22", 1), ("surround", 2), ("wav", 2), ("m4a", 2), ("mp3", 2),
     ("vorbis", 2), ("vorbis2", 2)],
)
def test_formats_channels_and_exact_length(media: dict[str, Path], tmp_path: Path, key: str, channels: int) -> None:
    dst = tmp_path / "out.opus"
    r = transcode_file(media[key], dst, piece_size=1 << 16)
    data = dst.read_bytes()
    # what was recorded is what is on disk
    assert r.sha256 == hashlib.sha256(data).hexdigest() and r.size == len(data)
    assert r.hashes == hash_file(dst, 1 << 16)
    ch, pre_skip = opus_head(data)
    assert ch == channels and pre_skip == r.pre_skip > 0
    # end trimming: the last page's granule minus pre-skip is the exact 48 kHz length of the source
    n_src, rate = source_samples(media[key])
    expected = round(n_src * 48000 / rate)
    pages = ogg_pages(data)
    assert pages[-1][1] & 0x04, "last page must carry the end-of-stream flag"
    assert pages[-1][0] - pre_skip == pytest.approx(expected, abs=1)
    # an independent decoder honours pre-skip and end trim and gets the same count
    pcm = ffmpeg_decode(dst, channels)
    assert pcm.shape[1] == pytest.approx(expected, abs=1)
    assert r.samples == pcm.shape[1]
    # same settings as the ffmpeg CLI's libopus at 75k VBR: a file of about the same size
    ref = tmp_path / "ref.opus"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(media[key]), "-map", "0:a", "-map_metadata", "-1", "-ac",
                    str(channels), "-c:a", "libopus", "-b:a", "75k", "-vbr", "on", str(ref)], check=True)
    assert 0.8 < r.size / ref.stat().st_size < 1.25
    assert not list(tmp_path.glob(".*.part"))


def test_loudness_measured_on_the_way(media: dict[str, Path], tmp_path: Path) -> None:
    r = transcode_file(media["vorbis2"], tmp_path / "o.opus")
    assert r.info.loudness.integrated is not None
    assert -40 < r.info.loudness.integrated < -5
    assert 0 < r.info.loudness.peak <= 1.5


def test_settings_change_the_output(media: dict[str, Path], tmp_path: Path) -> None:
    lo = transcode_file(media["vorbis2"], tmp_path / "lo.opus", bitrate=32000, complexity=5)
    hi = transcode_file(media["vorbis2"], tmp_path / "hi.opus", bitrate=128000)
    assert lo.size < hi.size
    webm = transcode_file(media["flac16"], tmp_path / "o.webm", container="webm")
    assert (tmp_path / "o.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"
    assert webm.samples == pytest.approx(round(4.0 * 48000), abs=1)


def test_deterministic(media: dict[str, Path], tmp_path: Path) -> None:
    a = transcode_file(media["flac16"], tmp_path / "a.opus")
    b = transcode_file(media["flac16"], tmp_path / "b.opus")
    assert a.sha256 == b.sha256


@pytest.mark.parametrize(
    ("key", "error"),
    [("truncated", CorruptAudioError), ("garbage", AudioError), ("text", AudioError), ("mod", AudioError)],
)
def test_bad_inputs_leave_nothing(media: dict[str, Path], tmp_path: Path, key: str, error: type[Exception]) -> None:
    dst = tmp_path / "out.opus"
    if key == "mod":
        # FFmpeg may or may not have a MOD demuxer; either it transcodes or it is reported, never half-written
        try:
            transcode_file(media[key], dst)
        except error:
            assert not dst.exists()
        assert not list(tmp_path.glob(".*.part"))
        return
    if key == "truncated":
        # a FLAC cut in the middle of a frame decodes up to the cut; what matters: never a half-written file
        try:
            r = transcode_file(media[key], dst)
        except AudioError:
            assert not dst.exists()
        else:
            assert r.samples < 4.0 * 48000
    else:
        with pytest.raises(error):
            transcode_file(media[key], dst)
        assert not dst.exists()
    assert not list(tmp_path.glob(".*.part"))


def test_missing_source_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedAudioError):
        transcode_file(tmp_path / "nope.flac", tmp_path / "o.opus")


# -- gapless ---------------------------------------------------------------------------------------

RATE = 44100


def _signal(n: int, rate: int) -> np.ndarray:
    """A continuous stereo signal: partials with slow amplitude modulation and a gliding tone."""
    t = np.arange(n) / rate
    glide = np.sin(2 * np.pi * (300 * t + 40 * t * t))
    high = 0.1 * np.sin(2 * np.pi * 3137 * t) + 0.08 * np.sin(2 * np.pi * 4561 * t + 1.0)  # sharp correlation peak
    left = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.9 * t)) + 0.2 * glide + high
    right = 0.25 * np.sin(2 * np.pi * 330 * t + 0.5) + 0.2 * glide - high
    return np.stack([left, right])


def _write_wav(path: Path, x: np.ndarray) -> None:
    pcm = np.round(x.T * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def _lag(x: np.ndarray, ref: np.ndarray) -> float:
    """Sub-sample lag of ``x`` against ``ref`` (parabolic peak of the cross-correlation over +-5 samples)."""
    x = x.astype(np.float64)[100:-100]
    scores = [float(np.dot(x, ref[100 + k : len(ref) - 100 + k])) for k in range(-5, 6)]
    k = int(np.argmax(scores))
    assert 0 < k < 10, "no correlation peak within 5 samples"
    y0, y1, y2 = scores[k - 1], scores[k], scores[k + 1]
    return (k - 5) + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)


def test_gapless_album(tmp_path: Path) -> None:
    """An album cut from one continuous signal at arbitrary samples, transcoded track by track, then
    decoded by an independent decoder and laid end to end, must be the continuous signal again:
    every track exactly as long as its source at 48 kHz (no samples lost or added at boundaries),
    each starting at its true position (no shift), and no click at the joins."""
    cuts = [0, 150_001, 331_337, 333_000, 529_200]   # includes a 1663-sample track (~38 ms)
    whole = _signal(cuts[-1], RATE)
    decoded = []
    for i in range(len(cuts) - 1):
        src = tmp_path / f"track{i}.wav"
        _write_wav(src, whole[:, cuts[i] : cuts[i + 1]])
        r = transcode_file(src, tmp_path / f"track{i}.opus")
        pcm = ffmpeg_decode(tmp_path / f"track{i}.opus", 2)
        expected = round((cuts[i + 1] - cuts[i]) * 48000 / RATE)
        assert pcm.shape[1] == pytest.approx(expected, abs=1), f"track {i}: samples lost or added"
        assert r.samples == pcm.shape[1]
        decoded.append(pcm)
    album = np.concatenate(decoded, axis=1)
    n48 = album.shape[1]
    assert n48 == pytest.approx(cuts[-1] * 48000 / RATE, abs=0.5 * (len(cuts) - 1))
    reference = _signal(n48, 48000)  # the same continuous signal, sampled at 48 kHz directly
    # each track's 48 kHz length is an integer, so a boundary may move by up to half a sample (10 us);
    # what must not happen: a jump (gap or overlap) of a sample or more at a join, or drift across the album
    starts = np.concatenate([[0], np.cumsum([p.shape[1] for p in decoded])])
    lags = []
    for i, pcm in enumerate(decoded):
        if pcm.shape[1] > 20000:
            head = _lag(pcm[0, :20000], reference[0, starts[i] : starts[i] + 20000])
            tail = _lag(pcm[0, -20000:], reference[0, starts[i + 1] - 20000 : starts[i + 1]])
            assert abs(head - tail) < 0.1, f"track {i} is stretched"
            true_start = cuts[i] * 48000 / RATE
            assert head == pytest.approx(true_start - starts[i], abs=0.1), f"track {i} is shifted"
            lags.append(head)
    assert max(abs(x) for x in lags) <= 0.5 * (len(cuts) - 1)
    # no click: the error right at the joins is of the order of the codec's error elsewhere
    err = album - reference
    body_rms = float(np.sqrt(np.mean(err[:, 4800:-4800] ** 2)))
    joins = np.cumsum([p.shape[1] for p in decoded])[:-1]
    for j in joins:
        window = err[:, max(0, j - 96) : j + 96]
        peak = float(np.max(np.abs(window)))
        assert peak < 8 * body_rms + 0.02, f"click at sample {j}: {peak:.3f} vs codec error rms {body_rms:.4f}"
    assert body_rms < 0.05
    assert FRAME == 960
