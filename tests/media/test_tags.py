"""write_tags: Picard's field names per format, loudness tags per format, cover art, bad files."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import mutagen
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutagen.flac import FLAC, Picture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

from phonotheque.errors import TagWriteError, UnsupportedAudioError
from phonotheque.store.tags import TrackMeta, write_tags
from phonotheque.store.transcode import transcode_file

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def meta() -> TrackMeta:
    return TrackMeta(
        title="Sur le pont d\u2019Avignon", artist="A feat. B", artists=["A", "B"], album="Chansons",
        albumartist="Various Artists", date="1999-05-01", originaldate="1950", tracknumber=3, totaltracks=12,
        discnumber=1, totaldiscs=2, isrc="FRZ039800212", barcode="0724384960650",
        musicbrainz_trackid="b1a9c0e9-d987-4042-ae91-78d6a3267d69",
        musicbrainz_releasetrackid="0c0a1a4f-1d1b-3a8c-b1a0-2b2f2b2b2b2b",
        musicbrainz_albumid="f7c9fd8e-9f56-4ad0-ba4d-6bd0a4b1f3c5",
        musicbrainz_artistids=["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"],
        label="Label X", catalognumber="LX-001", license="https://creativecommons.org/licenses/by/4.0/",
        copyright="2024 A", website="https://example.org/a", catalog_id="42", catalog_url="https://arch.example/track/42",
        track_lufs=-14.0, track_peak=0.98, album_lufs=-15.5, album_peak=0.99, cover=PNG, cover_mime="image/png",
    )


def ffprobe_tags(path: Path) -> dict[str, str]:
    """Tags as FFmpeg (an independent reader) sees them, keys upper-cased."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    tags = {k.upper(): v for k, v in d.get("format", {}).get("tags", {}).items()}
    for s in d.get("streams", []):
        tags.update({k.upper(): v for k, v in s.get("tags", {}).items()})
    return tags


@pytest.fixture
def opus(tmp_path: Path, media: dict[str, Path]) -> Path:
    p = tmp_path / "t.opus"
    transcode_file(media["flac16"], p)
    return p


def test_opus_vorbis_comments_and_r128(opus: Path) -> None:
    assert write_tags(opus, meta()) == "opus"
    t = OggOpus(opus).tags
    assert t is not None
    assert t["TITLE"] == ["Sur le pont d\u2019Avignon"] and t["ARTISTS"] == ["A", "B"]
    assert t["ALBUMARTIST"] == ["Various Artists"] and t["TRACKNUMBER"] == ["3"] and t["TOTALTRACKS"] == ["12"]
    assert t["DISCNUMBER"] == ["1"] and t["TOTALDISCS"] == ["2"] and t["ISRC"] == ["FRZ039800212"]
    assert t["MUSICBRAINZ_TRACKID"] == ["b1a9c0e9-d987-4042-ae91-78d6a3267d69"]
    assert t["MUSICBRAINZ_ARTISTID"] == meta().musicbrainz_artistids
    assert t["PHONOTHEQUE_TRACKID"] == ["42"] and t["BARCODE"] == ["0724384960650"]
    # R128 gains: Q7.8 relative to -23 LUFS: -14 LUFS -> -9 dB -> -2304; -15.5 -> -7.5 dB -> -1920
    assert t["R128_TRACK_GAIN"] == ["-2304"] and t["R128_ALBUM_GAIN"] == ["-1920"]
    assert "REPLAYGAIN_TRACK_GAIN" not in t
    pic = Picture(base64.b64decode(t["METADATA_BLOCK_PICTURE"][0]))
    assert pic.data == PNG and pic.type == 3 and pic.mime == "image/png"
    seen = ffprobe_tags(opus)
    assert seen["TITLE"] == "Sur le pont d\u2019Avignon" and seen["R128_TRACK_GAIN"] == "-2304"


def test_vorbis_and_flac_replaygain(work: dict[str, Path]) -> None:
    for key, cls in (("vorbis", OggVorbis), ("flac16", FLAC)):
        write_tags(work[key], meta())
        audio = cls(work[key])
        t: Any = audio.tags  # mutagen's stubs type FLAC tags as any metadata block
        assert t is not None
        assert t["REPLAYGAIN_TRACK_GAIN"] == ["-4.00 dB"] and t["REPLAYGAIN_ALBUM_GAIN"] == ["-2.50 dB"]
        assert t["REPLAYGAIN_TRACK_PEAK"] == ["0.980000"]
        assert "R128_TRACK_GAIN" not in t
        assert t["MUSICBRAINZ_ALBUMID"] == ["f7c9fd8e-9f56-4ad0-ba4d-6bd0a4b1f3c5"]
        assert t["LICENSE"] == ["https://creativecommons.org/licenses/by/4.0/"]
        if isinstance(audio, FLAC):
            assert audio.pictures[0].data == PNG
        assert ffprobe_tags(work[key])["REPLAYGAIN_TRACK_GAIN"] == "-4.00 dB"


def test_mp3_id3v24_picard_frames(work: dict[str, Path]) -> None:
    write_tags(work["mp3"], meta())
    t = ID3(work["mp3"])
    assert t.version[:2] == (2, 4)
    assert str(t["TIT2"]) == "Sur le pont d\u2019Avignon" and str(t["TPE2"]) == "Various Artists"
    assert str(t["TRCK"]) == "3/12" and str(t["TPOS"]) == "1/2" and str(t["TSRC"]) == "FRZ039800212"
    assert t["UFID:http://musicbrainz.org"].data == b"b1a9c0e9-d987-4042-ae91-78d6a3267d69"
    assert t["TXXX:MusicBrainz Album Id"].text == ["f7c9fd8e-9f56-4ad0-ba4d-6bd0a4b1f3c5"]
    assert t["TXXX:ARTISTS"].text == ["A", "B"]
    assert t["TXXX:REPLAYGAIN_TRACK_GAIN"].text == ["-4.00 dB"]
    assert t.getall("APIC")[0].data == PNG
    assert str(t["TPUB"]) == "Label X" and t["TXXX:CATALOGNUMBER"].text == ["LX-001"]
    # the audio still decodes after the rewrite
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(work["mp3"]), "-map", "0:a", "-f", "null", "-"],
                   check=True)


def test_m4a(work: dict[str, Path]) -> None:
    write_tags(work["m4a"], meta())
    t = MP4(work["m4a"]).tags
    assert t is not None
    assert t["\xa9nam"] == ["Sur le pont d\u2019Avignon"] and t["trkn"] == [(3, 12)] and t["disk"] == [(1, 2)]
    assert bytes(t["----:com.apple.iTunes:MusicBrainz Track Id"][0]) == b"b1a9c0e9-d987-4042-ae91-78d6a3267d69"
    assert bytes(t["----:com.apple.iTunes:REPLAYGAIN_ALBUM_GAIN"][0]) == b"-2.50 dB"
    assert bytes(t["covr"][0]) == PNG


def test_empty_fields_are_not_written_and_other_tags_kept(work: dict[str, Path]) -> None:
    f = FLAC(work["flac16"])
    f["COMMENT"] = ["keep me"]
    f.save()
    write_tags(work["flac16"], TrackMeta(title="Only a title"))
    t: Any = FLAC(work["flac16"]).tags
    assert t is not None
    assert t["TITLE"] == ["Only a title"] and t["COMMENT"] == ["keep me"]
    assert "ARTIST" not in t and "REPLAYGAIN_TRACK_GAIN" not in t


def test_wav_gets_an_id3_chunk_and_still_decodes_to_the_same_samples(work: dict[str, Path]) -> None:
    import av
    import numpy as np
    from mutagen.wave import WAVE

    def pcm(p: Path) -> np.ndarray:
        with av.open(str(p)) as c:
            return np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])

    before = pcm(work["wav"])
    assert write_tags(work["wav"], meta()) == "wav"
    tags = WAVE(work["wav"]).tags
    assert tags is not None and str(tags["TIT2"]) == meta().title
    assert np.array_equal(pcm(work["wav"]), before)


def test_exotic_format_is_reported_and_left_alone(work: dict[str, Path]) -> None:
    for key in ("mod", "text"):
        before = work[key].read_bytes()
        with pytest.raises(UnsupportedAudioError) as e:
            write_tags(work[key], meta())
        assert work[key].name in str(e.value)
        assert work[key].read_bytes() == before


def test_read_only_file_is_reported_and_left_alone(work: dict[str, Path]) -> None:
    p = work["flac16"]
    before = p.read_bytes()
    p.chmod(0o444)
    try:
        with pytest.raises(TagWriteError) as e:
            write_tags(p, meta())
        assert "read-only" in str(e.value)
        assert p.read_bytes() == before
    finally:
        p.chmod(0o644)


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=_text, artists=st.lists(_text, min_size=1, max_size=3), n=st.integers(1, 999))
def test_round_trip_any_text(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, title: str,
                             artists: list[str], n: int) -> None:
    p = tmp_path_factory.mktemp("rt") / "x.flac"
    p.write_bytes(media["flac16"].read_bytes())
    write_tags(p, TrackMeta(title=title, artists=artists, artist=" & ".join(artists), tracknumber=n))
    back = mutagen.File(p)
    assert back is not None and back.tags is not None
    assert back.tags["TITLE"] == [title] and back.tags["ARTISTS"] == artists and back.tags["TRACKNUMBER"] == [str(n)]
