"""Run every benchmark (what `make bench` does) and print their tables.

Usage: .venv/bin/python bench/run_all.py [--quick] [NAME ...]

Each benchmark prints its own table (phonotheque side by side with the peer tool named by its issue,
as a ratio, plus peak memory) and writes it as JSON to bench/out/<name>.json. The machine is shared
and noisy: every benchmark reports medians of several runs. Large inputs are generated or fetched
into $PHONOTHEQUE_BENCHDATA (default /work/benchdata, else ./bench/data).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["import", "catalog", "plan", "report", "ingest", "transcode", "package", "verify"]
EXTRA = {"import": ["--floor"]}  # the SQLite floors under the import goal, measured beside DuckDB


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or ORDER
    failed = []
    for name in names:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"unknown benchmark {name!r} (have: {', '.join(ORDER)})", file=sys.stderr)
            return 2
        print(f"\n=== bench_{name} {' '.join(['--quick'] * quick + EXTRA.get(name, []))}", flush=True)
        t0 = time.monotonic()
        args = [*(["--quick"] if quick else []), *EXTRA.get(name, [])]
        rc = subprocess.call([sys.executable, str(script), *args], cwd=HERE.parent)
        print(f"=== bench_{name}: exit {rc} after {time.monotonic() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
