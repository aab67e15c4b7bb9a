"""Fixtures of the release tests (the archive builder lives in release_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from release_fixtures import build_sample, new_archive

from phonotheque.archive import Archive


@pytest.fixture
def sample_archive(tmp_path: Path) -> Archive:
    archive = new_archive(tmp_path / "archive")
    build_sample(archive)
    return archive
