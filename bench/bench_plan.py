"""Planner benchmark: the numpy core vs the same selection as one DuckDB query, on generated columns.

    .venv/bin/python bench/bench_plan.py [--quick] [--sizes 10000000,100000000] [--runs 3]

For each size n: generate skewed catalog columns (numpy, seeded; >=70 % of tracks at popularity 0,
~0.1 % at popularity >= 50 drawing most listens, ~5 % of tracks in ISRC groups of 2-20), pick the
budget that holds ~1/3 of the catalog at the original tier, then time (median of --runs):

* ``phonotheque``: ``plan_columns(cols, budget, "optimal")`` — values, ISRC groups, hull items,
  histogram selection, release order;
* ``duckdb``: one SQL query over the same arrays (numpy → Arrow, zero copy) computing the same values,
  group representatives and hull items, ``ORDER BY efficiency DESC`` with a running ``SUM`` under
  the budget (the selection only — no release order).

Peak memory is measured per engine as the rise of the process's peak RSS (``/proc/self/status``
VmHWM, reset through ``/proc/self/clear_refs``) above the resident size before the call, and for the
numpy core also with tracemalloc (exact numpy allocations); both are reported per track. On the
quick size the two selections are compared item by item. Results: a table on stdout and
bench/out/plan.json. Data lives in memory only (nothing under /work/benchdata is needed).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from phonotheque.plan.core import Columns, PlanParams, plan_columns, tier_sizes  # noqa: E402

OUT = Path(__file__).parent / "out"


def generate(n: int, seed: int = 1) -> Columns:
    """Skewed columns: popularity (float32), duration (float32 s), ISRC group ids (int32, -1 = unique)."""
    rng = np.random.default_rng(seed)
    pop = np.zeros(n, np.float32)
    for a in range(0, n, 1 << 22):
        b = min(n, a + (1 << 22))
        u = rng.random(b - a)
        tail = u > 0.72
        pop[a:b][tail] = np.minimum(100, np.floor(rng.exponential(9.0, int(tail.sum())) + 1))
    dur = np.empty(n, np.float32)
    for a in range(0, n, 1 << 22):
        b = min(n, a + (1 << 22))
        dur[a:b] = rng.gamma(4.0, 55.0, b - a) + 20
    dup = np.full(n, -1, np.int32)
    sizes = rng.integers(2, 21, max(1, n // 200))             # ~5 % of tracks in groups of 2-20
    members = np.unique(rng.integers(0, n, int(sizes.sum())))
    gid = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)[: len(members)]
    dup[members] = rng.permutation(gid)
    same = dup[members]                                       # copies of one ISRC share the duration
    first = np.full(len(sizes), -1, np.int64)
    first[same[::-1]] = members[::-1]
    dur[members] = dur[first[same]]
    del members, gid, same, first
    return Columns(popularity=pop, duration_s=dur, dup_group=dup)


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def measure_rss(fn: Any) -> tuple[Any, int]:
    """Run fn(); return its result and the rise of peak RSS above the RSS before, in bytes."""
    gc.collect()
    _reset_peak()
    before = _status_kb("VmRSS")
    result = fn()
    return result, max(0, _status_kb("VmHWM") - before) * 1024


SQL = """
WITH t AS (
    SELECT idx, gid,
           {scale} * {floor} * pow(10, {exponent} * least(greatest(coalesce(pop, 0), 0), 100)) AS v,
           greatest(round(d * {o_bps}), 1)::BIGINT AS s_o,
           greatest(round(d * {r_bps}), 1)::BIGINT AS s_r
    FROM cols
),
g AS (
    SELECT idx, v AS gv, s_o, s_r FROM t WHERE gid < 0
    UNION ALL
    SELECT idx, gv, s_o, s_r FROM (
        SELECT idx, s_o, s_r, SUM(v) OVER w AS gv,
               ROW_NUMBER() OVER (PARTITION BY gid ORDER BY least(s_o, s_r), s_o, v DESC, idx) AS rn
        FROM t WHERE gid >= 0 WINDOW w AS (PARTITION BY gid)
    ) WHERE rn = 1
),
h AS (
    SELECT idx, s_o, s_r, gv,
           (gv * {wr} * 1e6 / s_r)::FLOAT AS e_r, (gv * {wo} * 1e6 / s_o)::FLOAT AS e_o
    FROM g WHERE gv > 0
),
items AS (
    SELECT idx, 0 AS k, CASE WHEN e_r > e_o AND s_o > s_r THEN e_r ELSE e_o END AS e,
           CASE WHEN e_r > e_o AND s_o > s_r THEN s_r ELSE s_o END AS s FROM h
    UNION ALL
    SELECT idx, 1 AS k, (gv * ({wo} - {wr}) * 1e6 / (s_o - s_r))::FLOAT AS e, s_o - s_r AS s
    FROM h WHERE e_r > e_o AND s_o > s_r
),
run AS (
    SELECT idx, k, s, SUM(s) OVER (ORDER BY e DESC, idx, k ROWS UNBOUNDED PRECEDING) AS used FROM items
)
"""


def duckdb_query(con: Any, budget: int, params: PlanParams, tail: str) -> Any:
    sql = SQL.format(
        scale=params.listens.scale, floor=params.listens.floor, exponent=params.listens.exponent,
        o_bps=params.original_kbit * 125.0, r_bps=params.reencode_bitrate / 8.0,
        wo=params.original_weight, wr=params.reencode_weight,
    ) + tail.format(budget=budget)
    return con.execute(sql)


def run_size(n: int, runs: int, check: bool, duck: bool, threads: int) -> dict[str, Any]:
    print(f"\n== {n:,} tracks: generating", flush=True)
    t = time.perf_counter()
    cols = generate(n)
    gen_s = time.perf_counter() - t
    params = PlanParams()
    total_o = sum(int(tier_sizes(cols, params, 240.0, a, min(n, a + (1 << 22)))[0].sum())
                  for a in range(0, n, 1 << 22))
    budget = total_o // 3
    print(f"   generated in {gen_s:.1f} s; budget {budget / 1e12:.2f} TB (1/3 of all originals)", flush=True)
    row: dict[str, Any] = {"tracks": n, "budget": budget}

    _, rss = measure_rss(lambda: plan_columns(cols, budget, "optimal", params))
    row["phonotheque_peak_rss_bytes_per_track"] = rss / n
    gc.collect()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        res = plan_columns(cols, budget, "optimal", params)
        times.append(time.perf_counter() - t)
        del res
        gc.collect()
    tracemalloc.start()
    res = plan_columns(cols, budget, "optimal", params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    row["phonotheque_s"] = statistics.median(times)
    row["phonotheque_runs_s"] = times
    row["phonotheque_tracemalloc_bytes_per_track"] = peak / n
    row["files"] = int(np.count_nonzero(res.decision))
    row["selected_bytes"] = int(res.stats["bytes_original"] + res.stats["bytes_reencode"])
    print(f"   phonotheque: {row['phonotheque_s']:.2f} s, {row['phonotheque_tracemalloc_bytes_per_track']:.1f} B/track"
          f" (tracemalloc), {row['phonotheque_peak_rss_bytes_per_track']:.1f} B/track (peak RSS)", flush=True)

    if duck:
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        con.execute(f"SET threads={threads}")
        tmp = Path("/work/benchdata/duckdb_tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory='{tmp}'")
        table = pa.table({"idx": pa.array(np.arange(n, dtype=np.int64)), "pop": cols.popularity,
                          "d": cols.duration_s, "gid": cols.dup_group})
        con.register("cols", table)
        agg = "SELECT COUNT(DISTINCT idx), SUM(s) FROM run WHERE used <= {budget}"
        dtimes = []
        for i in range(runs):
            t = time.perf_counter()
            if i == 0:
                out, rss = measure_rss(lambda: duckdb_query(con, budget, params, agg).fetchone())
                row["duckdb_peak_rss_bytes_per_track"] = rss / n
            else:
                out = duckdb_query(con, budget, params, agg).fetchone()
            dtimes.append(time.perf_counter() - t)
        row["duckdb_s"] = statistics.median(dtimes)
        row["duckdb_runs_s"] = dtimes
        row["duckdb_files"], row["duckdb_selected_bytes"] = int(out[0]), int(out[1])
        row["speedup_vs_duckdb"] = row["duckdb_s"] / row["phonotheque_s"]
        print(f"   duckdb: {row['duckdb_s']:.2f} s, {row['duckdb_peak_rss_bytes_per_track']:.1f} B/track (peak RSS);"
              f" files {row['duckdb_files']:,} vs {row['files']:,}", flush=True)
        if check:
            sel = duckdb_query(con, budget, params, "SELECT idx, k FROM run WHERE used <= {budget}").fetchnumpy()
            dd = np.zeros(n, np.int8)
            np.add.at(dd, sel["idx"], 1)   # items per track: 1 = the first hull item, 2 = both
            ours = _items_taken(cols, res, params)
            row["selection_identical_tracks_share"] = float(np.mean(dd == ours))
            print(f"   same decision on {100 * row['selection_identical_tracks_share']:.4f} % of tracks", flush=True)
        con.close()
    return row


def _items_taken(cols: Columns, res: Any, params: PlanParams) -> np.ndarray:
    """0 = no item, 1 = the first hull item only, 2 = both items (as the SQL counts them)."""
    n = len(cols)
    s_o, s_r = tier_sizes(cols, params, 240.0, 0, n)
    first_is_reencode = (params.reencode_weight / s_r) > (params.original_weight / s_o)
    two_items = first_is_reencode & (s_o > s_r)
    out = np.zeros(n, np.int8)
    out[res.decision > 0] = 1
    out[(res.decision == 2) & two_items] = 2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 M tracks only (< 1 min)")
    ap.add_argument("--sizes", default="10000000,100000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-duckdb", action="store_true")
    ap.add_argument("--duckdb-max", type=int, default=20_000_000,
                    help="run DuckDB only up to this many tracks (it needs ~225 B/track: 100 M would not fit in RAM)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads")
    args = ap.parse_args()
    sizes = [1_000_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    rows = [run_size(n, args.runs, check=(n <= 2_000_000), duck=not args.no_duckdb and n <= args.duckdb_max, threads=args.threads)
            for n in sizes]
    # linear extrapolation to the reference catalog (256 M tracks) from the largest size
    big = rows[-1]
    ext = {"tracks": 256_000_000, "phonotheque_s": big["phonotheque_s"] * 256e6 / big["tracks"],
           "phonotheque_tracemalloc_bytes_per_track": big["phonotheque_tracemalloc_bytes_per_track"],
           "extrapolated_from": big["tracks"]}
    ducked = [r for r in rows if "duckdb_s" in r]
    if ducked:
        ext["duckdb_s"] = ducked[-1]["duckdb_s"] * 256e6 / ducked[-1]["tracks"]
        ext["duckdb_extrapolated_from"] = ducked[-1]["tracks"]
    print("\n| tracks | phonotheque s | DuckDB s | DuckDB/phonotheque | core B/track (tracemalloc) | "
          "core B/track (peak RSS) | DuckDB B/track (peak RSS) | files planned |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['tracks']:,} | {r['phonotheque_s']:.2f} | {r.get('duckdb_s', float('nan')):.2f} | "
              f"{r.get('speedup_vs_duckdb', float('nan')):.2f}× | {r['phonotheque_tracemalloc_bytes_per_track']:.1f} | "
              f"{r['phonotheque_peak_rss_bytes_per_track']:.1f} | {r.get('duckdb_peak_rss_bytes_per_track', float('nan')):.1f} | "
              f"{r['files']:,} |")
    print(f"| 256,000,000 (extrapolated, linear) | {ext['phonotheque_s']:.0f} | {ext.get('duckdb_s', float('nan')):.0f} |"
          f" | {ext['phonotheque_tracemalloc_bytes_per_track']:.1f} | | | |")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"scaling: time per track {1e9 * a['phonotheque_s'] / a['tracks']:.1f} ns at {a['tracks']:,} vs "
              f"{1e9 * b['phonotheque_s'] / b['tracks']:.1f} ns at {b['tracks']:,}")
    OUT.mkdir(exist_ok=True)
    (OUT / "plan.json").write_text(json.dumps({"rows": rows, "extrapolated": ext, "quick": args.quick}, indent=2))
    print(f"wrote {OUT / 'plan.json'}")


if __name__ == "__main__":
    main()
