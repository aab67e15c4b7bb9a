"""Shared pieces of the command line: the archive option, --json output, progress bars.

Commands are thin adapters: parse flags, call one library function with keyword arguments named
like the flags, print the result (``--json`` for scripts). Errors are translated in
:mod:`phonotheque.cli.main`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console

from phonotheque.archive import Archive, default_archive_dir

F = TypeVar("F", bound=Callable[..., Any])

console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def archive_option(f: F) -> F:
    """``-A/--archive DIR`` (default ``$PHONOTHEQUE_ARCHIVE``, else the current directory)."""
    return click.option(
        "-A",
        "--archive",
        "archive_dir",
        type=click.Path(file_okay=True, dir_okay=True, path_type=Path),
        default=None,
        help="Archive directory (default: $PHONOTHEQUE_ARCHIVE, else the current directory).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(f)


def open_archive(archive_dir: Path | None) -> Archive:
    return Archive.open(archive_dir if archive_dir is not None else default_archive_dir())


def print_json(data: Any) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    )
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@contextmanager
def progress(description: str, total: float | None = None, *, unit: str = "") -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``advance(n=1, total=None, description=None, completed=None)``.

    ``unit="bytes"`` shows sizes and speed instead of counts.

    Hidden when stderr is not a terminal so logs and --json stay clean.
    """
    if not console.is_terminal:  # no bar to draw: not even rich.progress to import (~20 ms)
        yield lambda *args, **kwargs: None
        return
    from rich.progress import (  # imported here: commands that show no bar start ~20 ms sooner
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counter: list[Any] = [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        *counter,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(
            n: float = 1, total: float | None = None, description: str | None = None, completed: float | None = None
        ) -> None:
            kwargs: dict[str, Any] = {"advance": n} if completed is None else {"completed": completed}
            if total is not None:
                kwargs["total"] = total
            if description is not None:
                kwargs["description"] = description
            bar.update(task, **kwargs)

        yield advance
