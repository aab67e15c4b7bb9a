"""Parsing the published artifacts: bencoding, .torrent files (checked against libtorrent), torrents.json."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path
from typing import Any

import libtorrent as lt
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mirror_kit import PIECE, TorrentSpec, build_release, make_torrent, random_files

from phonotheque.errors import MirrorError
from phonotheque.mirror.artifacts import BencodeError, bdecode, load_torrent_list, parse_torrent
from phonotheque.mirror.check import sample_pieces
from phonotheque.mirror.verify import fold, rename_kind

bvalues = st.recursive(
    st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.binary(max_size=8), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(bvalues)
def test_bdecode_reads_what_libtorrent_encodes(value: int | bytes | list[Any] | dict[bytes, Any]) -> None:
    decoded, _ = bdecode(lt.bencode(value))
    assert decoded == value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_bdecode_rejects_garbage_with_its_own_error(data: bytes) -> None:
    try:
        bdecode(data)
    except BencodeError:
        pass


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", ["hybrid", "v1", "v2"])
@pytest.mark.parametrize("piece", [PIECE, 4 * PIECE])
def test_parsed_torrent_matches_libtorrent(tmp_path: Path, version: str, piece: int) -> None:
    rng = random.Random(piece)
    files = random_files(rng, 9, piece=piece)
    for p, data in files.items():
        (tmp_path / "T" / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "T" / p).write_bytes(data)
    blob = make_torrent(tmp_path, "T", piece, version)
    meta = parse_torrent(blob, "T.torrent")
    info = lt.torrent_info(blob)
    ih = info.info_hashes()
    assert meta.infohash_v1 == (str(ih.v1) if ih.has_v1() else None)
    assert meta.infohash_v2 == (str(ih.v2) if ih.has_v2() else None)
    fs = info.files()
    real = [i for i in range(fs.num_files()) if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
    assert [(f.mirror_path, f.size) for f in meta.files] == [
        (fs.file_path(i).replace("\\", "/"), fs.file_size(i)) for i in real
    ]
    for f, i in zip(meta.files, real, strict=True):
        if version != "v1" and f.size:
            assert f.v2_root == bytes.fromhex(str(fs.root(i)))
        if version != "v2":
            first = fs.file_offset(i) // piece
            n = -(-f.size // piece)
            assert f.v1_pieces == b"".join(info.hash_for_piece(first + k) for k in range(n))


def test_torrent_list_problems_are_one_line_errors(tmp_path: Path) -> None:
    rel = build_release(tmp_path, [TorrentSpec("a", {"x": b"1" * 10}), TorrentSpec("b", {"y": b"2" * 10}, batch=2)])
    doc = orjson.loads(rel.torrent_list.read_bytes())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MirrorError, match="not valid JSON"):
        load_torrent_list(bad)
    bad.write_bytes(orjson.dumps({**doc, "format": "something"}))
    with pytest.raises(MirrorError, match="not a phonotheque torrent list"):
        load_torrent_list(bad)
    bad.write_bytes(orjson.dumps({**doc, "torrents": doc["torrents"] + [doc["torrents"][0]]}))
    with pytest.raises(MirrorError, match="lists torrent 'a' twice"):
        load_torrent_list(bad)
    renamed = dict(doc["torrents"][1], name="c")  # same infohash under another name
    bad.write_bytes(orjson.dumps({**doc, "torrents": [*doc["torrents"], renamed]}))
    with pytest.raises(MirrorError, match="twice"):
        load_torrent_list(bad)
    bad.write_bytes(orjson.dumps({**doc, "torrents": [dict(doc["torrents"][0], size="big")]}))
    with pytest.raises(MirrorError, match="'size' must be int"):
        load_torrent_list(bad)


def test_torrent_file_problems_stay_on_the_torrent(tmp_path: Path) -> None:
    rel = build_release(tmp_path, [TorrentSpec("a", {"x": b"1" * 10}), TorrentSpec("b", {"y": b"2" * 10}, batch=2)])
    (rel.release_dir / "torrents" / "a.torrent").unlink()
    (rel.release_dir / "torrents" / "b.torrent").write_bytes(b"d4:infoi3ee")
    tl = load_torrent_list(rel.torrent_list)
    errors = {t.name: t.error for t in tl.torrents}
    assert "torrent file is missing" in (errors["a"] or "")
    assert "not a valid torrent" in (errors["b"] or "")


def test_a_torrent_not_matching_the_listed_infohash_is_refused(tmp_path: Path) -> None:
    rel = build_release(tmp_path, [TorrentSpec("a", {"x": b"1" * 10})])
    doc = orjson.loads(rel.torrent_list.read_bytes())
    doc["torrents"][0]["infohash_v2"] = "0" * 64
    rel.torrent_list.write_bytes(orjson.dumps(doc))
    t = load_torrent_list(rel.torrent_list).torrents[0]
    assert t.meta is None and "does not match the list" in (t.error or "")


def test_unsafe_paths_in_a_torrent_are_refused() -> None:
    info = {b"name": b"T", b"piece length": PIECE, b"pieces": b"\0" * 20,
            b"files": [{b"length": 3, b"path": [b"..", b"etc"]}]}
    torrent: dict[bytes, Any] = {b"info": info}
    with pytest.raises(MirrorError, match="unsafe path"):
        parse_torrent(lt.bencode(torrent), "evil.torrent")


letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèàçüöñABCDEFGHIJKLMNOPQRSTUVWXYZÉÈÀÇÜÖÑ 0123456789-/", min_size=1)


@given(letters)
def test_fold_identifies_case_and_normalization_variants(name: str) -> None:
    nfd = unicodedata.normalize("NFD", name)
    assert fold(nfd) == fold(name) == fold(name.upper()) == fold(name.lower())
    if nfd != name:
        assert rename_kind(name, nfd) == "unicode"
    if name.upper() != name and unicodedata.normalize("NFC", name) == name:
        assert rename_kind(name, name.upper()) == "case"


@given(st.text(min_size=1, max_size=30), st.integers(1, 10_000))
def test_quick_sample_is_deterministic_and_covers_both_ends(key: str, n: int) -> None:
    s = sample_pieces(key, n)
    assert s == sample_pieces(key, n) == sorted(set(s))
    assert len(s) == min(3, n) and s[0] == 0 and s[-1] == n - 1 and all(0 <= i < n for i in s)
