"""Reproducible BitTorrent v1 / v2 / hybrid metainfo from stored per-file hashes (BEP 3, 47, 52).

No file is read here: each :class:`Entry` carries the hashes computed once at ingest
(:mod:`phonotheque.store.hashing`). Files are sorted by their UTF-8 path components (the order of a
v2 ``file tree``, so v1 and v2 views agree) and every file is aligned to a piece with a BEP 47 pad
file (``attr: p``, path ``.pad/<n>``), exactly as libtorrent lays out hybrid torrents: a pad follows
every unaligned file, the last one included, unless the torrent holds a single file. Nothing varies
between runs — no creation date, no "created by", no random value — so the same inputs always give
the same infohashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote

from phonotheque.errors import ReleaseError
from phonotheque.release.bencode import encode

VERSIONS = ("hybrid", "v1", "v2")


class Entry(NamedTuple):
    """One file of a torrent: its path inside the root directory and its stored hashes."""

    path: tuple[str, ...]
    size: int
    v1_pieces: bytes
    v1_tail: bytes
    v2_root: bytes
    v2_layer: bytes


@dataclass(frozen=True)
class BuiltTorrent:
    name: str
    version: str
    metainfo: bytes
    infohash_v1: str | None
    infohash_v2: str | None
    magnet: str
    size: int
    padded_size: int
    piece_size: int
    file_count: int
    offsets: dict[tuple[str, ...], int] = field(repr=False)


def sort_key(path: tuple[str, ...]) -> tuple[bytes, ...]:
    """Order of files in the torrent: UTF-8 bytes per component (= v2 file tree order)."""
    return tuple(c.encode("utf-8") for c in path)


def parse_trackers(trackers: str | Sequence[str] | None) -> list[list[str]]:
    """Tiers of announce URLs: ``"a,b|c"`` → ``[[a, b], [c]]``; a sequence gives one tier per item."""
    if trackers is None:
        return []
    items = [trackers] if isinstance(trackers, str) else list(trackers)
    tiers: list[list[str]] = []
    for item in items:
        for tier_text in item.split("|"):
            tier = [u.strip() for u in tier_text.split(",") if u.strip()]
            for url in tier:
                if not url.lower().startswith(("http://", "https://", "udp://", "wss://")):
                    raise ReleaseError(f"tracker {url!r}: not an http(s)://, udp:// or wss:// URL")
            if tier:
                tiers.append(tier)
    return tiers


def parse_web_seeds(web_seeds: str | Sequence[str] | None) -> list[str]:
    if web_seeds is None:
        return []
    items = [web_seeds] if isinstance(web_seeds, str) else list(web_seeds)
    urls = [u.strip() for item in items for u in item.split(",") if u.strip()]
    for url in urls:
        if not url.lower().startswith(("http://", "https://", "ftp://")):
            raise ReleaseError(f"web seed {url!r}: not an http(s):// or ftp:// URL")
    return urls


def build_torrent(
    name: str,
    entries: Sequence[Entry],
    *,
    piece_size: int,
    version: str = "hybrid",
    trackers: Sequence[Sequence[str]] = (),
    web_seeds: Sequence[str] = (),
) -> BuiltTorrent:
    """The metainfo (bencoded) of a torrent named ``name`` holding ``entries`` under its root dir.

    Everything is written directly as bencoded bytes in one pass over the sorted files: in UTF-8 order of
    path components the files come exactly in the depth-first order of the v2 ``file tree`` (children
    sorted by name), so the tree needs no nested dicts and no recursion. Tests check the bytes against
    libtorrent's and against the generic encoder."""
    if version not in VERSIONS:
        raise ReleaseError(f"torrent version {version!r}: must be one of {', '.join(VERSIONS)}")
    if not entries:
        raise ReleaseError(f"torrent {name}: no files")
    keyed = sorted(zip([tuple(map(str.encode, e.path)) for e in entries], range(len(entries)), strict=True))
    ps = piece_size
    pad_all = len(keyed) > 1
    want_v1, want_v2 = version != "v2", version != "v1"
    v1: list[bytes] = [b"5:filesl"]
    pieces: list[bytes] = []
    tree: list[bytes] = [b"9:file treed"]
    layers: dict[bytes, bytes] = {}
    offsets: dict[tuple[str, ...], int] = {}
    open_dirs: tuple[bytes, ...] = ()
    offset = size = 0
    previous: tuple[bytes, ...] = ()
    dir_path = b""  # bencoded components of the current directory (v1 "path" lists share it)
    for comps, i in keyed:
        e = entries[i]
        fsize = e.size
        n = len(previous)
        if comps[:n] == previous and n:
            if len(comps) == n:
                raise ReleaseError(f"torrent {name}: path {'/'.join(e.path)} appears twice")
            raise ReleaseError(f"torrent {name}: {'/'.join(e.path[:n])} is both a file and a directory")
        previous = comps
        if len(e.v1_pieces) != 20 * -(-fsize // ps) or len(e.v2_root) != 32:
            raise ReleaseError(f"torrent {name}: stored hashes of {'/'.join(e.path)} do not match its size "
                               f"{fsize} at piece size {ps}")
        offsets[e.path] = offset
        dirs = comps[:-1]
        if dirs != open_dirs:  # entering another directory: close and open tree levels
            common = 0
            limit = min(len(open_dirs), len(dirs))
            while common < limit and open_dirs[common] == dirs[common]:
                common += 1
            if len(open_dirs) > common:
                tree.append(b"e" * (len(open_dirs) - common))
            tree.extend([b"%d:%sd" % (len(c), c) for c in dirs[common:]])
            open_dirs = dirs
            dir_path = b"".join([b"%d:%s" % (len(c), c) for c in dirs])
        leaf = comps[-1]
        pad = (-fsize) % ps if pad_all else 0
        if want_v1:
            v1.append(b"d6:lengthi%de4:pathl%s%d:%see" % (fsize, dir_path, len(leaf), leaf))
            if fsize:
                pieces.append(e.v1_pieces if pad or fsize % ps == 0 else e.v1_pieces[:-20] + e.v1_tail)
            if pad:
                p = b"%d" % pad
                v1.append(b"d4:attr1:p6:lengthi%se4:pathl4:.pad%d:%see" % (p, len(p), p))
        if want_v2:
            if fsize:
                tree.append(b"%d:%sd0:d6:lengthi%de11:pieces root32:%see" % (len(leaf), leaf, fsize, e.v2_root))
                if fsize > ps:
                    layers[e.v2_root] = e.v2_layer
            else:
                tree.append(b"%d:%sd0:d6:lengthi0eee" % (len(leaf), leaf))
        offset += fsize + pad
        size += fsize
    out: list[bytes] = [b"d"]
    if want_v2:
        tree.append(b"e" * (len(open_dirs) + 1))
        out += tree
    if want_v1:
        v1.append(b"e")
        out += v1
    if want_v2:
        out.append(b"12:meta versioni2e")
    out.append(b"4:name" + _b(name))
    out.append(b"12:piece lengthi%de" % ps)
    if want_v1:
        joined = b"".join(pieces)
        out.append(b"6:pieces%d:" % len(joined))
        out.append(joined)
    out.append(b"e")
    info_bytes = b"".join(out)
    # the metainfo: keys in bencode order (announce, announce-list, info, piece layers, url-list)
    meta: list[bytes] = [b"d"]
    if trackers:
        meta.append(b"8:announce" + _b(trackers[0][0]))
        meta.append(b"13:announce-list" + encode([list(t) for t in trackers]))
    meta.append(b"4:info")
    meta.append(info_bytes)
    if want_v2 and layers:
        meta.append(b"12:piece layersd")
        for root in sorted(layers):
            layer = layers[root]
            meta.append(b"32:%s%d:%s" % (root, len(layer), layer))
        meta.append(b"e")
    if web_seeds:
        meta.append(b"8:url-list" + encode(list(web_seeds)))
    meta.append(b"e")
    ih1 = hashlib.sha1(info_bytes).hexdigest() if want_v1 else None
    ih2 = hashlib.sha256(info_bytes).hexdigest() if want_v2 else None
    return BuiltTorrent(
        name=name,
        version=version,
        metainfo=b"".join(meta),
        infohash_v1=ih1,
        infohash_v2=ih2,
        magnet=magnet_link(name, ih1, ih2, trackers),
        size=size,
        padded_size=offset,
        piece_size=ps,
        file_count=len(keyed),
        offsets=offsets,
    )


def _b(text: str) -> bytes:
    b = text.encode("utf-8")
    return b"%d:%s" % (len(b), b)


def magnet_link(name: str, ih1: str | None, ih2: str | None, trackers: Sequence[Sequence[str]] = ()) -> str:
    parts = []
    if ih1:
        parts.append(f"xt=urn:btih:{ih1}")
    if ih2:
        parts.append(f"xt=urn:btmh:1220{ih2}")
    parts.append(f"dn={quote(name, safe='')}")
    parts.extend(f"tr={quote(url, safe='')}" for tier in trackers for url in tier)
    return "magnet:?" + "&".join(parts)
