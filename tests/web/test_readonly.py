"""The server reads with read-only connections: it never writes, never blocks a writer, and sees commits at once."""

from __future__ import annotations

import hashlib
import sqlite3
import time
import warnings
from typing import Any

import pytest
from web_kit import WebArchive

from phonotheque.web import create_app
from phonotheque.web.data import ReadOnlyArchive

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _writer(web: WebArchive) -> sqlite3.Connection:
    conn = sqlite3.connect(web.root / "catalog.sqlite", isolation_level=None, timeout=0)
    conn.execute("PRAGMA busy_timeout=0")  # any lock held by the server would fail at once
    return conn


def test_connections_are_read_only(web: WebArchive) -> None:
    archive = ReadOnlyArchive.open_readonly(web.root)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            archive.conn.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
    finally:
        archive.close()


def test_serving_changes_no_byte_of_the_catalog(client: Any, web: WebArchive) -> None:
    before = hashlib.sha256((web.root / "catalog.sqlite").read_bytes()).hexdigest()
    for url in ("/", "/api/stats", "/api/search?q=a*", f"/tracks/{web.awakening}", "/releases", "/shuffle?n=20",
                f"/api/files/{web.awakening_file}/audio"):
        assert client.get(url).status_code == 200
    assert hashlib.sha256((web.root / "catalog.sqlite").read_bytes()).hexdigest() == before


def test_a_writer_is_never_blocked_and_its_commits_show_at_once(own_web: WebArchive,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from phonotheque.web import app as app_module

    monkeypatch.setattr(app_module, "SUMMARY_TTL", 0.0)  # the home statistics follow every commit at once
    web = own_web
    with TestClient(create_app(web.root), raise_server_exceptions=True) as client:
        assert client.get(f"/api/tracks/{web.awakening}/audio").status_code == 200
        assert client.get("/api/stats").json()["exclusions"] == 1
        for _ in range(3):
            client.get("/api/search?q=a*")  # pooled read connections stay open between requests
        w = _writer(web)
        try:
            w.execute("BEGIN IMMEDIATE")  # what an import or package holds while it writes
            w.execute("INSERT INTO exclusions(kind, value, reason) VALUES ('track', ?, 'late takedown')",
                      (str(web.awakening),))
            t0 = time.monotonic()
            for url in ("/api/stats", "/api/search?q=awakening", f"/tracks/{web.awakening}"):
                assert client.get(url).status_code == 200  # readers go on during the write
            assert time.monotonic() - t0 < 5
            # the uncommitted exclusion is not visible yet
            assert client.get(f"/api/tracks/{web.awakening}/audio").status_code == 200
            w.execute("COMMIT")
            # committed: honoured on the very next request, no restart
            r = client.get(f"/api/tracks/{web.awakening}/audio")
            assert r.status_code == 451 and "late takedown" in r.json()["error"]
            assert client.get("/api/stats").json()["exclusions"] == 2
            # and no reader holds a snapshot that would stop a checkpoint
            busy, _, _ = w.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
        finally:
            w.close()
