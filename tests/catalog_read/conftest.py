"""Fixtures of the catalog reading tests: a fresh archive and a builder that fills tables with SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from catalog_builder import Builder

from phonotheque.archive import Archive


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    a = Archive.init(tmp_path / "archive")
    yield a
    a.close()


@pytest.fixture
def build(archive: Archive) -> Builder:
    return Builder(archive)
