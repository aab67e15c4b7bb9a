"""Tables of the search stage (owned by phonotheque.catalog.search). Append migrations only."""

from __future__ import annotations

MIGRATIONS: list[str] = []
