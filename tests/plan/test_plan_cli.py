"""The plan/exclude commands through click's runner, and a real kill -9 in the middle of a plan."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.cli.main import cli
from phonotheque.report.sample import fill_sample_catalog


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_plan_json_and_compare(sample_archive: Archive) -> None:
    a = str(sample_archive.root)
    code, out, _ = run("plan", "-A", a, "--budget", "1.5 GiB", "--json")
    assert code == 0
    data = orjson.loads(out)
    assert data["budget"] == 1.5 * 2**30 and data["bytes"] <= data["budget"]
    assert data["policy"] == "optimal" and 0 < data["share_of_tracks"] < 1
    assert set(data["tiers"]) == {"original", "reencode"}
    code, out, _ = run("plan", "-A", a, "--budget", "1GB", "--policy", "reference", "--compare")
    assert code == 0
    text = " ".join(out.split())
    assert "reference plan stored" in text and "optimal" in text and "weighted listens" in text
    assert "% of tracks" in text


def test_plan_bad_budget_is_one_line_error(sample_archive: Archive) -> None:
    for bad, words in (("lots", "cannot read 'lots'"), ("-1", "negative")):
        code, out, err = run("plan", "-A", str(sample_archive.root), "--budget", bad)
        err = " ".join(err.split())
        assert code == 1 and out == ""
        assert err.startswith("error: budget") and words in err


def test_plan_missing_archive(tmp_path: Path) -> None:
    code, _, err = run("plan", "-A", str(tmp_path / "nope"), "--budget", "1TB")
    assert code == 1 and "no such archive directory" in " ".join(err.split())


def test_exclude_commands(tiny_archive: Archive, tmp_path: Path) -> None:
    a = str(tiny_archive.root)
    assert run("exclude", "add", "-A", a, "--isrc", "USAAA0000002", "--reason", "dispute")[0] == 0
    csv = tmp_path / "x.csv"
    csv.write_text("track,4,request\nbogus,1,x\n", encoding="utf-8")
    code, out, err = run("exclude", "add", "-A", a, "--file", str(csv))
    assert code == 1 and "1 exclusion(s)" in out and "x.csv:2" in err
    code, out, _ = run("exclude", "list", "-A", a, "--json")
    assert {(e["kind"], e["value"]) for e in orjson.loads(out)} == {("isrc", "USAAA0000002"), ("track", "4")}
    run("plan", "-A", a)
    statuses = dict(tiny_archive.conn.execute("SELECT track_id, status FROM plan").fetchall())
    assert statuses[3] == statuses[4] == "excluded"
    assert run("exclude", "remove", "-A", a, "--kind", "track", "--value", "4")[0] == 0
    code, _, err = run("exclude", "remove", "-A", a, "--kind", "track", "--value", "4")
    assert code == 1 and "not in the list" in err
    code, _, err = run("exclude", "add", "-A", a, "--track", "3")
    assert code == 1 and "reason is required" in err


def _snapshot(root: Path) -> list[tuple[object, ...]]:
    archive = Archive.open(root)
    try:
        return [tuple(r) for r in archive.conn.execute("SELECT * FROM plan ORDER BY track_id")]
    finally:
        archive.close()


def test_kill_9_mid_plan_keeps_the_old_plan(tmp_path: Path) -> None:
    root = tmp_path / "big"
    archive = Archive.init(root)
    fill_sample_catalog(archive, 20_000, seed=3, features=0.0)
    archive.close()
    fresh = tmp_path / "fresh"
    shutil.copytree(root, fresh)     # the same catalog, for one clean run at the end
    cmd = [sys.executable, "-m", "phonotheque.cli.main", "plan", "--budget", "20GB"]
    subprocess.run([*cmd, "-A", str(root), "--policy", "reference"], check=True, capture_output=True)
    old = _snapshot(root)
    assert len(old) == 20_000
    interrupted = None
    for delay in (0.3, 0.9, 1.5, 2.1):
        proc = subprocess.Popen([*cmd, "-A", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        now = _snapshot(root)
        # either the old plan, untouched, or the complete new one — never a mix
        assert now == old or (len(now) == 20_000 and {r[2] for r in now} != {r[2] for r in old}), delay
        if now != old:
            interrupted = interrupted or now
            assert now == interrupted
    subprocess.run([*cmd, "-A", str(root)], check=True, capture_output=True)
    final = _snapshot(root)
    assert interrupted is None or final == interrupted
    subprocess.run([*cmd, "-A", str(fresh)], check=True, capture_output=True)
    assert _snapshot(fresh) == final
