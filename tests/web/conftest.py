"""Fixtures of the web tests: one real archive per test session (built by the real pipeline), an in-process client."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_kit import WebArchive, build  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from phonotheque.web import create_app  # noqa: E402


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> WebArchive:
    """The shared archive: tests must not write to it (each writer test builds its own)."""
    return build(tmp_path_factory.mktemp("web") / "archive")


@pytest.fixture(scope="session")
def client(web: WebArchive) -> Iterator[TestClient]:
    # raise_server_exceptions: any unexpected exception fails the test instead of hiding behind a 500
    with TestClient(create_app(web.root), raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def own_web(tmp_path: Path) -> WebArchive:
    """A private copy of the archive for tests that write to it."""
    return build(tmp_path / "archive")
