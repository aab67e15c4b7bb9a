"""The web UI in a real Chromium against the real server (uvicorn in a subprocess on a loopback port)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest
from server_kit import running_server
from web_kit import EXCLUDED_REASON, SCRIPT_NAME, WebArchive

pytestmark = pytest.mark.browser

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]

WAIT_METADATA = """async () => {
  const a = document.querySelector('audio');
  if (a.readyState < 1) {
    await new Promise((resolve, reject) => {
      a.addEventListener('loadedmetadata', resolve, {once: true});
      a.addEventListener('error', () => reject(new Error('audio error ' + (a.error && a.error.code))), {once: true});
      a.load();
    });
  }
  return a.duration;
}"""

SEEK = """async (t) => {
  const a = document.querySelector('audio');
  await new Promise((resolve, reject) => {
    a.addEventListener('seeked', resolve, {once: true});
    a.addEventListener('error', () => reject(new Error('audio error')), {once: true});
    a.currentTime = t;
  });
  return a.currentTime;
}"""


@pytest.fixture(scope="module")
def server(web: WebArchive) -> Iterator[str]:
    with running_server(web.root) as (url, _proc):
        yield url


@pytest.fixture
def browser_page(server: str) -> Iterator[tuple[Any, dict[str, list[Any]]]]:
    from playwright.sync_api import Dialog, sync_playwright

    seen: dict[str, list[Any]] = {"errors": [], "outside": [], "responses": [], "dialogs": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        page.on("request", lambda r: seen["outside"].append(r.url) if not r.url.startswith(server) else None)
        page.on("response", lambda r: seen["responses"].append((r.url, r.status, r.request.headers.get("range"))))

        def on_dialog(d: Dialog) -> None:
            seen["dialogs"].append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        try:
            yield page, seen
        finally:
            browser.close()


def test_search_click_play(browser_page: tuple[Any, dict[str, list[Any]]], server: str, web: WebArchive) -> None:
    page, seen = browser_page
    page.goto(server)
    page.fill("form.bigsearch input[name=q]", "awakening")
    page.press("form.bigsearch input[name=q]", "Enter")
    page.wait_for_url("**/search?q=awakening")
    page.click("a.track >> text=Awakening")
    page.wait_for_url(f"**/tracks/{web.awakening}")
    assert page.locator("h1").inner_text() == "Awakening"
    duration = page.evaluate(WAIT_METADATA)
    src = page.locator("audio").get_attribute("src")
    # the duration the browser reports is the one FFmpeg decodes from the same stored bytes
    file_id = int(src.split("/")[3])
    assert file_id == httpx.get(f"{server}api/tracks/{web.awakening}", timeout=10).json()["audio_file_id"]
    with av.open(str(web.store_file(file_id))) as container:
        expected = float(container.duration) / 1_000_000 if container.duration else 0.0
    assert duration > 0 and abs(duration - expected) < 0.25, (duration, expected)
    # a seek makes the browser ask for a byte range, which the server answers with 206
    assert abs(page.evaluate(SEEK, 10.0) - 10.0) < 0.5
    audio = [r for r in seen["responses"] if "/audio" in r[0]]
    assert audio and all(status in (200, 206) for _, status, _ in audio)
    assert any(status == 206 and rng for _, status, rng in audio)
    assert seen["errors"] == [] and seen["outside"] == []


def test_excluded_and_hostile_pages(browser_page: tuple[Any, dict[str, list[Any]]], server: str,
                                    web: WebArchive) -> None:
    page, seen = browser_page
    page.goto(f"{server}tracks/{web.chaos_god}")
    assert page.locator("h1").inner_text() == "Chaos God"
    assert page.locator("audio").count() == 0 and page.locator("a.magnet").count() == 0
    assert EXCLUDED_REASON in page.locator("p.notice.excluded").first.inner_text()
    page.goto(f"{server}tracks/{web.script}")
    assert page.locator("h1").inner_text() == SCRIPT_NAME  # shown as text; nothing ran
    page.goto(f"{server}search?q=pwned")
    assert page.locator("a.track").first.inner_text() == SCRIPT_NAME
    page.goto(f"{server}releases")
    assert page.locator("a.magnet").count() >= 3
    assert seen["dialogs"] == [] and seen["errors"] == [] and seen["outside"] == []

