"""Commands load lazily: the table in cli/main.py names every command's module, and a command does not
import the libraries of the others (startup time of every `phonotheque` call)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import phonotheque.cli
from phonotheque.cli.main import COMMAND_MODULES, cli


def test_the_table_names_every_command_and_its_module() -> None:
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(phonotheque.cli.__path__):
        module = importlib.import_module(f"phonotheque.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            assert command.name not in found, f"{command.name} defined twice"
            found[str(command.name)] = info.name
    assert found == COMMAND_MODULES


def test_help_lists_every_command_and_each_resolves() -> None:
    ctx = cli.make_context("phonotheque", ["--help"], resilient_parsing=True)
    names = cli.list_commands(ctx)
    assert names == sorted(COMMAND_MODULES)
    assert all(cli.get_command(ctx, n) is not None for n in names)
    assert cli.get_command(ctx, "no-such-command") is None


def test_a_command_does_not_load_the_libraries_of_the_others(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from phonotheque.cli.main import cli\n"
        f"r = CliRunner().invoke(cli, ['init', {str(tmp_path) + '/a'!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ['tantivy', 'libtorrent', 'av', 'matplotlib', 'fastapi', 'dask', 'pyarrow', 'rich.progress']\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == []
