"""Docs stay complete: every command has a page and the generated CLI reference is current."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phonotheque.cli.main import cli
from phonotheque.cli.reference import command_paths, render

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_cli_reference_is_current() -> None:
    committed = (DOCS / "cli-reference.md").read_text(encoding="utf-8")
    assert committed == render(cli), "docs/cli-reference.md is stale: run `make docs`"


@pytest.mark.parametrize("path", [p for p in command_paths(cli) if len(p) == 1], ids=lambda p: " ".join(p))
def test_every_command_has_its_own_page(path: list[str]) -> None:
    page = DOCS / f"{path[0]}.md"
    assert page.exists(), f"docs/{path[0]}.md is missing"
    text = page.read_text(encoding="utf-8")
    assert f"phonotheque {path[0]}" in text, f"docs/{path[0]}.md never shows the command"


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:3000]
    assert "make demo" in head and "make test" in head


def test_docs_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in sorted(os.listdir(DOCS)):
        if page.endswith(".md") and page != "index.md":
            assert f"({page})" in index, f"docs/index.md does not link {page}"
