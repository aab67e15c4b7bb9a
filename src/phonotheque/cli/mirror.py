"""Commands of the mirror stage (thin adapters over phonotheque.mirror)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from phonotheque.cli.common import (
    archive_option,
    json_option,
    open_archive,
    out,
    print_json,
    progress,
)
from phonotheque.errors import MirrorError
from phonotheque.mirror import seedplan as seedplan_mod
from phonotheque.mirror import verify as verify_mod


def _torrent_list(archive_dir: Path | None, release: str | None, torrent_list: Path | None) -> Path | None:
    if release is not None and torrent_list is not None:
        raise MirrorError("give --release or --torrent-list, not both")
    if release is not None:
        return open_archive(archive_dir).releases_dir / release / "torrents.json"
    return torrent_list


@click.command("verify")
@click.argument("mirror_dir", type=click.Path(path_type=Path))
@archive_option
@click.option("--release", default=None, metavar="NAME", help="Verify against release NAME of the archive (-A).")
@click.option("--torrent-list", type=click.Path(path_type=Path), default=None,
              help="Verify against this torrents.json (its torrents/ and index/ sit beside it).")
@click.option("--quick", is_flag=True, help="Sizes and a sample of 3 pieces per file instead of every byte.")
@click.option("--sha256", is_flag=True,
              help="Also compare each file's whole SHA-256 with the file index (the v2 merkle root already covers "
                   "every byte; this costs a third more hashing).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per core).")
@json_option
def verify_command(mirror_dir: Path, archive_dir: Path | None, release: str | None, torrent_list: Path | None,
                   quick: bool, sha256: bool, workers: int | None, as_json: bool) -> None:
    """Check MIRROR_DIR (full or partial) against a release: missing, corrupt, renamed, extra files.

    Reads only the published artifacts (torrent list, .torrent files, file index) and changes
    nothing in the mirror. Exit status 0 only if every file present is intact.
    """
    if release is not None and torrent_list is not None:
        raise MirrorError("give --release or --torrent-list, not both")
    release_dir = open_archive(archive_dir).releases_dir / release if release is not None else None
    with progress("verifying", unit="bytes") as advance:
        report = verify_mod.verify(mirror_dir, release_dir=release_dir, torrent_list=torrent_list, quick=quick, sha256=sha256,
                                   workers=workers, progress=advance)
    if as_json:
        print_json(report.to_dict())
    else:
        for line in verify_mod.summary_lines(report):
            out.print(line, markup=False)
    sys.exit(report.exit_code)


@click.command("seedplan")
@archive_option
@click.option("--disk", required=True, help="Disk space to fill, e.g. 4TB, 500GiB.")
@click.option("--release", default=None, metavar="NAME", help="Plan over release NAME of the archive (-A).")
@click.option("--torrent-list", type=click.Path(path_type=Path), default=None, help="Plan over this torrents.json.")
@click.option("--swarm", type=click.Path(path_type=Path), default=None,
              help="Seeder/leecher counts per infohash (JSON, see docs/seedplan.md); no network is used.")
@click.option("--have", type=click.Path(path_type=Path), default=None,
              help="Your mirror directory: torrents held complete count as chosen, no download.")
@click.option("--churn", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5, show_default=True,
              help="Chance that one seeder is gone by the horizon; scarcity = churn ** seeders.")
@json_option
def seedplan_command(archive_dir: Path | None, disk: str, release: str | None, torrent_list: Path | None,
                     swarm: Path | None, have: Path | None, churn: float, as_json: bool) -> None:
    """Which torrents to hold on a disk of size --disk for the most preservation value, with reasons."""
    tl = _torrent_list(archive_dir, release, torrent_list)
    if tl is None:
        raise MirrorError("no torrent list: give --release NAME or --torrent-list torrents.json")
    plan = seedplan_mod.seedplan(tl, disk=disk, swarm=swarm, have=have, churn=churn)
    if as_json:
        print_json(plan.to_dict())
    else:
        for line in seedplan_mod.summary_lines(plan):
            out.print(line, markup=False)


COMMANDS: list[click.Command] = [verify_command, seedplan_command]
