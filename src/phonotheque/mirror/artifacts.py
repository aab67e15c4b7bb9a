"""The published artifacts of a release, read without the catalog or the store.

A mirror follows ``torrents.json`` (the torrent list), the ``.torrent`` files it points at and
the file index (``index/files.parquet``). This module parses them strictly into plain data:
:class:`TorrentList` (entries of the list), :class:`TorrentMeta` (the files of one torrent with
their v2 merkle roots / piece layers and v1 piece hashes) and :class:`IndexRow` groups.

Problems with the list itself (does not parse, wrong format, a torrent listed twice) raise
:class:`~phonotheque.errors.MirrorError`; problems with one torrent (its ``.torrent`` is missing,
unreadable, malformed, or does not match the list's infohash) are returned on that torrent so a
verify run reports them and goes on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from phonotheque.errors import MirrorError
from phonotheque.store.hashing import BLOCK, ZERO32, merkle_root

LIST_FORMAT = "phonotheque-torrent-list"
LIST_VERSION = 1


# -- bencoding ----------------------------------------------------------------------------------
class BencodeError(ValueError):
    """Malformed bencoded data (message names the offset)."""


def bdecode(data: bytes) -> tuple[Any, dict[bytes, tuple[int, int]]]:
    """Decode ``data``; also return the byte span of every top-level dict value (for infohashes)."""
    spans: dict[bytes, tuple[int, int]] = {}
    value, end = _decode(data, 0, spans, 0)
    if end != len(data):
        raise BencodeError(f"trailing data at offset {end}")
    return value, spans


def _decode(data: bytes, i: int, spans: dict[bytes, tuple[int, int]], depth: int) -> tuple[Any, int]:
    if depth > 64:
        raise BencodeError(f"nesting too deep at offset {i}")
    if i >= len(data):
        raise BencodeError(f"unexpected end at offset {i}")
    c = data[i : i + 1]
    if c == b"i":
        end = data.find(b"e", i)
        if end < 0:
            raise BencodeError(f"unterminated integer at offset {i}")
        text = data[i + 1 : end]
        if not text or not text.lstrip(b"-").isdigit():
            raise BencodeError(f"bad integer at offset {i}")
        return int(text), end + 1
    if c == b"l":
        i += 1
        items = []
        while data[i : i + 1] != b"e":
            item, i = _decode(data, i, spans, depth + 1)
            items.append(item)
        return items, i + 1
    if c == b"d":
        i += 1
        out: dict[bytes, Any] = {}
        while data[i : i + 1] != b"e":
            key, i = _decode(data, i, spans, depth + 1)
            if not isinstance(key, bytes):
                raise BencodeError(f"dictionary key is not a string at offset {i}")
            start = i
            out[key], i = _decode(data, i, spans, depth + 1)
            if depth == 0:
                spans[key] = (start, i)
        return out, i + 1
    if c.isdigit():
        colon = data.find(b":", i)
        if colon < 0 or not data[i:colon].isdigit():
            raise BencodeError(f"bad string length at offset {i}")
        n = int(data[i:colon])
        if colon + 1 + n > len(data):
            raise BencodeError(f"string runs past the end at offset {i}")
        return data[colon + 1 : colon + 1 + n], colon + 1 + n
    raise BencodeError(f"unexpected byte {c!r} at offset {i}")


# -- torrents -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TorrentFile:
    """One file of a torrent, as the mirror must hold it."""

    path: str                       # '/'-separated, inside the torrent's root directory
    mirror_path: str                # '/'-separated, relative to MIRROR_DIR
    size: int
    v2_root: bytes | None           # pieces root (None: v1-only torrent, or empty file)
    v2_layer: bytes | None          # 32 bytes per piece (files larger than one piece)
    v1_pieces: bytes | None         # 20 bytes per piece (None: v2-only, or file not piece-aligned)
    v1_padded: bool                 # last v1 piece is hashed with zero padding (a pad file follows)


@dataclass
class TorrentMeta:
    name: str
    piece_size: int
    files: list[TorrentFile]
    infohash_v1: str | None
    infohash_v2: str | None
    single_file: bool


def _text(raw: Any, what: str) -> str:
    if not isinstance(raw, bytes):
        raise MirrorError(f"{what} is not a string")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MirrorError(f"{what} is not UTF-8") from exc


def _safe_parts(parts: list[str], what: str) -> list[str]:
    for p in parts:
        if p in ("", ".", "..") or "/" in p or "\\" in p or "\x00" in p:
            raise MirrorError(f"{what}: unsafe path component {p!r}")
    return parts


def parse_torrent(data: bytes, source: str) -> TorrentMeta:
    """Parse a .torrent (v1, v2 or hybrid) into the files a mirror holds; MirrorError if malformed."""
    try:
        meta, spans = bdecode(data)
    except BencodeError as exc:
        raise MirrorError(f"{source}: not a valid torrent file ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get(b"info"), dict):
        raise MirrorError(f"{source}: not a valid torrent file (no info dictionary)")
    info = meta[b"info"]
    start, end = spans[b"info"]
    raw_info = data[start:end]
    name = _safe_parts([_text(info.get(b"name"), f"{source}: name")], source)[0]
    piece_size = info.get(b"piece length")
    if not isinstance(piece_size, int) or piece_size < BLOCK or piece_size & (piece_size - 1):
        raise MirrorError(f"{source}: piece length {piece_size!r} is not a power of two >= 16 KiB")
    has_v2 = info.get(b"meta version") == 2 and isinstance(info.get(b"file tree"), dict)
    has_v1 = isinstance(info.get(b"pieces"), bytes)
    if not has_v1 and not has_v2:
        raise MirrorError(f"{source}: torrent has neither v1 pieces nor a v2 file tree")
    layers = meta.get(b"piece layers", {}) if has_v2 else {}
    if not isinstance(layers, dict):
        raise MirrorError(f"{source}: 'piece layers' is not a dictionary")

    # v2: walk the file tree (keys are sorted, as BEP 52 requires)
    v2: dict[str, tuple[int, bytes | None]] = {}
    single = False
    if has_v2:
        tree = info[b"file tree"]
        entries: list[tuple[list[str], dict[bytes, Any]]] = []
        _walk_tree(tree, [], entries, source)
        if len(entries) == 1 and entries[0][0] == [name] and b"files" not in info:
            single = True
        for parts, leaf in entries:
            length = leaf.get(b"length")
            if not isinstance(length, int) or length < 0:
                raise MirrorError(f"{source}: bad length for {'/'.join(parts)}")
            root = leaf.get(b"pieces root")
            if root is not None and (not isinstance(root, bytes) or len(root) != 32):
                raise MirrorError(f"{source}: bad pieces root for {'/'.join(parts)}")
            v2["/".join(parts)] = (length, root)

    # v1: files in order with pad files; piece-aligned files get their own piece hashes
    v1: dict[str, tuple[int, bytes | None, bool]] = {}
    if has_v1:
        pieces = info[b"pieces"]
        if len(pieces) % 20:
            raise MirrorError(f"{source}: 'pieces' length is not a multiple of 20")
        if b"files" in info:
            flist = info[b"files"]
            if not isinstance(flist, list):
                raise MirrorError(f"{source}: 'files' is not a list")
            items: list[tuple[list[str], int, bool]] = []
            for entry in flist:
                if not isinstance(entry, dict) or not isinstance(entry.get(b"length"), int):
                    raise MirrorError(f"{source}: bad entry in 'files'")
                raw_path = entry.get(b"path")
                if not isinstance(raw_path, list) or not raw_path:
                    raise MirrorError(f"{source}: bad path in 'files'")
                parts = [_text(p, f"{source}: path") for p in raw_path]
                pad = b"p" in (entry.get(b"attr") or b"")
                items.append((parts if pad else _safe_parts(parts, source), entry[b"length"], pad))
        else:
            length = info.get(b"length")
            if not isinstance(length, int):
                raise MirrorError(f"{source}: single-file torrent without a length")
            items = [([name], length, False)]
            single = True
        offset = 0
        for k, (parts, length, pad) in enumerate(items):
            if not pad:
                aligned = offset % piece_size == 0
                padded = k + 1 < len(items) and items[k + 1][2]
                first = offset // piece_size
                n = -(-length // piece_size)
                own = pieces[first * 20 : (first + n) * 20] if aligned else None
                ends_ok = (offset + length) % piece_size == 0 or padded or k + 1 == len(items)
                v1["/".join(parts)] = (length, own if aligned and ends_ok else None, padded)
            offset += length
        if -(-offset // piece_size) * 20 != len(pieces):
            raise MirrorError(f"{source}: 'pieces' does not cover the files ({len(pieces) // 20} hashes)")

    if has_v1 and has_v2:
        sizes1 = {p: s for p, (s, _, _) in v1.items()}
        sizes2 = {p: s for p, (s, _) in v2.items()}
        if sizes1 != sizes2:
            raise MirrorError(f"{source}: v1 and v2 file lists differ")
    paths = list(v2) if has_v2 else list(v1)
    files: list[TorrentFile] = []
    for p in paths:
        size = v2[p][0] if has_v2 else v1[p][0]
        root = v2[p][1] if has_v2 else None
        layer = None
        if root is not None and size > piece_size:
            layer = layers.get(root)
            want = -(-size // piece_size) * 32
            if not isinstance(layer, bytes) or len(layer) != want or layer_root(layer, piece_size) != root:
                raise MirrorError(f"{source}: missing or bad piece layer for {p}")
        v1p, padded = (v1[p][1], v1[p][2]) if has_v1 else (None, False)
        mirror_path = name if single else f"{name}/{p}"
        files.append(TorrentFile(p, mirror_path, size, root, layer, v1p, padded))
    return TorrentMeta(
        name=name,
        piece_size=piece_size,
        files=files,
        infohash_v1=hashlib.sha1(raw_info).hexdigest() if has_v1 else None,
        infohash_v2=hashlib.sha256(raw_info).hexdigest() if has_v2 else None,
        single_file=single,
    )


def layer_root(layer: bytes, piece_size: int) -> bytes:
    """The pieces root a piece layer hashes up to (BEP 52: padded with roots of all-zero pieces)."""
    pieces = [layer[i : i + 32] for i in range(0, len(layer), 32)]
    pad = ZERO32
    for _ in range((piece_size // BLOCK).bit_length() - 1):
        pad = hashlib.sha256(pad + pad).digest()
    n = 1 << max(0, (len(pieces) - 1).bit_length())
    return merkle_root(pieces + [pad] * (n - len(pieces)), n)


def _walk_tree(node: Any, prefix: list[str], out: list[tuple[list[str], dict[bytes, Any]]], source: str) -> None:
    if not isinstance(node, dict):
        raise MirrorError(f"{source}: bad file tree at {'/'.join(prefix) or '/'}")
    for key in sorted(node):
        value = node[key]
        if key == b"":
            if not isinstance(value, dict):
                raise MirrorError(f"{source}: bad file entry at {'/'.join(prefix)}")
            out.append((list(prefix), value))
        else:
            part = _safe_parts([_text(key, f"{source}: path")], source)[0]
            _walk_tree(value, [*prefix, part], out, source)


# -- the torrent list ---------------------------------------------------------------------------
@dataclass
class ListedTorrent:
    """One entry of torrents.json plus the parsed .torrent (or why it could not be used)."""

    name: str
    kind: str
    batch: int
    torrent: str
    infohash_v1: str | None
    infohash_v2: str | None
    size: int
    file_count: int
    listens: float
    listens_share: float
    published: bool
    meta: TorrentMeta | None = None
    error: str | None = None
    content: str = ""               # audio | catalog | patches (release contract v1 addition)


@dataclass
class TorrentList:
    path: Path
    archive: str
    release: str
    torrents: list[ListedTorrent] = field(default_factory=list)


_REQUIRED = object()


def _num(entry: dict[str, Any], key: str, kind: type, where: str, default: Any = _REQUIRED) -> Any:
    """A typed field of a torrents.json entry; ``default=None`` makes it nullable."""
    if key not in entry or entry[key] is None:
        if default is _REQUIRED:
            raise MirrorError(f"{where}: field {key!r} is missing")
        return default
    value = entry[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MirrorError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def load_torrent_list(path: str | Path, *, parse_torrents: bool = True) -> TorrentList:
    """Read and check torrents.json; with ``parse_torrents`` also read every .torrent it lists."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise MirrorError(f"{path}: is a directory, not a torrent list") from None
    except OSError as exc:
        raise MirrorError(f"{path}: cannot read the torrent list ({exc.strerror or exc})") from exc
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MirrorError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != LIST_FORMAT:
        raise MirrorError(f"{path}: not a phonotheque torrent list (format must be {LIST_FORMAT!r})")
    if not isinstance(doc.get("version"), int) or doc["version"] > LIST_VERSION:
        raise MirrorError(f"{path}: torrent list version {doc.get('version')!r} is not supported (max {LIST_VERSION})")
    entries = doc.get("torrents")
    if not isinstance(entries, list):
        raise MirrorError(f"{path}: 'torrents' must be a list")
    out = TorrentList(path=path, archive=str(doc.get("archive", "")), release=str(doc.get("release", "")))
    seen: dict[str, str] = {}
    for i, e in enumerate(entries):
        where = f"{path}: torrents[{i}]"
        if not isinstance(e, dict):
            raise MirrorError(f"{where}: not an object")
        name = _num(e, "name", str, where)
        if not name or "/" in name or name in (".", ".."):
            raise MirrorError(f"{where}: bad torrent name {name!r}")
        where = f"{path}: torrent {name!r}"
        t = ListedTorrent(
            name=name,
            kind=_num(e, "kind", str, where, "audio"),
            batch=_num(e, "batch", int, where, 0),
            torrent=_num(e, "torrent", str, where, f"torrents/{name}.torrent"),
            infohash_v1=_lower(_num(e, "infohash_v1", str, where, None)),
            infohash_v2=_lower(_num(e, "infohash_v2", str, where, None)),
            size=_num(e, "size", int, where, 0),
            file_count=_num(e, "file_count", int, where, 0),
            listens=_num(e, "listens", float, where, 0.0),
            listens_share=_num(e, "listens_share", float, where, 0.0),
            published=_num(e, "published", bool, where, True),
            content=_num(e, "content", str, where, ""),
        )
        for key in (f"name:{name.casefold()}", f"v1:{t.infohash_v1}", f"v2:{t.infohash_v2}"):
            if key.endswith(":None"):
                continue
            if key in seen:
                raise MirrorError(f"{path}: lists torrent {name!r} twice (same {key.split(':')[0]} as {seen[key]!r})")
            seen[key] = name
        if parse_torrents:
            _attach_meta(t, path.parent)
        out.torrents.append(t)
    return out


def _lower(v: str | None) -> str | None:
    return v.lower() if v else None


def _attach_meta(t: ListedTorrent, base: Path) -> None:
    tpath = base / t.torrent
    try:
        data = tpath.read_bytes()
    except FileNotFoundError:
        t.error = f"{tpath}: torrent file is missing"
        return
    except OSError as exc:
        t.error = f"{tpath}: cannot read the torrent file ({exc.strerror or exc})"
        return
    try:
        meta = parse_torrent(data, str(tpath))
    except MirrorError as exc:
        t.error = str(exc)
        return
    if meta.name != t.name:
        t.error = f"{tpath}: names its root {meta.name!r}, the list says {t.name!r}"
    elif t.infohash_v1 and meta.infohash_v1 != t.infohash_v1:
        t.error = f"{tpath}: v1 infohash {meta.infohash_v1} does not match the list ({t.infohash_v1})"
    elif t.infohash_v2 and meta.infohash_v2 != t.infohash_v2:
        t.error = f"{tpath}: v2 infohash {meta.infohash_v2} does not match the list ({t.infohash_v2})"
    else:
        t.meta = meta


# -- the file index -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexFile:
    """What the file index says about one file of a torrent."""

    size: int
    sha256: str | None
    tracks: tuple[str, ...]


@dataclass
class FileIndex:
    files: dict[tuple[str, str], IndexFile]     # (torrent, path) -> sha256 + tracks
    track_listens: dict[str, float]             # every track of the release
    path: Path | None

    @property
    def total_listens(self) -> float:
        return float(sum(self.track_listens.values()))


INDEX_COLUMNS = ("track_id", "torrent", "path", "size", "sha256", "listens")


def load_index(path: str | Path | None) -> FileIndex:
    """Read the file index (one row per track × file); an absent index gives an empty one.

    ``path`` names ``index/files.parquet``. Its twin ``files.csv.zst`` (same rows, published beside it)
    is read first when present: zstandard + csv start in milliseconds where importing pyarrow costs
    about half a CPU-second and 60 MB, which dominates verifying a small or partial mirror.
    """
    if path is None:
        return FileIndex({}, {}, None)
    path = Path(path)
    csv_path = path.with_name("files.csv.zst")
    if csv_path.is_file():
        return _index_from_rows(_csv_rows(csv_path), csv_path)
    if not path.exists():
        return FileIndex({}, {}, None)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(INDEX_COLUMNS))
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise MirrorError(f"{path}: cannot read the file index ({exc})") from exc
    cols = table.to_pydict()
    return _index_from_rows(zip(*(cols[c] for c in INDEX_COLUMNS), strict=True), path)


def _csv_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    import csv
    import io

    import zstandard

    try:
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as z:
            reader = csv.reader(io.TextIOWrapper(z, encoding="utf-8", newline=""))
            header = next(reader, None)
            if header is None or any(c not in header for c in INDEX_COLUMNS):
                raise MirrorError(f"{path}: not a file index (needs columns {', '.join(INDEX_COLUMNS)})")
            pos = [header.index(c) for c in INDEX_COLUMNS]
            for line, row in enumerate(reader, 2):
                try:
                    track, torrent, fpath, size, sha, lis = (row[i] for i in pos)
                    yield (track or None, torrent, fpath, int(size or 0), sha or None, float(lis or 0.0))
                except (IndexError, ValueError) as exc:
                    raise MirrorError(f"{path}:{line}: bad file index row ({exc})") from exc
    except (OSError, zstandard.ZstdError, UnicodeDecodeError, csv.Error) as exc:
        raise MirrorError(f"{path}: cannot read the file index ({exc})") from exc


def _index_from_rows(rows: Iterable[tuple[Any, ...]], path: Path) -> FileIndex:
    files: dict[tuple[str, str], tuple[int, str | None, list[str]]] = {}
    listens: dict[str, float] = {}
    for track, torrent, fpath, size, sha, lis in rows:
        key = (str(torrent), str(fpath))
        entry = files.setdefault(key, (int(size or 0), sha.lower() if sha else None, []))
        if track is not None:
            tid = str(track)
            entry[2].append(tid)
            listens[tid] = max(listens.get(tid, 0.0), float(lis or 0.0))
    return FileIndex(
        {k: IndexFile(z, s, tuple(dict.fromkeys(t))) for k, (z, s, t) in files.items()}, listens, path
    )


def release_paths(release_dir: str | Path | None, torrent_list: str | Path | None) -> tuple[Path, Path]:
    """(torrents.json, files.parquet) from a release directory or an explicit torrent list."""
    if release_dir is not None and torrent_list is not None:
        raise MirrorError("give a release or a torrent list, not both")
    if release_dir is not None:
        rd = Path(release_dir)
        if not rd.is_dir():
            raise MirrorError(f"{rd}: no such release directory")
        return rd / "torrents.json", rd / "index" / "files.parquet"
    if torrent_list is None:
        raise MirrorError("no torrent list: give --release NAME or --torrent-list torrents.json")
    tl = Path(torrent_list)
    if not tl.exists():
        raise MirrorError(f"{tl}: no such torrent list")
    return tl, tl.parent / "index" / "files.parquet"
