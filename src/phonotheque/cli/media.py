"""Commands of the long-tail tier and embedded metadata: transcode, tag, restore (thin adapters)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from phonotheque.archive import Archive, default_archive_dir
from phonotheque.cli.common import archive_option, json_option, open_archive, out, print_json, progress
from phonotheque.errors import ArchiveError
from phonotheque.units import format_size

COMMANDS: list[click.Command] = []

_WORKERS = click.option("--workers", type=click.IntRange(min=0), default=None,
                        help="Worker processes (default: setting store.workers; 0 = one per core).")


def _print_problems(problems: list[dict[str, object]]) -> None:
    for p in problems[:20]:
        out.print(f"  {p['status']}: track {p['track_id']}: {p['path']}: {p['reason']}", markup=False)
    if len(problems) > 20:
        out.print(f"  … {len(problems) - 20} more (table media_log, or --json)")


@click.command("transcode")
@_WORKERS
@archive_option
@json_option
def transcode_command(workers: int | None, archive_dir: Path | None, as_json: bool) -> None:
    """Transcode every track the plan re-encodes to Ogg Opus (the long-tail tier).

    Settings transcode.bitrate / complexity / container in archive.toml. Each file is verified
    by decoding it, hashed for torrents and tagged from the catalog (R128 gains included).
    Resumable; exit status 1 when any track could not be transcoded.
    """
    from phonotheque.store.transcode import transcode

    archive = open_archive(archive_dir)
    with progress("transcode", unit="tracks") as advance:
        summary = transcode(archive, workers=workers, progress=advance)
    d = summary.as_dict()
    if as_json:
        print_json(d)
    else:
        out.print(
            f"{summary.planned} planned for re-encode: {summary.succeeded} transcoded, {summary.failed} failed, "
            f"{summary.done_before} already done, {summary.missing_original} without an original "
            f"({summary.audio_seconds / 60:.1f} min of audio, {format_size(summary.bytes_out)} written, "
            f"{d.get('speed_x_realtime') or 0}x real time)"
        )
        _print_problems(d["problems"])
    if summary.failed:
        sys.exit(1)


COMMANDS.append(transcode_command)


@click.command("tag")
@_WORKERS
@archive_option
@json_option
def tag_command(workers: int | None, archive_dir: Path | None, as_json: bool) -> None:
    """Embed catalog metadata in copies of the planned originals; keep a patch back to each original.

    Tagged copies go to the store beside the originals; patches to store/patches/<tagged
    sha256>.zstdpatch (`phonotheque restore` rebuilds originals from them). Every patch is
    verified before it is stored. Exit status 1 when any file could not be tagged.
    """
    from phonotheque.store.tagging import tag

    archive = open_archive(archive_dir)
    with progress("tag", unit="files") as advance:
        summary = tag(archive, workers=workers, progress=advance)
    d = summary.as_dict()
    if as_json:
        print_json(d)
    else:
        per = summary.bytes_out / summary.succeeded if summary.succeeded else 0
        out.print(
            f"{summary.planned} planned originals: {summary.succeeded} tagged, {summary.failed} failed, "
            f"{summary.done_before} already done, {summary.missing_original} without a file "
            f"(patches {format_size(summary.bytes_out)}, {format_size(per)} per file, {summary.seconds:.1f} s)"
        )
        _print_problems(d["problems"])
    if summary.failed:
        sys.exit(1)


COMMANDS.append(tag_command)


def _maybe_archive(archive_dir: Path | None) -> Archive | None:
    """The archive given with -A, else the default one if it is an archive, else none (a mirror)."""
    if archive_dir is not None:
        return open_archive(archive_dir)
    try:
        return Archive.open(default_archive_dir())
    except ArchiveError:
        return None


@click.command("restore")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--patches", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of <sha256>.zstdpatch files (default: the archive's store/patches).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write restored files here (a directory's layout is kept); default: replace in place.")
@archive_option
@json_option
def restore_command(paths: tuple[Path, ...], patches: Path | None, out: Path | None, archive_dir: Path | None,
                    as_json: bool) -> None:
    """Rebuild the exact original files from tagged files and their patches, verified by sha256.

    Works on a mirror without an archive (give --patches). Reports each file as restored,
    already_original, no_patch or patch_mismatch; exit status 1 on any mismatch or error.
    """
    from phonotheque.store.patch import restore

    archive = _maybe_archive(archive_dir)
    if archive is None and patches is None:
        raise ArchiveError("restore: no archive here and no --patches DIR: nowhere to find patches")
    with progress("restore", unit="files") as advance:
        summary = restore(list(paths), patches=patches, out=out, archive=archive, progress=advance)
    d = summary.as_dict()
    if as_json:
        print_json(d)
    else:
        rate = summary.bytes_read / summary.seconds if summary.seconds else 0.0
        _out_print(
            f"{len(summary.items)} files: {d['restored']} restored, {d['already_original']} already original, "
            f"{d['no_patch']} without a patch, {d['patch_mismatch']} patch mismatches, {d['error']} errors "
            f"({format_size(summary.bytes_read)} in {summary.seconds:.1f} s, {format_size(int(rate))}/s)"
        )
        for item in summary.items:
            if item.status in ("patch_mismatch", "error"):
                _out_print(f"  {item.status}: {item.path}: {item.reason}")
    if not summary.ok:
        sys.exit(1)


def _out_print(text: str) -> None:
    out.print(text, markup=False)


COMMANDS.append(restore_command)
