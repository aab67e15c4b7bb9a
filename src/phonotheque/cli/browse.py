"""Commands over the library API (thin adapters): search, lookup, shuffle, stats, listens."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from phonotheque.catalog.listens import import_listens
from phonotheque.catalog.lookup import credit_line, lookup
from phonotheque.catalog.search import refresh_index, search
from phonotheque.catalog.shuffle import shuffle
from phonotheque.catalog.stats import stats
from phonotheque.cli.common import (
    archive_option,
    console,
    json_option,
    open_archive,
    out,
    print_json,
    progress,
)


def _track_line(t: dict[str, Any]) -> str:
    album = t["album"]["name"] if t.get("album") else "-"
    isrcs = ",".join(t["recording"]["isrcs"]) if t.get("recording") else ""
    return (f"{t['id']:>9}  {t['name']} — {credit_line(t['artists'])} — {album}"
            f"  [pop {t['popularity'] if t['popularity'] is not None else '-'}{'  ' + isrcs if isrcs else ''}]")


@click.command("search")
@click.argument("query", required=False)
@click.option("--limit", default=20, show_default=True, help="Results to show (1-1000).")
@click.option("--offset", default=0, show_default=True, help="Skip this many results (paging).")
@click.option("--rebuild-index", is_flag=True,
              help="Rebuild the search index from the catalog first (QUERY is then optional).")
@archive_option
@json_option
def search_cmd(query: str | None, limit: int, offset: int, rebuild_index: bool, archive_dir: Path | None,
               as_json: bool) -> None:
    """Ranked search of track, artist and album names (every word must match; beat* is a prefix)."""
    if query is None and not rebuild_index:
        raise click.UsageError("missing QUERY (or give --rebuild-index to rebuild the search index)")
    with open_archive(archive_dir) as archive:
        if rebuild_index:
            with progress("rebuilding the search index", unit="tracks") as advance:
                indexed = refresh_index(archive, advance, rebuild=True)
            console.print(f"search index rebuilt: {indexed:,} tracks")
        if query is None:
            if as_json:
                print_json({"rebuilt": True, "tracks": indexed})
            return
        results = search(archive, query, limit=limit, offset=offset)
    if as_json:
        print_json(results)
        return
    table = Table("id", "track", "artists", "album", "pop", box=None, header_style="bold")
    for r in results:
        table.add_row(str(r["id"]), r["name"], r["artists"], r["album"] or "-",
                      "-" if r["popularity"] is None else str(r["popularity"]))
    out.print(table)
    console.print(f"{len(results)} result(s)")


@click.command("lookup")
@click.argument("ids", nargs=-1, required=True)
@archive_option
@json_option
def lookup_cmd(ids: tuple[str, ...], archive_dir: Path | None, as_json: bool) -> None:
    """Look up catalog ids, ISRCs, UPC/EANs, MBIDs or SOURCE:KEY ids (up to 400); exit 1 if any is missing."""
    with open_archive(archive_dir) as archive:
        results = lookup(archive, list(ids))
    missing = [r["query"] for r in results if not r["found"]]
    if as_json:
        print_json({"results": results, "not_found": missing})
    else:
        for r in results:
            if not r["found"]:
                out.print(f"[bold]{r['query']}[/]: not found ({r['reason']})")
                continue
            more = f", showing {len(r['tracks'])}" if r["track_count"] > len(r["tracks"]) else ""
            out.print(f"[bold]{r['query']}[/] ({r['kind']} → {r['matched']}, {r['track_count']} track(s){more})")
            for t in r["tracks"]:
                out.print("  " + _track_line(t), markup=False)
                if t["sharing_recording"]:
                    out.print(f"             same recording: {', '.join(map(str, t['sharing_recording']))}")
    if missing:
        sys.exit(1)


@click.command("shuffle")
@click.option("-n", "n", default=1, show_default=True, help="How many distinct random tracks (1-1000).")
@click.option("--min-popularity", type=int, default=None, help="Only tracks with popularity >= P (0-100).")
@click.option("--held", is_flag=True, help="Only tracks the store holds a file for.")
@click.option("--seed", type=int, default=None, help="Seed for a reproducible draw.")
@archive_option
@json_option
def shuffle_cmd(n: int, min_popularity: int | None, held: bool, seed: int | None, archive_dir: Path | None,
                as_json: bool) -> None:
    """Uniformly random tracks over the whole catalog (or over the filtered tracks)."""
    with open_archive(archive_dir) as archive:
        tracks = shuffle(archive, n=n, min_popularity=min_popularity, held=held, seed=seed)
    if as_json:
        print_json(tracks)
        return
    for t in tracks:
        out.print(_track_line(t), markup=False)
    if not tracks:
        console.print("no track matches")


@click.command("stats")
@archive_option
@json_option
def stats_cmd(archive_dir: Path | None, as_json: bool) -> None:
    """Counts of tracks, artists, albums, recordings, ISRCs; popularity and listens distributions."""
    with open_archive(archive_dir) as archive:
        s = stats(archive)
    if as_json:
        print_json(s)
        return
    for key in ("tracks", "artists", "albums", "recordings", "labels", "unique_isrcs", "tracks_with_isrc"):
        out.print(f"{key.replace('_', ' '):<18} {s[key]:>12,}")
    out.print("tracks per ISRC    " + "  ".join(f"{k}: {v:,}" for k, v in s["tracks_per_isrc"].items()))
    out.print("popularity         " + "  ".join(f"{k}: {v:,}" for k, v in s["popularity_histogram"].items()))
    lis = s["listens"]
    out.print(f"listens            {lis['total']:,} on {lis['tracks_with_listens']:,} tracks "
              f"({lis['files_imported']} listens file(s) imported)")
    for src in s["sources"]:
        out.print(f"source             {src['name']} ({src['format']}, {src['licence'] or 'no licence'}): "
                  f"{src['tracks']:,} tracks")


@click.command("listens")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "format_", type=click.Choice(["csv", "events"]), default=None,
              help="csv (id,count) or events (JSON lines); default: guessed.")
@archive_option
@json_option
def listens_cmd(source: Path, format_: str | None, archive_dir: Path | None, as_json: bool) -> None:
    """Add listen counts from a CSV of counts or a file of listen events (each file counted once)."""
    with open_archive(archive_dir) as archive, progress("reading listens") as advance:
        summary = import_listens(archive, source, format=format_, progress=advance)
    if as_json:
        print_json(summary)
        return
    if summary["already_imported"]:
        console.print(f"{source}: already counted (same content imported before); nothing added")
        return
    for rej in summary["rejects"]:
        console.print(f"{source}:{rej['line']}: {rej['reason']}", markup=False)
    if summary["rejected"] > len(summary["rejects"]):
        console.print(f"… and {summary['rejected'] - len(summary['rejects'])} more (see import_rejects)")
    out.print(f"{summary['listens']:,} listens credited to {summary['tracks']:,} tracks "
              f"from {summary['lines']:,} lines; {summary['rejected']:,} rejected")


COMMANDS: list[click.Command] = [search_cmd, lookup_cmd, shuffle_cmd, stats_cmd, listens_cmd]
