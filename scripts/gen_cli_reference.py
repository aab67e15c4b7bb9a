"""Write docs/cli-reference.md from the commands' --help (run by `make docs`)."""

from __future__ import annotations

from pathlib import Path

from phonotheque.cli.main import cli
from phonotheque.cli.reference import render

target = Path(__file__).resolve().parent.parent / "docs" / "cli-reference.md"
target.write_text(render(cli), encoding="utf-8")
print(f"wrote {target}")
