"""Archives for the report tests: a planned sample catalog and an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonotheque.archive import Archive
from phonotheque.plan.planner import plan
from phonotheque.report.sample import fill_sample_catalog


@pytest.fixture(scope="session")
def planned_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = Archive.init(tmp_path_factory.mktemp("rep") / "arc")
    fill_sample_catalog(archive, 2000, seed=5)
    plan(archive, budget="3GB", policy="optimal")
    return archive


@pytest.fixture(scope="session")
def planned_report(planned_archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the planned sample catalog, built once per module."""
    from phonotheque.report.build import report

    return report(planned_archive, out=tmp_path_factory.mktemp("out"))


@pytest.fixture
def empty_archive(tmp_path: Path) -> Archive:
    return Archive.init(tmp_path / "empty")
