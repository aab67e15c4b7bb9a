"""Torrents built from stored hashes: identical to libtorrent's own, and recomputable from the files."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import libtorrent as lt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torrent_check import check_torrent

from phonotheque.errors import ReleaseError
from phonotheque.release.bencode import decode, encode
from phonotheque.release.torrent import Entry, build_torrent, parse_trackers, sort_key
from phonotheque.store.hashing import BLOCK, hash_file


def _entries(root: Path, ps: int) -> list[Entry]:
    out = []
    for p in root.rglob("*"):
        if p.is_file():
            h = hash_file(p, ps)
            out.append(Entry(p.relative_to(root).parts, h.size, h.v1_pieces, h.v1_tail, h.v2_root, h.v2_layer))
    return out


def _write_tree(root: Path, sizes: list[int]) -> None:
    for i, s in enumerate(sizes):
        p = root / f"d{i % 3}" / ("É" if i % 2 else "a") / f"f{i:02d} é🎵.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(s))


def _libtorrent_info(root: Path, ps: int, entries: list[Entry]) -> bytes:
    fs = lt.file_storage()
    for e in sorted(entries, key=lambda e: sort_key(e.path)):
        fs.add_file("/".join((root.name, *e.path)), e.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        t = lt.create_torrent(fs, ps)
    lt.set_piece_hashes(t, str(root.parent))
    return lt.bencode(t.generate()[b"info"])


@pytest.mark.parametrize("ps", [BLOCK, 65536, 262144])
@pytest.mark.parametrize("sizes", [
    [1], [BLOCK], [100_000], [BLOCK, BLOCK + 1], [65535, 65536, 65537], [5 * 65536 + 7, 3, 2 * 65536, 300_001, 17],
])
def test_hybrid_equals_libtorrents_own_and_recomputes(tmp_path: Path, ps: int, sizes: list[int]) -> None:
    root = tmp_path / "rel-audio-0001"
    _write_tree(root, sizes)
    entries = _entries(root, ps)
    built = build_torrent(root.name, entries, piece_size=ps)
    (tmp_path / "t.torrent").write_bytes(built.metainfo)
    ours = decode(built.metainfo)[b"info"]
    assert _libtorrent_info(root, ps, entries) == encode(ours)
    hashes = check_torrent(tmp_path / "t.torrent", root)
    assert hashes == {"v1": built.infohash_v1, "v2": built.infohash_v2}
    ti = lt.torrent_info(str(tmp_path / "t.torrent"))
    assert str(ti.info_hashes().v1) == built.infohash_v1
    assert str(ti.info_hashes().v2) == built.infohash_v2
    assert built.size == sum(sizes)
    # every file starts on a piece boundary
    assert all(off % ps == 0 for off in built.offsets.values())


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_v1_only_and_v2_only(tmp_path: Path, version: str) -> None:
    root = tmp_path / "x"
    _write_tree(root, [70_000, 20, 16384 * 5])
    built = build_torrent("x", _entries(root, BLOCK), piece_size=BLOCK, version=version)
    (tmp_path / "t.torrent").write_bytes(built.metainfo)
    hashes = check_torrent(tmp_path / "t.torrent", root)
    meta = decode(built.metainfo)
    if version == "v1":
        assert hashes["v2"] is None and built.infohash_v2 is None and b"piece layers" not in meta
        assert b"file tree" not in meta[b"info"] and b"meta version" not in meta[b"info"]
    else:
        assert hashes["v1"] is None and built.infohash_v1 is None and b"pieces" not in meta[b"info"]
    ti = lt.torrent_info(str(tmp_path / "t.torrent"))
    assert ti.num_pieces() > 0


def test_same_inputs_same_bytes_any_order(tmp_path: Path) -> None:
    root = tmp_path / "x"
    _write_tree(root, [70_000, 20, 16384 * 5, 999])
    entries = _entries(root, BLOCK)
    a = build_torrent("x", entries, piece_size=BLOCK, trackers=[["udp://t.example:1337/announce"]])
    b = build_torrent("x", list(reversed(entries)), piece_size=BLOCK, trackers=[["udp://t.example:1337/announce"]])
    assert a.metainfo == b.metainfo and a.infohash_v1 == b.infohash_v1 and a.infohash_v2 == b.infohash_v2


def test_trackers_and_web_seeds_are_outside_the_infohash(tmp_path: Path) -> None:
    root = tmp_path / "x"
    _write_tree(root, [70_000, 20])
    entries = _entries(root, BLOCK)
    plain = build_torrent("x", entries, piece_size=BLOCK)
    tiers = parse_trackers("udp://a.example:1/announce,https://b.example/announce|udp://c.example:2/announce")
    dressed = build_torrent("x", entries, piece_size=BLOCK, trackers=tiers, web_seeds=["https://seed.example/r/"])
    assert plain.infohash_v1 == dressed.infohash_v1 and plain.infohash_v2 == dressed.infohash_v2
    meta = decode(dressed.metainfo)
    assert meta[b"announce"] == b"udp://a.example:1/announce"
    assert meta[b"announce-list"] == [[b"udp://a.example:1/announce", b"https://b.example/announce"],
                                      [b"udp://c.example:2/announce"]]
    assert meta[b"url-list"] == [b"https://seed.example/r/"]
    assert "tr=udp%3A%2F%2Fa.example" in dressed.magnet and f"urn:btih:{plain.infohash_v1}" in dressed.magnet
    assert f"urn:btmh:1220{plain.infohash_v2}" in dressed.magnet


def test_bad_inputs_are_refused_clearly() -> None:
    with pytest.raises(ReleaseError, match="tracker 'ftp"):
        parse_trackers("ftp://x")
    with pytest.raises(ReleaseError, match="no files"):
        build_torrent("x", [], piece_size=BLOCK)
    e = Entry(("a",), 100, b"\0" * 20, b"\0" * 20, b"\0" * 32, b"")
    with pytest.raises(ReleaseError, match="appears twice"):
        build_torrent("x", [e, e], piece_size=BLOCK)
    with pytest.raises(ReleaseError, match="do not match its size"):
        build_torrent("x", [Entry(("a",), 100_000, b"\0" * 20, b"", b"\0" * 32, b"")], piece_size=BLOCK)
    with pytest.raises(ReleaseError, match="both a file and a directory"):
        build_torrent("x", [e, Entry(("a", "b"), 100, b"\0" * 20, b"\0" * 20, b"\0" * 32, b"")], piece_size=BLOCK)
    with pytest.raises(ReleaseError, match="version"):
        build_torrent("x", [e], piece_size=BLOCK, version="v3")


def test_direct_info_encoding_is_canonical_bencode(tmp_path: Path) -> None:
    root = tmp_path / "x"
    _write_tree(root, [70_000, 20, 16384 * 5, 0, 999])
    for version in ("hybrid", "v1", "v2"):
        built = build_torrent("x ✓", _entries(root, BLOCK), piece_size=BLOCK, version=version)
        info = decode(built.metainfo)[b"info"]
        assert encode(info) in built.metainfo  # re-encoding the decoded dict gives the very same bytes


def _reference_info(name: str, entries: list[Entry], ps: int, version: str) -> bytes:
    """The info dict built the plain way (nested dicts, generic canonical encoder), from BEP 3/47/52."""
    files = sorted(entries, key=lambda e: sort_key(e.path))
    pad_all = len(files) > 1
    v1: list[dict[str, object]] = []
    pieces = b""
    tree: dict[str, object] = {}
    for e in files:
        pad = (-e.size) % ps if pad_all else 0
        v1.append({"length": e.size, "path": list(e.path)})
        if e.size:
            pieces += e.v1_pieces if pad or e.size % ps == 0 else e.v1_pieces[:-20] + e.v1_tail
        if pad:
            v1.append({"attr": "p", "length": pad, "path": [".pad", str(pad)]})
        node = tree
        for comp in e.path[:-1]:
            node = node.setdefault(comp, {})  # type: ignore[assignment]
        leaf: dict[str, object] = {"length": e.size}
        if e.size:
            leaf["pieces root"] = e.v2_root
        node[e.path[-1]] = {"": leaf}
    info: dict[str, object] = {"name": name, "piece length": ps}
    if version != "v2":
        info["files"] = v1
        info["pieces"] = pieces
    if version != "v1":
        info["file tree"] = tree
        info["meta version"] = 2
    return encode(info)  # type: ignore[arg-type]


component = st.text(st.sampled_from("aAbé🎵 .z"), min_size=1, max_size=4)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.lists(component, min_size=1, max_size=4).map(tuple), st.integers(0, 5 * BLOCK)),
                min_size=1, max_size=25, unique_by=lambda x: x[0]),
       st.sampled_from(["hybrid", "v1", "v2"]))
def test_one_pass_encoder_equals_the_nested_dict_encoding(files: list[tuple[tuple[str, ...], int]],
                                                         version: str) -> None:
    paths = {p for p, _ in files}
    assume(not any(p[:i] in paths for p in paths for i in range(1, len(p))))  # no file is also a directory
    entries = []
    for i, (path, size) in enumerate(files):
        n = -(-size // BLOCK)
        entries.append(Entry(path, size, bytes([i % 256]) * 20 * n, bytes([i % 256, 1]) * 10,
                             bytes([i % 256, 2]) * 16, bytes([i % 256, 3]) * 16 * n if size > BLOCK else b""))
    built = build_torrent("t ✓", entries, piece_size=BLOCK, version=version)
    info = _reference_info("t ✓", entries, BLOCK, version)
    meta = decode(built.metainfo)
    assert encode(meta[b"info"]) == info and info in built.metainfo
    assert built.infohash_v1 == (hashlib.sha1(info).hexdigest() if version != "v2" else None)
    assert built.infohash_v2 == (hashlib.sha256(info).hexdigest() if version != "v1" else None)
    layers = {e.v2_root: e.v2_layer for e in entries if e.size > BLOCK}
    assert meta.get(b"piece layers", {}) == (layers if version != "v1" else {})
    assert encode(meta) == built.metainfo  # the whole metainfo is canonical bencoding


def test_file_and_directory_clash_is_refused_in_any_order() -> None:
    f = Entry(("a", "b"), 10, b"\0" * 20, b"\0" * 20, b"\0" * 32, b"")
    d = Entry(("a", "b", "c"), 10, b"\0" * 20, b"\0" * 20, b"\0" * 32, b"")
    other = Entry(("a", "a"), 10, b"\0" * 20, b"\0" * 20, b"\0" * 32, b"")
    for entries in ([f, d, other], [d, other, f]):
        with pytest.raises(ReleaseError, match="a/b is both a file and a directory"):
            build_torrent("x", entries, piece_size=BLOCK)
