"""kill -9 in the middle of an import, then the same command: the catalog equals an uninterrupted import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from catalog_state import lines_done, snapshot

from phonotheque.catalog.synth import write_jsonl

BIN = Path(sys.executable).parent / "phonotheque"
BROKEN = Path(__file__).resolve().parent.parent / "data" / "import" / "broken.jsonl"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300)


def test_kill_9_then_resume_equals_clean_import(tmp_path: Path) -> None:
    src = tmp_path / "lib.jsonl"
    write_jsonl(src, 6000, seed=3)
    lines = src.read_bytes().splitlines(keepends=True)
    broken = BROKEN.read_bytes().splitlines(keepends=True)
    src.write_bytes(b"".join(lines[:3000] + broken + lines[3000:]))  # bad lines in the middle

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for d in (clean, killed):
        assert _run("init", str(d), "--set", "catalog.batch_size=200").returncode == 0
    ok = _run("import", "-A", str(clean), str(src), "--format", "jsonl")
    assert ok.returncode == 0, ok.stderr

    proc = subprocess.Popen([str(BIN), "import", "-A", str(killed), str(src), "--format", "jsonl"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while lines_done(killed / "catalog.sqlite") < 1000 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = lines_done(killed / "catalog.sqlite")
    assert 0 < partial < len(lines)

    again = _run("import", "-A", str(killed), str(src), "--format", "jsonl", "--json")
    assert again.returncode == 0, again.stderr
    assert f'"resumed_from_line": {partial}' in again.stdout
    assert snapshot(clean / "catalog.sqlite") == snapshot(killed / "catalog.sqlite")

    # and a third run over the finished import changes nothing
    third = _run("import", "-A", str(killed), str(src), "--format", "jsonl", "--strict")
    assert third.returncode == 3  # --strict: the broken lines are still rejected
    assert "rejected" in third.stderr
    assert snapshot(clean / "catalog.sqlite") == snapshot(killed / "catalog.sqlite")
