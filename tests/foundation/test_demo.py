"""`make demo` runs `phonotheque demo`: the whole pipeline on the bundled sample must work end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def test_demo_runs_every_stage_and_a_second_run_does_no_work_twice(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "phonotheque.cli.main", "demo", "--out", str(out), "--json"]
    first = subprocess.run(cmd, capture_output=True, timeout=600)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    r = orjson.loads(first.stdout)
    # catalog: the real MusicBrainz sample, the synthetic catalog and the sample's own catalog
    assert [i["inserted"] for i in r["import"]] == [30, 20000, 3]
    # ingest: every sample file is either stored or quarantined with a reason (the tracker module)
    assert r["ingest"]["stored"] + r["ingest"]["quarantined"] == r["ingest"]["files"] == 7
    assert any(e["path"].endswith(".mod") for e in r["ingest"]["errors"])
    # the plan keeps originals and re-encodes the tail; the optimal policy does at least as well
    assert r["plan"]["tiers"]["original"]["files"] > 0 and r["plan"]["tiers"]["reencode"]["files"] > 0
    cmp = r["plan"]["compare"]
    assert cmp["other"]["weighted_listens"] >= r["plan"]["weighted_listens"]
    assert r["transcode"]["succeeded"] >= 1 and r["transcode"]["failed"] == 0
    # the release verifies as a mirror and the report exists
    assert r["verify"]["files_ok"] == r["verify"]["files_total"] > 0
    assert Path(r["report"]).stat().st_size > 10_000
    torrents = orjson.loads((out / "releases" / "demo" / "torrents.json").read_bytes())["torrents"]
    assert all(t["published"] for t in torrents)

    again = subprocess.run(cmd, capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    r2 = orjson.loads(again.stdout)
    assert [i["inserted"] for i in r2["import"]] == [0, 0, 0]
    assert r2["ingest"]["stored"] == 0
    assert r2["transcode"]["succeeded"] == 0
    torrents2 = orjson.loads((out / "releases" / "demo" / "torrents.json").read_bytes())["torrents"]
    assert [t["infohash_v2"] for t in torrents2] == [t["infohash_v2"] for t in torrents]
