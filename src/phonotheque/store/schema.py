"""Tables of the store stage (owned by phonotheque.store). Append migrations; never edit shipped ones.

``files`` holds one row per distinct byte content (sha256) the archive holds: originals as
ingested and long-tail transcodes. The torrent hashes the release needs are computed in the same
read (see :mod:`phonotheque.store.hashing`) so packaging never reads audio again.
"""

from __future__ import annotations

STORE_V1 = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,        -- hex sha256 of the bytes in the store
    size INTEGER NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('original','reencode')),
    derived_from INTEGER REFERENCES files(id),  -- for transcodes/tagged copies: the original
    store_path TEXT NOT NULL,           -- relative to the archive directory
    ext TEXT,                           -- extension to use in releases (".ogg", ".flac", ".opus")
    container TEXT, codec TEXT, bitrate INTEGER, sample_rate INTEGER, channels INTEGER,
    bits_per_sample INTEGER,
    duration_ms INTEGER,                -- from the full decode
    header_duration_ms INTEGER,         -- what the container claims
    fingerprint TEXT,                   -- Chromaprint, compressed base64 (AcoustID format)
    fingerprint_duration INTEGER,
    tags TEXT,                          -- JSON of every tag read
    licence TEXT,
    reencoded_kbit REAL,
    loudness_lufs REAL, loudness_peak REAL, album_gain_lufs REAL,
    sha256_with_embedded_meta TEXT,     -- when a tagged copy is shipped instead of the original
    piece_size INTEGER NOT NULL,        -- torrent piece size the hashes below were computed with
    v1_pieces BLOB,                     -- 20-byte SHA-1 per piece; last piece zero-padded (file aligned)
    v1_tail BLOB,                       -- SHA-1 of the last piece unpadded (file last in a torrent)
    v2_root BLOB,                       -- 32-byte BEP 52 pieces root (merkle root over 16 KiB blocks)
    v2_layer BLOB,                      -- BEP 52 piece layer (32 bytes per piece), empty if size <= piece
    ingested_at TEXT
);
CREATE INDEX IF NOT EXISTS files_derived ON files(derived_from);

-- which tracks a file serves, and how it was matched
CREATE TABLE IF NOT EXISTS track_files (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('original','reencode','alternative')),
    match_method TEXT,                  -- isrc | mbid | tags | fingerprint | new_from_tags
    confidence REAL,
    PRIMARY KEY (track_id, file_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS track_files_file ON track_files(file_id);

-- one row per source path ever offered to ingest: success, duplicate or error, with the reason
CREATE TABLE IF NOT EXISTS ingest_log (
    path TEXT PRIMARY KEY,
    size INTEGER,
    mtime_ns INTEGER,
    status TEXT NOT NULL,               -- success | duplicate_of | error_corrupt | error_unsupported | ...
    reason TEXT,
    sha256 TEXT,
    file_id INTEGER REFERENCES files(id),
    duplicate_of INTEGER REFERENCES files(id),
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_log_status ON ingest_log(status);
"""

MIGRATIONS: list[str] = [STORE_V1]

# v2: what matching and de-duplication look up on every ingested file
STORE_V2 = """
CREATE TABLE IF NOT EXISTS track_match_keys (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    title_key TEXT NOT NULL,            -- normalized title (see phonotheque.store.match.normalize)
    artist_key TEXT NOT NULL,           -- normalized first credited artist ('' if none)
    duration_ms INTEGER
);
CREATE INDEX IF NOT EXISTS track_match_keys_title ON track_match_keys(title_key);
CREATE INDEX IF NOT EXISTS files_duration ON files(duration_ms);
CREATE INDEX IF NOT EXISTS ingest_log_sha256 ON ingest_log(sha256);
ALTER TABLE ingest_log ADD COLUMN track_id INTEGER;      -- the track the file was linked to
ALTER TABLE ingest_log ADD COLUMN match_method TEXT;
ALTER TABLE files ADD COLUMN lossless INTEGER;           -- 1 for lossless codecs (policy: lossless > bitrate)
ALTER TABLE files ADD COLUMN source_path TEXT;           -- printable path the bytes were first ingested from
"""

MIGRATIONS.append(STORE_V2)
