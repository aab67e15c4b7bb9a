"""Report benchmark: time to build the HTML report on a 2 M-track catalog.

    .venv/bin/python bench/bench_report.py [--quick] [--tracks 2000000] [--runs 3]

The catalog is generated straight into SQLite (phonotheque.report.sample, executemany) under
/work/benchdata/report_<n> and reused by later runs; a plan is made once so the plan sections are
filled. Timed (median of --runs): the SQL aggregates alone, the whole report (aggregates + charts +
HTML). There is no external tool that builds this report, so the peer is the floor any report
over this catalog pays: one full read of the tracks table into Python (what a row-loop report would
do before computing anything). Peak memory is the rise of peak RSS during the report. Results: a
table on stdout and bench/out/report.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import measure_rss  # noqa: E402

from phonotheque.archive import Archive  # noqa: E402
from phonotheque.plan.planner import plan  # noqa: E402
from phonotheque.report.build import build_sections, report  # noqa: E402
from phonotheque.report.sample import fill_sample_catalog  # noqa: E402

OUT = Path(__file__).parent / "out"


def catalog(n: int) -> Archive:
    root = Path("/work/benchdata") / f"report_{n}"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        archive = Archive.init(root)
        t = time.perf_counter()
        fill_sample_catalog(archive, n, seed=42)
        print(f"generated {n:,} tracks in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        plan(archive, budget=f"{n * 3}MB", policy="optimal")
        print(f"planned in {time.perf_counter() - t:.1f} s", flush=True)
        archive.close()
        done.touch()
    return Archive.open(root)


def full_read(archive: Archive) -> int:
    count = 0
    for _ in archive.conn.execute("SELECT * FROM tracks"):
        count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 k tracks (< 1 min once generated)")
    ap.add_argument("--tracks", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n = 200_000 if args.quick else args.tracks
    archive = catalog(n)
    out_dir = Path("/work/benchdata") / f"report_{n}_html"

    def timed(fn: Any) -> list[float]:
        times = []
        for _ in range(args.runs):
            gc.collect()
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return times

    read_t = timed(lambda: full_read(archive))
    import phonotheque.report.charts as charts_mod

    real = {name: getattr(charts_mod, name) for name in dir(charts_mod) if not name.startswith("_")}
    # aggregates only: charts replaced by no-ops for this measurement
    for name, fn in real.items():
        if callable(fn) and name in ("popularity_hist", "listens_by_popularity", "coverage_tracks", "coverage_bytes",
                                     "bars", "explicit_share", "key_mode", "correlations", "plan_status"):
            setattr(charts_mod, name, lambda *a, **k: None)
    sql_t = timed(lambda: build_sections(archive))
    for name, fn in real.items():
        setattr(charts_mod, name, fn)
    full_t = timed(lambda: report(archive, out=out_dir))
    _, rss = measure_rss(lambda: report(archive, out=out_dir))
    size = (out_dir / "report.html").stat().st_size
    row = {
        "tracks": n,
        "report_s": statistics.median(full_t), "report_runs_s": full_t,
        "aggregates_s": statistics.median(sql_t),
        "full_read_s": statistics.median(read_t),
        "ratio_report_to_full_read": statistics.median(full_t) / statistics.median(read_t),
        "peak_rss_mb": rss / 1e6, "html_bytes": size,
    }
    print("\n| tracks | report s | SQL aggregates s | charts+HTML s | peer: one full read of tracks s | "
          "report / full read | peak RSS rise | report size |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {n:,} | {row['report_s']:.1f} | {row['aggregates_s']:.1f} | {row['report_s'] - row['aggregates_s']:.1f} | "
          f"{row['full_read_s']:.1f} | {row['ratio_report_to_full_read']:.2f}× | {row['peak_rss_mb']:.0f} MB | "
          f"{size / 1e3:.0f} kB |")
    OUT.mkdir(exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(row, indent=2))
    print(f"wrote {OUT / 'report.json'}")


if __name__ == "__main__":
    main()
