"""Fixtures of the importer tests: fresh archives and the data files under tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonotheque.archive import Archive

DATA = Path(__file__).resolve().parent.parent / "data"
MB = DATA / "musicbrainz"
IMPORT = DATA / "import"


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    a = Archive.init(tmp_path / "arch")
    yield a
    a.close()
