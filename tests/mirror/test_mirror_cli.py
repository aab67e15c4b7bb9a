"""`phonotheque verify` as a user runs it: summary, --json, exit status, flag errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from click.testing import CliRunner
from mirror_kit import BuiltRelease

from phonotheque.cli.main import cli


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, " ".join(r.stderr.split())


def test_verify_summary_and_json_agree(release: BuiltRelease) -> None:
    code, out, _ = invoke("verify", str(release.mirror_dir), "--torrent-list", str(release.torrent_list))
    assert code == 0
    assert "4 complete" in out and "100.00 % of the release's listens" in out
    assert out.strip().splitlines()[-1] == "result: everything present is intact"
    code, out, _ = invoke("verify", str(release.mirror_dir), "--torrent-list", str(release.torrent_list), "--json",
                          "--quick", "--workers", "1")
    doc = orjson.loads(out)
    assert code == 0 and doc["ok"] and doc["mode"] == "quick" and doc["files_ok"] == 24


def test_torrents_json_inside_the_mirror_is_used_and_not_extra(release: BuiltRelease) -> None:
    import shutil

    shutil.copytree(release.release_dir, release.mirror_dir, dirs_exist_ok=True)
    code, out, _ = invoke("verify", str(release.mirror_dir), "--json")
    doc = orjson.loads(out)
    assert code == 0 and doc["extra"] == [] and doc["files_ok"] == 24


def test_flag_errors_are_one_line(release: BuiltRelease, tmp_path: Path) -> None:
    code, _, err = invoke("verify", str(release.mirror_dir))
    assert code == 1 and "give --release NAME or --torrent-list" in err
    code, _, err = invoke("verify", str(release.mirror_dir), "--torrent-list", str(tmp_path / "nope.json"))
    assert code == 1 and "no such torrent list" in err
    code, _, err = invoke("verify", str(release.mirror_dir), "--release", "r1", "--torrent-list",
                          str(release.torrent_list))
    assert code == 1 and "not both" in err
    code, _, err = invoke("verify", str(tmp_path / "absent"), "--torrent-list", str(release.torrent_list))
    assert code == 1 and "no such mirror directory" in err
    code, _, err = invoke("verify", str(release.mirror_dir), "-A", str(tmp_path), "--release", "r1")
    assert code == 1 and "not a phonotheque archive" in err


def test_installed_command_exit_status(release: BuiltRelease) -> None:
    victim = next(p for p in sorted(release.mirror_dir.rglob("*.ogg")) if p.stat().st_size > 1000)
    victim.write_bytes(victim.read_bytes()[::-1])
    exe = Path(sys.executable).with_name("phonotheque")
    r = subprocess.run([str(exe), "verify", str(release.mirror_dir), "--torrent-list", str(release.torrent_list)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "result: 1 file(s) present but not intact" in r.stdout
    assert "corrupt: " in r.stdout and "Traceback" not in r.stderr
