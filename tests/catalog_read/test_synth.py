from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from phonotheque.catalog import synth


@pytest.mark.parametrize("n", [50_000, 200_000])
def test_skew_properties(n: int) -> None:
    c = synth.columns(n, seed=3)
    listens = c["listens"]
    assert len(listens) == n and (listens >= 0).all()
    assert (listens < 1000).mean() >= 0.70  # most tracks have almost no listens
    top = np.sort(listens)[::-1][: n // 1000]
    assert top.sum() / listens.sum() > 0.5  # 0.1 % of tracks draw most listens
    # Zipf-like head: log listens fall roughly linearly with log rank
    ranked = np.sort(listens)[::-1][:1000].astype(float)
    slope = np.polyfit(np.log(np.arange(1, 1001)), np.log(ranked + 1), 1)[0]
    assert -2.0 < slope < -0.7
    sizes = np.bincount(c["isrc_group"])
    sizes = sizes[sizes > 0]
    assert (sizes >= 2).any() and sizes.max() <= 20 and ((sizes >= 2) & (sizes <= 20)).sum() > n * 0.005
    per_album = np.bincount(c["album"])
    assert (per_album == 1).mean() > 0.5  # most albums are singles
    assert c["popularity"].min() >= 0 and c["popularity"].max() <= 100
    assert (c["popularity"] == 0).mean() > 0.5
    # popularity follows listens
    pop = c["popularity"].astype(int)
    medians = [
        np.median(listens[(pop >= lo) & (pop <= hi)]) for lo, hi in ((0, 0), (1, 20), (21, 40), (41, 100))
    ]
    assert medians == sorted(medians) and medians[0] < 1000 < medians[-1]


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    a, b, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    synth.write_jsonl(a, 3000, seed=7)
    synth.write_jsonl(b, 3000, seed=7)
    synth.write_jsonl(other, 3000, seed=8)
    assert a.read_bytes() == b.read_bytes() != other.read_bytes()
    for key, arr in synth.columns(3000, 7).items():
        assert np.array_equal(arr, synth.columns(3000, 7)[key])


def test_jsonl_shape_and_unicode(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    info = synth.write_jsonl(path, 5000, seed=1)
    lines = path.read_bytes().splitlines()
    assert len(lines) == info["tracks"] == 5000
    objs = [orjson.loads(x) for x in lines]
    isrc = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")
    for o in objs[:500]:
        assert set(o) >= {
            "id",
            "name",
            "artists",
            "album",
            "external_ids",
            "popularity",
            "duration_ms",
            "explicit",
            "disc_number",
            "track_number",
            "available_markets",
        }
        assert isrc.match(o["external_ids"]["isrc"])
        assert o["album"]["release_date_precision"] in ("year", "month", "day")
        assert (
            len(o["album"]["release_date"])
            == {"year": 4, "month": 7, "day": 10}[o["album"]["release_date_precision"]]
        )
        assert re.fullmatch(r"\d{12}", o["album"]["external_ids"]["upc"])
        assert 0 <= o["popularity"] <= 100 and o["duration_ms"] > 0
    text = " ".join(o["name"] + " " + o["artists"][0]["name"] for o in objs)
    for script in (
        r"[\u00c0-\u017f]",
        r"[\u3040-\u30ff\u4e00-\u9fff]",
        r"[\u0400-\u04ff]",
        r"[\u0600-\u06ff]",
        r"[\U0001f300-\U0001faff]",
    ):
        assert re.search(script, text), script
    isrcs = [o["external_ids"]["isrc"] for o in objs]
    assert len(set(isrcs)) == info["isrcs"] < len(isrcs)  # some tracks share an ISRC
    # tracks sharing an ISRC share a title and a duration (the same recording)
    first: dict[str, tuple[str, int]] = {}
    for o in objs:
        key = o["external_ids"]["isrc"]
        assert first.setdefault(key, (o["name"], o["duration_ms"])) == (o["name"], o["duration_ms"])
    assert len({o["id"] for o in objs}) == 5000
