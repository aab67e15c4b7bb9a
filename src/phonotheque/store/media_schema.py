"""Tables of the media stage (transcodes, tags, patches; owned by phonotheque.store.transcode/tags/patch).

* ``patches``: one row per tagged copy of an original: the ``.zstdpatch`` that rebuilds the
  original from it (``path`` relative to the archive, ``store/patches/<tagged sha256>.zstdpatch``).
* ``tagged_files``: which tagged copy serves which track (a file serving two tracks gets two
  tagged copies, since the tags differ). Releases ship the tagged copy when there is one.
* ``media_log``: the outcome of the last ``transcode``/``tag`` attempt per track — success or the
  error status and reason — the whole-run report a user can act on.

Append migrations only.
"""

from __future__ import annotations

MEDIA_V1 = """
CREATE TABLE IF NOT EXISTS patches (
    tagged_file_id INTEGER PRIMARY KEY REFERENCES files(id),
    original_file_id INTEGER NOT NULL REFERENCES files(id),
    original_sha256 TEXT NOT NULL,
    tagged_sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,                 -- relative to the archive directory
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS patches_original ON patches(original_file_id);

CREATE TABLE IF NOT EXISTS tagged_files (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    original_file_id INTEGER NOT NULL REFERENCES files(id),
    tagged_file_id INTEGER NOT NULL REFERENCES files(id),
    PRIMARY KEY (track_id, original_file_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tagged_files_tagged ON tagged_files(tagged_file_id);

CREATE TABLE IF NOT EXISTS media_log (
    step TEXT NOT NULL CHECK (step IN ('transcode','tag')),
    track_id INTEGER NOT NULL,
    source_file_id INTEGER,             -- the original the step read
    status TEXT NOT NULL,               -- success | already_tagged | error_corrupt | error_unsupported | error_tag | ...
    reason TEXT,
    file_id INTEGER,                    -- the file the step produced
    at TEXT NOT NULL,
    PRIMARY KEY (step, track_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS media_log_status ON media_log(step, status);
"""

MIGRATIONS: list[str] = [MEDIA_V1]
