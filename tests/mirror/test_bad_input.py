"""Bad input gives clear errors or per-file findings, never a traceback, and verify modifies nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from mirror_kit import BuiltRelease, TorrentSpec, build_release, tree_state

from phonotheque.cli.main import cli
from phonotheque.errors import MirrorError
from phonotheque.mirror.verify import verify

MIXED = {
    "Artist One/First Album/01 Opening Song.ogg": os.urandom(150_000),
    "Artist One/First Album/02 Second Song.ogg": os.urandom(70_000),
    "Artist Two/Live/Encore.FLAC": os.urandom(20_000),
    "README.txt": b"hello",
}


def run_cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, " ".join(r.stderr.split())  # rich wraps at the console width


@pytest.fixture
def mixed(tmp_path: Path) -> BuiltRelease:
    return build_release(tmp_path, [TorrentSpec("Batch-One", dict(MIXED), listens={p: 10.0 for p in MIXED}),
                                    TorrentSpec("Batch-Two", {"Solo/Track A.ogg": os.urandom(90_000)}, batch=2,
                                                listens={"Solo/Track A.ogg": 3.0})])


def test_mirror_dir_that_is_a_file(mixed: BuiltRelease, tmp_path: Path) -> None:
    not_dir = tmp_path / "mirror.img"
    not_dir.write_bytes(b"x")
    with pytest.raises(MirrorError, match="is a file, not a mirror directory"):
        verify(not_dir, torrent_list=mixed.torrent_list)
    code, out, err = run_cli("verify", str(not_dir), "--torrent-list", str(mixed.torrent_list))
    assert code == 1 and out == "" and err.startswith("error: ") and "Traceback" not in err
    assert err.count("error:") == 1  # one message (rich may wrap it at the console width)


@pytest.mark.parametrize("content,message", [
    (b"{oops", "not valid JSON"),
    (b"[]", "not a phonotheque torrent list"),
    (b'{"format": "phonotheque-torrent-list", "version": 9, "torrents": []}', "version 9 is not supported"),
])
def test_torrent_list_that_does_not_parse(mixed: BuiltRelease, tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "torrents.json"
    bad.write_bytes(content)
    code, out, err = run_cli("verify", str(mixed.mirror_dir), "--torrent-list", str(bad))
    assert code == 1 and message in err and "Traceback" not in err


def test_torrent_list_listing_a_torrent_twice(mixed: BuiltRelease) -> None:
    doc = orjson.loads(mixed.torrent_list.read_bytes())
    doc["torrents"].append(dict(doc["torrents"][0]))
    mixed.torrent_list.write_bytes(orjson.dumps(doc))
    code, _, err = run_cli("verify", str(mixed.mirror_dir), "--torrent-list", str(mixed.torrent_list))
    assert code == 1 and "lists torrent 'Batch-One' twice" in err


def test_missing_torrent_file_without_index_is_unverifiable(tmp_path: Path) -> None:
    rel = build_release(tmp_path, [TorrentSpec("A", {"a.ogg": b"1" * 100}), TorrentSpec("B", {"b.ogg": b"2" * 9})],
                        with_index=False)
    (rel.release_dir / "torrents" / "A.torrent").unlink()
    rep = verify(rel.mirror_dir, torrent_list=rel.torrent_list)
    states = {t.name: t.state for t in rep.torrents}
    assert states == {"A": "unverifiable", "B": "complete"}
    assert "A/a.ogg" in rep.extra  # held but nothing to check it against: reported, not trusted


def test_unreadable_entries_are_findings_and_nothing_is_modified(mixed: BuiltRelease) -> None:
    m = mixed.mirror_dir / "Batch-One"
    fifo = m / "Artist One/First Album/02 Second Song.ogg"
    fifo.unlink()
    os.mkfifo(fifo)
    as_dir = m / "Artist Two/Live/Encore.FLAC"
    as_dir.unlink()
    as_dir.mkdir()
    (as_dir / "inside.bin").write_bytes(b"zz")
    link = mixed.mirror_dir / "Batch-Two/Solo/Track A.ogg"
    link.unlink()
    link.symlink_to("/nonexistent/target")
    before = tree_state(mixed.mirror_dir)
    started = time.monotonic()
    code, out, err = run_cli("verify", str(mixed.mirror_dir), "--torrent-list", str(mixed.torrent_list), "--json")
    assert time.monotonic() - started < 30  # a FIFO never blocks the run
    assert code == 1 and "Traceback" not in err
    rep = orjson.loads(out)
    found = {p["mirror_path"]: p for t in rep["torrents"] for p in t["problems"]}
    assert found["Batch-One/Artist One/First Album/02 Second Song.ogg"]["status"] == "unreadable"
    assert "FIFO" in found["Batch-One/Artist One/First Album/02 Second Song.ogg"]["reason"]
    assert "directory" in found["Batch-One/Artist Two/Live/Encore.FLAC"]["reason"]
    assert "broken symbolic link" in found["Batch-Two/Solo/Track A.ogg"]["reason"]
    assert rep["files_ok"] == 2 and "Batch-One/Artist Two/Live/Encore.FLAC/inside.bin" in rep["extra"]
    assert tree_state(mixed.mirror_dir) == before


def test_case_insensitive_copy_with_all_names_lowercased(mixed: BuiltRelease, tmp_path: Path) -> None:
    lower = tmp_path / "usbstick"
    for src in sorted(mixed.mirror_dir.rglob("*")):
        if src.is_file():
            dst = lower / src.relative_to(mixed.mirror_dir).as_posix().lower()
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    before = tree_state(lower)
    code, out, err = run_cli("verify", str(lower), "--torrent-list", str(mixed.torrent_list), "--json")
    rep = orjson.loads(out)
    assert code == 0 and rep["ok"]
    assert rep["files_ok"] == rep["files_total"] == 5 and rep["extra"] == []
    renamed = [p for t in rep["torrents"] for p in t["problems"]]
    assert len(renamed) == 5 and {p["renamed"] for p in renamed} == {"case"}
    assert tree_state(lower) == before
    _, text, _ = run_cli("verify", str(lower), "--torrent-list", str(mixed.torrent_list))
    assert "renamed, case" in text


@pytest.fixture
def world_readable(tmp_path: Path) -> Iterator[Path]:
    """A directory a non-root user can traverse (pytest's tmp dirs are private to root)."""
    d = Path(tempfile.mkdtemp(prefix="phonotheque-mirror-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_permission_denied_as_a_normal_user(world_readable: Path) -> None:
    rel = build_release(world_readable, [TorrentSpec("T", {"a.ogg": os.urandom(80_000), "b.ogg": os.urandom(5),
                                                           "locked/c.ogg": os.urandom(30)})])
    for p in [world_readable, *world_readable.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (rel.mirror_dir / "T" / "a.ogg").chmod(0o000)
    (rel.mirror_dir / "T" / "locked").chmod(0o000)
    before = tree_state(rel.mirror_dir)
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
           "phonotheque.cli.main", "verify", str(rel.mirror_dir), "--torrent-list", str(rel.torrent_list), "--json",
           "--workers", "1"]  # this venv's interpreter lives under /root: nobody cannot start worker processes
    r = subprocess.run(cmd, capture_output=True, timeout=120, env={**os.environ, "HOME": "/tmp"})
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    rep = orjson.loads(r.stdout)
    found = {p["mirror_path"]: p for t in rep["torrents"] for p in t["problems"]}
    assert found["T/a.ogg"]["status"] == "unreadable" and "Permission denied" in found["T/a.ogg"]["reason"]
    assert found["T/locked/c.ogg"]["status"] == "unreadable" and "cannot be listed" in found["T/locked/c.ogg"]["reason"]
    assert rep["files_ok"] == 1 and any("T/locked: cannot list directory" in w for w in rep["warnings"])
    assert tree_state(rel.mirror_dir) == before
    (rel.mirror_dir / "T" / "locked").chmod(0o755)  # so the fixture can clean up


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def test_kill_9_mid_run_then_rerun_gives_the_clean_result(tmp_path: Path) -> None:
    files = {f"f{i:02d}.bin": os.urandom(8_000_000) for i in range(12)}
    rel = build_release(tmp_path, [TorrentSpec("Big", files, listens={p: 1.0 for p in files})], piece_size=1 << 20)
    (rel.mirror_dir / "Big" / "f03.bin").write_bytes(os.urandom(8_000_000))
    cmd = [sys.executable, "-m", "phonotheque.cli.main", "verify", str(rel.mirror_dir), "--torrent-list",
           str(rel.torrent_list), "--json", "--workers", "2"]
    before = tree_state(rel.mirror_dir)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _children(proc.pid) and time.monotonic() < deadline:  # the worker pool is up: hashing begins
        time.sleep(0.005)
    assert proc.poll() is None, "verify finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    again = subprocess.run(cmd, capture_output=True, timeout=120)
    clean = verify(rel.mirror_dir, torrent_list=rel.torrent_list, workers=2)
    a, b = orjson.loads(again.stdout), orjson.loads(orjson.dumps(clean.to_dict()))
    a.pop("seconds")
    b.pop("seconds")
    assert again.returncode == clean.exit_code == 1 and a == b
    assert a["files_ok"] == 11
    assert tree_state(rel.mirror_dir) == before
