"""Packaging time (hashes already stored) vs mktorrent (v1, 2 threads) and libtorrent's set_piece_hashes (hybrid).

Data, three corpora: ``audio`` — real Ogg Vorbis from ``bench/audio_corpus.py`` (distinct copies of the Debian
music corpora: songs and short game cues, 2.0 MB per file on average) under /work/benchdata/audio; ``songs`` —
its full-length songs only (3.4 MB on average, as the reference archive's 3.5 MB: 300 TB / 86 M files) under
/work/benchdata/audio-songs; ``random`` — random files of 2-12 MB (/work/benchdata/pkg/random). For each corpus
and size (1 GB and 4 GB; ``--quick``: audio only, 0.1 and 0.4 GB) a bench archive in
/work/benchdata/pkg/ holds the files (hard links into its store), one catalog track + plan row per file, and
the hashes computed once (that is ingest's work and is not timed). Then, page cache warm, medians of
``--runs`` rounds, each round running package, mktorrent and libtorrent one after the other (so that a
ratio compares runs made within the same minute: this machine drifts), each tool in its own process (peak
RSS from wait4):

* ``package``  — ``phonotheque.release.package.package`` (hybrid torrents, seeding trees, index, list,
  catalog torrent), timed inside the process around the call (CPU time includes the helper process that
  links the seeding trees); every run is a first packaging (the release's directory and database rows are
  removed before it, not timed), as every mktorrent run is;
* ``mktorrent`` — ``mktorrent -t 2 -l 20 -d`` over each audio torrent's seeding tree (v1 only);
* ``libtorrent`` — ``create_torrent`` + ``set_piece_hashes`` over the same trees (hybrid, files sorted).
* ``CLI`` — the whole ``phonotheque package --no-metadata`` process (interpreter start and imports included),
  for the reader who runs the command rather than calls the library.

Time per file and per GiB are shown side by side: packaging costs per file (paths, SQL rows, one hard link),
hashing tools cost per byte. Then the file index is written for synthetic releases of growing size in a child
process each (peak RSS must stay flat: it is streamed in record batches).

Prints tables and writes bench/out/package.json (``--quick``: bench/out/package-quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
ROOT = Path(__file__).resolve().parents[1]
BENCH = Path("/work/benchdata/pkg")
AUDIO = Path("/work/benchdata/audio")
AUDIO_SONGS = Path("/work/benchdata/audio-songs")
OUT = ROOT / "bench" / "out" / "package.json"
PIECE = 1 << 20
TARGET = "1GB"


def _hash(path: str) -> tuple[str, Any]:
    from phonotheque.store.hashing import hash_file

    return path, hash_file(path, PIECE)


RANDOM = BENCH / "random"


def ensure_random(gigabytes: float) -> list[Path]:
    """Distinct files of random bytes, sizes uniform in 2-12 MB (the brief's realistic range), cached."""
    import numpy as np

    RANDOM.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261126)
    out: list[Path] = []
    total = 0
    i = 0
    while total < gigabytes * 1e9:
        size = int(rng.integers(2_000_000, 12_000_000))
        p = RANDOM / f"{i:05d}.flac"
        if not p.exists() or p.stat().st_size != size:
            tmp = p.with_suffix(".tmp")
            tmp.write_bytes(np.random.default_rng(i).bytes(size))
            os.replace(tmp, p)
        out.append(p)
        total += size
        i += 1
    return out


def build_archive(gigabytes: float, corpus: str = "audio") -> Path:
    """A bench archive over ``gigabytes`` of a corpus, cached between runs: ``audio``: real Ogg files from
    audio_corpus.py (songs and short game cues, 2.0 MB on average); ``songs``: its full-length songs only
    (3.4 MB on average — the reference archive's files average 3.5 MB: 300 TB / 86 M); ``random``: random
    bytes, 2-12 MB."""
    from audio_corpus import SONGS, ensure

    from phonotheque.archive import Archive

    if corpus == "audio":
        files = ensure(AUDIO, gigabytes)
    elif corpus == "songs":
        files = ensure(AUDIO_SONGS, gigabytes, packages=SONGS)
    else:
        files = ensure_random(gigabytes)
    root = BENCH / (f"archive-{gigabytes:g}GB" if corpus == "audio" else f"archive-{corpus}-{gigabytes:g}GB")
    marker = root / "READY"
    if marker.exists() and marker.read_text() == str(len(files)):
        return root
    shutil.rmtree(root, ignore_errors=True)
    archive = Archive.init(root, settings={"store.piece_size": PIECE, "archive.name": "bench"})
    with Pool(2) as pool:
        hashed = pool.map(_hash, [str(p) for p in files], chunksize=4)
    conn = archive.conn
    with archive.transaction():
        conn.execute("INSERT INTO sources(id, name, format) VALUES (1, 'bench', 'jsonl')")
        order = 0
        for path, h in hashed:
            p = Path(path)
            rel = Path("store") / h.sha256[:2] / h.sha256[2:4] / f"{h.sha256}{p.suffix}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            if not (root / rel).exists():
                os.link(p, root / rel)
            row = conn.execute("SELECT id FROM files WHERE sha256 = ?", (h.sha256,)).fetchone()
            if row:
                continue
            order += 1
            if corpus in ("audio", "songs"):
                copy, pkg = p.relative_to(AUDIO if corpus == "audio" else AUDIO_SONGS).parts[:2]
            else:
                copy, pkg = f"album{order // 10:04d}", f"artist-{order // 10 % 97:02d}"  # 10 tracks an album
            conn.execute("INSERT OR IGNORE INTO artists(source_id, source_key, name) VALUES (1, ?, ?)",
                                  (pkg, pkg.replace("-", " ").title()))
            artist_id = conn.execute("SELECT id FROM artists WHERE source_key = ?", (pkg,)).fetchone()[0]
            akey = f"{copy}/{pkg}"
            conn.execute("INSERT OR IGNORE INTO albums(source_id, source_key, name, release_date) VALUES (1, ?, ?, ?)",
                         (akey, f"{pkg} {copy}", "2009"))
            album_id = conn.execute("SELECT id FROM albums WHERE source_key = ?", (akey,)).fetchone()[0]
            conn.execute("INSERT OR IGNORE INTO album_artists(album_id, position, artist_id) VALUES (?, 0, ?)",
                         (album_id, artist_id))
            pop = max(0, 100 - order * 100 // len(hashed))
            tid = conn.execute("INSERT INTO tracks(source_id, source_key, album_id, name, track_number, popularity)"
                               " VALUES (1, ?, ?, ?, ?, ?)", (str(p), album_id, p.stem, order % 99, pop)).lastrowid
            conn.execute("INSERT INTO track_artists(track_id, position, artist_id) VALUES (?, 0, ?)", (tid, artist_id))
            fid = conn.execute(
                "INSERT INTO files(sha256, size, tier, store_path, ext, piece_size, v1_pieces, v1_tail, v2_root, "
                "v2_layer, ingested_at) VALUES (?, ?, 'original', ?, ?, ?, ?, ?, ?, ?, datetime('now', '+1 hour'))",
                (h.sha256, h.size, rel.as_posix(), p.suffix, PIECE, h.v1_pieces, h.v1_tail, h.v2_root, h.v2_layer),
            ).lastrowid
            conn.execute("INSERT INTO track_files(track_id, file_id, role) VALUES (?, ?, 'original')", (tid, fid))
            conn.execute("INSERT INTO plan(track_id, decision, status, expected_listens, release_order) "
                         "VALUES (?, 'original', 'planned_original', ?, ?)", (tid, 10.0 ** (pop / 25), order))
    archive.close()
    marker.write_text(str(len(files)))
    return root


def _run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[dict[str, Any], int]:
    """Run a child (this script or a tool); returns its JSON output (if any) and its peak RSS in bytes.

    Without JSON output (mktorrent) ``seconds`` is the wall time and ``cpu`` user+sys from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {err.decode(errors='replace')[-2000:]}")
    data = json.loads(out) if out.strip().startswith(b"{") else {"seconds": wall,
                                                                 "cpu": usage.ru_utime + usage.ru_stime}
    return data, usage.ru_maxrss * 1024


def _reset_release(root: str | Path) -> None:
    """Every timed run is a first packaging: the release's directory and database rows go first (not timed)."""
    from phonotheque.archive import Archive

    with Archive.open(root) as archive:
        shutil.rmtree(archive.releases_dir / "bench", ignore_errors=True)
        with archive.transaction() as c:
            ids = "SELECT id FROM torrents WHERE release_name = 'bench'"
            c.execute("DELETE FROM release_tracks WHERE release_name = 'bench'")
            c.execute(f"DELETE FROM torrent_files WHERE torrent_id IN ({ids})")
            c.execute("DELETE FROM torrents WHERE release_name = 'bench'")
            c.execute("DELETE FROM releases WHERE name = 'bench'")
    # the removal of the previous trees (thousands of unlinks) would otherwise still be in the filesystem's
    # journal when the timed run starts linking: a cost of this scaffolding, not of packaging
    os.sync()


def child_package(root: str, metadata: bool) -> None:
    from phonotheque.archive import Archive
    from phonotheque.release.package import package

    _reset_release(root)
    archive = Archive.open(root)
    import resource

    def cpu_now() -> float:  # this process and its finished children (the seeding-tree linker)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    t0, c0 = time.perf_counter(), cpu_now()
    r = package(archive, release="bench", target_size=TARGET, metadata=metadata)
    seconds, cpu = time.perf_counter() - t0, cpu_now() - c0
    audio = [t for t in r.torrents if t.kind == "audio"]
    print(json.dumps({"seconds": seconds, "cpu": cpu, "size": r.size, "padded_size": r.padded_size, "files": r.tracks_packaged,
                      "torrents": len(audio), "infohashes": [t.infohash_v1 for t in audio],
                      "phases_ms": {k: round(v * 1e3, 2) for k, v in r.timings.items()}}))


def child_libtorrent(dirs: list[str]) -> None:
    import warnings

    import libtorrent as lt

    from phonotheque.release.torrent import sort_key

    seconds = cpu = 0.0
    hashes = []
    for d in map(Path, dirs):
        files = sorted((p.relative_to(d).parts, p.stat().st_size) for p in d.rglob("*") if p.is_file())
        t0, c0 = time.perf_counter(), time.process_time()
        fs = lt.file_storage()
        for parts, size in sorted(files, key=lambda f: sort_key(f[0])):
            fs.add_file("/".join((d.name, *parts)), size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            t = lt.create_torrent(fs, PIECE)
        lt.set_piece_hashes(t, str(d.parent))
        info = lt.bencode(t.generate()[b"info"])
        seconds += time.perf_counter() - t0
        cpu += time.process_time() - c0
        import hashlib

        hashes.append(hashlib.sha1(info).hexdigest())
    print(json.dumps({"seconds": seconds, "cpu": cpu, "infohashes": hashes}))


def _warm(dirs: list[Path]) -> None:
    for d in dirs:
        for p in d.rglob("*"):
            if p.is_file():
                with open(p, "rb") as fh:
                    while fh.read(1 << 22):
                        pass


def padding_table(sizes: list[int]) -> dict[str, float]:
    total = sum(sizes)
    return {f"{ps // 1024} KiB": sum(s + (-s) % ps for s in sizes) / total - 1
            for ps in (1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22)}


def measure(gigabytes: float, runs: int, corpus: str = "audio") -> dict[str, Any]:
    root = build_archive(gigabytes, corpus)
    me = [sys.executable, __file__]
    pkg_runs, full_runs, pkg_mem, full_mem = [], [], 0, 0
    pkg_cpu: list[float] = []
    mk_cpu: list[float] = []
    lt_cpu: list[float] = []
    first: dict[str, Any] = {}
    rel = root / "releases" / "bench"
    mk_runs, mk_mem = [], 0
    lt_runs, lt_mem = [], 0
    lt_hashes: list[str] = []
    tmp = BENCH / "mk.torrent"
    # rounds: package, then mktorrent and libtorrent over the trees it made, so that each ratio is taken
    # minutes apart at most (this machine drifts by ±30 % from minute to minute)
    for i in range(runs):
        data, mem = _run_child([*me, "--child-package", str(root), "--metadata"])
        full_runs.append(data["seconds"])
        full_mem = max(full_mem, mem)
        data, mem = _run_child([*me, "--child-package", str(root)])
        pkg_runs.append(data["seconds"])
        pkg_cpu.append(data["cpu"])
        pkg_mem = max(pkg_mem, mem)
        first = first or data
        doc = json.loads((rel / "torrents.json").read_text())
        dirs = [rel / "data" / t["name"] for t in doc["torrents"] if t["kind"] == "audio"]
        if i == 0:
            _warm(dirs)
        total = total_cpu = 0.0
        for d in dirs:
            tmp.unlink(missing_ok=True)
            data, mem = _run_child(["mktorrent", "-t", "2", "-l", "20", "-d", "-a", "http://127.0.0.1/announce",
                                    "-o", str(tmp), str(d)])
            total += data["seconds"]
            total_cpu += data["cpu"]
            mk_mem = max(mk_mem, mem)
        mk_runs.append(total)
        mk_cpu.append(total_cpu)
        data, mem = _run_child([*me, "--child-libtorrent", *map(str, dirs)])
        lt_runs.append(data["seconds"])
        lt_cpu.append(data["cpu"])
        lt_mem = max(lt_mem, mem)
        lt_hashes = data["infohashes"]
    cli_runs = []
    exe = str(Path(sys.executable).with_name("phonotheque"))
    # as installed: bytecode cached (a PYTHONDONTWRITEBYTECODE environment would recompile the sources every run)
    cli_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(runs):
        _reset_release(root)
        data, _mem = _run_child([exe, "package", "-A", str(root), "--release", "bench", "--target-size", TARGET,
                                 "--no-metadata"], env=cli_env)
        cli_runs.append(data["seconds"])
    doc = json.loads((rel / "torrents.json").read_text())
    sizes = [t["size"] for t in doc["torrents"] if t["kind"] == "audio"]
    from phonotheque.archive import Archive

    with Archive.open(root) as a:
        file_sizes = [r[0] for r in a.conn.execute("SELECT size FROM files")]
    gib = sum(sizes) / 2**30
    pkg, mk, lt = statistics.median(pkg_runs), statistics.median(mk_runs), statistics.median(lt_runs)
    full = statistics.median(full_runs)
    return {
        "corpus": corpus, "mean_file_mb": sum(sizes) / first["files"] / 1e6,
        "gigabytes": sum(sizes) / 1e9, "files": first["files"], "torrents": first["torrents"],
        "package_s": pkg, "package_with_catalog_torrent_s": full, "mktorrent_s": mk, "libtorrent_s": lt,
        "package_with_catalog_torrent_peak_rss_mb": full_mem / 1e6,
        "cpu_s": {"package": statistics.median(pkg_cpu), "mktorrent": statistics.median(mk_cpu),
                  "libtorrent": statistics.median(lt_cpu)},
        "cpu_speedup_vs_mktorrent": statistics.median(mk_cpu) / statistics.median(pkg_cpu),
        "package_s_per_gib": pkg / gib, "mktorrent_s_per_gib": mk / gib, "libtorrent_s_per_gib": lt / gib,
        "package_ms_per_file": 1e3 * pkg / first["files"], "mktorrent_ms_per_file": 1e3 * mk / first["files"],
        "cli_s": statistics.median(cli_runs), "speedup_cli_vs_mktorrent": mk / statistics.median(cli_runs),
        "speedup_vs_mktorrent": mk / pkg, "speedup_vs_libtorrent": lt / pkg,
        "speedup_vs_mktorrent_by_round": [m / p for m, p in zip(mk_runs, pkg_runs, strict=True)],
        "package_peak_rss_mb": pkg_mem / 1e6, "mktorrent_peak_rss_mb": mk_mem / 1e6,
        "libtorrent_peak_rss_mb": lt_mem / 1e6,
        "infohashes_equal_libtorrent": lt_hashes == first["infohashes"],
        "padding_overhead": first["padded_size"] / first["size"] - 1,
        "padding_by_piece_size": padding_table(file_sizes),
        "runs": {"package": pkg_runs, "package_with_catalog_torrent": full_runs, "mktorrent": mk_runs,
                 "libtorrent": lt_runs, "cli": cli_runs},
        "phases_ms": first.get("phases_ms", {}),
    }


def build_index_archive(rows: int) -> Path:
    """A bench archive whose release ``bench`` has ``rows`` file-index rows (synthetic rows made in SQL: what
    is measured is only the streaming of the index), 100 000 files per torrent, cached."""
    from phonotheque.archive import Archive

    root = BENCH / f"index-{rows}"
    if (root / "READY").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    a = Archive.init(root, settings={"store.piece_size": PIECE, "archive.name": "bench"})
    c = a.conn
    per = 100_000
    with a.transaction():
        c.execute("INSERT INTO releases(name, created_at, target_size, version) VALUES ('bench', 'x', 1, 'hybrid')")
        c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                  "INSERT INTO files(id, sha256, size, tier, store_path, ext, piece_size) "
                  "SELECT i, printf('%064x', i), 2000000 + i, 'original', printf('store/%d.ogg', i), '.ogg', ? FROM n",
                  (rows, PIECE))
        for t in range(1, -(-rows // per) + 1):
            c.execute("INSERT INTO torrents(id, release_name, batch, name, kind, content, infohash_v1, infohash_v2, "
                      "size, file_count, torrent_path, created_at) VALUES (?, 'bench', ?, ?, 'audio', 'audio', "
                      "printf('%040x', ?), printf('%064x', ?), 0, 0, 'x', 'x')", (t, t, f"bench-audio-{t:04d}", t, t))
        c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                  "INSERT INTO torrent_files(torrent_id, file_id, path, offset, size, sha256) SELECT (i - 1) / ? + 1, i, "
                  "printf('pop 50-59/Artist %d/2009 Album %d (%d)/%02d Artist %d - Title number %d.ogg', i / 97, i / 12,"
                  " i / 12, i % 12, i / 97, i), ((i - 1) % ?) * 2097152, 2000000 + i, printf('%064x', i) FROM n",
                  (rows, per, per))
        c.execute("INSERT INTO release_tracks(release_name, track_id, file_id, torrent_id, path, listens) "
                  "SELECT 'bench', file_id, file_id, torrent_id, path, 1.5 FROM torrent_files")
    a.close()
    (root / "READY").write_text(str(rows))
    return root


def child_index(root: str) -> None:
    from phonotheque.archive import Archive
    from phonotheque.release.outputs import write_index

    a = Archive.open(root)
    t0 = time.perf_counter()
    n = write_index(a.conn, "bench", Path(root) / "index-out")
    print(json.dumps({"seconds": time.perf_counter() - t0, "rows": n}))


def measure_index(sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    for rows in sizes:
        root = build_index_archive(rows)
        data, mem = _run_child([sys.executable, __file__, "--child-index", str(root)])
        out.append({"rows": data["rows"], "seconds": data["seconds"], "rows_per_s": data["rows"] / data["seconds"],
                    "peak_rss_mb": mem / 1e6})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="0.1 GB and 0.4 GB instead of 1 GB and 4 GB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--corpus", choices=["audio", "songs", "random", "all"], default="all",
                    help="full run only: which corpus (default all three)")
    ap.add_argument("--child-package")
    ap.add_argument("--metadata", action="store_true")
    ap.add_argument("--child-libtorrent", nargs="+")
    ap.add_argument("--child-index")
    args = ap.parse_args()
    if args.child_package:
        return child_package(args.child_package, args.metadata)
    if args.child_index:
        return child_index(args.child_index)
    if args.child_libtorrent:
        return child_libtorrent(args.child_libtorrent)
    plan = [("audio", 0.1), ("audio", 0.4)] if args.quick else \
        [(c, gb) for c in ("audio", "songs", "random") if args.corpus in (c, "all") for gb in (1.0, 4.0)]
    results = [measure(gb, args.runs, corpus) for corpus, gb in plan]
    index = measure_index([20_000, 100_000] if args.quick else [100_000, 1_000_000, 2_000_000])
    print(f"packaging (hashes stored at ingest; hybrid torrents, seeding trees, index, list, notes) vs mktorrent -t 2 "
          f"(v1) and libtorrent set_piece_hashes (hybrid); piece 1 MiB; target 1 GB per torrent; median of "
          f"{args.runs}; page cache warm. '+catalog' = the same run also making the catalog metadata torrent "
          "(snapshot + Parquet export: depends on catalog size, not audio). Ratios use 'package s'.")
    head = (f"{'corpus':>6} {'MB/file':>7} {'data':>8} {'files':>6} {'torr':>4} | {'package s':>9} {'+catalog s':>10} {'mktorrent s':>11} "
            f"{'libtorrent s':>12} | "
            f"{'x mktorrent':>11} {'x libtorrent':>12} | {'pkg s/GiB':>9} {'mk s/GiB':>8} {'lt s/GiB':>8} | "
            f"{'pkg ms/file':>11} {'mk ms/file':>10} | {'CLI s':>6} {'x mk':>5} | "
            f"{'peak MB pkg/mk/lt':>17} | {'padding':>7} | same ih")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['corpus']:>6} {r['mean_file_mb']:>7.1f} {r['gigabytes']:>6.2f}GB {r['files']:>6} {r['torrents']:>4} | {r['package_s']:>9.3f} "
              f"{r['package_with_catalog_torrent_s']:>10.3f} {r['mktorrent_s']:>11.3f} {r['libtorrent_s']:>12.3f} | {r['speedup_vs_mktorrent']:>10.1f}x "
              f"{r['speedup_vs_libtorrent']:>11.1f}x | {r['package_s_per_gib']:>9.3f} {r['mktorrent_s_per_gib']:>8.3f} "
              f"{r['libtorrent_s_per_gib']:>8.3f} | {r['package_ms_per_file']:>11.3f} {r['mktorrent_ms_per_file']:>10.3f} | "
              f"{r['cli_s']:>6.3f} {r['speedup_cli_vs_mktorrent']:>4.1f}x | "
              f"{r['package_peak_rss_mb']:>5.0f}/{r['mktorrent_peak_rss_mb']:>3.0f}/"
              f"{r['libtorrent_peak_rss_mb']:>4.0f}     | {r['padding_overhead']:>6.3%} | "
              f"{r['infohashes_equal_libtorrent']}")
    for r in results:
        c = r["cpu_s"]
        print(f"CPU seconds (user+sys, median), {r['corpus']} {r['gigabytes']:.2f} GB: package {c['package']:.3f}, mktorrent "
              f"{c['mktorrent']:.3f}, libtorrent {c['libtorrent']:.3f} -> {r['cpu_speedup_vs_mktorrent']:.1f}x less "
              "CPU than mktorrent")
    for r in results:
        by_round = sorted(r["speedup_vs_mktorrent_by_round"])
        print(f"x mktorrent per round (package and mktorrent in the same minute), {r['corpus']} "
              f"{r['gigabytes']:.2f} GB: median {statistics.median(by_round):.1f}x, range {by_round[0]:.1f}-"
              f"{by_round[-1]:.1f}x over {len(by_round)} rounds")
    for r in results:
        print(f"phases of one package run (ms), {r['corpus']} {r['gigabytes']:.2f} GB: " + ", ".join(
            f"{k} {v:.1f}" for k, v in r["phases_ms"].items()))
    print("CLI s = the whole `phonotheque package --no-metadata` process: interpreter start and imports (pyarrow ...)"
          " included, which the library call does not pay again")
    print("file index streamed in record batches (one child process each; synthetic rows):")
    for x in index:
        print(f"  {x['rows']:>9} rows: {x['seconds']:7.2f} s, {x['rows_per_s']:>9.0f} rows/s, peak RSS "
              f"{x['peak_rss_mb']:.0f} MB")
    print("padding overhead by piece size (same files): " + ", ".join(
        f"{k}: {v:.3%}" for k, v in results[-1]["padding_by_piece_size"].items()))
    out = OUT.with_name("package-quick.json") if args.quick else OUT  # a smoke test keeps the full run's figures
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "package", "quick": args.quick, "results": results, "index": index,
                               "note": "2-core machine shared with other engineers' runs: noisy"}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
