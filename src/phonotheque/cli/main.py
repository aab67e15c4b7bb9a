"""The ``phonotheque`` command: a click group; each stage's commands live in their own module."""

from __future__ import annotations

import sys
from typing import Any

import click

from phonotheque import __version__
from phonotheque.cli.common import console
from phonotheque.errors import PhonothequeError


class PhonothequeGroup(click.Group):
    """Turns PhonothequeError into ``error: <one line>`` and an exit status; Ctrl-C into 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhonothequeError as exc:
            console.print(f"[bold red]error:[/] {_one_line(str(exc))}", markup=True, highlight=False)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            console.print("interrupted: committed work is kept; run the same command again to finish")
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 2000 else text[:1997] + "..."


@click.group(cls=PhonothequeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="phonotheque")
def cli() -> None:
    """phonotheque: build a fully open, mirrorable music preservation archive.

    \b
    catalog  init, import, listens, search, lookup, shuffle, stats, export
    plan     plan, report
    store    ingest, transcode, tag, restore
    release  package, release publish
    mirror   verify, seedplan
    web      serve (web UI and JSON API)
    demo     the whole pipeline on the bundled sample
    """


def _register() -> None:
    from phonotheque.cli import browse, catalog, demo, media, mirror, plan, release, store, web

    for module in (catalog, browse, plan, store, media, release, mirror, web, demo):
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="phonotheque")


if __name__ == "__main__":
    main()
