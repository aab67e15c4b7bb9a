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

# v2: metadata torrents (several per release, batch 0 or their audio batch) need the (release, batch, kind)
# uniqueness gone, and torrents.json needs more per-torrent facts; release_tracks records which track is
# served by which file in which torrent (one row per track: the file index). The tables are rebuilt
# children first so that no ON DELETE CASCADE fires.
RELEASE_V2 = """
CREATE TABLE torrents_new (
    id INTEGER PRIMARY KEY,
    release_name TEXT NOT NULL REFERENCES releases(name),
    batch INTEGER NOT NULL,             -- 1 = most popular audio batch; 0 = catalog metadata
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT 'audio' CHECK (kind IN ('audio','metadata')),
    content TEXT NOT NULL DEFAULT 'audio', -- audio | catalog | patches
    version TEXT NOT NULL DEFAULT 'hybrid',
    infohash_v1 TEXT,
    infohash_v2 TEXT,
    magnet TEXT,
    size INTEGER NOT NULL,
    padded_size INTEGER,
    piece_size INTEGER,
    file_count INTEGER NOT NULL,
    popularity_min INTEGER,
    popularity_max INTEGER,
    listens REAL NOT NULL DEFAULT 0,
    torrent_path TEXT NOT NULL,
    published_at TEXT,                  -- set once published; published torrents are never rewritten
    created_at TEXT NOT NULL
);
INSERT INTO torrents_new (id, release_name, batch, name, kind, infohash_v1, infohash_v2, size, file_count,
                          torrent_path, published_at, created_at)
    SELECT id, release_name, batch, name, kind, infohash_v1, infohash_v2, size, file_count, torrent_path,
           published_at, created_at FROM torrents;
CREATE TABLE torrent_files_new (
    torrent_id INTEGER NOT NULL REFERENCES torrents_new(id) ON DELETE CASCADE,
    file_id INTEGER REFERENCES files(id), -- NULL for metadata files
    path TEXT NOT NULL,                 -- path inside the torrent root directory, '/'-separated
    offset INTEGER NOT NULL,            -- byte offset in the torrent's concatenated (padded) data
    size INTEGER,
    sha256 TEXT,
    PRIMARY KEY (torrent_id, path)
);
INSERT INTO torrent_files_new (torrent_id, file_id, path, offset)
    SELECT torrent_id, file_id, path, offset FROM torrent_files;
DROP TABLE torrent_files;
DROP TABLE torrents;
ALTER TABLE torrents_new RENAME TO torrents;
ALTER TABLE torrent_files_new RENAME TO torrent_files;
CREATE INDEX IF NOT EXISTS torrents_release ON torrents(release_name, batch);
CREATE INDEX IF NOT EXISTS torrent_files_file ON torrent_files(file_id);
CREATE TABLE IF NOT EXISTS release_tracks (
    release_name TEXT NOT NULL REFERENCES releases(name),
    track_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id),
    torrent_id INTEGER NOT NULL REFERENCES torrents(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256_original TEXT,               -- the original's sha256 when a tagged copy is shipped
    listens REAL,
    PRIMARY KEY (release_name, track_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS release_tracks_torrent ON release_tracks(torrent_id);
"""

MIGRATIONS: list[str] = [RELEASE_V1, RELEASE_V2]
