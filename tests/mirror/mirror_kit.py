"""Build real releases for mirror tests: libtorrent torrents over generated files + the contract's artifacts.

``build_release`` writes, like the release stage publishes them::

    release/torrents.json  release/torrents/<name>.torrent  release/index/files.parquet  …csv.zst
    mirror/<name>/<path>   (a full mirror: the seeding tree the torrents were hashed from)

Torrents are made by libtorrent itself (hybrid by default, pad files / piece-aligned), so what
verify checks against is what a real client would check against.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import libtorrent as lt
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

PIECE = 64 * 1024


@dataclass
class TorrentSpec:
    name: str
    files: dict[str, bytes]                     # path inside the root dir -> content
    batch: int = 1
    kind: str = "audio"
    listens: dict[str, float] = field(default_factory=dict)  # path -> listens of the file's track


@dataclass
class BuiltRelease:
    release_dir: Path
    mirror_dir: Path
    torrent_list: Path
    specs: list[TorrentSpec]
    piece_size: int
    entries: list[dict]

    def track_listens(self) -> dict[str, float]:
        """Independent truth: track id -> listens, as the fixture assigned them."""
        out: dict[str, float] = {}
        for s in self.specs:
            for p in s.files:
                for tid in track_ids(s.name, p):
                    out[tid] = s.listens.get(p, 0.0)
        return out


def track_ids(torrent: str, path: str) -> list[str]:
    """Files whose name starts with 'dup' carry two tracks (one copy per ISRC); others one."""
    base = f"{torrent}:{path}"
    return [base, base + "#2"] if Path(path).name.startswith("dup") else [base]


FLAGS = {
    "hybrid": 0,
    "v1": lt.create_torrent.v1_only | lt.create_torrent.canonical_files,
    "v2": lt.create_torrent.v2_only,
    "v1-unaligned": lt.create_torrent.v1_only,  # no pad files: pieces span files
}


def make_torrent(root_parent: Path, name: str, piece_size: int, version: str) -> bytes:
    fs = lt.file_storage()
    base = root_parent / name
    for p in sorted(x for x in base.rglob("*") if x.is_file()):
        fs.add_file(f"{name}/{p.relative_to(base).as_posix()}", p.stat().st_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        t = lt.create_torrent(fs, piece_size, FLAGS[version])
    lt.set_piece_hashes(t, str(root_parent))
    return lt.bencode(t.generate())


def build_release(tmp: Path, specs: list[TorrentSpec], *, piece_size: int = PIECE, version: str = "hybrid",
                  with_index: bool = True) -> BuiltRelease:
    release = tmp / "release"
    mirror = tmp / "mirror"
    (release / "torrents").mkdir(parents=True)
    (release / "index").mkdir()
    mirror.mkdir()
    entries = []
    rows: list[dict] = []
    total_listens = sum(sum(s.listens.get(p, 0.0) * len(track_ids(s.name, p)) for p in s.files) for s in specs)
    for s in specs:
        for p, data in s.files.items():
            dst = mirror / s.name / p
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
        blob = make_torrent(mirror, s.name, piece_size, version)
        (release / "torrents" / f"{s.name}.torrent").write_bytes(blob)
        info = lt.torrent_info(blob)
        ih = info.info_hashes()
        v1 = str(ih.v1) if ih.has_v1() else None
        v2 = str(ih.v2) if ih.has_v2() else None
        size = sum(len(d) for d in s.files.values())
        listens = sum(s.listens.get(p, 0.0) * len(track_ids(s.name, p)) for p in s.files)
        entries.append({
            "name": s.name, "kind": s.kind, "batch": s.batch, "torrent": f"torrents/{s.name}.torrent",
            "infohash_v1": v1, "infohash_v2": v2, "magnet": lt.make_magnet_uri(info), "size": size,
            "padded_size": info.total_size(), "file_count": len(s.files), "piece_size": piece_size,
            "popularity_min": 0, "popularity_max": 100, "listens": listens,
            "listens_share": listens / total_listens if total_listens else 0.0,
            "created": "2026-11-26T00:00:00Z", "published": True,
        })
        offset = 0
        for p in sorted(s.files):
            data = s.files[p]
            for tid in track_ids(s.name, p):
                rows.append({
                    "track_id": tid, "isrc": None, "torrent": s.name, "infohash_v1": v1, "infohash_v2": v2,
                    "path": p, "offset": offset, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                    "sha256_original": None, "tier": "original", "listens": s.listens.get(p, 0.0),
                    "file_id": len(rows) + 1,
                })
            offset += -(-len(data) // piece_size) * piece_size
    doc = {"format": "phonotheque-torrent-list", "version": 1, "archive": "test", "release": "r1",
           "torrents": entries}
    (release / "torrents.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    if with_index:
        schema = pa.schema([
            ("track_id", pa.string()), ("isrc", pa.string()), ("torrent", pa.string()),
            ("infohash_v1", pa.string()), ("infohash_v2", pa.string()), ("path", pa.string()),
            ("offset", pa.int64()), ("size", pa.int64()), ("sha256", pa.string()),
            ("sha256_original", pa.string()), ("tier", pa.string()), ("listens", pa.float64()),
            ("file_id", pa.int64()),
        ])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), release / "index" / "files.parquet")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=schema.names)
        w.writeheader()
        w.writerows(rows)
        (release / "index" / "files.csv.zst").write_bytes(zstandard.compress(buf.getvalue().encode()))
    return BuiltRelease(release, mirror, release / "torrents.json", specs, piece_size, entries)


def random_files(rng: random.Random, n: int, *, prefix: str = "", piece: int = PIECE) -> dict[str, bytes]:
    """Sizes straddling piece and block boundaries (torf style)."""
    sizes = [1, 16383, 16384, 16385, piece - 1, piece, piece + 1, 3 * piece + 17, 5 * piece, 7 * piece - 5]
    out = {}
    for i in range(n):
        size = sizes[i % len(sizes)] if i < len(sizes) else rng.randint(1, 6 * piece)
        sub = "disc1/" if i % 3 == 1 else ""
        name = f"dup{i:02d}.ogg" if i % 4 == 3 else f"{i:02d} track.ogg"
        out[f"{prefix}{sub}{name}"] = rng.randbytes(size)
    return out


def standard_specs(seed: int = 7, torrents: int = 4, files: int = 6) -> list[TorrentSpec]:
    rng = random.Random(seed)
    specs = []
    for b in range(1, torrents + 1):
        fl = random_files(rng, files)
        listens = {p: float(rng.randint(1, 10_000) * (torrents + 1 - b)) for p in fl}
        specs.append(TorrentSpec(f"phonotheque-r1-batch{b:03d}", fl, batch=b, listens=listens))
    return specs


def tree_state(root: Path) -> dict[str, tuple[str, int, int]]:
    """Content hash, mtime and mode of everything under root (to prove verify changed nothing)."""
    out: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = ""
            if p.is_file() and not p.is_symlink() and os.access(p, os.R_OK):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (digest, st.st_mtime_ns, st.st_mode)
    return out
