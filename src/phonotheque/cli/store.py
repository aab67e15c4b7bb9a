"""Commands of the store stage (thin adapters over phonotheque.store)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from phonotheque.cli.common import archive_option, json_option, open_archive, out, print_json, progress
from phonotheque.units import format_size

COMMANDS: list[click.Command] = []


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: setting store.workers; 0 = one per core).")
@click.option("--scheduler", default=None, metavar="local|tcp://HOST:PORT",
              help="Run file tasks on Dask: 'local' starts a LocalCluster, an address joins a cluster.")
@archive_option
@json_option
def ingest_command(
    paths: tuple[str, ...], workers: int | None, scheduler: str | None, archive_dir: Path | None, as_json: bool
) -> None:
    """Ingest audio files and folders into the store (use @LIST.txt for a file list).

    Every file is hashed, probed, fully decoded, fingerprinted and matched in one read; bad files
    are quarantined with a reason (quarantine/quarantine.jsonl). Re-running skips files already
    ingested with the same size and mtime. Exit status 1 when any file was quarantined.
    """
    from phonotheque.store.ingest import ingest

    archive = open_archive(archive_dir)
    with progress("ingest", unit="files") as advance:
        result = ingest(archive, list(paths), workers=workers, scheduler=scheduler, progress=advance)
    if as_json:
        print_json(result.as_dict())
    else:
        rate = result.bytes / result.seconds if result.seconds else 0.0
        out.print(
            f"{result.files} files: {result.stored} stored, {result.duplicates} duplicates, "
            f"{result.alternatives} alternatives, {result.matched} matched, {result.new_tracks} new tracks, "
            f"{result.quarantined} quarantined, {result.skipped} already done "
            f"({format_size(result.bytes)} in {result.seconds:.1f} s, {format_size(int(rate))}/s)"
        )
        for err in result.errors[:20]:
            out.print(f"  {err['status']}: {err['path']}: {err['reason']}", markup=False)
        if len(result.errors) > 20:
            out.print(f"  … {len(result.errors) - 20} more in {archive.quarantine_dir / 'quarantine.jsonl'}")
    if result.quarantined:
        sys.exit(1)


COMMANDS.append(ingest_command)
