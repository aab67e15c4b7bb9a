"""The report as a person sees it: rendered by headless Chromium, every chart drawn and visible."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from phonotheque.archive import Archive
from phonotheque.report.build import report

pytestmark = pytest.mark.browser

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _render(path: Path, shots: Path) -> tuple[list[dict[str, Any]], list[str], list[str], int]:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    charts: list[dict[str, Any]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto(path.as_uri())
        page.screenshot(path=str(shots / "full.png"), full_page=True)
        nodata = page.locator(".nodata").count()
        for fig in page.locator("figure.chart").all():
            fig.scroll_into_view_if_needed()
            box = fig.locator("svg").bounding_box()
            png = fig.screenshot()
            img = Image.open(io.BytesIO(png)).convert("RGB")
            colours = img.getcolors(maxcolors=1 << 20) or []
            non_white = 0
            for n, c in colours:
                assert isinstance(c, tuple), c  # an RGB image: every colour is an (r, g, b) tuple
                if sum(c) < 600:
                    non_white += n
            charts.append({
                "id": fig.get_attribute("data-chart"),
                "box": box,
                "paths": fig.locator("svg path").count(),
                "text": fig.locator("svg text").count(),
                "colours": len(colours),
                "ink": non_white / (img.width * img.height),
            })
        browser.close()
    return charts, errors, requests, nodata


def test_every_chart_renders_with_ink(planned_report: Path, tmp_path: Path) -> None:
    charts, errors, requests, nodata = _render(planned_report, tmp_path)
    assert errors == [] and requests == []
    assert nodata == 0 and len(charts) == 17
    for c in charts:
        box = c["box"]
        assert isinstance(box, dict) and box["width"] > 300 and box["height"] > 150, c
        assert c["paths"] and int(c["paths"]) > 5, c        # bars/lines/axes drawn, not an empty axis
        assert c["text"] and int(c["text"]) >= 3, c          # axis labels and ticks are real text
        assert int(c["colours"]) > 10, c                     # not a single-colour region
        assert 0.01 < float(c["ink"]) < 0.9, c               # something drawn, not a filled block


def test_empty_catalog_renders_messages_not_axes(empty_archive: Archive, tmp_path: Path) -> None:
    path = report(empty_archive, out=tmp_path / "e")
    charts, errors, requests, nodata = _render(path, tmp_path)
    assert errors == [] and requests == []
    assert charts == [] and nodata == 17
