"""Commands of the store stage (thin adapters over phonotheque.store)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
