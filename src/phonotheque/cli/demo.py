"""Commands of the demo stage (thin adapters over phonotheque.demo)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
