"""Add listen counts to the catalog from a CSV of counts or a file of listen events.

Formats (``format=None`` guesses from the extension, then from the first character):

* ``csv`` — one row per track or recording: an identifier and a count. A header row is detected
  (its count cell is not a number) and may name the columns (``id``/``track_id``/``isrc``/``mbid``/
  ``recording_mbid``, and ``count``/``listens``/``plays``); without one the first column is the id and
  the second the count (a single column counts one listen per row). Comma, semicolon or tab.
* ``events`` — JSON lines of listen events, ListenBrainz style: the identifier is looked for at the
  top level and in ``track_metadata.additional_info`` / ``track_metadata.mbid_mapping`` as
  ``track_id`` (catalog id), ``recording_mbid`` or ``isrc``; each event is one listen (or ``count``).

Identifiers: a catalog track id, an ISRC, a recording MBID (or a track MBID), or ``SOURCE:KEY``.

**Rule for recordings**: a listen names a recording when it gives an ISRC or a recording MBID. It is
credited to *one* track of that recording, the canonical one — highest popularity, then lowest id —
so the catalog's total of listens equals the number of listens imported (no double counting when a
recording appears on several albums). The planner keeps one copy per recording for the tail, so the
listens are preserved with it. A listen naming a track id is credited to that track.

The same file (by content hash) is counted once (``listen_imports``); the whole file is applied in
one transaction, so an interrupted run counts nothing and the re-run counts it once. Bad lines and
unknown identifiers are reported with their line numbers and recorded in ``import_rejects``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from phonotheque.archive import Archive
from phonotheque.catalog.lookup import detect
from phonotheque.errors import ImportFormatError

FORMATS = ("csv", "events")
MAX_REPORTED = 200
_ID_COLUMNS = ("id", "track_id", "track", "isrc", "mbid", "recording_mbid", "recording", "source_key", "key")
_COUNT_COLUMNS = ("count", "listens", "plays", "listen_count", "playcount", "play_count", "n")

Key = tuple[str, str]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _guess_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "events"
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "events" if head[:1] in (b"{", b"[") else "csv"


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _count(cell: str) -> int:
    text = cell.strip().replace("_", "").replace(" ", "").replace("\u00a0", "")
    if text.count(",") and not text.count("."):
        text = text.replace(",", "")
    value = int(text)
    if value < 0:
        raise ValueError("negative")
    return value


def _parse_csv(path: Path) -> Iterator[tuple[int, Key | None, int, str | None]]:
    """Yields ``(line, key, count, error)``."""
    text = _text(path)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = "\t" if "\t" in first else (";" if first.count(";") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    id_col, count_col = 0, 1
    header_checked = False
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if not header_checked:
            header_checked = True
            names = [c.strip().lower() for c in row]
            is_header = len(row) >= 2 and not _is_int(row[1]) or (len(row) == 1 and names[0] in _ID_COLUMNS)
            if len(row) >= 2 and any(n in _ID_COLUMNS for n in names) and any(n in _COUNT_COLUMNS for n in names):
                is_header = True
            if is_header:
                id_col = next((i for i, n in enumerate(names) if n in _ID_COLUMNS), 0)
                count_col = next((i for i, n in enumerate(names) if n in _COUNT_COLUMNS), 1 if len(row) > 1 else -1)
                continue
            if len(row) == 1:
                count_col = -1
        if id_col >= len(row) or (count_col >= 0 and count_col >= len(row)):
            yield line, None, 0, f"expected {max(id_col, count_col) + 1} columns, got {len(row)}"
            continue
        try:
            count = _count(row[count_col]) if count_col >= 0 else 1
        except ValueError:
            yield line, None, 0, f"count {row[count_col].strip()!r} is not a non-negative integer"
            continue
        yield line, _key(row[id_col]), count, None


def _is_int(cell: str) -> bool:
    try:
        _count(cell)
    except ValueError:
        return False
    return True


def _key(value: Any) -> Key | None:
    if value is None:
        return None
    kind, norm = detect(str(value))
    return (kind, norm) if kind in ("id", "isrc", "mbid", "source") else None


def _sub(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _event_key(obj: dict[str, Any]) -> Key | None:
    meta = _sub(obj, "track_metadata")
    info = _sub(meta, "additional_info")
    mapping = _sub(meta, "mbid_mapping")
    for where in (obj, info, mapping):
        for field, kind in (("track_id", "id"), ("recording_mbid", "mbid"), ("isrc", "isrc")):
            value = where.get(field)
            if isinstance(value, list):
                value = value[0] if value else None
            if value not in (None, ""):
                found = detect(f"{kind}:{value}")
                if found[0] != "unknown":
                    return found
    return None


def _parse_events(path: Path) -> Iterator[tuple[int, Key | None, int, str | None]]:
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"[":
        try:
            items = orjson.loads(path.read_bytes().lstrip(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as exc:
            raise ImportFormatError(f"{path}: not valid JSON ({exc})") from exc
        lines: Iterator[tuple[int, Any]] = enumerate(items, 1)
    else:
        lines = _json_lines(path)
    for line, obj in lines:
        if isinstance(obj, Exception):
            yield line, None, 0, f"not valid JSON ({obj})"
            continue
        if not isinstance(obj, dict):
            yield line, None, 0, "a listen event must be a JSON object"
            continue
        key = _event_key(obj)
        if key is None:
            yield line, None, 0, "no track_id, recording_mbid or isrc in the event"
            continue
        count = obj.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            yield line, None, 0, f"count {count!r} is not a non-negative integer"
            continue
        yield line, key, count, None


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    with open(path, "rb") as fh:
        for line, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield line, orjson.loads(raw.lstrip(b"\xef\xbb\xbf") if line == 1 else raw)
            except orjson.JSONDecodeError as exc:
                yield line, exc


def _resolve(archive: Archive, keys: list[Key]) -> dict[Key, int]:
    """Catalog track credited for each key (see the rule for recordings in the module docs)."""
    conn = archive.conn
    out: dict[Key, int] = {}
    canonical = "ORDER BY t.popularity IS NULL, t.popularity DESC, t.id LIMIT 1"
    for key in keys:
        kind, value = key
        row = None
        if kind == "id":
            row = conn.execute("SELECT id FROM tracks WHERE id = ?", (int(value),)).fetchone()
        elif kind == "isrc":
            row = conn.execute(
                f"""SELECT t.id FROM tracks t WHERE t.recording_id IN (
                        SELECT recording_id FROM recording_isrcs WHERE isrc = ?
                        UNION SELECT id FROM recordings WHERE isrc = ?) {canonical}""",
                (value, value),
            ).fetchone()
        elif kind == "mbid":
            row = conn.execute(
                f"SELECT t.id FROM tracks t JOIN recordings r ON r.id = t.recording_id WHERE r.mbid = ? {canonical}",
                (value,),
            ).fetchone() or conn.execute(
                "SELECT id FROM tracks WHERE source_key = ? ORDER BY id LIMIT 1", (value,)
            ).fetchone()
        elif kind == "source":
            source, _, skey = value.partition(":")
            row = conn.execute(
                "SELECT t.id FROM tracks t JOIN sources s ON s.id = t.source_id WHERE s.name = ? AND t.source_key = ?",
                (source, skey),
            ).fetchone()
        if row is not None:
            out[key] = row[0]
    return out


def import_listens(
    archive: Archive, source: str | Path, *, format: str | None = None,  # noqa: A002 - the flag's name
    progress: Callable[..., None] | None = None,
) -> dict[str, Any]:
    """Add the listens in ``source`` to ``tracks.listens``; returns a summary.

    Summary keys: ``path, format, already_imported, lines, listens`` (credited), ``tracks``
    (tracks credited), ``rejected`` (count) and ``rejects`` (first 200 ``{line, reason}``).
    """
    path = Path(source)
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such listens file")
    if format is None:
        format = _guess_format(path)
    if format not in FORMATS:
        raise ImportFormatError(f"{path}: unknown listens format {format!r} (expected csv or events)")
    digest = _digest(path)
    conn = archive.conn
    summary: dict[str, Any] = {"path": str(path), "format": format, "already_imported": False, "lines": 0,
                               "listens": 0, "tracks": 0, "rejected": 0, "rejects": []}
    if conn.execute("SELECT 1 FROM listen_imports WHERE path_digest = ?", (digest,)).fetchone():
        summary["already_imported"] = True
        return summary
    counts: Counter[Key] = Counter()
    lines_of: dict[Key, list[int]] = {}
    rejects: list[tuple[int, str | None, str]] = []
    parser = _parse_csv(path) if format == "csv" else _parse_events(path)
    for line, key, count, error in parser:
        summary["lines"] += 1
        if error is not None or key is None:
            rejects.append((line, None, error or "not a catalog id, ISRC, MBID or SOURCE:KEY"))
            continue
        counts[key] += count
        lines_of.setdefault(key, []).append(line)
        if progress and summary["lines"] % 10000 == 0:
            progress(10000)
    resolved = _resolve(archive, list(counts))
    per_track: Counter[int] = Counter()
    for key, count in counts.items():
        track = resolved.get(key)
        if track is None:
            for line in lines_of[key][:MAX_REPORTED]:
                rejects.append((line, key[1], f"{key[0]} {key[1]} is not in the catalog"))
            continue
        per_track[track] += count
    rejects.sort()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with archive.transaction():
        conn.executemany("UPDATE tracks SET listens = coalesce(listens, 0) + ? WHERE id = ?",
                         [(c, t) for t, c in sorted(per_track.items())])
        conn.execute("INSERT INTO listen_imports(path_digest, path, events, at) VALUES (?, ?, ?, ?)",
                     (digest, str(path), sum(per_track.values()), now))
        conn.executemany("INSERT INTO import_rejects(source_id, path, line, source_key, reason, at) "
                         "VALUES (NULL, ?, ?, ?, ?, ?)", [(str(path), ln, k, r, now) for ln, k, r in rejects])
    summary.update(listens=sum(per_track.values()), tracks=len(per_track), rejected=len(rejects),
                   rejects=[{"line": ln, "reason": r} for ln, _, r in rejects[:MAX_REPORTED]])
    if conn.execute("SELECT value FROM search_state WHERE key = 'watermark'").fetchone()[0]:
        from phonotheque.catalog.search import refresh_index  # listens move the ranking weights

        refresh_index(archive)
    return summary
