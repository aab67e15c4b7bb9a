"""Commands of the release stage (thin adapters over phonotheque.release)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from phonotheque.cli.common import archive_option, json_option, open_archive, out, print_json, progress
from phonotheque.units import format_size


@click.command("package")
@archive_option
@click.option("--release", required=True, metavar="NAME", help="Release name (letters, digits, '.', '_', '-').")
@click.option("--target-size", default=None, metavar="SIZE",
              help="About how big one audio torrent is, e.g. 1TB, 500GiB (default: setting release.target_size).")
@click.option("--version", "version", type=click.Choice(["hybrid", "v1", "v2"]), default=None,
              help="BitTorrent version of the torrents (default: setting release.version, hybrid).")
@click.option("--trackers", multiple=True, metavar="URLS",
              help="Announce URLs of one tracker tier, comma-separated; repeat for more tiers "
                   "(default: setting release.trackers).")
@click.option("--web-seeds", multiple=True, metavar="URLS",
              help="Web seed (BEP 19) base URLs, comma-separated or repeated (default: setting release.web_seeds).")
@click.option("--metadata/--no-metadata", default=True, show_default=True,
              help="Also make the metadata torrents (catalog snapshot + Parquet export, patches).")
@json_option
def package_command(archive_dir: Path | None, release: str, target_size: str | None, version: str | None,
                    trackers: tuple[str, ...], web_seeds: tuple[str, ...], metadata: bool, as_json: bool) -> None:
    """Turn the planned, stored files into the next batches of a release.

    Builds reproducible torrents from the hashes stored at ingest (no audio is read), seeding trees of hard
    links into the store, the file index, torrents.json, metadata torrents and RELEASE-NOTES.md under
    releases/NAME/. Published torrents are never rewritten; unpublished ones are rebuilt.
    """
    archive = open_archive(archive_dir)
    with progress("packaging") as advance:
        from phonotheque.release.package import package  # lazy: pyarrow is slow to import

        result = package(archive, release=release, target_size=target_size, version=version,
                         trackers=list(trackers) or None, web_seeds=list(web_seeds) or None, metadata=metadata,
                         progress=advance)
    if as_json:
        print_json(result.to_dict())
        return
    for w in result.warnings:
        out.print(f"warning: {w}")
    audio = [t for t in result.torrents if t.kind == "audio"]
    if not result.torrents:
        out.print(f"release {release}: nothing new to package ({result.published_kept} published torrent(s) kept, "
                  f"{result.tracks_pending} planned track(s) not in the store yet)")
        return
    for t in result.torrents:
        out.print(f"  {t.batch:>4}  {t.name}  {t.content:<8} {format_size(t.size):>9}  {t.file_count:>6} files  "
                  f"{t.infohash_v1 or t.infohash_v2}")
    out.print(f"release {release}: {len(audio)} audio torrent(s), {result.tracks_packaged} track(s), "
              f"{format_size(result.size)} (+{result.padding_overhead:.2%} padding at "
              f"{result.piece_size // 1024} KiB pieces); {result.tracks_pending} pending, "
              f"{result.tracks_excluded} excluded, {result.published_kept} published kept; "
              f"{result.seconds:.2f} s → {result.release_dir}")


@click.group("release")
def release_group() -> None:
    """Publish and list releases made by `phonotheque package`."""


@release_group.command("publish")
@archive_option
@click.argument("name")
@json_option
def publish_command(archive_dir: Path | None, name: str, as_json: bool) -> None:
    """Mark every unpublished torrent of release NAME published; published torrents are never rewritten."""
    archive = open_archive(archive_dir)
    from phonotheque.release.package import publish

    result = publish(archive, release=name)
    if as_json:
        print_json(asdict(result))
        return
    if not result.published:
        out.print(f"release {name}: nothing to publish ({result.already_published} torrent(s) already published)")
        return
    out.print(f"release {name}: published {len(result.published)} torrent(s): {', '.join(result.published)}")


@release_group.command("list")
@archive_option
@click.option("--release", default=None, metavar="NAME", help="Only this release.")
@json_option
def list_command(archive_dir: Path | None, release: str | None, as_json: bool) -> None:
    """List releases and their torrents (the content of each torrents.json)."""
    archive = open_archive(archive_dir)
    from phonotheque.release.package import list_releases

    releases = list_releases(archive, release=release)
    if as_json:
        print_json(releases)
        return
    if not releases:
        out.print("no release yet (make one with `phonotheque package --release NAME`)")
    for r in releases:
        out.print(f"{r['release']} ({r['version']}, {len(r['torrents'])} torrent(s))")
        for t in r["torrents"]:
            out.print(f"  {t['batch']:>4}  {t['name']}  {t['content']:<8} {format_size(t['size']):>9}  "
                      f"{t['file_count']:>6} files  {t['listens_share']:7.2%} of listens  "
                      f"{'published' if t['published'] else 'not published'}")


COMMANDS: list[click.Command] = [package_command, release_group]
