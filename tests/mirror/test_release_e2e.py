"""End to end: a release made by `phonotheque package` verified by `phonotheque verify --release`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.cli.main import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release"))
release_fixtures = pytest.importorskip("release_fixtures")
package_mod = pytest.importorskip("phonotheque.release.package")


@pytest.fixture
def packaged(tmp_path: Path) -> Archive:
    archive = release_fixtures.new_archive(tmp_path / "archive")
    release_fixtures.build_sample(archive)
    package_mod.package(archive, release="r1", target_size="150kB")
    return archive


def test_the_seeding_tree_of_a_packaged_release_verifies(packaged: Archive, tmp_path: Path) -> None:
    rel = packaged.releases_dir / "r1"
    mirror = tmp_path / "mirror"
    shutil.copytree(rel / "data", mirror)
    r = CliRunner().invoke(cli, ["verify", str(mirror), "-A", str(packaged.root), "--release", "r1", "--json"])
    assert r.exit_code == 0, r.output
    rep = orjson.loads(r.stdout)
    doc = orjson.loads((rel / "torrents.json").read_bytes())
    assert rep["held"] == {"complete": len(doc["torrents"])} and rep["ok"]
    assert rep["files_ok"] == rep["files_total"] == sum(t["file_count"] for t in doc["torrents"])
    assert rep["listens_share"] == pytest.approx(1.0) and rep["extra"] == []

    # drop the most popular batch and damage a file of another: the mirror says exactly that
    audio = sorted((t for t in doc["torrents"] if t["kind"] == "audio"), key=lambda t: t["batch"])
    shutil.rmtree(mirror / audio[0]["name"])
    victim = next(p for p in sorted((mirror / audio[1]["name"]).rglob("*")) if p.is_file())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 1
    victim.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "phonotheque.cli.main", "verify", str(mirror), "-A",
                           str(packaged.root), "--release", "r1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "not held: 1 torrents" in proc.stdout and "corrupt: " + victim.relative_to(mirror).as_posix() in proc.stdout
    # listens kept, computed straight from the index rows: every track except those of the dropped batch
    # and those served by the damaged file
    import pyarrow.parquet as pq

    rows = pq.read_table(rel / "index" / "files.parquet").to_pylist()
    listens = {row["track_id"]: row["listens"] for row in rows}
    lost = {row["track_id"] for row in rows if row["torrent"] == audio[0]["name"] or (
        row["torrent"] == audio[1]["name"] and f"{row['torrent']}/{row['path']}" == victim.relative_to(mirror).as_posix())}
    share = sum(v for k, v in listens.items() if k not in lost) / sum(listens.values())
    assert f"{100 * share:.2f} % of the release's listens" in proc.stdout
