"""Commands of the mirror stage (thin adapters over phonotheque.mirror)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
