"""Full mirror verify throughput vs ``sha256sum`` (2 parallel jobs) and libtorrent's own recheck.

Data: real audio from ``bench/audio_corpus.py`` (distinct copies of the Debian music corpora) under
/work/benchdata/audio, hard-linked into a mirror tree /work/benchdata/verify/<size>/mirror/<torrent>/…
and released as hybrid torrents of ~256 MB made by libtorrent (1 MiB pieces, pad files), with the
contract's torrents.json and index/files.parquet (cached between runs). Then, page cache warm (every file
read once before each run — stated in the table), medians of ``--runs`` runs, each tool in its own
process (peak RSS of the largest process of that run, from getrusage):

* ``verify``     — ``phonotheque.mirror.verify.verify`` full mode, 2 workers (sha256 + v2 merkle root of
  every byte, read once, compared with the .torrent and the file index);
* ``sha256sum``  — ``xargs -0 -P2 -n K sha256sum`` over the same files (the floor: one hash, no tree);
* ``libtorrent`` — a libtorrent 2 session adding every torrent with ``save_path`` = the mirror, which
  checks existing files (hashing_threads = 2), timed until every torrent is checked.

Prints a table and writes bench/out/verify.json.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
ROOT = Path(__file__).resolve().parents[1]
BENCH = Path("/work/benchdata/verify")
AUDIO = Path("/work/benchdata/audio")
OUT = ROOT / "bench" / "out" / "verify.json"
PIECE = 1 << 20
BATCH = 256 * 10**6


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def build(gigabytes: float) -> Path:
    """A mirror + release directory over ``gigabytes`` of real audio (cached: a .done marker)."""
    base = BENCH / f"{gigabytes:g}GB"
    if (base / ".done").exists():
        _csv_twin(base / "release" / "index")
        return base
    import libtorrent as lt
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq
    from audio_corpus import ensure

    files = ensure(AUDIO, gigabytes)
    mirror, release = base / "mirror", base / "release"
    for d in (mirror, release / "torrents", release / "index"):
        d.mkdir(parents=True, exist_ok=True)
    batches: list[list[Path]] = [[]]
    acc = 0
    for f in files:
        if acc >= BATCH:
            batches.append([])
            acc = 0
        batches[-1].append(f)
        acc += f.stat().st_size
    entries, rows = [], []
    for b, batch in enumerate(batches, 1):
        name = f"bench-audio-{b:04d}"
        fs = lt.file_storage()
        for f in sorted(batch, key=lambda p: p.relative_to(AUDIO).as_posix()):
            rel = f.relative_to(AUDIO).as_posix()
            dst = mirror / name / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                os.link(f, dst)
            fs.add_file(f"{name}/{rel}", f.stat().st_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            t = lt.create_torrent(fs, PIECE)
        lt.set_piece_hashes(t, str(mirror))
        blob = lt.bencode(t.generate())
        (release / "torrents" / f"{name}.torrent").write_bytes(blob)
        info = lt.torrent_info(lt.bdecode(blob))
        size = sum(f.stat().st_size for f in batch)
        entries.append({"name": name, "kind": "audio", "batch": b, "torrent": f"torrents/{name}.torrent",
                        "infohash_v1": str(info.info_hashes().v1), "infohash_v2": str(info.info_hashes().v2),
                        "magnet": lt.make_magnet_uri(info), "size": size, "padded_size": info.total_size(),
                        "file_count": len(batch), "piece_size": PIECE, "popularity_min": 0, "popularity_max": 100,
                        "listens": float(len(batches) + 1 - b), "listens_share": 0.0, "created": "", "published": True})
        for f in batch:
            rel = f.relative_to(AUDIO).as_posix()
            rows.append({"track_id": f"{name}:{rel}", "torrent": name, "path": rel, "size": f.stat().st_size,
                         "sha256": _sha256(str(f)), "listens": 1.0})
        print(f"built {name}: {len(batch)} files, {size / 1e6:.0f} MB", file=sys.stderr)
    total = sum(e["listens"] for e in entries)
    for e in entries:
        e["listens_share"] = e["listens"] / total
    doc = {"format": "phonotheque-torrent-list", "version": 1, "archive": "bench", "release": "bench",
           "torrents": entries}
    (release / "torrents.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    pq.write_table(pa.Table.from_pylist(rows), release / "index" / "files.parquet")
    _csv_twin(release / "index")
    (base / ".done").write_text("ok\n")
    return base


def _csv_twin(index: Path) -> None:
    """index/files.csv.zst, the CSV twin of files.parquet the contract publishes beside it."""
    if (index / "files.csv.zst").exists():
        return
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    import zstandard

    sink = io.BytesIO()
    pacsv.write_csv(pq.read_table(index / "files.parquet"), sink)
    (index / "files.csv.zst").write_bytes(zstandard.compress(sink.getvalue()))


def mirror_files(base: Path) -> list[str]:
    return sorted(str(p) for p in (base / "mirror").rglob("*") if p.is_file())


def warm(files: list[str]) -> None:
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(8 << 20):
                pass


def peak_kb() -> int:
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def cpu_seconds() -> float:
    """CPU time of this process, its threads and its waited-for children (less noisy than wall time)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


# -- one measurement per process ------------------------------------------------------------------
def run_verify(base: Path) -> dict[str, Any]:
    from phonotheque.mirror.verify import verify

    c, t = cpu_seconds(), time.perf_counter()
    rep = verify(base / "mirror", release_dir=base / "release", workers=2)
    secs = time.perf_counter() - t
    assert rep.ok and rep.files_ok == rep.files_total, "bench mirror does not verify"
    return {"seconds": secs, "cpu": cpu_seconds() - c, "bytes": rep.bytes_read, "peak_kb": peak_kb()}


def run_sha256sum(base: Path) -> dict[str, Any]:
    files = mirror_files(base)
    per = max(1, len(files) // 32)
    c, t = cpu_seconds(), time.perf_counter()
    subprocess.run(["xargs", "-0", "-P2", "-n", str(per), "sha256sum"], input="\0".join(files).encode(),
                   stdout=subprocess.DEVNULL, check=True)
    secs = time.perf_counter() - t
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # sha256sum itself, not this interpreter
    return {"seconds": secs, "cpu": cpu_seconds() - c, "bytes": sum(os.path.getsize(f) for f in files),
            "peak_kb": kb}


def run_libtorrent(base: Path) -> dict[str, Any]:
    import libtorrent as lt

    ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                      "enable_upnp": False, "enable_natpmp": False, "hashing_threads": 2,
                      "active_checking": 64, "active_downloads": -1, "active_seeds": -1, "active_limit": -1})
    torrents = sorted((base / "release" / "torrents").glob("*.torrent"))
    c, t = cpu_seconds(), time.perf_counter()
    infos = [lt.torrent_info(str(p)) for p in torrents]
    handles = []
    for ti in infos:
        p = lt.add_torrent_params()
        p.ti = ti
        p.save_path = str(base / "mirror")
        handles.append(ses.add_torrent(p))
    done_states = (lt.torrent_status.seeding, lt.torrent_status.finished, lt.torrent_status.downloading)
    while True:
        states = [h.status() for h in handles]
        if all(s.state in done_states for s in states):
            break
        time.sleep(0.005)
    secs, cpu = time.perf_counter() - t, cpu_seconds() - c
    assert all(s.is_seeding for s in states), "libtorrent found the bench mirror incomplete"
    return {"seconds": secs, "cpu": cpu, "bytes": sum(os.path.getsize(f) for f in mirror_files(base)),
            "peak_kb": peak_kb()}


RUNNERS = {"verify": run_verify, "sha256sum": run_sha256sum, "libtorrent": run_libtorrent}


def measure(tool: str, base: Path, runs: int) -> dict[str, Any]:
    out = []
    files = mirror_files(base)
    for _ in range(runs):
        warm(files)
        r = subprocess.run([sys.executable, __file__, "--one", tool, "--base", str(base)], capture_output=True,
                           text=True, check=True)
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    secs = statistics.median(o["seconds"] for o in out)
    cpu = statistics.median(o["cpu"] for o in out)
    size = out[0]["bytes"]
    return {"tool": tool, "runs": runs, "seconds": secs, "all_seconds": [o["seconds"] for o in out],
            "cpu_seconds": cpu, "cpu_s_per_gb": cpu / (size / 1e9), "bytes": size, "mb_per_s": size / secs / 1e6,
            "peak_mb": max(o["peak_kb"] for o in out) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="0.15 GB, 3 runs (smoke test, < 1 min)")
    ap.add_argument("--gigabytes", type=float, default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--one", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    ap.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(RUNNERS[args.one](args.base)))
        return
    gb = args.gigabytes or (0.15 if args.quick else 1.0)
    base = build(gb)
    nfiles = len(mirror_files(base))
    results = {tool: measure(tool, base, args.runs) for tool in ("verify", "sha256sum", "libtorrent")}
    floor, lt_ = results["sha256sum"]["mb_per_s"], results["libtorrent"]["mb_per_s"]
    ours = results["verify"]["mb_per_s"]
    print(f"mirror: {results['verify']['bytes'] / 1e9:.2f} GB, {nfiles} real audio files, "
          f"{len(list((base / 'release' / 'torrents').glob('*.torrent')))} hybrid torrents, 1 MiB pieces; "
          f"page cache warm; median of {args.runs}; 2 cores shared (noisy)")
    print(f"{'tool':<12}{'median s':>10}{'MB/s':>10}{'verify ×':>10}{'CPU s/GB':>10}{'peak MB':>10}")
    for tool, r in results.items():
        print(f"{tool:<12}{r['seconds']:>10.2f}{r['mb_per_s']:>10.0f}{ours / r['mb_per_s']:>10.2f}"
              f"{r['cpu_s_per_gb']:>10.2f}{r['peak_mb']:>10.0f}")
    summary = {"gigabytes": gb, "files": nfiles, "page_cache": "warm", "results": results,
               "ratio_vs_sha256sum": ours / floor, "ratio_vs_libtorrent": ours / lt_,
               "goal": "verify >= 0.9x sha256sum (2 jobs) and faster than libtorrent recheck",
               "goal_met": ours >= 0.9 * floor and ours > lt_, "load_average": os.getloadavg()}
    print(f"verify / sha256sum = {ours / floor:.2f}x, verify / libtorrent = {ours / lt_:.2f}x; "
          f"goal {'met' if summary['goal_met'] else 'NOT met'}; load average {os.getloadavg()[0]:.1f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
