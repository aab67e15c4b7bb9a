"""``phonotheque demo``: the whole pipeline on the bundled sample (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from phonotheque.cli.common import json_option, out, print_json, progress


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("demo-archive"), show_default=True,
              help="Archive directory to build (re-running resumes and does no work twice).")
@click.option("--sample", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Sample data directory (default: tests/data of the source checkout).")
@json_option
def demo_command(out_dir: Path, sample: Path | None, as_json: bool) -> None:
    """Run every stage on the bundled sample: import, search, ingest, plan, transcode, tag, package, verify, report.

    Uses the 30 real MusicBrainz releases and the free-licensed audio excerpts in tests/data plus a
    generated 20,000-track catalog; prints what each step did.
    """
    from phonotheque.demo import demo

    def say(line: str) -> None:
        if not as_json:
            out.print(line, markup=False, highlight=False)

    result = demo(out_dir, sample=sample, say=say, progress=lambda d: progress(d))
    if as_json:
        print_json(result)


COMMANDS: list[click.Command] = [demo_command]
