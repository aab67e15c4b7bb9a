"""The runner (process pool, Dask LocalCluster) and crash safety: kill -9 mid-run, run again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from mutagen.oggvorbis import OggVorbis

from phonotheque.archive import Archive
from phonotheque.cli.main import cli
from phonotheque.parallel import run_tasks
from phonotheque.store.ingest import ingest

EXCERPTS = ["singularity-awakening.ogg", "singularity-deprecation.ogg", "fof-chaos-god-song.ogg",
            "fof-chaos-god-guitar.ogg", "drascula-track2.ogg"]  # fmt: skip


def _square(offset: int, x: int) -> int:
    if x == 7:
        raise ValueError("seven")
    time.sleep(0.01 * (x % 3))
    return x * x + offset


def test_run_tasks_local_pool_ordered_and_unordered() -> None:
    pairs = list(run_tasks(partial(_square, 1), range(20), workers=2, max_in_flight=3))
    assert sorted(i for i, _ in pairs) == list(range(20))
    ordered = list(run_tasks(partial(_square, 1), range(20), workers=2, ordered=True, max_in_flight=3))
    assert [i for i, _ in ordered] == list(range(20))
    for i, r in ordered:
        if i == 7:
            assert isinstance(r, ValueError)              # a failing task comes back as a value
        else:
            assert r == i * i + 1


def make_corpus(src: Path, audio: Path, copies: int) -> None:
    """``copies`` × 5 distinct real files (a comment tag makes each copy's bytes distinct)."""
    for k in range(copies):
        d = src / f"set{k:02d}"
        d.mkdir(parents=True)
        for name in EXCERPTS:
            p = d / name
            p.write_bytes((audio / name).read_bytes())
            if k:
                t = OggVorbis(p)
                t["comment"] = [f"copy {k}"]
                t.save()


def snapshot(root: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every store-stage and catalog table, minus timestamps; plus the store's file names."""
    conn = sqlite3.connect(root / "catalog.sqlite")
    out: dict[str, list[tuple[object, ...]]] = {}
    queries = {
        "ingest_log": "SELECT path, size, mtime_ns, status, reason, sha256, file_id, duplicate_of, track_id, "
                      "match_method FROM ingest_log ORDER BY path",
        "files": "SELECT id, sha256, size, store_path, codec, duration_ms, fingerprint, tags, v1_pieces, v2_root "
                 "FROM files ORDER BY id",
        "tracks": "SELECT * FROM tracks ORDER BY id",
        "track_files": "SELECT * FROM track_files ORDER BY track_id, file_id",
        "artists": "SELECT * FROM artists ORDER BY id",
        "albums": "SELECT * FROM albums ORDER BY id",
    }  # fmt: skip
    for name, sql in queries.items():
        out[name] = [tuple(r) for r in conn.execute(sql)]
    conn.close()
    out["store"] = sorted((str(p.relative_to(root)),) for p in (root / "store").rglob("*") if p.is_file())
    return out


SCRIPT = (
    "import sys; from phonotheque.archive import Archive; from phonotheque.store.ingest import ingest\n"
    "ingest(Archive.open(sys.argv[1]), [sys.argv[2]], workers=2, batch_files=2)\n"
)


@pytest.mark.parametrize("kill_when", ["first_store_file", "after_commits"])
def test_kill_9_mid_run_then_rerun_equals_one_clean_run(tmp_path: Path, audio: Path, kill_when: str) -> None:
    src = tmp_path / "src"
    make_corpus(src, audio, copies=4)
    total = len(list(src.rglob("*.ogg")))
    clean = Archive.init(tmp_path / "clean")
    ingest(clean, [src], workers=2)
    clean.close()

    crashed = Archive.init(tmp_path / "crashed")
    crashed.close()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "crashed"), str(src)],
                            start_new_session=True)  # fmt: skip
    db = tmp_path / "crashed" / "catalog.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if kill_when == "first_store_file":
            if any(p.is_file() for p in (tmp_path / "crashed" / "store").rglob("*")):
                break
        else:
            with sqlite3.connect(db, timeout=30) as c:
                if c.execute("SELECT count(*) FROM ingest_log").fetchone()[0] >= 4:
                    break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)                   # the job and its worker processes
    proc.wait()
    with sqlite3.connect(db) as c:
        done = c.execute("SELECT count(*) FROM ingest_log").fetchone()[0]
    assert done < total

    again = Archive.open(tmp_path / "crashed")
    result = ingest(again, [src], workers=2)
    again.close()
    assert result.skipped == done
    a, b = snapshot(tmp_path / "clean"), snapshot(tmp_path / "crashed")
    for table in a:
        assert a[table] == b[table], table
    leftovers = [p for p in (tmp_path / "crashed" / "store").rglob(".*")]
    assert leftovers == []


def test_cli_ingest_json_and_exit_status(tmp_path: Path, audio: Path) -> None:
    arch = Archive.init(tmp_path / "a")
    arch.close()
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", "-A", str(tmp_path / "a"), str(audio / "drascula-track2.ogg"), "--json",
                              "--workers", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert '"stored": 1' in res.output
    res = runner.invoke(cli, ["ingest", "-A", str(tmp_path / "a"), str(audio / "tecnoballz-high-score.mod"),
                              "--workers", "1"])  # fmt: skip
    assert res.exit_code == 1
    assert "error_unsupported" in res.output and "tecnoballz-high-score.mod" in res.output
    res = runner.invoke(cli, ["ingest", "-A", str(tmp_path / "a"), str(audio), "--scheduler", "nonsense"])
    assert res.exit_code == 1 and "--scheduler nonsense" in res.output


def test_dask_local_cluster_runs_tasks_and_ingest_gives_the_same_catalog(tmp_path: Path, audio: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    seen: list[int] = []
    # an existing cluster reached by address (what --scheduler tcp://host:8786 does)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        assert cl.scheduler_address.startswith("tcp://")
        pairs = list(run_tasks(partial(_square, 0), range(12), scheduler=cl.scheduler_address, ordered=True,
                               progress=lambda n=1, **_: seen.append(n)))  # fmt: skip
    assert [i for i, _ in pairs] == list(range(12)) and len(seen) == 12
    assert [r for i, r in pairs if i != 7] == [i * i for i in range(12) if i != 7]
    assert isinstance(dict(pairs)[7], ValueError)
    local = Archive.init(tmp_path / "local")
    dask = Archive.init(tmp_path / "dask")
    ingest(local, [audio], workers=2)
    ingest(dask, [audio], workers=2, scheduler="local")
    local.close()
    dask.close()
    a, b = snapshot(tmp_path / "local"), snapshot(tmp_path / "dask")
    for table in a:
        assert a[table] == b[table], table
