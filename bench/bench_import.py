"""Import throughput of ``phonotheque import --format jsonl`` vs DuckDB ``read_ndjson`` into a keyed table.

Usage::

    .venv/bin/python bench/bench_import.py [--quick] [--sizes 1000000,2000000,4000000:1] [--runs 3]

For each size a synthetic web-API track catalog (``phonotheque.catalog.synth.write_jsonl``, seed 0)
is generated once under /work/benchdata. Each trial runs in its own process on a fresh target so
that peak RSS is per trial (``os.wait4``):

* phonotheque: ``import_source(archive, path, format="jsonl")`` into a new archive — measured
  without the search index refresh (the figure comparable to DuckDB) and, in a separate column,
  the refresh that ``phonotheque import`` runs at the end. A new source and a large input: the
  import runs in bulk mode (indexes built at the end) and pipelined (a reader process parses and
  normalizes while the main process writes); CPU and peak RSS are those of both processes;
* DuckDB: ``CREATE TABLE t (id VARCHAR PRIMARY KEY, <columns read_ndjson detects>)`` then
  ``INSERT INTO t SELECT * FROM read_ndjson(path)`` into an on-disk database.

Medians of ``--runs`` trials; rows/s, the ratio phonotheque/DuckDB, peak RSS of each. Also the
round-trip cost per fixture (remainder and records bytes per track). Writes bench/out/import.json.

``--floor`` adds, on the first size and in the same run, what an import into SQLite costs before any of
phonotheque's work — the floors under the ≥ 1.0x DuckDB goal (each in its own process, same file):

* ``parse``: ``orjson.loads`` of every line, nothing stored;
* ``raw lines``: every line stored as one TEXT row of one SQLite table (no parsing, no index);
* ``tracks in C``: raw lines, then ``INSERT INTO tracks SELECT json_extract(...)`` — one normalized table
  with a unique source id, filled by SQLite's own C code (no Python per row);
* ``+ artists in C``: the same plus deduplicated artists and the track-artist links (``json_each``).

The real import also writes albums, recordings, markets, images, external ids, sources and the
per-record remainder, validates every value and reports rejects; the floors do none of that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PHONOTHEQUE_BENCHDATA", "/work/benchdata"))
OUT = ROOT / "bench" / "out" / "import.json"

PHONO_TRIAL = """
import resource, sys, time, orjson
from phonotheque.archive import Archive
from phonotheque.catalog.importers import import_source
a = Archive.init(sys.argv[1])
t = time.perf_counter()
cpu0 = time.process_time()
r = import_source(a, sys.argv[2], format="jsonl", refresh_search=False)
t_import = time.perf_counter() - t
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pipelined import's reader process
cpu = time.process_time() - cpu0 + kids.ru_utime + kids.ru_stime
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + kids.ru_maxrss) / 1024
t = time.perf_counter()
if sys.argv[3] == "1":
    from phonotheque.catalog.search import refresh_index
    refresh_index(a)
t_index = time.perf_counter() - t if sys.argv[3] == "1" else None
a.close()
import os
size = sum(os.path.getsize(p) for p in (str(a.catalog_path), str(a.catalog_path) + "-wal") if os.path.exists(p))
sys.stdout.write("\\n" + orjson.dumps({"seconds": t_import, "cpu_seconds": cpu, "index_seconds": t_index, "rows": r.inserted,
    "rejected": r.rejected, "remainder_bpt": r.bytes_per_track_remainder,
    "records_bpt": r.bytes_per_track_records, "catalog_bpt": size / max(r.inserted, 1),
    "peak_rss_mib": peak}).decode())
"""

DUCK_TRIAL = """
import sys, time, orjson, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET enable_progress_bar=false")
t = time.perf_counter()
cpu0 = time.process_time()
cols = con.execute("DESCRIBE SELECT * FROM read_ndjson(?)", [sys.argv[2]]).fetchall()
defs = ", ".join(('"%s" %s' % (c[0], "VARCHAR PRIMARY KEY" if c[0] == "id" else c[1])) for c in cols)
con.execute("CREATE TABLE t (" + defs + ")")
con.execute("INSERT INTO t SELECT * FROM read_ndjson(?)", [sys.argv[2]])
con.execute("CHECKPOINT")
n = con.execute("SELECT COUNT(*) FROM t").fetchone()[0]
sys.stdout.write("\\n" + orjson.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu0,
    "rows": n}).decode())
"""

FLOOR_TRIAL = """
import sys, time, sqlite3, orjson
which = sys.argv[3]
t = time.perf_counter()
cpu0 = time.process_time()
n = 0
if which == "parse":
    with open(sys.argv[2], "rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
else:
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("BEGIN")
    con.execute("CREATE TABLE staging(line TEXT)")
    with open(sys.argv[2], "rb") as f:
        con.executemany("INSERT INTO staging(line) VALUES (?)", ((line.decode(),) for line in f))
    if which != "raw":
        con.execute("CREATE TABLE tracks(id INTEGER PRIMARY KEY, source_id TEXT UNIQUE, name TEXT, album TEXT,"
                    " isrc TEXT, popularity INT, duration_ms INT, explicit INT, disc INT, number INT, listens INT)")
        con.execute(\"\"\"INSERT INTO tracks(source_id, name, album, isrc, popularity, duration_ms, explicit, disc,
            number, listens) SELECT json_extract(line, '$.id'), json_extract(line, '$.name'),
            json_extract(line, '$.album.id'), json_extract(line, '$.external_ids.isrc'),
            json_extract(line, '$.popularity'), json_extract(line, '$.duration_ms'), json_extract(line, '$.explicit'),
            json_extract(line, '$.disc_number'), json_extract(line, '$.track_number'),
            json_extract(line, '$.listens') FROM staging\"\"\")
    if which == "artists":
        con.execute("CREATE TABLE artists(id INTEGER PRIMARY KEY, source_id TEXT UNIQUE, name TEXT)")
        con.execute("CREATE TABLE track_artists(track_id INT, position INT, artist_id INT,"
                    " PRIMARY KEY(track_id, position)) WITHOUT ROWID")
        con.execute("INSERT OR IGNORE INTO artists(source_id, name) SELECT json_extract(j.value, '$.id'),"
                    " json_extract(j.value, '$.name') FROM staging, json_each(line, '$.artists') j")
        con.execute("INSERT INTO track_artists SELECT s.rowid, j.key, a.id FROM staging s,"
                    " json_each(s.line, '$.artists') j JOIN artists a ON a.source_id = json_extract(j.value, '$.id')")
    con.execute("COMMIT")
    n = con.execute("SELECT count(*) FROM staging").fetchone()[0]
    con.close()
sys.stdout.write("\\n" + orjson.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu0,
    "rows": n}).decode())
"""
FLOORS = (("parse", "parse (orjson, nothing stored)"), ("raw", "raw lines into one SQLite table"),
          ("tracks", "tracks table in C (json_extract)"), ("artists", "+ artists, track_artists in C"))


def _trial(code: str, target: Path, src: Path, index: bool = False, arg: str | None = None) -> dict[str, Any]:
    """Run one trial in a child process; returns its JSON plus the child's peak RSS (MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", code, str(target), str(src), arg or ("1" if index else "0")],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"trial failed ({proc.returncode}): {code[:60]}...")
    res: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])  # the last line is the trial's JSON
    # phonotheque's trial reports writer + reader peaks summed (an upper bound of what they held at once)
    res.setdefault("peak_rss_mib", usage.ru_maxrss / 1024)
    return res


def _data(n: int) -> Path:
    from phonotheque.catalog.synth import write_jsonl

    DATA.mkdir(parents=True, exist_ok=True)
    same = DATA / f"synth-{n}.jsonl"  # bench_catalog's file: the same generator call, the same bytes
    if same.exists() and same.stat().st_size > 0:
        with same.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":  # written to the end
                return same
    path = DATA / f"import-{n}.jsonl"
    done = path.with_suffix(".done")
    if not done.exists():
        write_jsonl(path, n, seed=0)
        done.write_text("ok")
    return path


def _roundtrip_costs(quick: bool) -> list[dict[str, Any]]:
    """Bytes per track of the exact round trip for each test fixture (remainder; records rows)."""
    from phonotheque.archive import Archive
    from phonotheque.catalog.importers import import_source

    fixtures = [
        ("musicbrainz releases (30)", ROOT / "tests/data/musicbrainz/releases.jsonl", "musicbrainz", None),
        ("jsonl tracks.jsonl", ROOT / "tests/data/import/tracks.jsonl", "jsonl", None),
        ("csv library.csv", ROOT / "tests/data/import/library.csv", "csv", ROOT / "tests/data/import/library.toml"),
        ("csv windows1252.csv", ROOT / "tests/data/import/windows1252.csv", "csv",
         ROOT / "tests/data/import/windows1252.toml"),
    ]
    if not quick:
        fixtures.append(("synthetic jsonl 50k", _data(50_000), "jsonl", None))
    rows = []
    for name, path, fmt, mapping in fixtures:
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            a = Archive.init(Path(tmp) / "a")
            r = import_source(a, path, format=fmt, mapping=mapping, refresh_search=False)
            a.close()  # checkpoints the WAL: the size is the catalog's, not the journal's
            size = a.catalog_path.stat().st_size + (Path(str(a.catalog_path) + "-wal").stat().st_size
                                                   if Path(str(a.catalog_path) + "-wal").exists() else 0)
            rows.append({
                "fixture": name, "tracks": r.tracks, "remainder_B_per_track": r.bytes_per_track_remainder,
                "records_B_per_track": r.bytes_per_track_records,
                "source_B_per_track": round(path.stat().st_size / max(r.tracks, 1), 1),
                # whole-file size is only meaningful when pages are not mostly empty
                "catalog_B_per_track": round(size / r.tracks, 1) if r.tracks >= 10000 else None,
            })
            a.close()
    return rows


def _floors(n: int, src: Path, runs: int) -> list[dict[str, Any]]:
    """DuckDB and the floor trials on the same file, interleaved run by run; rows/s and ratio to DuckDB."""
    trials: dict[str, list[dict[str, Any]]] = {"duckdb": []} | {k: [] for k, _ in FLOORS}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            trials["duckdb"].append(_trial(DUCK_TRIAL, Path(tmp) / "t.duckdb", src))
        for key, _label in FLOORS:
            with tempfile.TemporaryDirectory(dir=DATA) as tmp:
                trials[key].append(_trial(FLOOR_TRIAL, Path(tmp) / "f.sqlite", src, arg=key))
    duck = n / statistics.median(r["seconds"] for r in trials["duckdb"])
    out = []
    for key, label in (("duckdb", "DuckDB read_ndjson, keyed table (peer)"), *FLOORS):
        rate = n / statistics.median(r["seconds"] for r in trials[key])
        out.append({"floor": key, "what": label, "tracks": n, "rows_per_s": round(rate),
                    "ratio_to_duckdb": round(rate / duck, 3),
                    "cpu_us_per_row": round(1e6 * statistics.median(r["cpu_seconds"] for r in trials[key]) / n, 1),
                    "peak_rss_mib": round(max(r["peak_rss_mib"] for r in trials[key])), "runs": runs})
    return out


def _write(table: list[dict[str, Any]], costs: list[dict[str, Any]] | None,
           floors: list[dict[str, Any]] | None = None) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(orjson.dumps({"import": table, "floors": floors, "roundtrip": costs, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                  time.gmtime()), "load_average": os.getloadavg()}, option=orjson.OPT_INDENT_2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50k tracks only (< 1 min)")
    ap.add_argument("--sizes", default="1000000,2000000,4000000:1",
                    help="comma-separated track counts, each optionally :RUNS")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--with-index", action="store_true", help="also time the search index refresh after the import")
    ap.add_argument("--floor", action="store_true",
                    help="also measure the SQLite floors (parse only, raw lines, one table in C) on the first size")
    args = ap.parse_args()
    # "4000000:1" runs that size once (the largest sizes take minutes per trial)
    sizes = [(50_000, args.runs)] if args.quick else [
        (int(s.split(":")[0]), int(s.split(":")[1]) if ":" in s else args.runs) for s in args.sizes.split(",")
    ]
    table = []
    for n, runs in sizes:
        src = _data(n)
        ph: list[dict[str, Any]] = []
        dk: list[dict[str, Any]] = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(dir=DATA) as tmp:
                ph.append(_trial(PHONO_TRIAL, Path(tmp) / "archive", src, args.with_index))
            with tempfile.TemporaryDirectory(dir=DATA) as tmp:
                dk.append(_trial(DUCK_TRIAL, Path(tmp) / "t.duckdb", src))
        p_s = statistics.median(r["seconds"] for r in ph)
        d_s = statistics.median(r["seconds"] for r in dk)
        row = {
            "tracks": n,
            "phonotheque_rows_per_s": round(n / p_s),
            "duckdb_rows_per_s": round(n / d_s),
            "ratio": round((n / p_s) / (n / d_s), 3),
            # CPU time (all threads) per row: steadier than wall time on a shared, loaded machine
            "phonotheque_cpu_us_per_track": round(1e6 * statistics.median(r["cpu_seconds"] for r in ph) / n, 1),
            "duckdb_cpu_us_per_row": round(1e6 * statistics.median(r["cpu_seconds"] for r in dk) / n, 1),
            "phonotheque_peak_rss_mib": round(max(r["peak_rss_mib"] for r in ph)),
            "duckdb_peak_rss_mib": round(max(r["peak_rss_mib"] for r in dk)),
            "search_index_s": (round(statistics.median(r["index_seconds"] for r in ph), 2)
                               if args.with_index else None),
            "remainder_B_per_track": ph[0]["remainder_bpt"],
            "records_B_per_track": ph[0]["records_bpt"],
            "catalog_B_per_track": round(ph[0]["catalog_bpt"], 1),
            "runs": runs,
        }
        table.append(row)
        _write(table, None)  # after each size: a long run cut short keeps what it measured
        print(f"{n:>9,} tracks  phonotheque {row['phonotheque_rows_per_s']:>8,} rows/s  duckdb "
              f"{row['duckdb_rows_per_s']:>8,} rows/s  ratio {row['ratio']:.3f}  CPU "
              f"{row['phonotheque_cpu_us_per_track']} vs {row['duckdb_cpu_us_per_row']} us/row  peak RSS "
              f"{row['phonotheque_peak_rss_mib']} MiB vs {row['duckdb_peak_rss_mib']} MiB  "
              f"(+ search index {row['search_index_s']} s); catalog {row['catalog_B_per_track']} B/track, "
              f"remainder {row['remainder_B_per_track']} + records {row['records_B_per_track']} B/track", flush=True)
    floors = None
    if args.floor:
        n, runs = sizes[0]
        floors = _floors(n, _data(n), runs)
        _write(table, None, floors)
        print(f"\nfloors on {n:,} tracks (same file, same run; medians of {runs}):")
        print(f"{'':<42}{'rows/s':>10}{'x DuckDB':>10}{'CPU us/row':>12}{'peak MiB':>10}")
        for f in floors:
            print(f"{f['what']:<42}{f['rows_per_s']:>10,}{f['ratio_to_duckdb']:>10.3f}{f['cpu_us_per_row']:>12}"
                  f"{f['peak_rss_mib']:>10}")
    costs = _roundtrip_costs(args.quick)
    print("\nexact round trip cost per fixture:")
    print(f"{'fixture':<28}{'tracks':>8}{'remainder B/trk':>17}{'records B/trk':>15}{'catalog B/trk':>15}"
          f"{'source B/trk':>14}")
    for c in costs:
        print(f"{c['fixture']:<28}{c['tracks']:>8}{c['remainder_B_per_track']:>17}{c['records_B_per_track']:>15}"
              f"{c['catalog_B_per_track'] or '-':>15}{c['source_B_per_track']:>14}")
    _write(table, costs, floors)
    print(f"\nwritten {OUT.relative_to(ROOT)}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
