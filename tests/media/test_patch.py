"""Patches: round trips on real tagged files and arbitrary bytes, the container, restore with and without an archive."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.cli.main import cli
from phonotheque.errors import PatchError
from phonotheque.store.patch import HEADER_SIZE, apply_patch, make_patch, parse_header, read_header, restore
from phonotheque.store.tags import TrackMeta, write_tags

META = TrackMeta(title="T", artist="A", album="B", tracknumber=1, isrc="XX0000000001", track_lufs=-12.0,
                 track_peak=0.9, cover=b"\xff\xd8\xff" + bytes(5000))


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("key", ["flac16", "flac24", "mp3", "vorbis", "m4a"])
def test_real_tagged_files_round_trip_small(work: dict[str, Path], key: str) -> None:
    original = work[key].read_bytes()
    write_tags(work[key], META)
    tagged = work[key].read_bytes()
    assert tagged != original
    patch = make_patch(tagged, original)
    assert apply_patch(tagged, patch) == original
    h = parse_header(patch)
    assert (h.original_sha256, h.original_size, h.tagged_sha256, h.tagged_size) == (
        sha(original), len(original), sha(tagged), len(tagged))
    # small: the tags and a cover, not the audio (well under the file and a few kB of frame overhead)
    assert len(patch) < 12_000 + len(original) // 50


@settings(max_examples=40, deadline=None)
@given(
    original=st.binary(min_size=0, max_size=20000),
    edits=st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 300), st.binary(max_size=300)), max_size=5),
)
def test_any_bytes_round_trip(original: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    tagged = bytearray(original)
    for pos, cut, insert in edits:
        pos = min(pos, len(tagged))
        tagged[pos : pos + cut] = insert
    patch = make_patch(bytes(tagged), original)
    assert apply_patch(bytes(tagged), patch) == original


def test_damaged_or_foreign_patches_are_refused() -> None:
    original, tagged = b"original " * 1000, b"TAGS" + b"original " * 1000
    patch = make_patch(tagged, original)
    with pytest.raises(PatchError, match="another file"):
        apply_patch(tagged + b"x", patch)
    bad = bytearray(patch)
    bad[HEADER_SIZE + len(bad[HEADER_SIZE:]) // 2] ^= 0xFF
    with pytest.raises(PatchError):
        apply_patch(tagged, bytes(bad))
    lying = bytearray(patch)
    lying[10] ^= 0x01  # claims another original sha256
    with pytest.raises(PatchError, match="mismatch"):
        apply_patch(tagged, bytes(lying))
    with pytest.raises(PatchError, match="magic"):
        parse_header(b"X" * 100)
    with pytest.raises(PatchError, match="short"):
        parse_header(b"PHQ")


def _mirror(tmp_path: Path, work: dict[str, Path]) -> tuple[Path, Path, dict[str, bytes]]:
    """A mirror directory of tagged files (one untouched original, one stranger) + a patch directory."""
    mirror, patches = tmp_path / "mirror", tmp_path / "patches"
    (mirror / "sub").mkdir(parents=True)
    patches.mkdir()
    originals: dict[str, bytes] = {}
    for key, rel in (("flac16", "a.flac"), ("mp3", "sub/b.mp3"), ("vorbis", "c.ogg")):
        original = work[key].read_bytes()
        write_tags(work[key], META)
        tagged = work[key].read_bytes()
        shutil.copyfile(work[key], mirror / rel)
        (patches / f"{sha(tagged)}.zstdpatch").write_bytes(make_patch(tagged, original))
        originals[rel] = original
    shutil.copyfile(work["flac24"], mirror / "untagged.flac")           # no patch for it
    orig_of_c = originals["c.ogg"]
    (mirror / "sub" / "c-original.ogg").write_bytes(orig_of_c)          # already the original
    return mirror, patches, originals


def test_restore_without_archive_into_out_dir(tmp_path: Path, work: dict[str, Path]) -> None:
    mirror, patches, originals = _mirror(tmp_path, work)
    before = {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    s = restore([mirror], patches=patches, out=out)
    status = {Path(i.path).relative_to(mirror).as_posix(): i.status for i in s.items}
    assert status == {"a.flac": "restored", "sub/b.mp3": "restored", "c.ogg": "restored",
                      "untagged.flac": "no_patch", "sub/c-original.ogg": "already_original"}
    for rel, original in originals.items():
        assert (out / rel).read_bytes() == original
    assert {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()} == before  # inputs untouched
    assert s.ok and not list(out.rglob(".*.part"))


def test_restore_in_place_and_mismatch(tmp_path: Path, work: dict[str, Path]) -> None:
    mirror, patches, originals = _mirror(tmp_path, work)
    # a patch whose stored original hash is wrong: restore must refuse and leave the file
    target = mirror / "a.flac"
    tagged = target.read_bytes()
    p = patches / f"{sha(tagged)}.zstdpatch"
    bad = bytearray(p.read_bytes())
    bad[12] ^= 0xFF
    p.write_bytes(bytes(bad))
    s = restore([mirror / "a.flac", mirror / "sub" / "b.mp3"], patches=patches)
    assert [i.status for i in s.items] == ["patch_mismatch", "restored"]
    assert target.read_bytes() == tagged
    assert (mirror / "sub" / "b.mp3").read_bytes() == originals["sub/b.mp3"]
    assert not s.ok
    assert read_header(patches / p.name).original_size == len(originals["a.flac"])


def test_restore_cli_json_and_exit_status(tmp_path: Path, work: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    mirror, patches, originals = _mirror(tmp_path, work)
    monkeypatch.chdir(tmp_path)  # not an archive: works from the patches alone
    r = CliRunner().invoke(cli, ["restore", str(mirror), "--patches", str(patches), "--out", str(tmp_path / "o"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    d = orjson.loads(r.stdout)
    assert (d["restored"], d["already_original"], d["no_patch"], d["patch_mismatch"]) == (3, 1, 1, 0)
    assert (tmp_path / "o" / "sub" / "b.mp3").read_bytes() == originals["sub/b.mp3"]
    r = CliRunner().invoke(cli, ["restore", str(mirror)])
    assert r.exit_code == 1 and "no --patches" in r.output


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd CLI not installed")
def test_zstd_cli_applies_our_patch(work: dict[str, Path], tmp_path: Path) -> None:
    """The frame after the 90-byte header is standard zstd patch-from: the zstd CLI rebuilds the original."""
    import subprocess

    original = work["flac16"].read_bytes()
    write_tags(work["flac16"], META)
    patch = make_patch(work["flac16"].read_bytes(), original)
    (tmp_path / "p.zst").write_bytes(patch[HEADER_SIZE:])
    subprocess.run(["zstd", "-q", "-d", f"--patch-from={work['flac16']}", str(tmp_path / "p.zst"), "-o",
                    str(tmp_path / "orig.flac")], check=True)
    assert (tmp_path / "orig.flac").read_bytes() == original
