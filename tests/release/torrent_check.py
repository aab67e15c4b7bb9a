"""A second, independent reading of torrents for the tests: a minimal bdecoder and hash recomputation
written from BEP 3 / 47 / 52 without using phonotheque's own code."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def bdecode(data: bytes, i: int = 0) -> tuple[Any, int]:
    c = data[i]
    if c == ord("i"):
        j = data.index(b"e", i)
        return int(data[i + 1 : j]), j + 1
    if c == ord("l"):
        i += 1
        out = []
        while data[i] != ord("e"):
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == ord("d"):
        i += 1
        d = {}
        while data[i] != ord("e"):
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            d[k] = v
        return d, i + 1
    j = data.index(b":", i)
    n = int(data[i:j])
    return data[j + 1 : j + 1 + n], j + 1 + n


def info_span(data: bytes) -> bytes:
    """The raw bytes of the top-level ``info`` value."""
    assert data[0] == ord("d")
    i = 1
    while data[i] != ord("e"):
        k, i = bdecode(data, i)
        start = i
        _, i = bdecode(data, i)
        if k == b"info":
            return data[start:i]
    raise AssertionError("no info dictionary")


def merkle_root_of(data: bytes) -> bytes:
    leaves = [hashlib.sha256(data[o : o + 16384]).digest() for o in range(0, len(data), 16384)]
    n = 1
    while n < len(leaves):
        n *= 2
    layer = leaves + [bytes(32)] * (n - len(leaves))
    while len(layer) > 1:
        layer = [hashlib.sha256(layer[k] + layer[k + 1]).digest() for k in range(0, len(layer), 2)]
    return layer[0]


def piece_layer_of(data: bytes, piece: int) -> bytes:
    per = piece // 16384
    out = b""
    for p in range(0, len(data), piece):
        chunk = data[p : p + piece]
        leaves = [hashlib.sha256(chunk[o : o + 16384]).digest() for o in range(0, len(chunk), 16384)]
        layer = leaves + [bytes(32)] * (per - len(leaves))
        while len(layer) > 1:
            layer = [hashlib.sha256(layer[k] + layer[k + 1]).digest() for k in range(0, len(layer), 2)]
        out += layer[0]
    return out


def walk_tree(tree: dict, prefix: tuple[bytes, ...] = ()) -> list[tuple[tuple[bytes, ...], dict]]:
    out = []
    for k in sorted(tree):
        v = tree[k]
        if k == b"":
            out.append((prefix, v))
        else:
            out.extend(walk_tree(v, prefix + (k,)))
    return out


def check_torrent(torrent_file: Path, content_root: Path) -> dict[str, str | None]:
    """Recompute everything a torrent claims from the files under ``content_root`` (= save_path/name).

    Returns the infohashes. Raises AssertionError on any mismatch.
    """
    raw = torrent_file.read_bytes()
    meta, end = bdecode(raw)
    assert end == len(raw)
    info_raw = info_span(raw)
    info = meta[b"info"]
    assert content_root.name.encode() == info[b"name"]
    ps = info[b"piece length"]
    result: dict[str, str | None] = {"v1": None, "v2": None}
    assert b"creation date" not in meta and b"created by" not in meta
    if b"pieces" in info:
        result["v1"] = hashlib.sha1(info_raw).hexdigest()
        stream = b""
        for f in info[b"files"]:
            if f.get(b"attr") == b"p":
                assert f[b"path"] == [b".pad", str(f[b"length"]).encode()]
                stream += bytes(f[b"length"])
            else:
                data = content_root.joinpath(*[p.decode() for p in f[b"path"]]).read_bytes()
                assert len(data) == f[b"length"]
                assert len(stream) % ps == 0, "file not aligned to a piece"
                stream += data
        pieces = b"".join(hashlib.sha1(stream[o : o + ps]).digest() for o in range(0, len(stream), ps))
        assert pieces == info[b"pieces"], "v1 piece hashes differ"
    if b"file tree" in info:
        assert info[b"meta version"] == 2
        result["v2"] = hashlib.sha256(info_raw).hexdigest()
        layers = meta.get(b"piece layers", {})
        v2_paths = []
        for path, leaf in walk_tree(info[b"file tree"]):
            data = content_root.joinpath(*[p.decode() for p in path]).read_bytes()
            assert len(data) == leaf[b"length"]
            v2_paths.append(path)
            if not data:
                assert b"pieces root" not in leaf
                continue
            assert leaf[b"pieces root"] == merkle_root_of(data), f"v2 root of {path} differs"
            if len(data) > ps:
                assert layers[leaf[b"pieces root"]] == piece_layer_of(data, ps)
        if b"pieces" in info:  # hybrid: both views list the same files in the same order
            v1_paths = [tuple(f[b"path"]) for f in info[b"files"] if f.get(b"attr") != b"p"]
            assert v1_paths == v2_paths
    return result
