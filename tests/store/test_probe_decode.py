"""probe() and the streaming decode API, checked against ffprobe/FFmpeg; tags in legacy encodings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from mutagen.id3 import ID3, TIT2, TPE1
from store_helpers import reencode, wav_header

from phonotheque.errors import CorruptAudioError, UnsupportedAudioError
from phonotheque.store.decode import check_ogg_tail, decode_frames
from phonotheque.store.probe import fix_legacy_text, probe

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")


@needs_ffmpeg
@pytest.mark.parametrize("name", ["singularity-awakening.ogg", "tecnoballz-rmoney.wav", "fof-chaos-god-song.ogg"])
def test_probe_agrees_with_ffprobe(audio: Path, name: str) -> None:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(audio / name)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ref = json.loads(out.stdout)
    stream = ref["streams"][0]
    info = probe(audio / name)
    assert info.codec == stream["codec_name"]
    assert info.sample_rate == int(stream["sample_rate"])
    assert info.channels == int(stream["channels"])
    assert info.header_duration_ms is not None
    assert abs(info.header_duration_ms / 1000 - float(ref["format"]["duration"])) < 0.05
    assert info.container == ref["format"]["format_name"]


def test_probe_reads_every_tag(audio: Path) -> None:
    tags = probe(audio / "singularity-awakening.ogg").tags
    assert tags["title"] == ["Awakening"]
    assert tags["artist"] == ["Maxstack"]
    assert tags["license"] == ["http://creativecommons.org/licenses/by-sa/3.0/"]
    assert tags["contact"] == ["http://emhsoft.com/singularity"]


def test_id3_latin1_frames_holding_cp1252_or_utf8(tmp_path: Path, audio: Path) -> None:
    mp3 = tmp_path / "legacy.mp3"
    mp3.write_bytes(reencode(audio / "drascula-track2.ogg", "libmp3lame", "mp3", bit_rate=96000, seconds=3))
    tags = ID3()
    # what a cp1252 tagger wrote into a "latin-1" frame, and UTF-8 bytes in a latin-1 frame
    tags.add(TIT2(encoding=0, text="Sch\xf6ne \x93Gr\xfc\xdfe\x94 \x80"))
    tags.add(TPE1(encoding=0, text="Bj\xc3\xb6rk"))
    tags.save(mp3)
    got = probe(mp3).tags
    assert got["title"] == ["Schöne “Grüße” €"]
    assert got["artist"] == ["Björk"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_vorbis_comment_in_cp1252_bytes(tmp_path: Path, audio: Path) -> None:
    out = tmp_path / "cp1252.ogg"
    # FFmpeg copies argument bytes into the Vorbis comment as they are: invalid UTF-8 on purpose
    subprocess.run(
        [b"ffmpeg", b"-v", b"error", b"-i", bytes(audio / "drascula-track2.ogg"), b"-c", b"copy",
         b"-metadata", b"title=Caf\xe9 \x96 cr\xe8me", bytes(out)],
        check=True,
    )  # fmt: skip
    assert probe(out).tags["title"] == ["Café – crème"]


@pytest.mark.parametrize(
    ("text", "fixed"),
    [("plain", "plain"), ("Caf\xe9", "Caf\xe9"), ("caf\xc3\xa9", "café"), ("\x93q\x94", "“q”"), ("日本", "日本")],
)
def test_fix_legacy_text(text: str, fixed: str) -> None:
    assert fix_legacy_text(text) == fixed


@needs_ffmpeg
def test_decode_frames_resamples_the_whole_stream(audio: Path) -> None:
    src = audio / "fof-chaos-god-song.ogg"
    total = sum(f.samples for f in decode_frames(src, format="s16", layout="mono", rate=8000))
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(src)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert abs(total / 8000 - float(out.stdout)) < 0.1
    first = next(iter(decode_frames(src, format="s16", layout="mono", rate=8000)))
    assert first.format.name == "s16" and first.sample_rate == 8000 and first.layout.name == "mono"


def test_decode_errors_name_the_file_and_reason(tmp_path: Path, audio: Path) -> None:
    garbage = tmp_path / "garbage.ogg"
    garbage.write_bytes(b"\x00junk" * 1000)
    with pytest.raises(CorruptAudioError, match=r"garbage\.ogg: not a valid ogg file"):
        list(decode_frames(garbage))
    with pytest.raises(UnsupportedAudioError, match=r"\.mod"):
        probe(audio / "tecnoballz-high-score.mod")
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(CorruptAudioError, match="empty file"):
        probe(empty)
    short = tmp_path / "short.wav"
    short.write_bytes(wav_header(1000) + bytes(10))
    assert probe(short).header_duration_ms is not None


def test_ogg_tail_check(audio: Path) -> None:
    data = (audio / "singularity-awakening.ogg").read_bytes()
    check_ogg_tail(data[-65536:], "ok.ogg")
    with pytest.raises(CorruptAudioError, match="ends inside an Ogg page"):
        check_ogg_tail(data[:-1000][-65536:], "cut.ogg")
    last = data.rfind(b"OggS")
    with pytest.raises(CorruptAudioError, match="not an end-of-stream page"):
        check_ogg_tail(data[:last][-65536:], "cut-at-page.ogg")
