"""The lookup page: many ids pasted at once, answered like `/api/lookup` (its JSON twin), escaped, bounded."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

from web_kit import EXCLUDED_REASON, WebArchive


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.alternate: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "link" and a.get("rel") == "alternate":
            self.alternate.append(str(a["href"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _lookup(client: Any, text: str, status: int = 200) -> tuple[_Page, str]:
    r = client.get("/lookup?" + urlencode({"ids": text}))
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    p = _Page()
    p.feed(r.text)
    return p, " ".join(" ".join(p.text).split())


EMOJI_ISRC = "XXA0A2000003"  # given to the emoji track by web_kit's hostile catalog


def test_pasted_ids_are_found_held_excluded_or_not_found_as_in_the_api(client: Any, web: WebArchive) -> None:
    pasted = (f"{EMOJI_ISRC}\n{web.awakening}, {web.chaos_god};nonsense-id\n"
              f"ZZZ999999999 {web.awakening}")  # mixed separators, an unknown, an absent ISRC, a duplicate
    page, text = _lookup(client, pasted)
    for track in (web.emoji, web.awakening, web.chaos_god):
        assert f"/tracks/{track}" in page.links
    assert "5 id(s): 3 found, 2 not found" in text  # the duplicate id counted once
    assert "nonsense-id — not a catalog id, ISRC, UPC/EAN, MBID or SOURCE:KEY" in text
    assert "ZZZ999999999 — not in the catalog" in text
    assert "ISRC match" in text and "excluded" in text and "held" in text
    # its JSON twin is the API's answer to the same ids
    assert len(page.alternate) == 1 and page.alternate[0] in page.links
    twin = client.get(page.alternate[0]).json()
    assert [r["query"] for r in twin["results"]] == [EMOJI_ISRC, str(web.awakening),
                                                     str(web.chaos_god), "nonsense-id", "ZZZ999999999"]
    assert twin["not_found"] == ["nonsense-id", "ZZZ999999999"]
    chaos = next(r for r in twin["results"] if r["query"] == str(web.chaos_god))
    assert chaos["tracks"][0]["excluded"].endswith(EXCLUDED_REASON)


def test_the_empty_form_and_the_navigation_link(client: Any) -> None:
    page, text = _lookup(client, "  \n ,, ")
    assert "textarea" in page.tags and "not found" not in text and page.alternate == []
    home, _ = _lookup(client, "")
    assert "/lookup" in home.links


def test_too_many_ids_is_a_clear_400(client: Any) -> None:
    _, text = _lookup(client, " ".join(str(i) for i in range(1, 402)), status=400)
    assert "at most 400 ids" in text and "got 401" in text
    _, text = _lookup(client, "1 " * 10_001, status=400)  # over the field's 20 000 characters
    assert "at most 20000 characters" in text


def test_hostile_ids_are_shown_as_text(client: Any) -> None:
    page, text = _lookup(client, '<script>alert(1)</script> "><img src=x onerror=alert(2)>')
    assert "script" not in page.tags and "img" not in page.tags
    assert "<script>alert(1)</script>" in text and "onerror=alert(2)>" in text
