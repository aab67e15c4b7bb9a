"""Shared fixtures for every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _no_ambient_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's $PHONOTHEQUE_ARCHIVE by accident."""
    monkeypatch.delenv("PHONOTHEQUE_ARCHIVE", raising=False)


@pytest.fixture
def data_dir() -> Path:
    return DATA


def pytest_report_header(config: pytest.Config) -> str:
    return f"phonotheque tests; shared corpora present: {os.path.isdir('/work/shared/corpora')}"
