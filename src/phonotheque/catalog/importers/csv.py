"""CSV/TSV spreadsheets with a TOML mapping (columns → catalog fields).

Each row is turned into the jsonl track shape and stored by :mod:`.jsonl`'s normalizer; the
source record of the round trip is the row itself, as a ``{column: cell}`` object. See
``docs/import.md`` for the mapping format.
"""

from __future__ import annotations

import codecs
import csv as _csv
import datetime as _dt
import hashlib
import io
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phonotheque.catalog.importers import jsonl
from phonotheque.catalog.importers.common import Opened, Reject, open_source
from phonotheque.catalog.writer import CatalogWriter
from phonotheque.errors import ImportFormatError

KIND = "row"

FIELDS = (
    "id", "name", "artists", "isrc", "popularity", "duration", "explicit", "disc_number", "track_number",
    "available_markets", "listens", "album.id", "album.name", "album.artists", "album.album_type",
    "album.release_date", "album.total_tracks", "album.label", "album.upc",
)
MULTI = ("artists", "album.artists", "available_markets")
INTS = ("popularity", "disc_number", "track_number", "listens", "album.total_tracks")
EXTRA = "_extra"  # cells beyond the header row


@dataclass
class Mapping:
    columns: dict[str, str]  # field -> column
    separators: dict[str, str] = field(default_factory=dict)
    delimiter: str = "auto"
    encoding: str = "auto"
    key: str | None = None
    thousands: str = ""
    decimal: str = "."
    date_format: str | None = None
    duration: str = "ms"  # ms | s | m:ss
    true: tuple[str, ...] = ("true", "yes", "y", "1", "explicit")
    false: tuple[str, ...] = ("false", "no", "n", "0", "clean")


def load_mapping(path: str | Path) -> Mapping:
    """Parse and check a mapping TOML file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImportFormatError(f"{p}: mapping file not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{p}: not valid TOML: {exc}") from exc
    opts = data.get("csv", {})
    cols = data.get("columns", {})
    if not isinstance(cols, dict) or not cols:
        raise ImportFormatError(f"{p}: a [columns] table mapping fields to column names is required")
    columns: dict[str, str] = {}
    seps: dict[str, str] = {}
    flat: dict[str, Any] = {}
    for k, v in cols.items():
        if isinstance(v, dict) and k == "album" and not {"column"} & set(v):
            for k2, v2 in v.items():
                flat[f"album.{k2}"] = v2
        else:
            flat[k] = v
    for k, v in flat.items():
        if k not in FIELDS:
            raise ImportFormatError(f"{p}: unknown field {k!r} in [columns] (known: {', '.join(FIELDS)})")
        if isinstance(v, dict):
            if not isinstance(v.get("column"), str):
                raise ImportFormatError(f"{p}: field {k!r} needs column = \"...\"")
            columns[k] = v["column"]
            if "separator" in v:
                seps[k] = str(v["separator"])
        elif isinstance(v, str):
            columns[k] = v
        else:
            raise ImportFormatError(f"{p}: field {k!r} must name a column")
    for k, v in data.get("separators", {}).items():
        seps[k] = str(v)
    if "name" not in columns:
        raise ImportFormatError(f"{p}: the 'name' field (track title column) is required")
    m = Mapping(columns=columns, separators=seps)
    for opt in ("delimiter", "encoding", "key", "thousands", "decimal", "date_format", "duration"):
        if opt in opts:
            setattr(m, opt, opts[opt])
    if m.key is None and "id" in columns:
        m.key = columns["id"]
    if "true" in opts:
        m.true = tuple(str(x).lower() for x in opts["true"])
    if "false" in opts:
        m.false = tuple(str(x).lower() for x in opts["false"])
    if m.duration not in ("ms", "s", "m:ss"):
        raise ImportFormatError(f"{p}: duration must be ms, s or m:ss, got {m.duration!r}")
    if m.delimiter not in ("auto", ",", ";", "\t", "|"):
        raise ImportFormatError(f"{p}: delimiter must be auto, ',', ';', '\\t' or '|'")
    if m.encoding != "auto":
        try:
            codecs.lookup(m.encoding)
        except LookupError as exc:
            raise ImportFormatError(f"{p}: unknown encoding {m.encoding!r}") from exc
    return m


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file decodes as UTF-8, else ``cp1252``."""
    dec = codecs.getincrementaldecoder("utf-8")()
    with open_source(path) as src:
        try:
            while chunk := src.stream.read(1 << 20):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def iter_rows(opened: Opened, path: Path, m: Mapping, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row dict)`` for every data row; the header gives the keys."""
    enc = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    text = io.TextIOWrapper(opened.stream, encoding=enc, errors="surrogateescape", newline="")
    delim = m.delimiter
    if delim == "auto":
        if path.name.lower().endswith((".tsv", ".tab", ".tsv.gz")):
            delim = "\t"
        else:
            head = text.readline()
            delim = max((",", ";", "\t", "|"), key=head.count)
            text = _Prepend(head, text)  # type: ignore[assignment]
    reader = _csv.DictReader(text, delimiter=delim, restkey=EXTRA)
    if reader.fieldnames is None:
        return
    missing = [c for c in m.columns.values() if c not in reader.fieldnames]
    if missing:
        raise ImportFormatError(f"{path}: mapped column(s) not in the header: {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, row


class _Prepend(io.TextIOBase):
    def __init__(self, head: str, rest: io.TextIOWrapper) -> None:
        self.head = head
        self.rest = rest

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        if self.head:
            yield self.head
        yield from self.rest


def row_digest(row: dict[str, Any]) -> bytes:
    h = hashlib.blake2b(digest_size=12)
    for k, v in row.items():
        h.update(str(k).encode("utf-8", "surrogateescape"))
        h.update(b"\x1e")
        h.update(repr(v).encode("utf-8", "surrogateescape"))
        h.update(b"\x1f")
    return h.digest()


def check_row(row: dict[str, Any]) -> list[str]:
    """Rejects undecodable cells; returns warnings (mojibake) for cells imported as they are."""
    warnings = []
    for k, v in row.items():
        if not isinstance(v, str):
            continue
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Reject(f"column {k!r}: bytes that are not valid in the file's encoding") from exc
        if any(c in v for c in "ÃÂâÅÐ"):
            try:
                fixed = v.encode("cp1252").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if fixed != v:
                warnings.append(f"column {k!r}: looks like mojibake ({v!r} is probably {fixed!r}); imported as is")
    return warnings


def key_of(row: dict[str, Any], m: Mapping, digest: bytes) -> str:
    if m.key:
        v = row.get(m.key)
        if not v:
            raise Reject(f"empty key column {m.key!r}")
        return str(v)
    return digest.hex()


def _num(m: Mapping, field: str, cell: str) -> float:
    s = cell.strip()
    if m.thousands:
        s = s.replace(m.thousands, "")
    s = s.replace("\u00a0", "").replace(" ", "") if m.thousands in (" ", "\u00a0") else s
    if m.decimal != ".":
        s = s.replace(m.decimal, ".")
    try:
        return float(s)
    except ValueError as exc:
        raise Reject(f"column {m.columns[field]!r}: not a number: {cell!r}"[:200]) from exc


def _int(m: Mapping, field: str, cell: str) -> int:
    v = _num(m, field, cell)
    if not v.is_integer():
        raise Reject(f"column {m.columns[field]!r}: not a whole number: {cell!r}"[:200])
    return int(v)


def _date(m: Mapping, cell: str) -> str:
    s = cell.strip()
    if m.date_format and not (s.isdigit() and len(s) == 4):
        try:
            return _dt.datetime.strptime(s, m.date_format).date().isoformat()
        except ValueError as exc:
            col = m.columns.get("album.release_date")
            raise Reject(f"column {col!r}: not a date in the format {m.date_format!r}: {cell!r}"[:200]) from exc
    return s  # ISO (YYYY[-MM[-DD]]) is checked by the normalizer


def to_track(row: dict[str, Any], m: Mapping, key: str) -> dict[str, Any]:
    """A row → the jsonl track object (what :func:`jsonl.store` takes)."""
    cell: dict[str, str] = {}
    for f, col in m.columns.items():
        v = row.get(col)
        if isinstance(v, str) and v.strip() != "":
            cell[f] = v.strip()

    def multi(f: str) -> list[str]:
        sep = m.separators.get(f)
        v = cell[f]
        return [x.strip() for x in v.split(sep)] if sep else [v]

    t: dict[str, Any] = {"id": key, "name": cell.get("name")}
    if "artists" in cell:
        t["artists"] = [{"name": a} for a in multi("artists") if a]
    for f in INTS:
        if f in cell and not f.startswith("album."):
            t[f] = _int(m, f, cell[f])
    if "duration" in cell:
        v = cell["duration"]
        if m.duration == "m:ss":
            parts = v.split(":")
            try:
                secs = sum(float(x) * 60**i for i, x in enumerate(reversed(parts)))
            except ValueError as exc:
                raise Reject(f"column {m.columns['duration']!r}: not m:ss: {v!r}") from exc
            t["duration_ms"] = round(secs * 1000)
        elif m.duration == "s":
            t["duration_ms"] = round(_num(m, "duration", v) * 1000)
        else:
            t["duration_ms"] = _int(m, "duration", v)
    if "explicit" in cell:
        v = cell["explicit"].lower()
        if v in m.true:
            t["explicit"] = True
        elif v in m.false:
            t["explicit"] = False
        else:
            raise Reject(f"column {m.columns['explicit']!r}: not a yes/no value: {cell['explicit']!r}"[:200])
    if "isrc" in cell:
        t["external_ids"] = {"isrc": cell["isrc"].upper()}
    if "available_markets" in cell:
        t["available_markets"] = multi("available_markets")
    if any(f.startswith("album.") for f in cell):
        alb: dict[str, Any] = {}
        if "album.id" in cell:
            alb["id"] = cell["album.id"]
        alb["name"] = cell.get("album.name")
        if alb["name"] is None:
            raise Reject(f"album fields given but the album name column {m.columns.get('album.name')!r} is empty")
        if "album.artists" in cell:
            alb["artists"] = [{"name": a} for a in multi("album.artists") if a]
        for f in ("album.album_type", "album.label"):
            if f in cell:
                alb[f[6:]] = cell[f]
        if "album.release_date" in cell:
            alb["release_date"] = _date(m, cell["album.release_date"])
        if "album.total_tracks" in cell:
            alb["total_tracks"] = _int(m, "album.total_tracks", cell["album.total_tracks"])
        if "album.upc" in cell:
            alb["external_ids"] = {"upc": cell["album.upc"]}
        t["album"] = alb
    return t


def store(
    w: CatalogWriter, row: dict[str, Any], key: str, existing_track: int | None, m: Mapping
) -> tuple[int, dict[str, Any], Any]:
    track = to_track(row, m, key)
    if track["name"] is None:
        raise Reject(f"missing required field 'name' (column {m.columns['name']!r} is empty)")
    return jsonl.store(w, track, key, existing_track)


def rebuild(eff: dict[str, Any], hints: Any, m: Mapping) -> dict[str, Any]:
    """The row as the mapping would write it; unmapped columns and formatting live in the remainder."""
    alb = eff.get("album") or {}
    vals: dict[str, Any] = {
        "name": eff["name"],
        "artists": [n for _k, n in eff["artists"]],
        "isrc": eff["isrc"],
        "popularity": eff["pop"], "disc_number": eff["disc"], "track_number": eff["tn"], "listens": eff["listens"],
        "available_markets": eff["markets"].split(",") if eff["markets"] else None,
        "album.id": alb.get("id"), "album.name": alb.get("name"),
        "album.artists": [a["name"] for a in alb.get("artists", [])] or None,
        "album.album_type": alb.get("album_type"), "album.label": alb.get("label"),
        "album.total_tracks": alb.get("total_tracks"), "album.upc": (alb.get("external_ids") or {}).get("upc"),
        "album.release_date": alb.get("release_date"),
    }
    if m.key:
        vals["id"] = eff["key"]
    dur = eff["dur"]
    if dur is not None:
        if m.duration == "s":
            vals["duration"] = str(dur // 1000) if dur % 1000 == 0 else str(dur / 1000)
        elif m.duration == "m:ss":
            vals["duration"] = f"{dur // 60000}:{round(dur % 60000 / 1000):02d}"
        else:
            vals["duration"] = dur
    if eff["explicit"] is not None:
        vals["explicit"] = (m.true if eff["explicit"] else m.false)[0]
    date = vals["album.release_date"]
    if date and m.date_format and len(date) == 10:
        try:
            vals["album.release_date"] = _dt.date.fromisoformat(date).strftime(m.date_format)
        except ValueError:
            pass
    row: dict[str, Any] = {}
    for f, col in m.columns.items():
        v = vals.get(f)
        if isinstance(v, list):
            v = (m.separators.get(f) or ";").join(v) if v else None
        row[col] = "" if v is None else str(v)
    return row
