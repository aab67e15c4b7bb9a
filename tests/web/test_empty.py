"""A fresh archive (no catalog rows, no search index, no store, no release) is served without errors."""

from __future__ import annotations

import warnings
from pathlib import Path

from phonotheque.archive import Archive
from phonotheque.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_empty_archive(tmp_path: Path) -> None:
    Archive.init(tmp_path / "a").close()
    with TestClient(create_app(tmp_path / "a"), raise_server_exceptions=True) as c:
        for url in ("/", "/releases", "/shuffle", "/search", "/api/stats", "/api/releases"):
            assert c.get(url).status_code == 200, url
        assert c.get("/api/stats").json()["tracks"] == 0
        assert c.get("/api/shuffle?n=3").json() == []
        r = c.get("/api/search?q=anything")
        assert r.status_code == 503 and "no search index" in r.json()["error"]
        assert c.get("/search?q=anything").status_code == 503
        assert c.get("/api/tracks/1/where").status_code == 404
        assert c.get("/api/lookup?id=1").json()["not_found"] == ["1"]


def test_not_an_archive(tmp_path: Path) -> None:
    import pytest

    from phonotheque.errors import ArchiveError

    with pytest.raises(ArchiveError, match="no such archive directory"):
        create_app(tmp_path / "missing")


def test_damaged_catalog_is_503_not_a_traceback(tmp_path: Path) -> None:
    Archive.init(tmp_path / "a").close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / "a" / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    (tmp_path / "a" / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    with TestClient(create_app(tmp_path / "a"), raise_server_exceptions=True) as c:
        r = c.get("/api/stats")
        assert r.status_code == 503 and r.json()["error"].startswith("catalog unavailable")
        page = c.get("/")
        assert page.status_code == 503 and "catalog unavailable" in page.text and "Traceback" not in page.text
