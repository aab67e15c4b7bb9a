"""The JSON API on a real archive: search, lookup, pages' data, shuffle, stats, releases, where."""

from __future__ import annotations

import hashlib
import subprocess
import warnings
from typing import Any

import libtorrent as lt
import orjson
import pytest
from web_kit import EXCLUDED_REASON, WebArchive


def _get(client: Any, url: str, status: int = 200) -> Any:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def _sql(web: WebArchive, query: str) -> str:
    """A figure from the sqlite3 shell: an independent reader of the catalog."""
    return subprocess.run(["sqlite3", str(web.root / "catalog.sqlite"), query], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_index_lists_endpoints(client: Any) -> None:
    doc = _get(client, "/api")
    assert doc["archive"] == "web test archive" and "search" in doc["endpoints"]
    schema = _get(client, "/api/openapi.json")
    assert "/api/tracks/{track_id}/where" in schema["paths"] and "/tracks/{track_id}" not in schema["paths"]


def test_stats_match_the_sqlite3_shell(client: Any, web: WebArchive) -> None:
    s = _get(client, "/api/stats")
    assert s["tracks"] == int(_sql(web, "SELECT count(*) FROM tracks"))
    assert s["albums"] == int(_sql(web, "SELECT count(*) FROM albums"))
    assert s["store"]["files"] == int(_sql(web, "SELECT count(*) FROM files"))
    assert s["store"]["tracks_held"] == int(_sql(web, "SELECT count(DISTINCT track_id) FROM track_files"))
    assert s["exclusions"] == 1 and s["releases"] == 1


def test_search_ranks_and_marks(client: Any, web: WebArchive) -> None:
    doc = _get(client, "/api/search?q=awakening")
    assert doc["results"][0]["id"] == web.awakening
    assert doc["results"][0]["held"] is True and doc["results"][0]["excluded"] is None
    chaos = _get(client, "/api/search?q=chaos god")["results"][0]
    assert chaos["id"] == web.chaos_god and EXCLUDED_REASON in chaos["excluded"]
    # hostile names come back as the exact text
    assert _get(client, "/api/search?q=pwned")["results"][0]["name"].startswith('<script>alert("pwned")')
    assert _get(client, "/api/search?q=שלום")["results"][0]["id"] == web.rtl


def test_search_pages_are_consecutive_slices(client: Any) -> None:
    q = "a*"
    whole = _get(client, f"/api/search?q={q}&limit=6")
    assert len(whole["results"]) == 6 and whole["more"] is True
    first = _get(client, f"/api/search?q={q}&limit=3")
    second = client.get(first["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"]] == [r["id"] for r in whole["results"]]
    scores = [r["score"] for r in whole["results"]]
    assert scores == sorted(scores, reverse=True)
    assert second["offset"] == 3


def test_track_details_files_and_plan(client: Any, web: WebArchive) -> None:
    t = _get(client, f"/api/tracks/{web.awakening}")
    assert t["name"] == "Awakening" and t["artists"][0]["name"] == "Maxstack"
    assert t["album"]["name"].startswith("Endgame") and t["plan"]["status"] == "planned_original"
    assert t["popularity"] == 58 and t["listens"] == 250000 and t["excluded"] is None
    original = next(f for f in t["files"] if f["id"] == web.awakening_file)
    path = web.root / _sql(web, f"SELECT store_path FROM files WHERE id = {web.awakening_file}")
    assert original["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert original["size"] == path.stat().st_size and original["content_type"] == "audio/ogg"
    assert t["audio_file_id"] is not None
    roles = {f["role"] for f in t["files"]}
    assert {"original", "shipped"} <= roles  # the tagged copy the release ships is listed too


def test_excluded_track_keeps_metadata_but_no_audio_pointer(client: Any, web: WebArchive) -> None:
    t = _get(client, f"/api/tracks/{web.chaos_god}")
    assert t["name"] == "Chaos God" and EXCLUDED_REASON in t["excluded"]
    assert t["audio_file_id"] is None and t["where"]["state"] == "excluded" and t["where"]["pointers"] == []
    err = _get(client, f"/api/tracks/{web.chaos_god}/where", 451)
    assert EXCLUDED_REASON in err["error"] and err["status"] == 451


def test_album_and_artist(client: Any, web: WebArchive) -> None:
    t = _get(client, f"/api/tracks/{web.awakening}")
    album = _get(client, f"/api/albums/{t['album']['id']}")
    assert [x["id"] for x in album["tracks"]] == [web.awakening, web.deprecation]  # track 1, then track 5
    artist = _get(client, f"/api/artists/{t['artists'][0]['id']}")
    assert artist["name"] == "Maxstack" and artist["track_count"] == 2
    assert [x["id"] for x in artist["tracks"]] == [web.awakening, web.deprecation]  # popularity 58, then 0
    assert [a["id"] for a in artist["albums"]] == [album["id"]]
    _get(client, "/api/albums/999999", 404)
    _get(client, "/api/artists/999999", 404)


def test_lookup_one_and_batches(client: Any, web: WebArchive) -> None:
    one = _get(client, f"/api/lookup/{web.awakening}")
    assert one["found"] and one["tracks"][0]["id"] == web.awakening
    assert _get(client, "/api/lookup/isrc:XXA0A2000003")["tracks"][0]["id"] == web.emoji
    assert "not in the catalog" in _get(client, "/api/lookup/999999999", 404)["error"]
    got = _get(client, f"/api/lookup?id={web.awakening}&id=XX-A0A-20-00002&ids=nope,{web.chaos_god}")
    assert [r["found"] for r in got["results"]] == [True, True, False, True]
    assert got["results"][1]["tracks"][0]["id"] == web.rtl and got["not_found"] == ["nope"]
    assert EXCLUDED_REASON in got["results"][3]["tracks"][0]["excluded"]
    ids = [str(web.awakening)] * 400
    r = client.post("/api/lookup", json={"ids": ids})
    assert r.status_code == 200 and len(r.json()["results"]) == 400
    r = client.post("/api/lookup", json={"ids": ids + ["1"]})
    assert r.status_code == 400 and "400" in r.json()["error"]
    r = client.get("/api/lookup?" + "&".join(f"id={i}" for i in range(1, 402)))
    assert r.status_code == 400 and "at most 400" in r.json()["error"]


def test_shuffle_filters_and_seed(client: Any, web: WebArchive) -> None:
    held = {int(x) for x in _sql(web, "SELECT DISTINCT track_id FROM track_files").split()}
    got = _get(client, "/api/shuffle?n=50&held=true")
    assert {t["id"] for t in got} == held and all(t["held"] for t in got)  # all of them, each once
    popular = _get(client, "/api/shuffle?n=20&min_popularity=30")
    assert popular and all(t["popularity"] >= 30 for t in popular)
    a = _get(client, "/api/shuffle?n=5&seed=7")
    assert [t["id"] for t in a] == [t["id"] for t in _get(client, "/api/shuffle?n=5&seed=7")]
    assert len({t["id"] for t in a}) == 5


def test_releases_match_the_published_torrent_list(client: Any, web: WebArchive) -> None:
    rels = _get(client, "/api/releases")
    doc = orjson.loads((web.root / "releases" / "r1" / "torrents.json").read_bytes())
    assert [r["release"] for r in rels] == ["r1"]
    served = {t["name"]: t for t in rels[0]["torrents"]}
    for t in doc["torrents"]:
        s = served[t["name"]]
        for key in ("infohash_v1", "infohash_v2", "magnet", "size", "file_count", "popularity_min", "listens_share"):
            assert s[key] == t[key], (t["name"], key)
    assert _get(client, "/api/releases/r1")["release"] == "r1"
    torrent = client.get(f"/api/torrents/{served[doc['torrents'][0]['name']]['id']}.torrent")
    assert torrent.status_code == 200 and torrent.headers["content-type"] == "application/x-bittorrent"
    assert torrent.content == (web.root / "releases" / "r1" / doc["torrents"][0]["torrent"]).read_bytes()


def test_where_points_at_the_bytes_libtorrent_sees(client: Any, web: WebArchive) -> None:
    """Path and byte offset checked against the .torrent parsed by libtorrent; bytes against the seeding tree."""
    for tid in (web.awakening, web.deprecation):
        w = _get(client, f"/api/tracks/{tid}/where")
        assert w["available"] and w["state"] == "released"
        p = w["pointers"][0]
        info = lt.torrent_info(str(web.root / "releases" / "r1" / "torrents" / f"{p['torrent']}.torrent"))
        assert str(info.info_hashes().v1) == p["infohash_v1"] and p["magnet"].startswith("magnet:?xt=urn:btih:")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            fs = info.files()
        entries = {fs.file_path(i).replace("\\", "/"): (fs.file_offset(i), fs.file_size(i))
                   for i in range(fs.num_files())}
        assert entries[p["torrent_path"]] == (p["offset"], p["size"])
        data = (web.root / "releases" / "r1" / "data" / p["torrent_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == p["sha256"] and len(data) == p["size"]
    # several files share the torrent: a file past the first starts at a piece boundary, not at byte 0
    p = client.get(f"/api/tracks/{web.awakening}/where").json()["pointers"][0]
    assert p["offset"] > 0 and p["offset"] % (64 * 1024) == 0


def test_where_says_why_not(client: Any, web: WebArchive) -> None:
    pending = _get(client, f"/api/tracks/{web.pending}/where")
    assert pending["available"] is False and pending["state"] == "pending"
    assert pending["reason"].startswith("pending: planned") and "no file" in pending["reason"]
    if web.skipped is not None:
        skipped = _get(client, f"/api/tracks/{web.skipped}/where")
        assert skipped["state"] == "not_planned" and skipped["reason"].startswith("not planned: skipped")
    _get(client, "/api/tracks/999999/where", 404)


@pytest.mark.parametrize("url", ["/api/tracks/{awakening}", "/api/search?q=awakening", "/api/stats"])
def test_api_allows_cross_origin_reads(client: Any, web: WebArchive, url: str) -> None:
    r = client.get(url.format(awakening=web.awakening))
    assert r.headers["access-control-allow-origin"] == "*"
