"""The HTML pages: server-rendered, escaped, each linked to its JSON twin; players and pointers where due."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from web_kit import EMOJI_NAME, EXCLUDED_REASON, RTL_NAME, SCRIPT_ARTIST, SCRIPT_NAME, WebArchive


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.alternate: list[str] = []
        self.audio: list[dict[str, str | None]] = []
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "link" and a.get("rel") == "alternate":
            self.alternate.append(str(a["href"]))
        if tag == "audio":
            self.audio.append(a)
        if tag == "script" or any(k.startswith("on") for k in a):
            self.scripts += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(client: Any, url: str, status: int = 200) -> _Page:
    r = client.get(url)
    assert r.status_code == status, (url, r.text[:500])
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    p = _Page()
    p.feed(r.text)
    assert p.scripts == 0, url  # no script element or event handler, even from hostile names
    return p


def _pages(web: WebArchive) -> list[str]:
    return ["/", "/search?q=awakening", f"/tracks/{web.awakening}", f"/tracks/{web.chaos_god}",
            f"/tracks/{web.script}", "/shuffle?n=5&seed=3", "/releases", "/search"]


def test_every_page_links_its_json_twin(client: Any, web: WebArchive) -> None:
    t = client.get(f"/api/tracks/{web.awakening}").json()
    for url in [*_pages(web), f"/albums/{t['album']['id']}", f"/artists/{t['artists'][0]['id']}"]:
        p = _page(client, url)
        if url == "/search":
            continue
        assert len(p.alternate) == 1 and p.alternate[0] in p.links, url
        twin = client.get(p.alternate[0])
        assert twin.status_code == 200 and twin.headers["content-type"] == "application/json", url
        orjson.loads(twin.content)


def test_search_from_home_to_track(client: Any, web: WebArchive) -> None:
    home = _page(client, "/")
    text = " ".join(home.text)
    assert "tracks" in text and "/shuffle" in home.links and "/releases" in home.links
    results = _page(client, "/search?q=awakening")
    assert f"/tracks/{web.awakening}" in results.links
    track = _page(client, f"/tracks/{web.awakening}")
    body = " ".join(track.text)
    assert "Awakening" in body and "Maxstack" in body and "250,000" in body and "58 / 100" in body
    assert len(track.audio) == 1 and re.fullmatch(r"/api/files/\d+/audio", str(track.audio[0]["src"]))
    assert any(h.startswith("magnet:?xt=urn:btih:") for h in track.links)
    assert client.get(str(track.audio[0]["src"]), headers={"Range": "bytes=0-3"}).content == b"OggS"


def test_search_pages_and_ranks(client: Any) -> None:
    first = _page(client, "/search?q=a*")
    nxt = [h for h in first.links if "offset=20" in h]
    assert nxt, "a next-page link"
    second = _page(client, nxt[0].replace("&amp;", "&"))
    assert any("offset" not in h and h.startswith("/search?q=") for h in second.links)  # previous page


def test_excluded_track_page(client: Any, web: WebArchive) -> None:
    p = _page(client, f"/tracks/{web.chaos_god}")
    body = " ".join(p.text)
    assert "Chaos God" in body and "Excluded." in body and EXCLUDED_REASON in body
    assert p.audio == [] and not any(h.startswith("magnet:") for h in p.links)
    assert not any(h.startswith("/api/files/") for h in p.links)


def test_pending_track_page_says_why(client: Any, web: WebArchive) -> None:
    body = " ".join(_page(client, f"/tracks/{web.pending}").text)
    assert "pending: planned" in body and "holds no file" in body


def test_hostile_names_render_as_text(client: Any, web: WebArchive) -> None:
    for url in (f"/tracks/{web.script}", "/search?q=pwned"):
        r = client.get(url)
        assert "<script>alert" not in r.text and "<img src=x" not in r.text
        assert "&lt;script&gt;alert(" in r.text
        p = _Page()
        p.feed(r.text)
        text = "".join(p.text)
        assert SCRIPT_NAME in text and SCRIPT_ARTIST in text
    t = client.get(f"/api/tracks/{web.script}").json()
    for url in (f"/albums/{t['album']['id']}", f"/artists/{t['artists'][0]['id']}"):
        r = client.get(url)
        assert r.status_code == 200 and "<img src=x" not in r.text and "<b>bold</b>" not in r.text
    for tid, name in ((web.rtl, RTL_NAME), (web.emoji, EMOJI_NAME)):
        r = client.get(f"/tracks/{tid}")
        assert f"<bdi>{name}</bdi>" in r.text  # isolated bidi text, emoji as characters


def test_album_artist_shuffle_releases_pages(client: Any, web: WebArchive) -> None:
    t = client.get(f"/api/tracks/{web.awakening}").json()
    album = _page(client, f"/albums/{t['album']['id']}")
    assert album.links.count(f"/tracks/{web.awakening}") == 1 and f"/tracks/{web.deprecation}" in album.links
    artist = _page(client, f"/artists/{t['artists'][0]['id']}")
    assert f"/albums/{t['album']['id']}" in artist.links
    a = _page(client, "/shuffle?n=5&seed=11")
    b = _page(client, "/shuffle?n=5&seed=11")
    tracks = [h for h in a.links if h.startswith("/tracks/")]
    assert len(tracks) == 5 and tracks == [h for h in b.links if h.startswith("/tracks/")]
    held = _page(client, "/shuffle?n=20&held=true")
    assert set(h for h in held.links if h.startswith("/tracks/")) <= {
        f"/tracks/{x['id']}" for x in client.get("/api/shuffle?n=100&held=true").json()}
    rel = _page(client, "/releases")
    doc = orjson.loads((web.root / "releases" / "r1" / "torrents.json").read_bytes())
    text = " ".join(rel.text)
    for torrent in doc["torrents"]:
        assert torrent["name"] in text and torrent["magnet"] in rel.links


@pytest.mark.parametrize(("url", "status"), [("/tracks/999999", 404), ("/tracks/abc", 400), ("/nowhere", 404),
                                             ("/search?q=%22open", 400), ("/albums/0", 400)])
def test_error_pages_are_html(client: Any, url: str, status: int) -> None:
    p = _page(client, url, status)
    assert str(status) in " ".join(p.text) and "/" in p.links


def test_an_id_in_the_search_box_finds_its_tracks(client: Any, web: WebArchive) -> None:
    for q in ("XXA0A2000003", "XX-A0A-20-00003", "isrc:xxa0a2000003", str(web.emoji)):
        p = _page(client, "/search?" + urlencode({"q": q}))
        assert "Exact" in " ".join(p.text) and f"/tracks/{web.emoji}" in p.links, q
    plain = _page(client, "/search?q=awakening")
    assert "Exact" not in " ".join(plain.text)
