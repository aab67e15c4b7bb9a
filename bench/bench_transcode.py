"""Benchmark: Opus transcoding against the ffmpeg CLI; tag + patch and restore throughput.

Same files, same run, warm page cache, 2 parallel jobs for both sides:

* phonotheque: ``transcode_file`` on a process pool of 2 — decode, resample, libopus VBR 75 kbit/s
  complexity 10 (the libopus PyAV ships, called directly: byte-identical to PyAV's encoder), EBU R128
  loudness of the PCM, then the output read back once for sha256 + BitTorrent v1/v2 hashes and a
  full verification decode;
* peer: ``ffmpeg -i F -c:a libopus -b:a 75k -vbr on out.opus``, 2 files at a time.

Then a CPU breakdown per stage (one process, sequential, CPU seconds per audio minute, medians of
``--runs``) on a few of the files (``--breakdown-files``), so the ratio can be explained: our stages
measured alone on the same PCM (source decode, libopus encoder alone without muxing, loudness meter,
verification decode, hashing) and the peer's (process start-up, decode to null, whole command).

Throughput is audio seconds per wall second (x real time), total and per core; the ratio is
phonotheque / ffmpeg (goal >= 1.0). Then, on the whole corpus: tag a copy of every file with
catalog-like tags + loudness, make and verify the patch back to the original (MB/s of originals,
patch bytes per file and per GB), and restore every original from tagged file + patch (MB/s).
Medians of ``--runs`` runs; peak RSS per side (largest process); writes bench/out/transcode.json.

    .venv/bin/python bench/bench_transcode.py [--quick] [--runs 3] [--gigabytes 1.0] [--transcode-files N]

The corpus is bench/audio_corpus.py (real Ogg Vorbis from Debian packages, copied to >= 1 GB).
Transcoding runs on the distinct files (the copies differ only in a tag): ``--transcode-files``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audio_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCHDATA = Path(os.environ.get("PHONOTHEQUE_BENCHDATA", "/work/benchdata"))
JOBS = 2

_WRAP = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "dt = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(dt, ru.ru_maxrss, rc, ru.ru_utime + ru.ru_stime)\n"
)


def timed(cmd: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB, largest process of the tree) and CPU seconds (user + system, whole
    process tree) of ``cmd``; fails on a non-zero exit."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, check=True)
    dt, rss, rc, cpu = out.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"{cmd[:3]} failed with exit status {rc}")
    return float(dt), int(rss), float(cpu)


# -- the two sides, run as child processes ------------------------------------------------------

def _ours_one(args: tuple[str, str]) -> int:
    from phonotheque.store.transcode import transcode_file

    return transcode_file(args[0], args[1], bitrate=75000, complexity=10).samples


def run_ours(listfile: Path, outdir: Path) -> None:
    # imported before the pool forks, as in `phonotheque transcode` (the CLI process has imported the
    # library when it starts its workers): the workers inherit it instead of importing it twice
    import phonotheque.store.transcode  # noqa: F401

    files = listfile.read_text(encoding="utf-8").splitlines()
    tasks = [(f, str(outdir / f"{i:05d}.opus")) for i, f in enumerate(files)]
    with ProcessPoolExecutor(max_workers=JOBS) as pool:
        list(pool.map(_ours_one, tasks))


def run_ffmpeg(listfile: Path, outdir: Path) -> None:
    files = listfile.read_text(encoding="utf-8").splitlines()

    def one(i_f: tuple[int, str]) -> None:
        i, f = i_f
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", f, "-c:a", "libopus", "-b:a", "75k",
                        "-vbr", "on", str(outdir / f"{i:05d}.opus")], check=True)

    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        list(pool.map(one, enumerate(files)))


# -- measurements ------------------------------------------------------------------------------------

def audio_seconds(files: list[Path]) -> float:
    import av

    total = 0.0
    for f in files:
        with av.open(str(f)) as c:
            s = c.streams.audio[0]
            total += float(s.duration * s.time_base) if s.duration and s.time_base else (c.duration or 0) / 1e6
    return total


def bench_transcode(files: list[Path], runs: int, work: Path) -> dict[str, dict[str, float]]:
    listfile = work / "transcode-files.txt"
    listfile.write_text("".join(f"{f}\n" for f in files), encoding="utf-8")
    for f in files:  # warm the page cache for both sides
        f.read_bytes()
    seconds = audio_seconds(files)
    results: dict[str, list[tuple[float, int, float]]] = {"phonotheque": [], "ffmpeg": []}
    for _ in range(runs):
        for name in ("phonotheque", "ffmpeg"):
            out = work / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            results[name].append(timed([sys.executable, __file__, f"--_{name}", str(listfile), str(out)]))
    table: dict[str, dict[str, float]] = {}
    for name, samples in results.items():
        wall = statistics.median(s[0] for s in samples)
        out_bytes = sum(p.stat().st_size for p in (work / f"out-{name}").iterdir())
        table[name] = {
            "wall_s": round(wall, 2),
            "x_realtime_total": round(seconds / wall, 1),
            "x_realtime_per_core": round(seconds / wall / JOBS, 1),
            # CPU time is what the shared machine does not distort: the fairer per-core figure
            "cpu_s_per_audio_min": round(statistics.median(s[2] for s in samples) / (seconds / 60), 3),
            "x_realtime_per_cpu_s": round(seconds / statistics.median(s[2] for s in samples), 1),
            "peak_rss_mb": round(max(s[1] for s in samples) / 1024, 1),
            "kbit_s": round(out_bytes * 8 / seconds / 1000, 1),
        }
    table["_"] = {"files": len(files), "audio_hours": round(seconds / 3600, 3),
                  "input_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1)}
    return table


def _cpu() -> float:
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def _pcm48(f: Path, work: Path) -> tuple[Path, int]:
    """The source at 48 kHz float, decoded by the ffmpeg CLI (same libswresample defaults) → (raw file, channels)."""
    import av

    with av.open(str(f)) as c:
        channels = min(c.streams.audio[0].codec_context.channels, 2)
    raw = work / "pcm.f32"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(f), "-ar", "48000", "-ac", str(channels),
                    "-f", "f32le", str(raw)], check=True)
    return raw, channels


def _libopus_alone(pcm: Any, channels: int) -> None:
    """The encoder itself: libopus at the benchmark settings over the PCM, no container, no Python per sample."""
    import ctypes

    from phonotheque.store import libopus

    lib = libopus.load()
    assert lib is not None
    err = ctypes.c_int(0)
    enc = ctypes.c_void_p(lib.opus_encoder_create(48000, channels, libopus.APPLICATION_AUDIO, ctypes.byref(err)))
    for request, value in ((libopus.SET_BITRATE, 75000), (libopus.SET_COMPLEXITY, 10), (libopus.SET_VBR, 1),
                           (libopus.SET_VBR_CONSTRAINT, 0)):
        lib.opus_encoder_ctl(enc, ctypes.c_int(request), ctypes.c_int(value))
    buf = ctypes.create_string_buffer(libopus.MAX_PACKET)
    step = 960 * channels * 4
    base = pcm.ctypes.data
    for k in range(pcm.size // (960 * channels)):
        lib.opus_encode_float(enc, base + k * step, 960, buf, libopus.MAX_PACKET)
    lib.opus_encoder_destroy(enc)


def bench_breakdown(files: list[Path], runs: int, work: Path) -> dict[str, float]:
    """CPU seconds per audio minute of each stage, measured alone (see the module docstring)."""
    import io

    import av
    import numpy as np

    from phonotheque.store.hashing import TorrentHasher
    from phonotheque.store.loudness import LoudnessMeter
    from phonotheque.store.transcode import encode_opus, transcode_file

    seconds = audio_seconds(files)
    stages: dict[str, list[float]] = {}

    def timed_stage(name: str, fn: Any) -> None:
        t = _cpu()
        fn()
        stages.setdefault(name, []).append(_cpu() - t)

    out = work / "breakdown.opus"
    totals: list[dict[str, float]] = []
    for _ in range(runs):
        stages = {}
        for f in files:
            raw, channels = _pcm48(f, work)
            pcm = np.fromfile(raw, dtype=np.float32)

            def source_decode(f: Path = f) -> None:
                with av.open(str(f)) as c:
                    for _frame in c.decode(c.streams.audio[0]):
                        pass

            def meter(pcm: Any = pcm, channels: int = channels) -> None:
                m = LoudnessMeter(48000, channels)
                for i in range(0, pcm.size, 96000):
                    m.add_interleaved(pcm[i : i + 96000])
                m.finish()

            timed_stage("ours: whole transcode_file", lambda f=f: transcode_file(f, out))
            timed_stage("ours: encode_opus (decode..mux)", lambda f=f: encode_opus(f, out))
            data = out.read_bytes()
            timed_stage("ours:   source decode alone", source_decode)
            timed_stage("ours:   libopus encoder alone", lambda pcm=pcm, ch=channels: _libopus_alone(pcm, ch))
            timed_stage("ours:   loudness meter alone", meter)

            def verify(data: bytes = data) -> None:
                with av.open(io.BytesIO(data), "r") as c:
                    for _frame in c.decode(c.streams.audio[0]):
                        pass

            def hashes(data: bytes = data) -> None:
                h = TorrentHasher(1 << 20)
                h.update(data)
                h.finish()

            timed_stage("ours: verification decode", verify)
            timed_stage("ours: sha256 + torrent hashes", hashes)
            peer = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(f)]
            timed_stage("peer: whole ffmpeg command", lambda peer=peer: subprocess.run(
                [*peer, "-c:a", "libopus", "-b:a", "75k", "-vbr", "on", str(work / "peer.opus")], check=True))
            timed_stage("peer:   decode to null", lambda peer=peer: subprocess.run([*peer, "-f", "null", "-"], check=True))
            timed_stage("peer:   process start-up", lambda: subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=d=0.01", "-f", "null", "-"],
                check=True))
        totals.append({k: sum(v) for k, v in stages.items()})
    return {k: round(statistics.median(t[k] for t in totals) / (seconds / 60), 4) for k in totals[0]} | {
        "_files": len(files), "_audio_minutes": round(seconds / 60, 2)}


def bench_patches(files: list[Path], runs: int, work: Path) -> dict[str, float]:
    from phonotheque.store.patch import make_patch, restore, write_atomic
    from phonotheque.store.tags import TrackMeta, write_tags

    total = sum(f.stat().st_size for f in files)
    tag_times, restore_times, patch_bytes = [], [], 0
    for _ in range(runs):
        tagged_dir, patch_dir, out_dir = work / "tagged", work / "patches", work / "restored"
        for d in (tagged_dir, patch_dir, out_dir):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        patch_bytes = 0
        t0 = time.perf_counter()
        for i, f in enumerate(files):
            original = f.read_bytes()
            tagged_path = tagged_dir / f"{i:05d}{f.suffix}"
            shutil.copyfile(f, tagged_path)
            meta = TrackMeta(
                title=f.stem, artist="Benchmark Artist", artists=["Benchmark Artist"], album=f.parent.name,
                albumartist="Benchmark Artist", date="2013-05-26", tracknumber=i % 20 + 1, totaltracks=20,
                isrc=f"XX000{i:07d}", musicbrainz_trackid="b1a9c0e9-d987-4042-ae91-78d6a3267d69",
                license="https://creativecommons.org/licenses/by-sa/3.0/", catalog_id=str(i),
                catalog_url=f"https://archive.example/track/{i}", track_lufs=-14.2, track_peak=0.97,
                album_lufs=-14.8, album_peak=0.99,
            )
            write_tags(tagged_path, meta)
            tagged = tagged_path.read_bytes()
            patch = make_patch(tagged, original)
            write_atomic(patch_dir / f"{hashlib.sha256(tagged).hexdigest()}.zstdpatch", patch)
            patch_bytes += len(patch)
        tag_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        summary = restore([tagged_dir], patches=patch_dir, out=out_dir)
        restore_times.append(time.perf_counter() - t0)
        if summary.count("restored") != len(files):
            raise SystemExit(f"restore: only {summary.count('restored')} of {len(files)} restored")
    tag_s, restore_s = statistics.median(tag_times), statistics.median(restore_times)
    return {
        "files": len(files), "input_mb": round(total / 1e6, 1),
        "tag_patch_mb_s": round(total / tag_s / 1e6, 1), "tag_patch_files_s": round(len(files) / tag_s, 1),
        "restore_mb_s": round(total / restore_s / 1e6, 1), "restore_files_s": round(len(files) / restore_s, 1),
        "patch_bytes_per_file": round(patch_bytes / len(files)),
        "patch_bytes_per_gb": round(patch_bytes / (total / 1e9)),
        "patch_share_of_audio": round(patch_bytes / total, 6),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~100 MB for patches, 4 short files for transcoding")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gigabytes", type=float, default=None)
    ap.add_argument("--transcode-files", type=int, default=None)
    ap.add_argument("--breakdown-files", type=int, default=None, help="files for the per-stage CPU breakdown")
    ap.add_argument("--_phonotheque", nargs=2, type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_ffmpeg", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._phonotheque:
        return run_ours(*args._phonotheque)
    if args._ffmpeg:
        return run_ffmpeg(*args._ffmpeg)
    gigabytes = args.gigabytes if args.gigabytes is not None else (0.1 if args.quick else 1.0)
    corpus = audio_corpus.ensure(BENCHDATA / "audio", gigabytes=gigabytes)
    distinct = sorted({f.name: f for f in corpus}.values(), key=lambda p: str(p))
    if args.quick and not args.transcode_files:
        # the 4 smallest distinct files (short tracks) keep --quick under a minute
        tx_files = sorted(distinct, key=lambda p: p.stat().st_size)[:4]
    else:
        tx_files = distinct[: args.transcode_files or len(distinct)]
    work = Path(tempfile.mkdtemp(prefix="bench-transcode-", dir=BENCHDATA))
    try:
        tx = bench_transcode(tx_files, args.runs, work)
        # a spread of lengths: every k-th file by size
        by_size = sorted(tx_files, key=lambda p: p.stat().st_size)
        nb = args.breakdown_files or (2 if args.quick else 6)
        breakdown = bench_breakdown(by_size[:: max(1, len(by_size) // nb)][:nb], args.runs, work)
        patches = bench_patches(corpus, args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, peer = tx["phonotheque"], tx["ffmpeg"]
    ratio = round(ours["x_realtime_total"] / peer["x_realtime_total"], 2)
    cpu_ratio = round(ours["x_realtime_per_cpu_s"] / peer["x_realtime_per_cpu_s"], 2)
    meta = tx["_"]
    print(f"transcode: {meta['files']} files, {meta['audio_hours']} h of audio, {meta['input_mb']} MB; "
          f"{args.runs} runs (median), {JOBS} jobs, cpus={os.cpu_count()}")
    print(f"{'':28}{'phonotheque':>14}{'ffmpeg CLI':>14}{'ratio':>8}")
    for key, label in (("x_realtime_total", "x real time (total)"), ("x_realtime_per_core", "x real time (per core)"),
                       ("x_realtime_per_cpu_s", "x real time per CPU second"),
                       ("cpu_s_per_audio_min", "CPU s per audio minute"),
                       ("wall_s", "wall seconds"), ("kbit_s", "output kbit/s"), ("peak_rss_mb", "peak RSS MB")):
        r = round(ours[key] / peer[key], 2) if peer[key] else float("nan")
        print(f"{label:28}{ours[key]:>14}{peer[key]:>14}{r:>8}")
    print(f"\nCPU s per audio minute by stage ({breakdown['_files']} files, {breakdown['_audio_minutes']} audio min, "
          "each stage measured alone, one process)")
    for key, value in breakdown.items():
        if not key.startswith("_"):
            print(f"  {key:36}{value:>10}")
    print(f"\ntag + patch + restore: {patches['files']} files, {patches['input_mb']} MB")
    for key in ("tag_patch_mb_s", "tag_patch_files_s", "restore_mb_s", "restore_files_s", "patch_bytes_per_file",
                "patch_bytes_per_gb", "patch_share_of_audio", "peak_rss_mb"):
        print(f"  {key:26}{patches[key]:>14}")
    payload = {"quick": args.quick, "runs": args.runs, "jobs": JOBS, "cpus": os.cpu_count(),
               "transcode": tx, "transcode_ratio_vs_ffmpeg": ratio,
               "transcode_cpu_ratio_vs_ffmpeg": cpu_ratio, "cpu_s_per_audio_min_by_stage": breakdown,
               "patches": patches}
    outdir = ROOT / "bench" / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "transcode.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
