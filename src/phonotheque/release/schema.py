"""Tables of the release stage (owned by phonotheque.release). Append migrations; never edit shipped ones."""

from __future__ import annotations

RELEASE_V1 = """
CREATE TABLE IF NOT EXISTS releases (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    target_size INTEGER NOT NULL,
    version TEXT NOT NULL               -- hybrid | v1 | v2
);
CREATE TABLE IF NOT EXISTS torrents (
    id INTEGER PRIMARY KEY,
    release_name TEXT NOT NULL REFERENCES releases(name),
    batch INTEGER NOT NULL,             -- 1 = most popular
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT 'audio', -- audio | metadata
    infohash_v1 TEXT,
    infohash_v2 TEXT,
    size INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    torrent_path TEXT NOT NULL,
    published_at TEXT,                  -- set once published; published torrents are never rewritten
    created_at TEXT NOT NULL,
    UNIQUE (release_name, batch, kind)
);
CREATE TABLE IF NOT EXISTS torrent_files (
    torrent_id INTEGER NOT NULL REFERENCES torrents(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES files(id),
    path TEXT NOT NULL,                 -- path inside the torrent
    offset INTEGER NOT NULL,            -- byte offset in the torrent's concatenated (padded) data
    PRIMARY KEY (torrent_id, path)
);
CREATE INDEX IF NOT EXISTS torrent_files_file ON torrent_files(file_id);
"""

MIGRATIONS: list[str] = [RELEASE_V1]
