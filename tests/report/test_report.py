"""The HTML report: numbers checked independently of the SQL, self-contained, empty charts said so."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from phonotheque.archive import Archive
from phonotheque.cli.main import cli
from phonotheque.plan.listens import ListensModel
from phonotheque.report import stats
from phonotheque.report.build import build_sections, report

SECTIONS = ("overview", "popularity", "popularity-log", "listens", "coverage", "coverage-bytes", "durations",
            "explicit", "isrc", "markets", "markets-count", "genres", "artists", "years", "album-size", "key-mode",
            "features", "plan")


def test_popularity_counts_match_a_python_count(planned_archive: Archive) -> None:
    conn = planned_archive.conn
    rows = stats.popularity(conn, ListensModel())
    counted = Counter(r[0] for r in conn.execute("SELECT popularity FROM tracks"))
    assert {r["popularity"]: r["tracks"] for r in rows} == dict(counted)
    # expected listens: known listens, else 3 * 10 ** (0.092 * popularity)
    want = 0.0
    for pop, lis in conn.execute("SELECT popularity, listens FROM tracks"):
        want += lis if lis is not None else 3.0 * 10 ** (0.092 * (pop or 0))
    assert sum(r["expected_listens"] for r in rows) == pytest.approx(want, rel=1e-9)
    cov = stats.coverage_by_popularity(rows)
    known = sum(v for k, v in counted.items() if k is not None) / sum(counted.values())
    assert cov[-1][1] == pytest.approx(known) and known < 1.0   # unknown popularity cannot be ranked
    assert all(a[2] <= b[2] for a, b in zip(cov, cov[1:], strict=False))


def test_isrc_album_and_duration_counts(planned_archive: Archive) -> None:
    conn = planned_archive.conn
    isrcs = Counter(r[0] for r in conn.execute(
        "SELECT r.isrc FROM tracks t JOIN recordings r ON r.id = t.recording_id WHERE r.isrc IS NOT NULL"))
    assert dict(stats.tracks_per_isrc(conn)) == dict(Counter(isrcs.values()))
    per_album = Counter(r[0] for r in conn.execute("SELECT album_id FROM tracks"))
    assert dict(stats.tracks_per_album(conn)) == dict(Counter(min(v, 40) for v in per_album.values()))
    durs = [r[0] for r in conn.execute("SELECT duration_ms FROM tracks WHERE duration_ms IS NOT NULL")]
    assert dict(stats.durations(conn)) == dict(Counter(min(d // 30000, 40) * 30 for d in durs))


def test_correlations_match_numpy(planned_archive: Archive) -> None:
    names, matrix, n = stats.feature_correlations(planned_archive.conn)
    cols = ", ".join(names)
    data = np.array(planned_archive.conn.execute(f"SELECT {cols} FROM audio_features").fetchall(), dtype=float)
    assert n == len(data) > 100
    assert np.allclose(np.array(matrix), np.corrcoef(data, rowvar=False), atol=1e-6)


def test_report_is_self_contained_and_complete(planned_report: Path) -> None:
    html = planned_report.read_text(encoding="utf-8")
    for sid in SECTIONS:
        assert f'id="{sid}"' in html
    assert html.count("<svg") == len(SECTIONS) - 1          # every section but the overview has a chart
    assert "No data to draw" not in html
    # nothing fetched from the network: no src/href to another host, no <script>, no @import
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "<script" not in html and "@import" not in html
    # axis labels with units and a sentence for every chart
    for label in ("popularity (0–100)", "duration (minutes)", "storage used, in release order (GB, log scale)",
                  "share of listens preserved", "release year"):
        assert label in html
    assert 'class="what"' in html and html.count('class="what"') == len(SECTIONS)
    assert "The current plan (optimal policy" in html


def test_empty_catalog_says_no_data(empty_archive: Archive, tmp_path: Path) -> None:
    sections, headline = build_sections(empty_archive)
    assert headline == ""
    charted = [s for s in sections if s.has_chart]
    assert all(s.chart is None and s.nodata for s in charted)
    html = report(empty_archive, out=tmp_path / "e").read_text(encoding="utf-8")
    assert "<svg" not in html
    assert html.count("No data to draw") == len(charted)


def test_report_cli(empty_archive: Archive, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", "-A", str(empty_archive.root)])
    assert r.exit_code == 0, r.output
    assert (empty_archive.reports_dir / "report" / "report.html").exists()
    r = CliRunner().invoke(cli, ["report", "-A", str(empty_archive.root), "--out", str(tmp_path / "x"), "--json"])
    assert r.exit_code == 0 and '"path"' in r.stdout and (tmp_path / "x" / "report.html").exists()
