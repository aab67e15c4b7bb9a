"""The ``phonotheque`` command: a click group; each stage's commands live in their own module."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from phonotheque import __version__
from phonotheque.cli.common import console
from phonotheque.errors import PhonothequeError

# command -> the module of phonotheque.cli that defines it. A command's module (and the libraries behind it:
# tantivy, libtorrent, PyAV, pyarrow ...) is imported only when that command runs or help lists it, so every
# command starts without loading the others'. tests/foundation/test_cli_lazy.py keeps this table complete.
COMMAND_MODULES: dict[str, str] = {
    "init": "catalog", "import": "catalog", "export": "catalog",
    "search": "browse", "lookup": "browse", "shuffle": "browse", "stats": "browse", "listens": "browse",
    "plan": "plan", "report": "plan", "exclude": "plan",
    "ingest": "store", "transcode": "media", "tag": "media", "restore": "media",
    "package": "release", "release": "release",
    "verify": "mirror", "seedplan": "mirror",
    "serve": "web",
    "demo": "demo",
}


class PhonothequeGroup(click.Group):
    """Turns PhonothequeError into ``error: <one line>`` and an exit status; Ctrl-C into 130.

    Commands are loaded from their module on first use (:data:`COMMAND_MODULES`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMAND_MODULES:
            module = importlib.import_module(f"phonotheque.cli.{COMMAND_MODULES[cmd_name]}")
            for c in getattr(module, "COMMANDS", []):
                if c.name not in self.commands:
                    self.add_command(c)
            command = super().get_command(ctx, cmd_name)
        return command

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


def main() -> None:
    cli(prog_name="phonotheque")


if __name__ == "__main__":
    main()
