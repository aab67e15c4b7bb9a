"""Portable paths inside release torrents: pure functions, no I/O.

Layout of one audio file inside a torrent (under the torrent's root directory)::

    <bucket>/<album artist>/<year> <album> (<album id>)/<disc-nn> <track artist> - <title>.<ext>

Every component is NFC, holds no character that Windows, macOS or Linux reject (``<>:"/\\|?*``,
control characters, bidirectional overrides), does not end in a dot or a space, does not start with a
dot, is not a Windows device name (CON, NUL, COM1 …), and is at most 255 UTF-8 bytes. A whole path is
measured in UTF-16 code units (what Windows counts; never fewer than code points) and kept within a
budget (240 minus the torrent name). Finally :func:`unique_paths` makes sure no two paths, and no two
sibling directories, are equal under ``casefold()`` + NFC — deterministically and independently of the
order the entries come in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

MAX_COMPONENT_BYTES = 255
MAX_PATH_UNITS = 240
_ILLEGAL = set('<>:"/\\|?*')
_BIDI = {"\u200e", "\u200f", "\u061c"} | {chr(c) for c in range(0x202A, 0x202F)} | {
    chr(c) for c in range(0x2066, 0x206A)
}
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]
}
_PLAIN = re.compile(r"[ !#-)+-.0-9;=@-\[\]-{}~]+")  # printable ASCII minus <>:"/\\|?*
_EXT_RE = re.compile(r"^\.[a-z0-9]{1,10}$")
BUCKET_UNITS, ARTIST_UNITS, ALBUM_UNITS = 20, 48, 72


def units(text: str) -> int:
    """Length in UTF-16 code units (what Windows path limits count)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def fold(text: str) -> str:
    """The key two names collide under on case-insensitive, normalization-insensitive filesystems."""
    if text.isascii():
        return text.lower()  # ASCII: casefold is lower(), both normalizations are the identity
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def _clean_char(ch: str) -> str:
    if ch in _BIDI:
        return ""
    if ch in _ILLEGAL:
        return "_"
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs", "Co", "Cn") or ch in ("\u2028", "\u2029"):
        return "_"
    if cat == "Zs" or ch in "\t":
        return " "
    return ch


def _truncate(text: str, max_units: int, max_bytes: int) -> str:
    """Longest NFC prefix within both limits (cut on code points, re-normalized)."""
    out = text
    while out and (units(out) > max_units or len(out.encode("utf-8")) > max_bytes):
        over = max(units(out) - max_units, (len(out.encode("utf-8")) - max_bytes + 3) // 4, 1)
        out = unicodedata.normalize("NFC", out[: len(out) - over])
    return out


def _finish(text: str, fallback: str) -> str:
    text = text.rstrip(". ").lstrip(" ")
    if text.startswith("."):
        text = "_" + text[1:]
    if not text:
        text = fallback
    stem = text.split(".", 1)[0].rstrip(" ")
    if stem.upper() in _RESERVED:
        text = stem + "_" + text[len(stem) :]
    return text


def sanitize(text: str | None, *, max_units: int = MAX_COMPONENT_BYTES, max_bytes: int = MAX_COMPONENT_BYTES,
             fallback: str = "_") -> str:
    """One safe path component from arbitrary text (see the module docstring for the rules)."""
    text = text or ""
    if (len(text) <= max_units and len(text) <= max_bytes and _PLAIN.fullmatch(text) and text[0] not in ". "
            and text[-1] not in ". " and "  " not in text and text.split(".", 1)[0].rstrip(" ").upper() not in _RESERVED):
        return text  # fast path: printable ASCII that needs no change
    raw = unicodedata.normalize("NFC", text)
    cleaned = "".join(_clean_char(ch) for ch in raw)
    cleaned = unicodedata.normalize("NFC", re.sub(r" {2,}", " ", cleaned))
    cleaned = _finish(cleaned, fallback)
    return fit(cleaned, "", max_units=max_units, max_bytes=max_bytes, fallback=fallback)


def fit(stem: str, suffix: str, *, max_units: int, max_bytes: int = MAX_COMPONENT_BYTES, fallback: str = "_") -> str:
    """``stem + suffix`` shortened (the stem only) to fit both limits; ``suffix`` must already be safe."""
    if stem and stem.isascii() and len(stem) + len(suffix) <= min(max_units, max_bytes) and suffix.isascii():
        return _finish(stem, fallback) + suffix
    room_units = max(max_units - units(suffix), 1)
    room_bytes = max(max_bytes - len(suffix.encode("utf-8")), 1)
    cut = _truncate(stem, room_units, room_bytes)
    result = _finish(cut, fallback) + suffix
    if units(result) > max_units or len(result.encode("utf-8")) > max_bytes:  # fallback grew the stem
        result = _finish(cut[:-1] if cut else fallback, fallback)[: max(room_units, 1)] + suffix
    return result


def clean_ext(ext: str | None) -> str:
    """A lower-case ``.ext`` of 1-10 ASCII letters/digits, or ``.bin``."""
    e = (ext or "").strip().lower()
    if e and not e.startswith("."):
        e = "." + e
    return e if _EXT_RE.match(e) else ".bin"


def bucket_name(popularity: int | None) -> str:
    """Folder of a popularity range: ``pop 90-100``, ``pop 80-89`` … ``pop 01-09``, ``pop 00``, ``pop unknown``."""
    if popularity is None:
        return "pop unknown"
    if popularity <= 0:
        return "pop 00"
    if popularity >= 90:
        return "pop 90-100"
    lo = popularity // 10 * 10
    return f"pop {max(lo, 1):02d}-{lo + 9:02d}"


class TrackNames(NamedTuple):
    """What a track's path is made of (all texts raw, as in the catalog)."""

    track_id: int
    popularity: int | None
    album_artist: str | None
    album: str | None
    album_id: int | None
    year: str | None
    disc_number: int | None
    disc_count: int | None
    track_number: int | None
    track_artist: str | None
    title: str | None
    ext: str | None


def track_path(t: TrackNames, *, max_units: int = MAX_PATH_UNITS, ext: str | None = None) -> tuple[str, ...]:
    """The components of one track's path inside a torrent, within ``max_units`` (>= 120) in total."""
    return PathMaker(max_units)(t, ext)


class PathMaker:
    """:func:`track_path` for many tracks: the directory part (bucket, artist, album) is made once per
    distinct (popularity, artist, album) and reused by the album's other tracks — same result, less work."""

    def __init__(self, max_units: int = MAX_PATH_UNITS) -> None:
        self.max_units = max_units
        self._dirs: dict[tuple[object, ...], tuple[str, str, str, int]] = {}
        self._exts: dict[str | None, tuple[str, int]] = {}
        self._buckets: dict[int | None, str] = {}

    def _make_dirs(self, t: TrackNames) -> tuple[str, str, str, int]:
        max_units = self.max_units
        bucket = sanitize(bucket_name(t.popularity), max_units=BUCKET_UNITS)
        # directories get at most a share of the budget so the file name always keeps room
        artist_cap = max(8, min(ARTIST_UNITS, (max_units - BUCKET_UNITS) // 4))
        artist = sanitize(t.album_artist or t.track_artist or "Unknown Artist", max_units=artist_cap,
                          fallback="Unknown Artist")
        album_cap = max(12, min(ALBUM_UNITS, (max_units - BUCKET_UNITS) // 3))
        if t.album_id is None:
            album = sanitize("No Album", max_units=album_cap)
        else:
            year = (t.year or "")[:4]
            year = year if year.isdigit() else ""
            suffix = f" ({t.album_id})"
            album_cap = max(album_cap, units(suffix) + 4)
            head = sanitize(f"{year} {t.album or 'Untitled'}".strip(), max_units=album_cap, fallback="Untitled")
            album = fit(head, suffix, max_units=album_cap)
        room = max_units - sum(units(c) + 1 for c in (bucket, artist, album))
        return bucket, artist, album, room

    def __call__(self, t: TrackNames, ext: str | None = None) -> tuple[str, ...]:
        bucket = self._buckets.get(t.popularity)
        if bucket is None:
            bucket = self._buckets[t.popularity] = bucket_name(t.popularity)
        has_album = t.album_id is not None
        key = (bucket, t.album_artist or t.track_artist, t.album_id, t.year if has_album else None,
               t.album if has_album else None)
        dirs = self._dirs.get(key)
        if dirs is None:
            dirs = self._dirs[key] = self._make_dirs(t)
        raw_ext = ext if ext is not None else t.ext
        cleaned = self._exts.get(raw_ext)
        if cleaned is None:
            e = clean_ext(raw_ext)
            cleaned = self._exts[raw_ext] = (e, units(e))
        e, e_units = cleaned
        room = dirs[3]
        number = f"{t.track_number:02d}" if t.track_number is not None else "00"
        if t.disc_number is not None and (t.disc_count or 1) > 1:
            number = f"{t.disc_number}-{number}"
        stem = f"{number} {t.track_artist or t.album_artist or 'Unknown Artist'} - {t.title or 'Untitled'}"
        if (len(stem) + e_units <= min(room, MAX_COMPONENT_BYTES) and _PLAIN.fullmatch(stem) and stem[-1] not in ". "
                and "  " not in stem and stem[0] not in ". " and stem.split(".", 1)[0].rstrip(" ").upper() not in _RESERVED):
            name = stem + e  # what sanitize() and fit() give for plain ASCII that fits (their fast paths)
        else:
            name = fit(sanitize(stem, max_units=max(room - e_units, 8)), e, max_units=max(room, 8 + e_units))
        return (dirs[0], dirs[1], dirs[2], name)


def _tag(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]


def _split_ext(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if dot > 0 else (name, "")


def unique_paths(entries: Mapping[int, tuple[str, ...]], *, max_units: int = MAX_PATH_UNITS) -> dict[int, tuple[str, ...]]:
    """Make paths unique under :func:`fold`, keyed by an id (the track id) used to disambiguate.

    Sibling directories whose names fold equal but are spelled differently each get `` [<hash of the
    spelling>]``; file paths that fold equal (or fold equal to a directory) each get `` [<key>]`` before
    the extension. The result depends only on the entries, not on their order; lengths stay in budget.
    """
    folded: dict[str, str] = {}
    if _nothing_to_do(entries, max_units, folded):
        return {k: tuple(v) for k, v in entries.items()}
    paths = {k: list(v) for k, v in entries.items()}

    def f(comp: str) -> str:  # fold per component: "/" is a starter, so fold(a/b) == fold(a)/fold(b)
        r = folded.get(comp)
        if r is None:
            r = folded[comp] = fold(comp)
        return r

    fpaths = {k: [f(c) for c in v] for k, v in paths.items()}
    depth = max((len(v) for v in paths.values()), default=0)
    for level in range(depth - 1):
        spellings: dict[tuple[tuple[str, ...], str], set[str]] = defaultdict(set)
        for k, comps in paths.items():
            if len(comps) > level + 1:
                spellings[(tuple(fpaths[k][:level]), fpaths[k][level])].add(comps[level])
        renames: dict[tuple[tuple[str, ...], str], str] = {}
        for (parent, _), names in spellings.items():
            if len(names) > 1:
                for n in names:
                    renames[(parent, n)] = fit(n, f" [{_tag(n)}]", max_units=max(units(n), ARTIST_UNITS))
        if renames:
            for k, comps in paths.items():
                if len(comps) > level + 1:
                    new = renames.get((tuple(fpaths[k][:level]), comps[level]))
                    if new is not None:
                        comps[level] = new
                        fpaths[k][level] = f(new)
    for comps in paths.values():
        over = sum(units(c) for c in comps) + len(comps) - 1 - max_units
        if over > 0:
            stem, ext = _split_ext(comps[-1])
            comps[-1] = fit(stem, ext, max_units=max(units(comps[-1]) - over, units(ext) + 1))
    for round_ in range(8):
        for k, comps in paths.items():
            fpaths[k][-1] = f(comps[-1])
        dirs = {tuple(fp[:i]) for fp in fpaths.values() for i in range(1, len(fp))}
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for key in paths:
            groups[tuple(fpaths[key])].append(key)
        clashing = [k for f, ks in groups.items() for k in ks if len(ks) > 1 or f in dirs]
        if not clashing:
            return {k: tuple(v) for k, v in paths.items()}
        for key in clashing:
            comps = paths[key]
            stem, ext = _split_ext(comps[-1])
            suffix = f" [{key}]" if round_ == 0 else f" [{key}-{round_}]"
            room = max_units - (sum(units(c) for c in comps[:-1]) + len(comps) - 1)
            comps[-1] = fit(stem, suffix + ext, max_units=min(room, MAX_COMPONENT_BYTES))
    raise ValueError("paths stay ambiguous after disambiguation (duplicate keys?)")


def _nothing_to_do(entries: Mapping[int, tuple[str, ...]], max_units: int, folded: dict[str, str]) -> bool:
    """One pass that proves :func:`unique_paths` would change nothing (the usual case): every path is within
    budget, directories that fold equal are spelled alike, and no file path folds equal to another path."""
    spelled: dict[str, str] = {}  # folded directory path -> its spelling
    dir_keys: dict[tuple[str, ...], str] = {}  # directory (as given) -> its folded path, checked once
    files: set[str] = set()
    for comps in entries.values():
        whole = "/".join(comps)
        if (len(whole) if whole.isascii() else units(whole)) > max_units:
            return False
        dirs = comps[:-1]
        key = dir_keys.get(dirs)
        if key is None:
            key = spelling = ""
            for c in dirs:
                f = folded.get(c)
                if f is None:
                    f = folded[c] = fold(c)
                key += "/" + f
                spelling += "/" + c
                if spelled.setdefault(key, spelling) != spelling:
                    return False
            dir_keys[dirs] = key
        key += "/" + fold(comps[-1])
        if key in files:
            return False
        files.add(key)
    return not any(f in spelled for f in files)


def join(comps: Iterable[str]) -> str:
    return "/".join(comps)
