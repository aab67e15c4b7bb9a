"""Every hash a file needs, from one read: sha256, BitTorrent v1 piece hashes, v2 merkle tree.

Files in a release are aligned to pieces (BEP 47 pad files), so a file's v1 piece hashes do not
depend on its neighbours: each full piece is hashed alone and the last partial piece is hashed
twice — zero-padded to the piece size (the file is followed by a pad file) and unpadded (the
file is the last of its torrent). v2 (BEP 52) hashes are per file by design: SHA-256 of each
16 KiB block, a merkle tree padded with zero hashes, the root ("pieces root") and the layer at
the piece size ("piece layer"). Packaging builds torrents from these without reading audio.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BLOCK = 16384
ZERO32 = bytes(32)


@dataclass(frozen=True)
class FileHashes:
    sha256: str
    size: int
    piece_size: int
    v1_pieces: bytes        # 20 bytes per piece, last one zero-padded
    v1_tail: bytes          # 20 bytes: last piece unpadded (equals the padded one if size % piece_size == 0)
    v2_root: bytes          # 32 bytes (all zero for an empty file)
    v2_layer: bytes         # 32 bytes per piece; empty when size <= piece_size


def merkle_root(hashes: list[bytes], leaves: int) -> bytes:
    """Root of a tree over ``hashes`` padded with zero hashes to ``leaves`` (a power of two)."""
    layer = list(hashes) + [ZERO32] * (leaves - len(hashes))
    pad = ZERO32
    while len(layer) > 1:
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
        pad = hashlib.sha256(pad + pad).digest()
    return layer[0]


def _pad_hash(levels: int) -> bytes:
    h = ZERO32
    for _ in range(levels):
        h = hashlib.sha256(h + h).digest()
    return h


def _next_pow2(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


class TorrentHasher:
    """Feed bytes in any chunking with :meth:`update`; :meth:`finish` returns :class:`FileHashes`."""

    def __init__(self, piece_size: int) -> None:
        if piece_size < BLOCK or piece_size & (piece_size - 1):
            raise ValueError("piece_size must be a power of two >= 16 KiB")
        self.piece_size = piece_size
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._piece = bytearray()
        self._v1: list[bytes] = []
        self._block = bytearray()
        self._leaves: list[bytes] = []

    def update(self, data: bytes | bytearray | memoryview) -> None:
        mv = memoryview(data)
        self._sha256.update(mv)
        self._size += len(mv)
        self._feed_v1(mv)
        self._feed_v2(mv)

    def _feed_v1(self, mv: memoryview) -> None:
        ps = self.piece_size
        if self._piece:
            need = ps - len(self._piece)
            self._piece += mv[:need]
            mv = mv[need:]
            if len(self._piece) == ps:
                self._v1.append(hashlib.sha1(self._piece).digest())
                self._piece = bytearray()
        while len(mv) >= ps:
            self._v1.append(hashlib.sha1(mv[:ps]).digest())
            mv = mv[ps:]
        if len(mv):
            self._piece += mv

    def _feed_v2(self, mv: memoryview) -> None:
        if self._block:
            need = BLOCK - len(self._block)
            self._block += mv[:need]
            mv = mv[need:]
            if len(self._block) == BLOCK:
                self._leaves.append(hashlib.sha256(self._block).digest())
                self._block = bytearray()
        n = len(mv) - len(mv) % BLOCK
        leaves = self._leaves
        for off in range(0, n, BLOCK):
            leaves.append(hashlib.sha256(mv[off : off + BLOCK]).digest())
        if n < len(mv):
            self._block += mv[n:]

    def finish(self) -> FileHashes:
        ps = self.piece_size
        v1 = list(self._v1)
        tail = v1[-1] if v1 else hashlib.sha1(b"").digest()
        if self._piece:
            tail = hashlib.sha1(self._piece).digest()
            v1.append(hashlib.sha1(bytes(self._piece) + bytes(ps - len(self._piece))).digest())
        leaves = list(self._leaves)
        if self._block:
            leaves.append(hashlib.sha256(self._block).digest())
        per_piece = ps // BLOCK
        if self._size == 0:
            root, layer = ZERO32, b""
        elif len(leaves) <= per_piece:
            root, layer = merkle_root(leaves, _next_pow2(len(leaves))), b""
        else:
            pieces = [
                merkle_root(leaves[i : i + per_piece], per_piece) for i in range(0, len(leaves), per_piece)
            ]
            layer = b"".join(pieces)
            n = _next_pow2(len(pieces))
            pad = _pad_hash(per_piece.bit_length() - 1)
            root = merkle_root(pieces + [pad] * (n - len(pieces)), n) if n > len(pieces) else merkle_root(pieces, n)
        return FileHashes(
            sha256=self._sha256.hexdigest(),
            size=self._size,
            piece_size=ps,
            v1_pieces=b"".join(v1),
            v1_tail=tail,
            v2_root=root,
            v2_layer=layer,
        )


def hash_stream(fh: BinaryIO, piece_size: int, chunk: int = 1 << 20) -> FileHashes:
    h = TorrentHasher(piece_size)
    while True:
        data = fh.read(chunk)
        if not data:
            break
        h.update(data)
    return h.finish()


def hash_file(path: str | Path, piece_size: int) -> FileHashes:
    with open(path, "rb") as fh:
        return hash_stream(fh, piece_size)
