"""EBU R128 loudness: EBU Tech 3341 reference signals and ffmpeg's ebur128 filter as independent checks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.store.loudness import LoudnessMeter, album_loudness, measure, r128_q78
from phonotheque.store.tagging import measure_file


def _sine(db: float, seconds: float, rate: int = 48000, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 10 ** (db / 20) * np.sin(2 * np.pi * freq * t)


def ffmpeg_integrated(path: Path) -> float:
    r = subprocess.run(["ffmpeg", "-nostats", "-nostdin", "-i", str(path), "-vn", "-af", "ebur128", "-f", "null", "-"],
                       capture_output=True, text=True, check=True)
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", r.stderr)[-1])


def test_tech3341_case1_stereo_sine_at_minus_23() -> None:
    # EBU Tech 3341 test 1: stereo 1 kHz sine at -23 dBFS, 20 s -> -23.0 LUFS +/- 0.1
    x = _sine(-23, 20)
    assert measure(np.stack([x, x]), 48000).integrated == pytest.approx(-23.0, abs=0.1)


def test_tech3341_case3_gating_ignores_quiet_parts() -> None:
    # test 3 (shortened): -36 dBFS 10 s, -23 dBFS 20 s, -36 dBFS 10 s -> -23.0 LUFS (the relative gate drops the quiet parts)
    x = np.concatenate([_sine(-36, 10), _sine(-23, 20), _sine(-36, 10)])
    assert measure(np.stack([x, x]), 48000).integrated == pytest.approx(-23.0, abs=0.1)


def test_silence_and_too_short_have_no_loudness() -> None:
    assert measure(np.zeros((2, 48000 * 3)), 48000).integrated is None
    assert measure(np.stack([_sine(-10, 0.3)] * 2), 48000).integrated is None


@pytest.mark.parametrize("rate", [22050, 44100, 48000, 96000])
def test_rate_independent(rate: int) -> None:
    x = _sine(-20, 5, rate=rate, freq=997)
    assert measure(np.stack([x, x]), rate).integrated == pytest.approx(-20.0, abs=0.1)  # as Tech 3341 case 1


@pytest.mark.parametrize("key", ["flac16", "flac24", "mono22", "surround", "vorbis", "vorbis2", "mp3"])
def test_matches_ffmpeg_ebur128(media: dict[str, Path], key: str) -> None:
    mine = measure_file(media[key]).integrated
    assert mine is not None
    assert mine == pytest.approx(ffmpeg_integrated(media[key]), abs=0.5)


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 48000 * 7)) * 0.1
    whole = measure(x, 48000)
    meter = LoudnessMeter(48000, 2)
    i = 0
    for n in rng.integers(1, 30000, size=1000):
        meter.add(x[:, i : i + n])
        i += int(n)
        if i >= x.shape[1]:
            break
    parts = meter.finish()
    assert parts.integrated == pytest.approx(whole.integrated, abs=1e-4)
    assert parts.peak == pytest.approx(whole.peak, rel=1e-6)


def test_interleaved_equals_planar() -> None:
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((2, 48000 * 3)) * 0.2).astype(np.float32)
    m = LoudnessMeter(48000, 2)
    m.add_interleaved(x.T.reshape(-1))
    assert m.finish().integrated == pytest.approx(measure(x, 48000).integrated, abs=1e-4)


def test_album_is_the_concatenation() -> None:
    a, b = _sine(-18, 10), _sine(-30, 20)
    ta, tb = measure(np.stack([a, a]), 48000), measure(np.stack([b, b]), 48000)
    album = album_loudness([ta, tb])
    whole = measure(np.stack([np.concatenate([a, b])] * 2), 48000)
    assert album.integrated == pytest.approx(whole.integrated, abs=0.05)
    assert album.peak == pytest.approx(max(ta.peak, tb.peak))


def test_r128_q78() -> None:
    assert r128_q78(-23.0) == 0
    assert r128_q78(-13.0) == -2560          # 10 dB too loud -> -10 dB in Q7.8
    assert r128_q78(-33.5) == 2688
    assert r128_q78(None) is None
    assert r128_q78(-500.0) == 32767


@settings(max_examples=25, deadline=None)
@given(db=st.floats(min_value=-50, max_value=-3), seconds=st.floats(min_value=0.5, max_value=4))
def test_gain_follows_level(db: float, seconds: float) -> None:
    # a full-band noise scaled by g changes loudness by exactly 20 log10 g
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, int(48000 * seconds))) * 0.05
    base = measure(x, 48000).integrated
    scaled = measure(x * 10 ** (db / 20), 48000).integrated
    assert base is not None and scaled is not None
    assert scaled - base == pytest.approx(db, abs=0.01)


@pytest.mark.parametrize("rate", [22050, 44100, 96000])
def test_iir_and_fft_filters_agree(rate: int) -> None:
    # two independent K-weighting implementations: libavfilter biquads (float32) and a numpy FIR (FFT)
    rng = np.random.default_rng(rate)
    t = np.arange(rate * 6) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * 50 * t) + 0.05 * rng.standard_normal(t.size),
                  0.2 * np.sin(2 * np.pi * 3000 * t) * (t > 2)])
    iir = LoudnessMeter(rate, 2, method="iir")
    fft = LoudnessMeter(rate, 2, method="fft")
    iir.add(x)
    fft.add(x)
    a, b = iir.finish(), fft.finish()
    assert a.integrated is not None and b.integrated is not None
    assert a.integrated == pytest.approx(b.integrated, abs=0.01)
    assert np.allclose(a.blocks, b.blocks, rtol=5e-3)  # float32 IIR at 96 kHz with 50 Hz: 0.1 % (0.005 LU)
