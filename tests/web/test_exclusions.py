"""Every kind of exclusion withholds exactly the tracks the planner withholds (plan.exclusions.resolve)."""

from __future__ import annotations

import warnings

from web_kit import WebArchive

from phonotheque.archive import Archive
from phonotheque.plan.exclusions import exclude_add, reasons_for, resolve
from phonotheque.web import create_app
from phonotheque.web.data import ReadOnlyArchive

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# MBIDs whose first character is a digit: once read as catalog ids by the planner too (a bug this catches)
DIGIT_FIRST = "(substr({col}, 1, 1) BETWEEN '1' AND '9')"


def _served(web: WebArchive) -> dict[int, str]:
    ro = ReadOnlyArchive.open_readonly(web.root)
    try:
        return reasons_for(ro.conn, [r[0] for r in ro.conn.execute("SELECT id FROM tracks")])
    finally:
        ro.close()


def test_each_kind_matches_the_planner(own_web: WebArchive) -> None:
    web = own_web
    archive = Archive.open(web.root)
    c = archive.conn
    one = lambda sql, *params: c.execute(sql, params).fetchone()  # noqa: E731
    rules = [
        ("isrc", "XX-A0A-20-00003"),
        ("album", str(one("SELECT id FROM albums WHERE mbid IS NOT NULL ORDER BY id")[0])),
        ("album", one(f"SELECT mbid FROM albums WHERE {DIGIT_FIRST.format(col='mbid')} ORDER BY id")[0]),
        ("artist", one(f"SELECT mbid FROM artists WHERE {DIGIT_FIRST.format(col='mbid')} ORDER BY id")[0]),
        ("artist", str(one("SELECT artist_id FROM track_artists WHERE track_id = ?", web.emoji)[0])),
        ("recording", str(one("SELECT id FROM recordings WHERE mbid IS NOT NULL ORDER BY id")[0])),
        ("recording", one(f"SELECT mbid FROM recordings WHERE {DIGIT_FIRST.format(col='mbid')} ORDER BY id")[0]),
        ("source_key", "hostile-rtl"),
        ("upc", one("SELECT upc FROM albums WHERE upc IS NOT NULL AND upc != '' ORDER BY id")[0]),
    ]
    for kind, value in rules:
        exclude_add(archive, kind=kind, value=value, reason=f"rule {kind}")
    planner = resolve(c)
    archive.close()
    served = _served(web)
    assert set(served) == set(planner) and len(served) > 10
    assert web.emoji in served and web.rtl in served and web.awakening not in served
    with TestClient(create_app(web.root), raise_server_exceptions=True) as client:
        for tid in (web.emoji, web.rtl, min(served)):
            r = client.get(f"/api/tracks/{tid}/where")
            assert r.status_code == 451 and "rule " in r.json()["error"]
            assert client.get(f"/api/tracks/{tid}").json()["excluded"].startswith("excluded by ")
        assert client.get(f"/api/tracks/{web.awakening}/where").status_code == 200


def test_mbid_with_leading_digits_is_not_a_catalog_id(own_web: WebArchive) -> None:
    """An album MBID like '20b2dd9a-…' withholds that album's tracks only, never those of album id 20."""
    web = own_web
    archive = Archive.open(web.root)
    c = archive.conn
    row = c.execute("SELECT id, mbid FROM albums WHERE substr(mbid, 1, 1) BETWEEN '1' AND '9' "
                    "AND substr(mbid, 2, 1) NOT BETWEEN '0' AND '9' ORDER BY id").fetchone()
    assert row is not None, "the sample has an album MBID starting with a digit"
    album_id, mbid = row
    expected = {r[0] for r in c.execute("SELECT id FROM tracks WHERE album_id = ?", (album_id,))}
    expected.add(web.chaos_god)  # excluded by the fixture already
    exclude_add(archive, kind="album", value=mbid, reason="by mbid")
    assert set(resolve(archive.conn)) == expected  # the planner (and package) agree
    archive.close()
    assert set(_served(web)) == expected
