"""Commands of the plan stage (thin adapters over phonotheque.plan and phonotheque.report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from phonotheque.cli.common import (
    archive_option,
    console,
    json_option,
    open_archive,
    out,
    print_json,
    progress,
)
from phonotheque.units import format_size


def _row(d: dict[str, Any]) -> list[str]:
    tiers = d["tiers"]
    return [
        f"{d['files']:,}",
        format_size(d["bytes"]),
        f"{100 * d['share_of_tracks']:.2f}%",
        f"{100 * d['share_of_listens']:.4f}%",
        f"{100 * d['share_of_weighted_listens']:.4f}%",
        f"{tiers['original']['files']:,} / {format_size(tiers['original']['bytes'])}",
        f"{tiers['reencode']['files']:,} / {format_size(tiers['reencode']['bytes'])}",
    ]


@click.command("plan")
@click.option("--budget", default=None, metavar="SIZE",
              help="Byte budget: 4TB, 500 GiB, 1e12 (decimal units, binary with 'iB'). Default: unlimited.")
@click.option("--policy", type=click.Choice(["optimal", "reference"]), default="optimal", show_default=True,
              help="optimal: knapsack maximising weighted listens; reference: the reference archive's rules.")
@click.option("--compare", is_flag=True, help="Also run the other policy at the same budget and show both.")
@click.option("--exclusions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV (kind,value,reason) of extra exclusions honoured for this run.")
@archive_option
@json_option
def plan_cmd(budget: str | None, policy: str, compare: bool, exclusions: Path | None,
             archive_dir: Path | None, as_json: bool) -> None:
    """Decide per track: keep the original, re-encode to the long-tail tier, or skip."""
    from phonotheque.plan.planner import plan

    archive = open_archive(archive_dir)
    with progress("reading the catalog", unit="tracks") as advance:
        summary = plan(archive, budget=budget, policy=policy, exclusions=exclusions, compare=compare,
                       progress=advance)
    if as_json:
        print_json(summary.to_dict())
        return
    for w in summary.warnings:
        console.print(f"[yellow]warning:[/] {w}", markup=True)
    budget_text = format_size(summary.budget) if summary.budget is not None else "unlimited"
    table = Table(title=f"plan run {summary.run_id}: {summary.policy} plan stored, budget {budget_text}")
    for h in ("policy", "files", "bytes", "tracks", "listens", "weighted", "original", "re-encode"):
        table.add_column(h, justify="right")
    d = summary.to_dict()
    table.add_row(summary.policy, *_row(d))
    if summary.compare:
        other = summary.compare["other"]
        table.add_row(other["policy"], *_row(other))
    out.print(table)
    out.print(summary.sentence())
    if summary.compare:
        c = summary.compare
        out.print(f"optimal − reference: {c['weighted_listens_gain']:+,.0f} weighted listens "
                  f"({c['weighted_listens_gain_pct']:+.6f} %); weighted listens lost: "
                  f"reference {c['weighted_listens_lost']['reference']:,.0f}, "
                  f"optimal {c['weighted_listens_lost']['optimal']:,.0f}")
    out.print("status: " + ", ".join(f"{k} {v:,}" for k, v in summary.status.items() if v))


@click.command("report")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory (default: ARCHIVE/reports/report).")
@archive_option
@json_option
def report_cmd(out_dir: Path | None, archive_dir: Path | None, as_json: bool) -> None:
    """Write a self-contained HTML report (charts and the numbers behind them)."""
    from phonotheque.report.build import report

    archive = open_archive(archive_dir)
    with progress("building the report", total=20) as advance:
        path = report(archive, out=out_dir, tick=advance)
    if as_json:
        print_json({"path": str(path)})
    else:
        out.print(f"report written to {path}")


@click.group("exclude")
def exclude_group() -> None:
    """Manage the exclusion (takedown) list honoured by plan, package and serve."""


@exclude_group.command("add")
@click.option("--isrc", default=None, help="Exclude every track with this ISRC.")
@click.option("--track", type=int, default=None, help="Exclude one catalog track id.")
@click.option("--kind", type=click.Choice(["track", "isrc", "album", "artist", "recording", "source_key", "upc"]),
              default=None, help="Any kind of exclusion, with --value.")
@click.option("--value", default=None, help="The value for --kind (id, MBID, key or barcode).")
@click.option("--reason", default="", help="Why (required with --isrc/--track/--kind).")
@click.option("--file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of kind,value,reason rows (header optional).")
@archive_option
@json_option
def exclude_add_cmd(isrc: str | None, track: int | None, kind: str | None, value: str | None, reason: str,
                    file: Path | None, archive_dir: Path | None, as_json: bool) -> None:
    """Add exclusions."""
    from phonotheque.plan.exclusions import exclude_add

    result = exclude_add(open_archive(archive_dir), isrc=isrc, track=track, kind=kind, value=value,
                         reason=reason, file=file)
    if as_json:
        print_json(result)
        return
    out.print(f"{result['added']} exclusion(s) added or updated")
    rejected = result["rejected"]
    assert isinstance(rejected, list)
    for r in rejected:
        console.print(f"[red]rejected:[/] {r}", markup=True)
    if rejected:
        raise SystemExit(1)


@exclude_group.command("list")
@archive_option
@json_option
def exclude_list_cmd(archive_dir: Path | None, as_json: bool) -> None:
    """List the exclusions."""
    from phonotheque.plan.exclusions import exclude_list

    rows = exclude_list(open_archive(archive_dir))
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    table = Table()
    for h in ("kind", "value", "reason", "added"):
        table.add_column(h)
    for r in rows:
        table.add_row(r.kind, r.value, r.reason, r.added_at or "")
    out.print(table)
    out.print(f"{len(rows)} exclusion(s)")


@exclude_group.command("remove")
@click.option("--kind", type=click.Choice(["track", "isrc", "album", "artist", "recording", "source_key", "upc"]),
              required=True)
@click.option("--value", required=True)
@archive_option
@json_option
def exclude_remove_cmd(kind: str, value: str, archive_dir: Path | None, as_json: bool) -> None:
    """Remove one exclusion."""
    from phonotheque.plan.exclusions import exclude_remove

    removed = exclude_remove(open_archive(archive_dir), kind=kind, value=value)
    if as_json:
        print_json({"removed": removed})
    else:
        out.print(f"removed {kind} {value}")


COMMANDS: list[click.Command] = [plan_cmd, report_cmd, exclude_group]
