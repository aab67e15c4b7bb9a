"""seedplan: value = listens × scarcity, greedy knapsack under the disk size, with a stated bound."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from mirror_kit import BuiltRelease

from phonotheque.cli.main import cli
from phonotheque.errors import BudgetError, MirrorError
from phonotheque.mirror.seedplan import load_swarm, seedplan

TB = 10**12


def write_list(path: Path, torrents: list[dict]) -> Path:
    entries = []
    for i, t in enumerate(torrents):
        entries.append({
            "name": t.get("name", f"batch{i + 1:03d}"), "kind": t.get("kind", "audio"), "batch": t.get("batch", i + 1),
            "torrent": f"torrents/batch{i + 1:03d}.torrent", "infohash_v1": f"{i + 1:040x}",
            "infohash_v2": f"{i + 1:064x}", "magnet": "", "size": t["size"], "padded_size": t["size"],
            "file_count": 1, "piece_size": 1 << 24, "popularity_min": 0, "popularity_max": 100,
            "listens": t.get("listens", 0.0), "listens_share": 0.0, "created": "", "published": t.get("published", True),
            **({"content": t["content"]} if "content" in t else {}),
        })
    path.write_bytes(orjson.dumps({"format": "phonotheque-torrent-list", "version": 1, "archive": "a",
                                   "release": "r", "torrents": entries}))
    return path


def test_without_swarm_data_it_maximises_listens_per_byte(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [
        {"size": 2 * TB, "listens": 500.0}, {"size": 1 * TB, "listens": 300.0}, {"size": 1 * TB, "listens": 200.0},
        {"size": 3 * TB, "listens": 0.0},
    ])
    plan = seedplan(tl, disk="4TB")
    assert [p.name for p in plan.picks] == ["batch002", "batch001", "batch003"]
    assert plan.used == 4 * TB and plan.listens_share == pytest.approx(1.0)
    assert plan.picks[0].explanation == "#1 batch 2: 30.0 % of listens, no swarm data, 1.0 TB"


def test_a_scarce_torrent_beats_a_popular_well_seeded_one(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [{"size": TB, "listens": 300.0}, {"size": TB, "listens": 100.0}])
    swarm = tmp_path / "swarm.json"
    # 0.3 × 0.5**10 ≈ 0.0003 < 0.1 × 0.5**0: the rare one preserves more expected listens
    swarm.write_bytes(orjson.dumps({f"{1:040x}": {"seeders": 10, "leechers": 4}, f"{2:064x}": {"seeders": 0}}))
    plan = seedplan(tl, disk="1.5TB", swarm=swarm)
    assert [p.name for p in plan.picks] == ["batch002"]
    assert plan.picks[0].explanation == "#1 batch 2: 25.0 % of listens, 0 seeders, 1.0 TB"
    # with one seeder on the popular one it wins again: 0.75 × 0.5 > 0.25 × 1
    swarm.write_bytes(orjson.dumps([{"infohash": f"{1:040x}", "complete": 1, "incomplete": 0},
                                    {"infohash": f"{2:040x}", "complete": 0}]))
    assert [p.name for p in seedplan(tl, disk="1.5TB", swarm=swarm).picks] == ["batch001"]


def test_torrents_missing_from_swarm_data_count_as_unseeded(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [{"size": TB, "listens": 1.0}])
    swarm = tmp_path / "swarm.json"
    swarm.write_text("{}")
    plan = seedplan(tl, disk="2TB", swarm=swarm)
    assert plan.picks[0].seeders == 0 and "not in swarm data" in plan.picks[0].explanation


@pytest.mark.parametrize("doc,message", [
    ("nope", "not valid JSON"),
    ('{"ab": {"leechers": 1}}', "no 'seeders'"),
    ('{"ab": {"seeders": -1}}', "non-negative integer"),
    ('[{"seeders": 1}]', "no 'infohash'"),
    ('[{"infohash": "AB", "seeders": 1}, {"infohash": "ab", "seeders": 2}]', "twice"),
    ("42", "must be an object"),
])
def test_bad_swarm_files_are_named_errors(tmp_path: Path, doc: str, message: str) -> None:
    p = tmp_path / "swarm.json"
    p.write_text(doc)
    with pytest.raises(MirrorError, match=message):
        load_swarm(p)


def test_metadata_first_and_unpublished_left_out(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [
        {"size": TB, "listens": 10.0}, {"size": 10**9, "kind": "metadata", "name": "catalog"},
        {"size": TB, "listens": 90.0, "published": False},
    ])
    plan = seedplan(tl, disk="1.1TB")
    assert [p.name for p in plan.picks] == ["catalog", "batch001"]
    assert "metadata" in plan.picks[0].explanation
    assert any("unpublished" in w for w in plan.warnings)


def test_patches_ride_along_with_their_own_batch_only(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [
        {"size": TB, "listens": 90.0, "batch": 1},
        {"size": 10**6, "kind": "metadata", "content": "patches", "name": "patches-1", "batch": 1},
        {"size": TB, "listens": 10.0, "batch": 2},
        {"size": 10**6, "kind": "metadata", "content": "patches", "name": "patches-2", "batch": 2},
    ])
    plan = seedplan(tl, disk="1.5TB")
    names = [p.name for p in plan.picks]
    # patches for a batch the volunteer does not hold would restore nothing: never picked
    assert "batch001" in names and "patches-1" in names
    assert "batch003" not in names and "patches-2" not in names


def test_bad_disk_size_is_a_budget_error(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [{"size": TB, "listens": 1.0}])
    with pytest.raises(BudgetError, match="--disk"):
        seedplan(tl, disk="four terabytes")
    with pytest.raises(BudgetError):
        seedplan(tl, disk="0")


def _optimum(sizes: list[int], values: list[float], cap: int) -> float:
    best = 0.0
    for r in range(len(sizes) + 1):
        for combo in itertools.combinations(range(len(sizes)), r):
            if sum(sizes[i] for i in combo) <= cap:
                best = max(best, sum(values[i] for i in combo))
    return best


@settings(max_examples=80, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(1, 100), st.integers(0, 1000), st.integers(0, 6)), min_size=1, max_size=9),
    cap=st.integers(1, 400),
)
def test_greedy_is_within_its_stated_bound_of_the_true_optimum(tmp_path_factory: pytest.TempPathFactory,
                                                                items: list[tuple[int, int, int]], cap: int) -> None:
    d = tmp_path_factory.mktemp("knap")
    tl = write_list(d / "t.json", [{"size": s, "listens": float(v)} for s, v, _ in items])
    swarm = d / "swarm.json"
    swarm.write_bytes(orjson.dumps({f"{i + 1:040x}": {"seeders": k, "leechers": 0} for i, (_, _, k) in enumerate(items)}))
    plan = seedplan(tl, disk=cap, swarm=swarm)
    total = sum(v for _, v, _ in items)
    values = [(v / total if total else 0.0) * 0.5**k for _, v, k in items]
    opt = _optimum([s for s, _, _ in items], values, cap)
    assert plan.used <= cap
    assert plan.value == pytest.approx(sum(values[int(p.name[5:]) - 1] for p in plan.picks))
    assert plan.value <= opt + 1e-12 <= plan.upper_bound + 1e-9
    assert plan.value >= opt / 2 - 1e-12  # greedy vs best single item: never worse than half
    assert plan.value >= plan.bound * plan.upper_bound - 1e-9


def test_have_counts_held_torrents_as_chosen_without_download(release: BuiltRelease) -> None:
    import shutil

    for s in release.specs[1:]:
        shutil.rmtree(release.mirror_dir / s.name)
    plan = seedplan(release.torrent_list, disk="400kB", have=release.mirror_dir)
    held = [p for p in plan.picks if p.held == "complete"]
    assert [p.name for p in held] == [release.specs[0].name] and held[0].download == 0
    assert "already held" in held[0].explanation
    assert plan.download == sum(p.size for p in plan.picks if p.held == "no")


def test_cli_seedplan_text_and_json(tmp_path: Path) -> None:
    tl = write_list(tmp_path / "t.json", [{"size": 412 * 10**9, "listens": 41.0}, {"size": TB, "listens": 59.0}])
    swarm = tmp_path / "swarm.json"
    swarm.write_bytes(orjson.dumps({f"{1:040x}": {"seeders": 2, "leechers": 1}, f"{2:040x}": {"seeders": 0}}))
    r = CliRunner().invoke(cli, ["seedplan", "--disk", "500GB", "--torrent-list", str(tl), "--swarm", str(swarm)])
    assert r.exit_code == 0, r.output
    assert "#1 batch 1: 41.0 % of listens, 2 seeders, 1 leecher, 412.0 GB" in r.stdout
    r = CliRunner().invoke(cli, ["seedplan", "--disk", "2TB", "--torrent-list", str(tl), "--json"])
    doc = orjson.loads(r.stdout)
    assert [p["name"] for p in doc["picks"]] == ["batch001", "batch002"] and doc["bound"] == pytest.approx(1.0)
    r = CliRunner().invoke(cli, ["seedplan", "--disk", "2TB"])
    assert r.exit_code == 1 and "no torrent list" in r.stderr
