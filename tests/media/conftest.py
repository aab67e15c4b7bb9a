"""Real media for the media tests: small files generated with the ffmpeg CLI plus real Vorbis excerpts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mutagen.apev2 import APEv2
from mutagen.id3 import APIC, ID3, PRIV, TIT2

DATA = Path(__file__).resolve().parents[1] / "data" / "media"

# music-like test signal: a few partials with slow amplitude modulation, different per channel
_SIGNAL = "0.25*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*0.7*t))+0.15*sin(2*PI*1320*t)+0.08*sin(2*PI*5000*t)"
_SIGNAL_R = "0.2*sin(2*PI*330*t)*(0.6+0.4*cos(2*PI*0.5*t))+0.12*sin(2*PI*2200*t)"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _aeval(rate: int, seconds: float, channels: int) -> list[str]:
    exprs = [_SIGNAL, _SIGNAL_R, "0.5*(" + _SIGNAL + ")", "0.05*sin(2*PI*60*t)", "0.3*(" + _SIGNAL_R + ")",
             "0.3*(" + _SIGNAL + ")"][:channels]
    return ["-f", "lavfi", "-i", f"aevalsrc={'|'.join(exprs)}:s={rate}:d={seconds}"]


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    f: dict[str, Path] = {}
    f["flac16"] = d / "stereo-44k-16bit.flac"
    ffmpeg(*_aeval(44100, 4.0, 2), "-sample_fmt", "s16", str(f["flac16"]))
    f["flac24"] = d / "stereo-96k-24bit.flac"
    ffmpeg(*_aeval(96000, 3.0, 2), "-sample_fmt", "s32", "-bits_per_raw_sample", "24", str(f["flac24"]))
    f["mono22"] = d / "mono-22k.flac"
    ffmpeg(*_aeval(22050, 3.0, 1), "-sample_fmt", "s16", str(f["mono22"]))
    f["surround"] = d / "surround-5.1.flac"
    ffmpeg(*_aeval(48000, 3.0, 6), "-channel_layout", "5.1", "-sample_fmt", "s16", str(f["surround"]))
    f["wav"] = d / "stereo-44k.wav"
    ffmpeg(*_aeval(44100, 2.5, 2), "-c:a", "pcm_s16le", str(f["wav"]))
    f["m4a"] = d / "stereo.m4a"
    ffmpeg(*_aeval(44100, 3.0, 2), "-c:a", "aac", "-b:a", "128k", str(f["m4a"]))
    # MP3 with ID3 junk: a big ID3v2.3 tag (private blob + picture), an APEv2 tag and ID3v1 at the end
    f["mp3"] = d / "junk.mp3"
    ffmpeg(*_aeval(44100, 3.0, 2), "-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3",
           "-write_id3v1", "1", "-metadata", "title=junk", str(f["mp3"]))
    tags = ID3(str(f["mp3"]))
    tags.add(PRIV(owner="junk", data=bytes(range(256)) * 200))
    tags.add(APIC(encoding=0, mime="image/png", type=3, desc="", data=b"\x89PNG\r\n\x1a\n" + b"\0" * 20000))
    tags.add(TIT2(encoding=3, text=["junk \u2603"]))
    tags.save(str(f["mp3"]), v2_version=3)
    ape = APEv2()
    ape["Comment"] = "x" * 3000
    ape.save(str(f["mp3"]))
    f["vorbis"] = d / "drascula-track12.ogg"
    shutil.copyfile(DATA / "drascula-track12.ogg", f["vorbis"])
    f["vorbis2"] = d / "singularity-awakening.ogg"
    shutil.copyfile(DATA / "singularity-awakening.ogg", f["vorbis2"])
    f["mod"] = d / "tecnoballz-high-score.mod"
    shutil.copyfile(DATA / "tecnoballz-high-score.mod", f["mod"])
    f["truncated"] = d / "truncated.flac"
    data = f["flac16"].read_bytes()
    f["truncated"].write_bytes(data[: len(data) // 3])
    f["garbage"] = d / "garbage.flac"
    f["garbage"].write_bytes(b"fLaC" + bytes(range(256)) * 40)
    f["text"] = d / "notes.ogg"
    f["text"].write_text("not audio at all\n")
    return f


@pytest.fixture
def work(tmp_path: Path, media: dict[str, Path]) -> dict[str, Path]:
    """Fresh copies of the media for tests that write."""
    out = {}
    for k, p in media.items():
        out[k] = tmp_path / p.name
        shutil.copyfile(p, out[k])
    return out


# -- archives with catalog, files and plan rows (what ingest and plan will fill) -----------------

def add_original(archive: object, track_id: int, src: Path) -> int:
    """Store ``src`` content-addressed like ingest does and link it to the track as its original."""
    from phonotheque.archive import Archive
    from phonotheque.store.hashing import hash_file
    from phonotheque.store.layout import store_relpath
    from phonotheque.store.media_common import hash_columns, insert_file

    assert isinstance(archive, Archive)
    piece = int(archive.settings["store.piece_size"])
    h = hash_file(src, piece)
    rel = store_relpath(h.sha256, src.suffix)
    dst = archive.root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    with archive.transaction() as conn:
        fid = insert_file(conn, {**hash_columns(h), "tier": "original", "store_path": rel, "ext": src.suffix,
                                 "licence": "CC-BY-4.0"})
        conn.execute("INSERT OR IGNORE INTO track_files(track_id, file_id, role, match_method) VALUES (?,?,?,?)",
                     (track_id, fid, "original", "test"))
    return fid


def build_archive(root: Path, albums: list[tuple[str, list[tuple[str, Path | None]]]]) -> object:
    """An archive whose catalog has ``albums``: (name, [(decision, source file or None), ...])."""
    from phonotheque.archive import Archive

    archive = Archive.init(root, {"store.piece_size": 1 << 16, "archive.url": "https://arch.example"})
    with archive.transaction() as c:
        c.execute("INSERT INTO sources(id, name, format, licence) VALUES (1, 'test', 'jsonl', 'CC-BY-4.0')")
        c.execute("INSERT INTO artists(id, source_id, source_key, name, mbid) VALUES "
                  "(1, 1, 'a1', 'Artist One', '11111111-1111-1111-1111-111111111111')")
    track_id = 0
    for a, (name, tracks) in enumerate(albums, start=1):
        with archive.transaction() as c:
            c.execute("INSERT INTO albums(id, source_id, source_key, name, release_date, total_tracks, upc, mbid) "
                      "VALUES (?, 1, ?, ?, '2001-02-03', ?, '0123456789012', ?)",
                      (a, f"al{a}", name, len(tracks), f"aaaaaaaa-0000-0000-0000-{a:012d}"))
            c.execute("INSERT INTO album_artists(album_id, position, artist_id) VALUES (?, 0, 1)", (a,))
        for n, (decision, src) in enumerate(tracks, start=1):
            track_id += 1
            with archive.transaction() as c:
                c.execute("INSERT INTO recordings(id, mbid, isrc, title) VALUES (?, ?, ?, ?)",
                          (track_id, f"bbbbbbbb-0000-0000-0000-{track_id:012d}", f"XX00000{track_id:05d}", name))
                c.execute("INSERT INTO tracks(id, source_id, source_key, album_id, recording_id, name, disc_number, "
                          "track_number) VALUES (?, 1, ?, ?, ?, ?, 1, ?)",
                          (track_id, f"t{track_id}", a, track_id, f"{name} track {n}", n))
                c.execute("INSERT INTO track_artists(track_id, position, artist_id) VALUES (?, 0, 1)", (track_id,))
                c.execute("INSERT INTO plan(track_id, decision, status) VALUES (?, ?, ?)",
                          (track_id, decision, f"planned_{decision}"))
            if src is not None:
                add_original(archive, track_id, src)
    return archive


@pytest.fixture
def make_archive() -> object:
    """``build_archive`` as a fixture (test modules do not import conftest)."""
    return build_archive
