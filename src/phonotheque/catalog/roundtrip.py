"""The exact round trip: rebuild every imported source record from the tables + its remainder.

``export_source`` writes each source back as JSON lines, one record per line, in the order the
records were first imported (the source file's order): a MusicBrainz release or a web-API track object exactly as it was parsed
(equality on parsed JSON: key order and number formatting are not kept, values and types are);
for a CSV source the line is the row as a ``{column: cell}`` object (cells are strings; ``null``
for a missing cell; ``"_extra"`` holds cells beyond the header).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from phonotheque.archive import Archive
from phonotheque.catalog import remainder
from phonotheque.catalog.importers import csv as csv_fmt
from phonotheque.catalog.importers import jsonl, musicbrainz
from phonotheque.errors import ImportFormatError, NotFoundError


def _rebuilder(archive: Archive, fmt: str, source_id: int) -> Callable[[int, Any], Any]:
    conn = archive.conn
    if fmt == "musicbrainz":
        return lambda entity, hints: musicbrainz.rebuild(musicbrainz.load(conn, entity), hints)
    album_cache: dict[int, dict[str, Any]] = {}
    if fmt == "jsonl":
        return lambda entity, hints: jsonl.rebuild(jsonl.load(conn, entity, album_cache), hints)
    if fmt == "csv":
        mapping = _csv_mapping(archive, source_id)
        return lambda entity, hints: csv_fmt.rebuild(jsonl.load(conn, entity, album_cache), hints, mapping)
    raise ImportFormatError(f"source format {fmt!r} cannot be exported as source records")


def _csv_mapping(archive: Archive, source_id: int) -> csv_fmt.Mapping:
    """The mapping a CSV source was imported with (kept in ``meta`` at import time)."""
    row = archive.conn.execute("SELECT value FROM meta WHERE key=?", (f"csv_mapping:{source_id}",)).fetchone()
    if row is None:
        raise ImportFormatError(f"source {source_id}: the mapping this CSV source was imported with is not recorded")
    data = orjson.loads(row[0])
    m = csv_fmt.Mapping(columns=data["columns"])
    for k, v in data.items():
        setattr(m, k, tuple(v) if k in ("true", "false") else v)
    return m


def iter_source(archive: Archive, source: str) -> Iterator[Any]:
    """Every record of one source, rebuilt exactly, in source-file order."""
    conn = archive.conn
    src = conn.execute("SELECT id, format, path FROM sources WHERE name=?", (source,)).fetchone()
    if src is None:
        raise NotFoundError(f"no source named {source!r} in the catalog")
    rebuild = _rebuilder(archive, src[1], src[0])
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, entity_id, remainder, COALESCE(line, 0) FROM records WHERE source_id=? AND id > ? ORDER BY id "
            "LIMIT 2000",
            (src[0], last),
        ).fetchall()
        if not rows:
            return
        for rid, entity, blob, _line in rows:
            p, hints = remainder.decode(blob)
            yield remainder.patch(rebuild(entity, hints), p)
            last = rid


def export_source(archive: Archive, out: str | Path, *, source: str | None = None) -> dict[str, Any]:
    """Write each source's records to ``OUT/<source>.jsonl``; returns {source: {"path", "records"}}."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (
        [source]
        if source is not None
        else [r[0] for r in archive.conn.execute("SELECT name FROM sources WHERE format IN "
                                                 "('musicbrainz','jsonl','csv') ORDER BY id")]
    )
    result: dict[str, Any] = {}
    for name in names:
        target = out_dir / f"{name}.jsonl"
        tmp = target.with_suffix(".jsonl.tmp")
        n = 0
        with tmp.open("wb") as f:
            for rec in iter_source(archive, name):
                f.write(orjson.dumps(rec))
                f.write(b"\n")
                n += 1
        os.replace(tmp, target)
        result[name] = {"path": str(target), "records": n}
    return result
