"""Benchmark: full ``phonotheque ingest`` against the read+hash floor, the decode floor and beets.

Same files, same run, warm page cache for everyone (each tool is timed after a warm-up read):

* ``phonotheque ingest DIR --workers 2`` into a fresh archive (hash + probe + full decode +
  Chromaprint + match + store with fsync);
* (a) ``sha256sum`` over the files, 2 parallel jobs (``xargs -P2``) — the read+hash floor;
* (b) ``ffmpeg -v error -i F -f null -`` per file, 2 parallel jobs — the decode-check floor;
* (c) ``beet import -A -C -q DIR`` (beets: tags only, no decode, no copy), temp config and library.

Prints files/s, MB/s, the ratio of ingest throughput to each peer, and peak RSS (largest single
process of the command's tree), medians of ``--runs`` runs; writes bench/out/ingest.json.

    .venv/bin/python bench/bench_ingest.py [--quick] [--runs 3] [--gigabytes 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audio_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
BENCHDATA = Path(os.environ.get("PHONOTHEQUE_BENCHDATA", "/work/benchdata"))

_WRAP = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=None).returncode\n"
    "dt = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(dt, ru.ru_maxrss, rc, ru.ru_utime + ru.ru_stime)\n"
)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, float]:
    """Wall seconds, peak RSS (KiB, largest descendant), exit status and CPU seconds of ``cmd``."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, env=env, check=True)
    dt, rss, rc, cpu = out.stdout.split()
    return float(dt), int(rss), int(rc), float(cpu)


def link_tree(files: list[Path], dest: Path) -> Path:
    """Hard links of ``files`` under ``dest`` (one tree every tool can take as a directory)."""
    if dest.exists():
        shutil.rmtree(dest)
    for i, f in enumerate(files):
        target = dest / f"{i // 100:03d}" / f"{i:05d}-{f.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(f, target)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description="ingest throughput vs sha256sum, ffmpeg decode and beets")
    ap.add_argument("--quick", action="store_true", help="~50 MB, one run: a smoke test (< 1 min)")
    ap.add_argument("--gigabytes", type=float, default=None)
    ap.add_argument("--runs", type=int, default=None, help="runs per tool (default 3; 1 with --quick)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    gb = args.gigabytes if args.gigabytes is not None else (0.05 if args.quick else 1.0)
    files = audio_corpus.ensure(BENCHDATA / "audio", gigabytes=max(gb, 0.01))
    tree = link_tree(files, BENCHDATA / f"ingest-tree-{gb:g}")
    paths = sorted(str(p) for p in tree.rglob("*.ogg"))
    total = sum(os.path.getsize(p) for p in paths)
    listing = BENCHDATA / f"ingest-list-{gb:g}.txt"
    listing.write_bytes(b"\0".join(os.fsencode(p) for p in paths))
    for p in paths:                                        # warm the page cache for every tool
        with open(p, "rb") as fh:
            while fh.read(1 << 22):
                pass
    jobs = str(args.workers)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=BENCHDATA))
    beets_cfg = work / "beets.yaml"
    beets_cfg.write_text(
        f"directory: {work / 'beets-music'}\nlibrary: {work / 'beets.db'}\nimport:\n  write: no\n  copy: no\n"
        "  autotag: no\n  quiet: yes\n  log:\nplugins: []\n",
        encoding="utf-8",
    )

    def run_ingest() -> tuple[float, int, int, float]:
        arch = work / "archive"
        if arch.exists():
            shutil.rmtree(arch)
        subprocess.run([str(VENV / "phonotheque"), "init", str(arch)], check=True, capture_output=True)
        return timed([str(VENV / "phonotheque"), "ingest", "-A", str(arch), str(tree), "--workers", jobs])

    def run_sha() -> tuple[float, int, int, float]:
        return timed(["sh", "-c", f"xargs -0 -P{jobs} -n 16 sha256sum < '{listing}' > /dev/null"])

    def run_ffmpeg() -> tuple[float, int, int, float]:
        return timed(["sh", "-c", f"xargs -0 -P{jobs} -I{{}} ffmpeg -nostdin -v error -i {{}} -f null - < '{listing}'"])

    def run_beets() -> tuple[float, int, int, float]:
        db = work / "beets.db"
        if db.exists():
            db.unlink()
        env = dict(os.environ, BEETSDIR=str(work / "beetsdir"))
        return timed([str(VENV / "beet"), "-c", str(beets_cfg), "import", "-A", "-C", "-q", str(tree)], env=env)

    tools = [
        ("phonotheque ingest", run_ingest),
        ("sha256sum -P2 (read+hash floor)", run_sha),
        ("ffmpeg -f null -P2 (decode floor)", run_ffmpeg),
        ("beet import -A -C (tags only)", run_beets),
    ]
    results: dict[str, dict[str, float]] = {}
    samples: dict[str, list[tuple[float, int, int, float]]] = {name: [] for name, _ in tools}
    for _ in range(args.runs):                              # interleaved, so load drifts hit all tools
        for name, fn in tools:
            samples[name].append(fn())
    for name, _ in tools:
        secs = statistics.median(s[0] for s in samples[name])
        results[name] = {
            "seconds": round(secs, 3),
            "files_per_s": round(len(paths) / secs, 2),
            "mb_per_s": round(total / 1e6 / secs, 2),
            "peak_rss_mb": round(max(s[1] for s in samples[name]) / 1024, 1),
            "exit_status": max(s[2] for s in samples[name]),
            "cpu_seconds": round(statistics.median(s[3] for s in samples[name]), 2),
        }
    ours = results["phonotheque ingest"]["mb_per_s"]
    for name in results:
        results[name]["ingest_ratio"] = round(ours / results[name]["mb_per_s"], 3)
    head = (f"{'tool':38} {'wall s':>8} {'files/s':>9} {'MB/s':>8} {'ingest÷tool':>12} {'CPU s':>8} "
            f"{'peak RSS MB':>12}")
    print(f"{len(paths)} files, {total / 1e6:.1f} MB, {args.runs} runs (median), {jobs} jobs, cpus={os.cpu_count()}")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{name:38} {r['seconds']:8.2f} {r['files_per_s']:9.2f} {r['mb_per_s']:8.2f} "
              f"{r['ingest_ratio']:12.3f} {r['cpu_seconds']:8.2f} {r['peak_rss_mb']:12.1f}")  # fmt: skip
    goal = results["phonotheque ingest"]["mb_per_s"] / results["ffmpeg -f null -P2 (decode floor)"]["mb_per_s"]
    print(f"goal: ingest >= 0.8x the decode floor -> {goal:.2f}x ({'met' if goal >= 0.8 else 'NOT met'})")
    cpu_goal = results["ffmpeg -f null -P2 (decode floor)"]["cpu_seconds"] / results["phonotheque ingest"]["cpu_seconds"]
    print(f"CPU-time ratio (decode floor CPU s / ingest CPU s; robust to a shared, loaded machine): {cpu_goal:.2f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    outdir = ROOT / "bench" / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "ingest",
        "files": len(paths),
        "bytes": total,
        "runs": args.runs,
        "jobs": int(jobs),
        "quick": args.quick,
        "results": results,
        "ingest_vs_decode_floor": round(goal, 3),
        "ingest_vs_decode_floor_cpu": round(cpu_goal, 3),
        "load_average": round(os.getloadavg()[0], 2),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (outdir / "ingest.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
