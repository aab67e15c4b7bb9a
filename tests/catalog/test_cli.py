"""The init / import / export commands through click (in-process) and the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from click.testing import CliRunner

from phonotheque.catalog.remainder import same
from phonotheque.cli.main import cli

ENV = {**os.environ, "COLUMNS": "1000"}  # rich wraps stderr at 80 columns when it is not a terminal

DATA = Path(__file__).resolve().parent.parent / "data"
RELEASES = DATA / "musicbrainz" / "releases.jsonl"
BROKEN = DATA / "import" / "broken.jsonl"


def test_init_is_idempotent_and_validates_settings(tmp_path: Path) -> None:
    r = CliRunner()
    d = tmp_path / "a"
    res = r.invoke(cli, ["init", str(d), "--set", "catalog.batch_size=123", "--set", "archive.name=Test Archive"])
    assert res.exit_code == 0, res.output
    toml = (d / "archive.toml").read_text(encoding="utf-8")
    assert "batch_size = 123" in toml and 'name = "Test Archive"' in toml
    assert (d / "catalog.sqlite").exists()
    again = r.invoke(cli, ["init", str(d), "--json"])
    assert again.exit_code == 0 and orjson.loads(again.stdout)["created"] is False
    assert (d / "archive.toml").read_text(encoding="utf-8") == toml
    bad = r.invoke(cli, ["init", str(tmp_path / "b"), "--set", "catalog.batch_size=many"])
    assert bad.exit_code != 0 and "catalog.batch_size" in bad.output
    bad = r.invoke(cli, ["init", str(tmp_path / "c"), "--set", "nope.x=1"])
    assert bad.exit_code != 0 and "unknown setting" in bad.output
    env = r.invoke(cli, ["init"], env={"PHONOTHEQUE_ARCHIVE": str(tmp_path / "env")})
    assert env.exit_code == 0 and (tmp_path / "env" / "catalog.sqlite").exists()


def test_import_and_export_source(tmp_path: Path) -> None:
    r = CliRunner()
    d = tmp_path / "a"
    assert r.invoke(cli, ["init", str(d)]).exit_code == 0
    res = r.invoke(cli, ["import", "-A", str(d), str(RELEASES), "--format", "musicbrainz", "--json"])
    assert res.exit_code == 0, res.output
    info = orjson.loads(res.stdout)
    assert info["inserted"] == 30 and info["tracks"] == 453
    out = r.invoke(cli, ["export", "-A", str(d), "--format", "source", "--out", str(tmp_path / "out")])
    assert out.exit_code == 0 and "30 records" in out.output
    lines = (tmp_path / "out" / "releases.jsonl").read_bytes().splitlines()
    originals = RELEASES.read_bytes().splitlines()
    assert all(same(orjson.loads(a), orjson.loads(b)) for a, b in zip(lines, originals, strict=True))


def test_rejects_exit_status_and_errors(tmp_path: Path) -> None:
    d = tmp_path / "a"
    exe = Path(sys.executable).parent / "phonotheque"
    subprocess.run([str(exe), "init", str(d)], check=True, capture_output=True)
    ok = subprocess.run([str(exe), "-h"], capture_output=True, text=True, env=ENV)
    assert ok.returncode == 0
    run = subprocess.run([str(exe), "import", "-A", str(d), str(BROKEN), "--format", "jsonl"],
                         capture_output=True, text=True, env=ENV)
    assert run.returncode == 0
    assert "10 rejected" in run.stdout + run.stderr and "import-broken.tsv" in run.stderr
    strict = subprocess.run([str(exe), "import", "-A", str(d), str(BROKEN), "--format", "jsonl", "--strict"],
                            capture_output=True, text=True, env=ENV)
    assert strict.returncode == 3 and "error:" in strict.stderr and "Traceback" not in strict.stderr
    missing = subprocess.run([str(exe), "import", "-A", str(d), str(tmp_path / "nope.jsonl"), "--format", "jsonl"],
                             capture_output=True, text=True, env=ENV)
    assert missing.returncode == 1 and "nope.jsonl: no such file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    noarch = subprocess.run([str(exe), "import", "-A", str(tmp_path / "none"), str(BROKEN), "--format", "jsonl"],
                            capture_output=True, text=True, env=ENV)
    assert noarch.returncode == 1 and "no such archive" in " ".join(noarch.stderr.split())


def test_import_bulk_flag_gives_the_same_catalog_and_restores_indexes(tmp_path: Path) -> None:
    import sqlite3

    r = CliRunner()
    stats = {}
    for mode in ("--bulk", "--no-bulk"):
        d = tmp_path / mode.strip("-")
        assert r.invoke(cli, ["init", str(d)]).exit_code == 0
        res = r.invoke(cli, ["import", str(RELEASES), "-A", str(d), "--format", "musicbrainz", mode, "--json"])
        assert res.exit_code == 0, res.output
        assert orjson.loads(res.stdout)["bulk"] is (mode == "--bulk")
        stats[mode] = r.invoke(cli, ["stats", "-A", str(d), "--json"]).stdout
        conn = sqlite3.connect(d / "catalog.sqlite")
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        pending = conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'bulk_dropped:%'").fetchone()[0]
        conn.close()
        assert pending == 0 and "tracks_popularity" in indexes
    assert orjson.loads(stats["--bulk"]) == orjson.loads(stats["--no-bulk"])
