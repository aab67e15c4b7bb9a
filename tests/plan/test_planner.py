"""plan(archive, ...) on real SQLite catalogs: the stored plan, exclusions, budgets, warnings."""

from __future__ import annotations

import sqlite3

import pytest

from phonotheque.archive import Archive
from phonotheque.errors import BudgetError, PlanError
from phonotheque.plan.exclusions import ExclusionError, exclude_add, exclude_list, exclude_remove
from phonotheque.plan.planner import last_run, plan


def rows(archive: Archive) -> dict[int, sqlite3.Row]:
    return {r["track_id"]: r for r in archive.conn.execute("SELECT * FROM plan ORDER BY track_id")}


def test_reference_plan_by_hand(tiny_archive: Archive) -> None:
    s = plan(tiny_archive, budget=None, policy="reference")
    p = rows(tiny_archive)
    assert {t: p[t]["status"] for t in p} == {
        1: "planned_original", 2: "skipped_isrc_has_copy", 3: "skipped_low_priority",
        4: "planned_reencode", 5: "skipped_low_priority", 6: "planned_original",
    }
    assert [p[t]["decision"] for t in (1, 4, 6)] == ["original", "reencode", "original"]
    # secondary priority of track 4 = 0.8 + 0.6 + log10(5e6 + 1)/8
    assert p[4]["priority"] == pytest.approx(0.8 + 0.6 + 6.69897 / 8, abs=1e-4)
    assert p[2]["priority"] == pytest.approx(0.8 + 0.05 + 6.69897 / 8 - 10, abs=1e-4)   # ISRC has a copy
    assert [p[t]["release_order"] for t in (1, 6, 4)] == [1, 2, 3]
    assert p[2]["release_order"] is None
    # sizes: originals at 320 kbit/s, re-encodes at 75 kbit/s, from the durations
    assert p[1]["est_bytes"] == 200 * 40_000 and p[4]["est_bytes"] == 240 * 75_000 // 8
    assert p[4]["expected_listens"] == 12_000           # listens win over the popularity model
    assert s.files == 3 and s.status["skipped_isrc_has_copy"] == 1
    assert any("neither popularity nor listens" in w for w in s.warnings)
    assert last_run(tiny_archive)["policy"] == "reference"   # type: ignore[index]


def test_optimal_plan_unlimited_keeps_one_copy_per_isrc(tiny_archive: Archive) -> None:
    s = plan(tiny_archive, budget="1TB", policy="optimal")
    p = rows(tiny_archive)
    assert p[2]["status"] == "skipped_isrc_has_copy"
    assert all(p[t]["status"] == "planned_original" for t in (1, 3, 4, 5, 6))
    assert "no duration" in p[5]["reason"]
    assert p[5]["est_bytes"] == round(194 * 40_000)       # mean of the known durations: 194 s
    assert s.share_of_listens == pytest.approx(1.0)
    assert any("no duration" in w for w in s.warnings)


def test_exclusions_are_honoured(tiny_archive: Archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    exclude_add(tiny_archive, isrc="us-aaa-00-00001", reason="takedown 2026-01")
    exclude_add(tiny_archive, track=6, reason="rights holder request")
    plan(tiny_archive, budget=None, policy="optimal")
    p = rows(tiny_archive)
    assert [p[t]["status"] for t in (1, 2, 6)] == ["excluded"] * 3
    assert "takedown 2026-01" in p[1]["reason"] and "rights holder" in p[6]["reason"]
    assert all(p[t]["decision"] == "skip" for t in (1, 2, 6))
    assert {(e.kind, e.value) for e in exclude_list(tiny_archive)} == {("isrc", "USAAA0000001"), ("track", "6")}
    exclude_remove(tiny_archive, kind="track", value="6")
    csv = tmp_path / "extra.csv"
    csv.write_text("kind,value,reason\nupc,0002,label withdrew album B\n", encoding="utf-8")
    plan(tiny_archive, budget=None, policy="reference", exclusions=csv)
    p = rows(tiny_archive)
    assert p[6]["status"] == "planned_original"
    assert [p[t]["status"] for t in (2, 3, 5)] == ["excluded"] * 3
    assert "label withdrew" in p[3]["reason"]
    assert len(exclude_list(tiny_archive)) == 1     # the CSV of a run is not stored


def test_bad_exclusions(tiny_archive: Archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExclusionError, match="reason is required"):
        exclude_add(tiny_archive, isrc="X", reason="")
    with pytest.raises(ExclusionError, match="unknown"):
        exclude_add(tiny_archive, kind="song", value="1", reason="r")
    bad = tmp_path / "bad.csv"
    bad.write_text("track,abc,oops\nisrc,USX,fine\nonly-two,fields\n", encoding="utf-8")
    result = exclude_add(tiny_archive, file=bad)
    assert result["added"] == 1 and len(result["rejected"]) == 2      # type: ignore[arg-type]
    assert "bad.csv:1" in result["rejected"][0]                        # type: ignore[index]
    with pytest.raises(PlanError, match="bad.csv:1"):
        plan(tiny_archive, budget=None, exclusions=bad)


@pytest.mark.parametrize(("text", "message"), [("lots", "cannot read 'lots'"), ("-1", "negative"),
                                               ("4 parsecs", "unknown unit")])
def test_bad_budgets(tiny_archive: Archive, text: str, message: str) -> None:
    with pytest.raises(BudgetError, match=message):
        plan(tiny_archive, budget=text)


def test_zero_budget_plans_nothing_with_a_warning(tiny_archive: Archive) -> None:
    s = plan(tiny_archive, budget="0", policy="optimal")
    assert s.files == 0 and s.bytes == 0
    assert any("budget is 0" in w for w in s.warnings)
    assert {r["status"] for r in rows(tiny_archive).values()} <= {"skipped_budget", "skipped_isrc_has_copy"}


def test_no_popularity_no_listens_warns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = Archive.init(tmp_path / "bare")
    with archive.transaction() as c:
        c.execute("INSERT INTO sources(id, name, format) VALUES (1, 's', 'csv')")
        c.executemany("INSERT INTO tracks(id, source_id, source_key, name, duration_ms) VALUES (?,1,?,?,?)",
                      [(i, f"k{i}", f"T{i}", 100_000 * i) for i in range(1, 6)])
    s = plan(archive, budget="5MB", policy="optimal")
    assert any("no track has popularity or listens" in w for w in s.warnings)
    assert [r["decision"] for r in rows(archive).values()] == ["reencode", "reencode", "skip", "skip", "skip"]


def test_sample_catalog_plan_is_consistent(sample_archive: Archive) -> None:
    s = plan(sample_archive, budget="2GB", policy="optimal", compare=True)
    conn = sample_archive.conn
    n, stored_bytes, files = conn.execute(
        "SELECT COUNT(*), SUM(est_bytes), COUNT(release_order) FROM plan").fetchone()
    assert n == 3000 and files == s.files and stored_bytes == s.bytes <= 2 * 10**9
    orders = [r[0] for r in conn.execute("SELECT release_order FROM plan WHERE release_order IS NOT NULL "
                                         "ORDER BY release_order")]
    assert orders == list(range(1, files + 1))
    # release order follows priority
    pri = [r[0] for r in conn.execute("SELECT priority FROM plan WHERE release_order IS NOT NULL ORDER BY release_order")]
    assert pri == sorted(pri, reverse=True)
    assert s.compare is not None and s.compare["weighted_listens_gain"] >= 0
    ref = s.compare["other"]
    assert ref["policy"] == "reference" and ref["bytes"] <= 2 * 10**9
    # the coverage curve ends at the plan's totals and is non-decreasing
    assert s.curve[-1]["files"] == s.files and s.curve[-1]["bytes"] == s.bytes
    shares = [c["share_of_listens"] for c in s.curve]
    assert shares == sorted(shares) and shares[-1] == pytest.approx(s.share_of_listens, rel=1e-9)
    # the plan_runs row holds what --json prints
    assert last_run(sample_archive)["files"] == s.files    # type: ignore[index]


def test_replanning_replaces_the_plan(sample_archive: Archive) -> None:
    plan(sample_archive, budget="5GB", policy="optimal")
    first = dict(sample_archive.conn.execute("SELECT track_id, status FROM plan").fetchall())
    plan(sample_archive, budget="500MB", policy="reference")
    plan(sample_archive, budget="5GB", policy="optimal")
    again = dict(sample_archive.conn.execute("SELECT track_id, status FROM plan").fetchall())
    assert first == again
    assert sample_archive.conn.execute("SELECT COUNT(*) FROM plan_runs").fetchone()[0] == 3
