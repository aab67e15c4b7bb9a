"""Commands of the catalog stage (thin adapters over phonotheque.catalog): init, import, export."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click

from phonotheque.archive import Archive, default_archive_dir
from phonotheque.cli.common import (
    archive_option,
    console,
    json_option,
    open_archive,
    out,
    print_json,
    progress,
)
from phonotheque.errors import ImportRejectedError, SettingsError
from phonotheque.settings import BY_NAME, SETTINGS


def _parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs; the value is read as a TOML value when it parses, else as a string."""
    values: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SettingsError(f"--set {item!r}: expected key=value")
        key, raw = (s.strip() for s in item.split("=", 1))
        if key not in BY_NAME:
            raise SettingsError(f"--set {key!r}: unknown setting (known: {', '.join(s.name for s in SETTINGS)})")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        if BY_NAME[key].type is str and not isinstance(value, str):
            value = raw
        values[key] = value
    return values


@click.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@archive_option
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Write a setting into archive.toml (repeatable), e.g. --set store.piece_size=4194304.")
@json_option
def init_command(directory: Path | None, archive_dir: Path | None, settings: tuple[str, ...], as_json: bool) -> None:
    """Create an archive directory (archive.toml + catalog.sqlite). Idempotent.

    DIRECTORY defaults to -A, then $PHONOTHEQUE_ARCHIVE, then the current directory. --set only
    applies when archive.toml is created; an existing archive keeps its settings.
    """
    root = directory or archive_dir or default_archive_dir()
    existed = (root / "archive.toml").exists()
    archive = Archive.init(root, settings=_parse_set(settings))
    info = {"archive": str(archive.root.resolve()), "created": not existed, "catalog": str(archive.catalog_path)}
    if as_json:
        print_json(info)
    else:
        verb = "created" if not existed else "already initialised"
        out.print(f"{archive.root}: {verb} (catalog {archive.catalog_path.name}, settings archive.toml)")
        if existed and settings:
            console.print("note: --set ignored for an existing archive; edit archive.toml instead")


@click.command("import")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@archive_option
@click.option("--format", "format_", required=True, type=click.Choice(["musicbrainz", "jsonl", "csv"]),
              help="Source format.")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML mapping of CSV columns to catalog fields (required for --format csv).")
@click.option("--source-name", default=None, help="Name of the source in the catalog (default: the file name stem).")
@click.option("--licence", default=None, help="Licence of the records (default: catalog.default_licence for "
              "musicbrainz, else archive.licence).")
@click.option("--strict", is_flag=True, help="Exit non-zero (status 3) when any record was rejected.")
@click.option("--bulk/--no-bulk", default=None,
              help="Bulk-load mode: drop secondary indexes for the load and rebuild them at the end "
              "(default: automatic, for a new source of >= 32 MiB).")
@json_option
def import_command(
    source: Path, archive_dir: Path | None, format_: str, mapping: Path | None, source_name: str | None,
    licence: str | None, strict: bool, bulk: bool | None, as_json: bool,
) -> None:
    """Import SOURCE (resumable, idempotent); rejected records go to an import report."""
    from phonotheque.catalog.importers import ImportResult, import_source

    archive = open_archive(archive_dir)
    with progress(f"import {source.name}", total=None, unit="bytes") as advance:

        def step(n: int, total: int | None = None, done_bytes: int | None = None) -> None:
            advance(0, total=total, completed=done_bytes)

        try:
            result = import_source(
                archive, source, format=format_, mapping=mapping, source_name=source_name, licence=licence,
                strict=strict, bulk=bulk, progress=step,
            )
            failure = None
        except ImportRejectedError as exc:
            if not isinstance(exc.result, ImportResult):
                raise
            result, failure = exc.result, exc
    if as_json:
        print_json(result.as_dict())
    else:
        out.print(
            f"{result.source_name}: {result.records} records read — {result.inserted} inserted, {result.updated} "
            f"updated, {result.unchanged} unchanged, {result.duplicates} duplicates skipped, {result.rejected} rejected"
            + (f", {result.warnings} warnings" if result.warnings else "")
            + (f" (resumed after line {result.resumed_from_line})" if result.resumed_from_line else "")
            + (" (bulk load: indexes rebuilt at the end)" if result.bulk else "")
            + f"; {result.tracks} tracks, remainder {result.bytes_per_track_remainder} B/track"
        )
    if result.rejected or result.warnings:
        for sample in result.reject_samples:
            console.print(f"rejected: {sample}", soft_wrap=True, markup=False)
        console.print(
            f"{result.rejected} rejected, {result.warnings} warnings: see {result.report_path}",
            soft_wrap=True, markup=False,
        )
    if failure is not None:
        raise failure


@click.command("export")
@archive_option
@click.option("--format", "format_", required=True, type=click.Choice(["source", "parquet", "sqlite"]),
              help="source: the imported records rebuilt exactly (JSONL); parquet: every table; sqlite: a copy.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory.")
@click.option("--source", default=None, help="Only this source (--format source).")
@json_option
def export_command(archive_dir: Path | None, format_: str, out_dir: Path, source: str | None, as_json: bool) -> None:
    """Export the catalog: source records (exact round trip), Parquet tables, or a SQLite copy."""
    archive = open_archive(archive_dir)
    result: dict[str, Any]
    if format_ == "source":
        from phonotheque.catalog.roundtrip import export_source

        result = export_source(archive, out_dir, source=source)
        summary = ", ".join(f"{k}: {v['records']} records → {v['path']}" for k, v in result.items()) or "no sources"
    elif format_ == "parquet":
        from phonotheque.catalog.parquet import export_parquet

        result = export_parquet(archive, out_dir)
        summary = f"{len(result.get('tables', result))} tables → {out_dir}"
    else:
        from phonotheque.catalog.parquet import export_sqlite

        result = export_sqlite(archive, out_dir)
        summary = f"catalog copy → {out_dir}"
    if as_json:
        print_json(result)
    else:
        out.print(summary)


COMMANDS: list[click.Command] = [init_command, import_command, export_command]
