"""Commands over the library API (thin adapters)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
