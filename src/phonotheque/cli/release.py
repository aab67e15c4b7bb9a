"""Commands of the release stage (thin adapters over phonotheque.release)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
