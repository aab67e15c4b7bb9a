"""Commands of the catalog stage (thin adapters over phonotheque.catalog)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
