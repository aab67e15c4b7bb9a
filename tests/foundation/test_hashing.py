"""The hashes computed at ingest must be exactly what a real BitTorrent client computes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import libtorrent as lt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonotheque.store.hashing import BLOCK, TorrentHasher, hash_file

PIECE = 64 * 1024


def _libtorrent_hybrid(root: Path, piece: int) -> dict:
    files = [lt.create_file_entry(f"{root.name}/{p.name}", p.stat().st_size) for p in sorted(root.iterdir())]
    t = lt.create_torrent(files, piece)  # libtorrent 2.1's file list (the file_storage form is deprecated)
    lt.set_piece_hashes(t, str(root.parent))
    return t.generate()


@pytest.mark.parametrize("sizes", [[1], [BLOCK, BLOCK + 1], [PIECE - 1, PIECE, PIECE + 1], [5 * PIECE + 7, 3, 2 * PIECE]])
def test_per_file_hashes_match_libtorrent(tmp_path: Path, sizes: list[int]) -> None:
    root = tmp_path / "t"
    root.mkdir()
    for i, s in enumerate(sizes):
        (root / f"f{i:02d}").write_bytes(os.urandom(s))
    meta = _libtorrent_hybrid(root, PIECE)
    info = meta[b"info"]
    tree = info[b"file tree"]
    expected_v1 = b""
    names = sorted(p.name for p in root.iterdir())
    for name in names:
        h = hash_file(root / name, PIECE)
        assert h.sha256 == hashlib.sha256((root / name).read_bytes()).hexdigest()
        root_hash = tree[name.encode()][b""][b"pieces root"]
        assert h.v2_root == root_hash
        assert h.v2_layer == meta.get(b"piece layers", {}).get(root_hash, b"")
        # libtorrent pads every file, the last one included (BEP 47 allows either); v1_tail is the unpadded
        # variant for writers that do not pad the last file
        expected_v1 += h.v1_pieces if len(names) > 1 else h.v1_pieces[:-20] + h.v1_tail  # single file: no pad
        if h.size % PIECE == 0:
            assert h.v1_tail == h.v1_pieces[-20:]
        else:
            data = (root / name).read_bytes()
            assert h.v1_tail == hashlib.sha1(data[(h.size // PIECE) * PIECE :]).digest()
    assert expected_v1 == info[b"pieces"]


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=3 * PIECE + 100), cuts=st.lists(st.integers(1, 70000), max_size=8))
def test_chunking_never_changes_the_hashes(data: bytes, cuts: list[int]) -> None:
    whole = TorrentHasher(PIECE)
    whole.update(data)
    parts = TorrentHasher(PIECE)
    pos = 0
    for c in cuts:
        parts.update(data[pos : pos + c])
        pos += c
    parts.update(data[pos:])
    assert whole.finish() == parts.finish()
