"""The commands are thin adapters: flags reach the library, errors become one line and a status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.cli.main import cli
from phonotheque.release.bencode import decode


def test_package_publish_list(sample_archive: Archive) -> None:
    runner = CliRunner()
    root = str(sample_archive.root)
    res = runner.invoke(cli, ["package", "-A", root, "--release", "r", "--target-size", "150KB", "--version", "v2",
                              "--trackers", "udp://a.example:1/announce", "--trackers", "udp://b.example:2/announce",
                              "--web-seeds", "https://seed.example/r/", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["version"] == "v2" and data["tracks_packaged"] == 11 and data["tracks_pending"] == 1
    assert all(t["infohash_v1"] is None and len(t["infohash_v2"]) == 64 for t in data["torrents"])
    meta = decode((sample_archive.releases_dir / "r" / "torrents" / "r-audio-0001.torrent").read_bytes())
    assert meta[b"announce-list"] == [[b"udp://a.example:1/announce"], [b"udp://b.example:2/announce"]]
    assert meta[b"url-list"] == [b"https://seed.example/r/"]

    res = runner.invoke(cli, ["release", "list", "-A", root])
    assert res.exit_code == 0 and "r-audio-0001" in res.stdout and "not published" in res.stdout
    res = runner.invoke(cli, ["release", "publish", "-A", root, "r"])
    assert res.exit_code == 0 and "published 5 torrent(s)" in res.stdout
    res = runner.invoke(cli, ["release", "list", "-A", root, "--release", "r", "--json"])
    assert all(t["published"] for t in json.loads(res.stdout)[0]["torrents"])
    res = runner.invoke(cli, ["package", "-A", root, "--release", "r", "--target-size", "150KB"])
    assert res.exit_code == 0 and "nothing new to package" in res.stdout


def test_errors_are_one_line_with_a_status(tmp_path: Path, sample_archive: Archive) -> None:
    runner = CliRunner()
    root = str(sample_archive.root)
    res = runner.invoke(cli, ["package", "-A", root, "--release", "r", "--target-size", "12 parsecs"])
    assert res.exit_code == 1 and "error: target size" in res.output
    res = runner.invoke(cli, ["release", "publish", "-A", root, "nope"])
    assert res.exit_code == 1 and "error: release nope: no such release" in res.output
    res = runner.invoke(cli, ["package", "-A", root, "--release", "r", "--trackers", "gopher://x"])
    assert res.exit_code == 1 and "error: tracker 'gopher://x'" in res.output
    empty = Archive.init(tmp_path / "empty")
    res = runner.invoke(cli, ["package", "-A", str(empty.root), "--release", "r"])
    assert res.exit_code == 1 and res.output.startswith("error: the plan is empty")


def test_the_installed_command_runs(sample_archive: Archive) -> None:
    exe = Path(sys.executable).with_name("phonotheque")
    proc = subprocess.run([str(exe), "package", "-A", str(sample_archive.root), "--release", "cli-r"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "release cli-r: 1 audio torrent(s), 11 track(s)" in proc.stdout
