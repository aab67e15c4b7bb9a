"""``phonotheque serve``: the read-only web UI and JSON API of an archive (thin adapter over web.serve)."""

from __future__ import annotations

from pathlib import Path

import click

from phonotheque.cli.common import archive_option, console, open_archive, out
from phonotheque.web.server import is_loopback, serve


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback makes the archive public on that network.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port (0: any free port).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="Server log level (info logs one line per request).")
@archive_option
def serve_cmd(host: str, port: int, log_level: str, archive_dir: Path | None) -> None:
    """Serve the archive read-only: web pages and a JSON API for search, lookups, shuffle, releases, audio."""
    archive = open_archive(archive_dir)
    if not is_loopback(host):
        console.print(f"[bold yellow]warning:[/] listening on {host}, not a loopback address: every page, the API "
                      "and the held audio are public to anyone who can reach this machine", markup=True)

    def ready(url: str) -> None:
        out.print(f"serving {archive.root} at {url} (JSON API at {url}api; Ctrl-C to stop)", markup=False)

    serve(archive, host=host, port=port, on_ready=ready, log_level=log_level)


COMMANDS = [serve_cmd]
