"""Fixtures of the importer tests: fresh archives and the data files under tests/data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phonotheque.archive import Archive

DATA = Path(__file__).resolve().parent.parent / "data"
MB = DATA / "musicbrainz"
IMPORT = DATA / "import"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    a = Archive.init(tmp_path / "arch")
    yield a
    a.close()
