"""Fixtures of the mirror tests; the release builder itself lives in mirror_kit.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from mirror_kit import BuiltRelease, build_release, standard_specs


@pytest.fixture
def release(tmp_path: Path) -> BuiltRelease:
    """A full mirror of a 4-torrent hybrid release (6 files each) and its published artifacts."""
    return build_release(tmp_path, standard_specs())
