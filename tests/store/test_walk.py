"""The safe walk: symlinks followed once, no loops, hidden files skipped, any bytes in names."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from phonotheque.store.walk import printable, walk


def touch(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_symlinks_followed_once_and_loops_end(tmp_path: Path) -> None:
    real = touch(tmp_path / "music" / "a" / "song.ogg")
    touch(tmp_path / "music" / "a" / "other.flac")
    os.symlink(real, tmp_path / "music" / "link-to-song.ogg")          # a second name for one file
    os.symlink(tmp_path / "music", tmp_path / "music" / "a" / "loop")  # a directory loop
    os.symlink(tmp_path / "music" / "a", tmp_path / "music" / "b")     # two names for one tree
    os.symlink(tmp_path / "nowhere.ogg", tmp_path / "music" / "broken.ogg")
    result = walk([tmp_path / "music", tmp_path / "music" / "a" / "song.ogg"])
    names = [Path(f.path).relative_to(tmp_path).as_posix() for f in result.files]
    assert names == ["music/a/other.flac", "music/a/song.ogg"]            # real names win, each once
    assert [reason for _, reason in result.problems] == ["broken symlink"]


def test_hidden_system_and_non_audio_skipped_but_named_files_taken(tmp_path: Path) -> None:
    for name in (".DS_Store", "Thumbs.db", "desktop.ini", "._song.ogg", ".hidden.ogg", "cover.png", "notes.txt"):
        touch(tmp_path / "d" / name)
    touch(tmp_path / "d" / ".git" / "x.ogg")
    keep = touch(tmp_path / "d" / "Track.OGG")
    named = touch(tmp_path / "d" / "notes.txt")
    result = walk([tmp_path / "d"])
    assert [f.path for f in result.files] == [str(keep)]
    assert result.skipped == 8                                             # 7 files + .git
    assert [f.path for f in walk([named]).files] == [str(named)]


def test_undecodable_names_and_file_lists(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9 \x01tab.ogg"                   # latin-1 byte + control char
    with open(raw, "wb") as fh:
        fh.write(b"x")
    good = touch(tmp_path / "sub" / "b.mp3")
    listing = tmp_path / "list.txt"
    listing.write_bytes(raw + b"\n\n# comment\nsub/b.mp3\nmissing.ogg\n")
    result = walk([f"@{listing}"])
    assert [os.fsencode(f.path) for f in result.files] == [raw, os.fsencode(good)]
    assert result.files[0].display.endswith("caf\\xe9 \\x01tab.ogg")
    result.files[0].display.encode("utf-8")                                 # storable in SQLite
    assert len(result.problems) == 1 and result.problems[0][0].endswith("missing.ogg")


def test_order_is_sorted_and_stable(tmp_path: Path) -> None:
    for name in ("b.ogg", "a.ogg", "C.ogg", "sub/z.ogg", "sub/a.ogg"):
        touch(tmp_path / name)
    first = [f.path for f in walk([tmp_path]).files]
    assert first == sorted(first, key=os.fsencode)
    assert first == [f.path for f in walk([tmp_path]).files]


@given(st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_printable_is_single_line_utf8_and_keeps_plain_names(name: bytes) -> None:
    text = printable(os.fsdecode(name))
    text.encode("utf-8")
    assert "\n" not in text and "\r" not in text
    try:
        plain = name.decode("utf-8")
    except UnicodeDecodeError:
        return
    if plain.isprintable():
        assert text == plain
