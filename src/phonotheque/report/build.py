"""``report(archive, out=DIR)``: one self-contained HTML file with inline SVG charts and their numbers.

Statistics are aggregated in SQL (:mod:`phonotheque.report.stats`), drawn with matplotlib
(:mod:`phonotheque.report.charts`) and assembled with a Jinja2 template. The file is written to a
temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from phonotheque import __version__
from phonotheque.archive import Archive
from phonotheque.plan.core import PlanParams
from phonotheque.plan.planner import last_run
from phonotheque.report import charts, stats
from phonotheque.units import format_size

TEMPLATES = Path(__file__).parent / "templates"
WORKERS = 2


@dataclass
class Section:
    id: str
    title: str
    sentence: str
    chart: str | None = None
    has_chart: bool = True
    nodata: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


def _pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f} %"


def _n(x: float) -> str:
    return f"{x:,.0f}"


def gather(archive: Archive, params: PlanParams, tick: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Run every SQL aggregate, two at a time on read-only connections (SQLite releases the GIL)."""
    jobs: dict[str, Callable[[sqlite3.Connection], Any]] = {
        "overview": stats.overview, "popularity": lambda c: stats.popularity(c, params.listens),
        "durations": stats.durations, "explicit": stats.explicit, "isrc": stats.tracks_per_isrc,
        "markets": stats.markets, "genres": stats.genres, "artists": stats.artists_by_popularity,
        "years": stats.albums_per_year, "album_size": stats.tracks_per_album, "key_mode": stats.key_mode,
        "features": stats.feature_correlations,
    }
    local = threading.local()
    conns: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def run(fn: Callable[[sqlite3.Connection], Any]) -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = archive.connect(readonly=True)
            with lock:
                conns.append(conn)
        result = fn(conn)
        tick()
        return result

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = {name: pool.submit(run, fn) for name, fn in jobs.items()}
            return {name: f.result() for name, f in futures.items()}
    finally:
        for c in conns:
            c.close()


def build_sections(archive: Archive, tick: Callable[[], None] = lambda: None) -> tuple[list[Section], str]:
    """Every section of the report (and the headline sentence), from the catalog and the last plan."""
    params = PlanParams.from_settings(archive.settings)
    out: list[Section] = []
    agg = gather(archive, params, tick)

    ov = agg["overview"]
    out.append(Section("overview", "The catalog at a glance",
                       "How many records of each kind the catalog holds.", has_chart=False,
                       headers=["what", "count"], rows=[[k, f"{v:,}"] for k, v in ov.items()]))
    tick()
    pop = agg["popularity"]
    pop_rows = [[r["popularity"] if r["popularity"] is not None else "unknown", _n(r["tracks"]),
                 f"{r['expected_listens']:,.0f}"] for r in sorted(pop, key=lambda r: (r["popularity"] is None,
                                                                                          r["popularity"] or 0))]
    total_l = sum(r["expected_listens"] for r in pop) or 1.0
    out.append(Section("popularity", "Tracks by popularity",
                       "How many tracks have each popularity score (0–100): most tracks sit at or near 0.",
                       charts.popularity_hist(pop, log=False), nodata="no track has a popularity score.",
                       headers=["popularity", "tracks", "expected listens"], rows=pop_rows))
    out.append(Section("popularity-log", "Tracks by popularity (log scale)",
                       "The same counts on a log scale, so the rare popular tracks are visible next to the quiet majority.",
                       charts.popularity_hist(pop, log=True), nodata="no track has a popularity score.",
                       headers=["popularity", "tracks"], rows=[r[:2] for r in pop_rows]))
    out.append(Section("listens", "Listens by popularity",
                       "Which share of all expected listens each popularity score draws (listen counts where known, "
                       "else the popularity model of docs/plan.md): a few popular tracks draw most listens.",
                       charts.listens_by_popularity(pop), nodata="the catalog has no popularity and no listens.",
                       headers=["popularity", "expected listens", "share"],
                       rows=[[r[0], r[2], _pct(float(r[2].replace(",", "")) / total_l, 4)] for r in pop_rows]))
    tick()
    run = last_run(archive)
    by_pop = stats.coverage_by_popularity(pop)
    curve = run["curve"] if run else None
    point = (run["share_of_tracks"], run["share_of_listens"]) if run and run["files"] else None
    headline = ""
    if run:
        headline = (f"The current plan ({run['policy']} policy, run {run['run_id']}): {run['files']:,} files = "
                    f"{_pct(run['share_of_tracks'], 1)} of tracks = {_pct(run['share_of_listens'])} of listens, "
                    f"{format_size(run['bytes'])}.")
    cov_rows = [[f"≥ {p}", _pct(t, 3), _pct(ls, 3)] for p, t, ls in by_pop if p % 5 == 0 or p < 5]
    out.append(Section("coverage", "Coverage curve: listens preserved vs tracks kept",
                       "Keeping the most listened tracks first, which share of listens a given share of tracks "
                       "preserves; the orange dot is the current plan.",
                       charts.coverage_tracks(by_pop, curve, point), nodata="no popularity or listens to rank tracks by.",
                       headers=["popularity threshold", "share of tracks", "share of listens"], rows=cov_rows))
    out.append(Section("coverage-bytes", "Coverage curve: listens preserved vs storage",
                       "How the share of listens preserved grows with the bytes stored, files taken in release order.",
                       charts.coverage_bytes(curve, run["budget"] if run else None),
                       nodata="no plan yet (run `phonotheque plan --budget SIZE`).",
                       headers=["files", "share of tracks", "share of listens", "bytes"],
                       rows=[[_n(c["files"]), _pct(c["share_of_tracks"], 3), _pct(c["share_of_listens"], 4),
                              format_size(c["bytes"])] for c in (curve or [])[:: max(1, len(curve or []) // 20)]]))
    tick()
    dur = agg["durations"]
    out.append(Section("durations", "Track durations",
                       "How long tracks are, in 30-second bins (the last bin holds everything of 20 minutes or more).",
                       charts.bars([d / 60 + 0.25 for d, _ in dur], [n for _, n in dur], xlabel="duration (minutes)",
                                   ylabel="tracks", width=0.45),
                       nodata="no track has a duration.",
                       headers=["from", "tracks"], rows=[[f"{d // 60}:{d % 60:02d}", _n(n)] for d, n in dur]))
    ex = agg["explicit"]
    out.append(Section("explicit", "Explicit share",
                       "The share of tracks marked explicit, over all tracks and by popularity band.",
                       charts.explicit_share(ex), nodata="no track says whether it is explicit.",
                       headers=["popularity", "tracks", "explicit", "share"],
                       rows=[[b, _n(n), _n(e), _pct(e / n if n else 0.0, 1)] for b, n, e in ex]))
    tick()
    tpi = agg["isrc"]
    out.append(Section("isrc", "Tracks per ISRC",
                       "How many tracks share one recording code (ISRC): most recordings appear once, some on many albums.",
                       charts.bars([c for c, _ in tpi], [n for _, n in tpi], xlabel="tracks sharing the ISRC",
                                   ylabel="ISRCs (log scale)", log=True), nodata="no track has an ISRC.",
                       headers=["tracks", "ISRCs"], rows=[[c, _n(n)] for c, n in tpi]))
    per_country, per_count = agg["markets"]
    top = per_country[:30]
    out.append(Section("markets", "Market availability by country",
                       "In how many tracks each market (country code) is listed as available, for the 30 largest.",
                       charts.bars([c for c, _ in top], [n for _, n in top], xlabel="market",
                                   ylabel="tracks available"), nodata="no market data.",
                       headers=["market", "tracks"], rows=[[c, _n(n)] for c, n in per_country]))
    out.append(Section("markets-count", "Markets per track",
                       "In how many markets each track is available (0 = no market data).",
                       charts.bars([c for c, _ in per_count], [n for _, n in per_count], xlabel="number of markets",
                                   ylabel="tracks"), nodata="no market data.",
                       headers=["markets", "tracks"], rows=[[c, _n(n)] for c, n in per_count]))
    tick()
    gen = agg["genres"]
    out.append(Section("genres", "Top genres",
                       "Tracks per genre of their first credited artist, for the 25 largest genres.",
                       charts.bars([g for g, _ in gen], [n for _, n in gen], xlabel="tracks", ylabel="",
                                   horizontal=True, h=max(3.0, 0.24 * len(gen) + 0.8)),
                       nodata="no artist has a genre.", headers=["genre", "tracks"], rows=[[g, _n(n)] for g, n in gen]))
    abp = agg["artists"]
    out.append(Section("artists", "Artists by popularity",
                       "How many artists have each popularity score, on a log scale.",
                       charts.bars([p for p, _ in abp], [n for _, n in abp], xlabel="artist popularity (0–100)",
                                   ylabel="artists (log scale)", log=True, width=1.0),
                       nodata="no artist has a popularity score.",
                       headers=["popularity", "artists"], rows=[[p, _n(n)] for p, n in abp]))
    apy = agg["years"]
    out.append(Section("years", "Albums per year",
                       "How many albums were released each year (by the year of their release date).",
                       charts.bars([y for y, _ in apy], [n for _, n in apy], xlabel="release year", ylabel="albums",
                                   width=1.0), nodata="no album has a release date.",
                       headers=["year", "albums"], rows=[[y, _n(n)] for y, n in apy]))
    tpa = agg["album_size"]
    out.append(Section("album-size", "Tracks per album",
                       "How many tracks albums have (singles have 1; the last bar holds albums of 40 tracks or more).",
                       charts.bars([c for c, _ in tpa], [n for _, n in tpa], xlabel="tracks on the album",
                                   ylabel="albums (log scale)", log=True), nodata="no track belongs to an album.",
                       headers=["tracks", "albums"], rows=[[c, _n(n)] for c, n in tpa]))
    tick()
    km = agg["key_mode"]
    out.append(Section("key-mode", "Key and mode",
                       "How many tracks are in each musical key, in major and in minor (from audio features).",
                       charts.key_mode(km), nodata="no track has audio features with a key and mode.",
                       headers=["key", "mode", "tracks"],
                       rows=[[charts.KEYS[k], "major" if m else "minor", _n(n)] for k, m, n in km]))
    names, matrix, nfeat = agg["features"]
    out.append(Section("features", "Audio-feature correlations",
                       f"How audio features move together across {nfeat:,} tracks: red = rise together, "
                       "blue = one rises as the other falls.",
                       charts.correlations(names, matrix), nodata="fewer than two audio features have values.",
                       headers=["feature", *names],
                       rows=[[a, *[f"{v:.2f}" for v in line]] for a, line in zip(names, matrix, strict=True)]))
    tick()
    if run:
        rows = [["policy", run["policy"]], ["budget", format_size(run["budget"]) if run["budget"] is not None
                                            else "unlimited"],
                ["files", _n(run["files"])], ["bytes", format_size(run["bytes"])],
                ["share of tracks", _pct(run["share_of_tracks"], 2)], ["share of listens", _pct(run["share_of_listens"], 4)],
                ["share of weighted listens", _pct(run["share_of_weighted_listens"], 4)]]
        for tier, t in run["tiers"].items():
            rows.append([f"{tier} tier", f"{t['files']:,} files, {format_size(t['bytes'])}"])
        rows += [[f"status: {k.replace('_', ' ')}", _n(v)] for k, v in run["status"].items()]
        rows += [[f"warning {i + 1}", w] for i, w in enumerate(run.get("warnings", []))]
        status_chart = charts.plan_status(run["status"])
    else:
        rows, status_chart = [], None
    out.append(Section("plan", "Plan summary",
                       "What the current plan keeps and skips: tracks by status (planned original or re-encode, "
                       "skipped and why).",
                       status_chart, nodata="no plan yet (run `phonotheque plan --budget SIZE`).",
                       headers=["what", "value"], rows=rows))
    return out, headline


def report(archive: Archive, *, out: str | Path | None = None, tick: Callable[[], None] = lambda: None) -> Path:
    """Write ``report.html`` into ``out`` (default ``archive.reports_dir / "report"``); returns its path."""
    out_dir = Path(out) if out is not None else archive.reports_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections, headline = build_sections(archive, tick)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    html = env.get_template("report.html").render(
        title=f"{archive.settings['archive.name']}: catalog and preservation report",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__, sections=sections, headline=headline,
    )
    path = out_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
