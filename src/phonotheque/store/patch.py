"""Binary patches from a tagged file back to its original, and restoring originals from them.

A patch is a tiny self-describing container (``.zstdpatch``)::

    offset  size  field
    0       8     magic  b"PHQPATCH"
    8       1     format version (1)
    9       1     zstd window log used (the decompressor needs it)
    10      32    sha256 of the original (raw bytes)
    42      8     size of the original, little-endian
    50      32    sha256 of the tagged file the patch applies to
    82      8     size of the tagged file, little-endian
    90      …     one zstd frame: the original compressed with the tagged file as its raw-content
                  prefix dictionary ("patch-from", as ``zstd --patch-from`` does)

so a mirror that holds only files and patches can tell which patch belongs to which file, rebuild
the original and prove it (sha256) without any archive database. :func:`make_patch` verifies the
patch by applying it before returning; a patch that does not reproduce the original is never
returned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import math
import os
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import zstandard

from phonotheque.errors import PatchError

MAGIC = b"PHQPATCH"
VERSION = 1
HEADER = struct.Struct("<8sBB32sQ32sQ")
HEADER_SIZE = HEADER.size  # 90
SUFFIX = ".zstdpatch"
LEVEL = 3

# zstd parameters (zstd.h, stable API)
_C_LEVEL, _C_WINDOW_LOG, _C_LDM = 100, 101, 160


@dataclass(frozen=True)
class PatchHeader:
    window_log: int
    original_sha256: str
    original_size: int
    tagged_sha256: str
    tagged_size: int


def parse_header(data: bytes, where: str = "patch") -> PatchHeader:
    if len(data) < HEADER_SIZE:
        raise PatchError(where, "too short to be a phonotheque patch")
    magic, version, wlog, osha, osize, tsha, tsize = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PatchError(where, "not a phonotheque patch (bad magic)")
    if version != VERSION:
        raise PatchError(where, f"patch format version {version} is not supported (this phonotheque reads {VERSION})")
    return PatchHeader(wlog, osha.hex(), osize, tsha.hex(), tsize)


def read_header(path: str | Path) -> PatchHeader:
    with open(path, "rb") as fh:
        return parse_header(fh.read(HEADER_SIZE), str(path))


def _window_log(*sizes: int) -> int:
    return max(10, min(31, math.ceil(math.log2(max(sum(sizes), 1))) + 1))


@lru_cache(maxsize=1)
def _libzstd() -> Any:
    """The system libzstd (Debian libzstd1), for ``ZSTD_CCtx_refPrefix``, or None.

    python-zstandard has no prefix API and its raw-content dictionaries skip long-distance
    matching: on a 54 MB FLAC whose tags changed, its patch was 20-54 MB, the prefix one 5.8 kB
    (what ``zstd --patch-from`` does). Frames are standard: python-zstandard decompresses them
    with the tagged file as a raw-content dictionary.
    """
    name = ctypes.util.find_library("zstd")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.ZSTD_createCCtx.restype = ctypes.c_void_p
        lib.ZSTD_freeCCtx.argtypes = [ctypes.c_void_p]
        lib.ZSTD_CCtx_setParameter.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.ZSTD_CCtx_setParameter.restype = ctypes.c_size_t
        lib.ZSTD_CCtx_refPrefix.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.ZSTD_CCtx_refPrefix.restype = ctypes.c_size_t
        lib.ZSTD_compress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p,
                                       ctypes.c_size_t]
        lib.ZSTD_compress2.restype = ctypes.c_size_t
        lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
        lib.ZSTD_compressBound.restype = ctypes.c_size_t
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        return lib
    except (OSError, AttributeError):
        return None


def _compress_prefix(lib: Any, prefix: bytes, data: bytes, level: int, wlog: int) -> bytes:
    cctx = lib.ZSTD_createCCtx()
    if not cctx:
        raise MemoryError("ZSTD_createCCtx failed")
    try:
        for param, value in ((_C_LEVEL, level), (_C_WINDOW_LOG, wlog), (_C_LDM, 1)):
            if lib.ZSTD_isError(lib.ZSTD_CCtx_setParameter(cctx, param, value)):
                raise PatchError("patch", f"zstd rejected parameter {param}={value}")
        if lib.ZSTD_isError(lib.ZSTD_CCtx_refPrefix(cctx, prefix, len(prefix))):
            raise PatchError("patch", "zstd rejected the prefix")
        cap = lib.ZSTD_compressBound(len(data))
        buf = ctypes.create_string_buffer(cap)
        n = lib.ZSTD_compress2(cctx, buf, cap, data, len(data))
        if lib.ZSTD_isError(n):
            raise PatchError("patch", "zstd compression failed")
        return buf.raw[:n]
    finally:
        lib.ZSTD_freeCCtx(cctx)


def make_patch(tagged: bytes, original: bytes, *, level: int = LEVEL, where: str = "patch") -> bytes:
    """A patch that turns ``tagged`` back into ``original``; verified before it is returned.

    Raises :class:`PatchError` (naming ``where``) if applying it does not give the original back.
    """
    wlog = _window_log(len(tagged), len(original))
    lib = _libzstd()
    if lib is not None:
        frame = _compress_prefix(lib, tagged, original, level, wlog)
    else:  # correct but larger patches
        params = zstandard.ZstdCompressionParameters.from_level(
            max(level, 19), source_size=len(original), window_log=wlog, enable_ldm=True
        )
        cdict = zstandard.ZstdCompressionDict(tagged, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        frame = zstandard.ZstdCompressor(dict_data=cdict, compression_params=params).compress(original)
    header = HEADER.pack(
        MAGIC, VERSION, wlog, hashlib.sha256(original).digest(), len(original),
        hashlib.sha256(tagged).digest(), len(tagged),
    )
    patch = header + frame
    try:
        rebuilt = apply_patch(tagged, patch, where=where)  # checks size and sha256 itself
    except PatchError as exc:
        raise PatchError(where, f"patch does not reproduce the original ({exc.reason})") from exc
    if rebuilt != original:
        raise PatchError(where, "patch does not reproduce the original")
    return patch


def apply_patch(tagged: bytes, patch: bytes, *, where: str = "patch") -> bytes:
    """The original bytes, checked against the sha256 and size in the patch header."""
    h = parse_header(patch, where)
    if len(tagged) != h.tagged_size or hashlib.sha256(tagged).hexdigest() != h.tagged_sha256:
        raise PatchError(where, "patch belongs to another file (tagged sha256 differs)")
    ddict = zstandard.ZstdCompressionDict(tagged, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    try:
        original = zstandard.ZstdDecompressor(dict_data=ddict, max_window_size=1 << h.window_log).decompress(
            patch[HEADER_SIZE:], max_output_size=h.original_size
        )
    except zstandard.ZstdError as exc:
        raise PatchError(where, f"patch is damaged: {exc}") from exc
    if len(original) != h.original_size or hashlib.sha256(original).hexdigest() != h.original_sha256:
        raise PatchError(where, "patch mismatch: the rebuilt file does not have the original's sha256")
    return original


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp name in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- restore -----------------------------------------------------------------------------------

RESTORED, ALREADY_ORIGINAL, NO_PATCH, PATCH_MISMATCH, ERROR = (
    "restored", "already_original", "no_patch", "patch_mismatch", "error",
)


@dataclass
class RestoreItem:
    path: str
    status: str
    reason: str | None = None
    out: str | None = None
    sha256: str | None = None          # of the original when restored / already original

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "reason": self.reason, "out": self.out,
                "sha256": self.sha256}


@dataclass
class RestoreSummary:
    items: list[RestoreItem]
    bytes_read: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def ok(self) -> bool:
        return not any(i.status in (PATCH_MISMATCH, ERROR) for i in self.items)

    def as_dict(self) -> dict[str, Any]:
        counts = {s: self.count(s) for s in (RESTORED, ALREADY_ORIGINAL, NO_PATCH, PATCH_MISMATCH, ERROR)}
        return {**counts, "bytes_read": self.bytes_read, "seconds": round(self.seconds, 3),
                "files": [i.as_dict() for i in self.items]}


def _walk(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(file, path relative to the output dir) for every file under ``paths``, sorted."""
    out: list[tuple[Path, Path]] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts) and f.suffix != SUFFIX:
                    out.append((f, rel))
        elif p.exists():
            out.append((p, Path(p.name)))
        else:
            out.append((p, Path(p.name)))  # reported as an error below
    return out


class _PatchIndex:
    """Patches by tagged sha256 in the given directories; original sha256s known to be originals."""

    def __init__(self, dirs: list[Path], archive_originals: set[str] | None) -> None:
        self.dirs = [d for d in dirs if d.is_dir()]
        self._originals: set[str] | None = None
        self._archive_originals = archive_originals or set()

    def find(self, sha256: str) -> Path | None:
        for d in self.dirs:
            p = d / f"{sha256}{SUFFIX}"
            if p.is_file():
                return p
        return None

    def is_original(self, sha256: str) -> bool:
        if sha256 in self._archive_originals:
            return True
        if self._originals is None:
            self._originals = set()
            for d in self.dirs:
                for p in d.glob(f"*{SUFFIX}"):
                    try:
                        self._originals.add(read_header(p).original_sha256)
                    except (PatchError, OSError):
                        continue
        return sha256 in self._originals


def restore(
    paths: list[str | Path],
    *,
    patches: str | Path | None = None,
    out: str | Path | None = None,
    archive: Any = None,
    progress: Any = None,
) -> RestoreSummary:
    """Rebuild the exact originals of tagged files from their patches and verify them.

    ``paths``: files or directories (walked recursively). Patches are looked up by the file's
    sha256 as ``<sha256>.zstdpatch`` in ``patches`` and, with an ``archive``, in its
    ``store/patches``. ``out``: directory for the restored files (a directory argument's layout is
    kept); without it, files are replaced in place (temp name, then rename). Works without an
    archive: a mirror has only files and patches.
    """
    started = time.monotonic()
    dirs: list[Path] = []
    if patches is not None:
        dirs.append(Path(patches))
    originals: set[str] | None = None
    if archive is not None:
        dirs.append(archive.store_dir / "patches")
        originals = {r[0] for r in archive.conn.execute(
            "SELECT sha256 FROM files WHERE tier='original' AND derived_from IS NULL")}
    index = _PatchIndex(dirs, originals)
    files = _walk([Path(p) for p in paths])
    summary = RestoreSummary([])
    if progress is not None:
        progress(0, total=len(files))
    for path, rel in files:
        summary.items.append(_restore_one(path, rel, index, Path(out) if out is not None else None, summary))
        if progress is not None:
            progress(1)
    summary.seconds = time.monotonic() - started
    return summary


def _restore_one(path: Path, rel: Path, index: _PatchIndex, out: Path | None, summary: RestoreSummary) -> RestoreItem:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return RestoreItem(str(path), ERROR, f"cannot be read: {exc.strerror or exc}")
    summary.bytes_read += len(data)
    sha = hashlib.sha256(data).hexdigest()
    patch_path = index.find(sha)
    if patch_path is None:
        if index.is_original(sha):
            return RestoreItem(str(path), ALREADY_ORIGINAL, None, str(path), sha)
        return RestoreItem(str(path), NO_PATCH, f"no {sha}{SUFFIX} in the patch directories")
    try:
        patch = patch_path.read_bytes()
        original = apply_patch(data, patch, where=str(patch_path))
    except PatchError as exc:
        return RestoreItem(str(path), PATCH_MISMATCH, exc.reason)
    except OSError as exc:
        return RestoreItem(str(path), ERROR, f"patch cannot be read: {exc.strerror or exc}")
    target = out / rel if out is not None else path
    try:
        write_atomic(target, original)
    except OSError as exc:
        return RestoreItem(str(path), ERROR, f"cannot write {target}: {exc.strerror or exc}")
    return RestoreItem(str(path), RESTORED, None, str(target), hashlib.sha256(original).hexdigest())
