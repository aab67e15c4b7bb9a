"""Commands of the plan stage (thin adapters over phonotheque.plan)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
