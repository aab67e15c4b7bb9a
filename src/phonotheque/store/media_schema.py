"""Tables of the media stage (transcodes, tags, patches; owned by phonotheque.store.transcode/tags/patch).

Append migrations only.
"""

from __future__ import annotations

MIGRATIONS: list[str] = []
