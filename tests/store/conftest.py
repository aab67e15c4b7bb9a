"""Fixtures for the store tests: real audio excerpts (tests/data/audio) and real broken files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_helpers import make_broken

from phonotheque.archive import Archive

AUDIO = Path(__file__).resolve().parent.parent / "data" / "audio"


@pytest.fixture
def audio() -> Path:
    return AUDIO


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    arch = Archive.init(tmp_path / "archive", settings={"store.piece_size": 32768})
    yield arch
    arch.close()


@pytest.fixture
def broken(tmp_path: Path, audio: Path) -> Callable[[], tuple[Path, dict[str, str]]]:
    def build() -> tuple[Path, dict[str, str]]:
        d = tmp_path / "broken"
        return d, make_broken(d, audio)

    return build
