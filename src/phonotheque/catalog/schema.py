"""The normalized catalog schema (core tables), versioned with ``PRAGMA user_version``.

Vocabulary (as in MusicBrainz and the reference archive):

* a **track** is a track on one album (release): it has a position, an album, credits;
* a **recording** is the audio identity behind tracks (recording MBID, ISRCs), shared across albums;
  "one copy per ISRC" and de-duplication work on recordings;
* every row carries ``source_id`` (→ ``sources``) and a ``licence``; ``source_key`` is the id the
  source uses (an MBID, a web-API id, a CSV key) and is unique per source.

Round trip: ``records`` holds one row per imported source record with a compact *remainder*
(what the normalized tables cannot represent, as a structural diff) so the exact record can be
rebuilt. See :mod:`phonotheque.catalog.remainder`.

Append a new script to ``MIGRATIONS`` to change the schema; never edit a shipped one.
"""

from __future__ import annotations

CORE_V1 = """
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,          -- user-chosen name (--source-name), default: file stem
    format TEXT NOT NULL,               -- musicbrainz | jsonl | csv | local-tags | listens
    licence TEXT,                       -- licence of the records of this source
    path TEXT,                          -- where it was last imported from
    imported_at TEXT,
    record_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE artists (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    source_key TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_name TEXT,
    disambiguation TEXT,
    type TEXT,
    country TEXT,
    mbid TEXT,
    popularity INTEGER CHECK (popularity BETWEEN 0 AND 100),
    followers INTEGER CHECK (followers >= 0),
    licence TEXT,
    UNIQUE (source_id, source_key)
);
CREATE INDEX artists_mbid ON artists(mbid) WHERE mbid IS NOT NULL;

CREATE TABLE market_sets (
    id INTEGER PRIMARY KEY,
    codes TEXT NOT NULL UNIQUE          -- sorted, comma-joined ISO 3166 codes; one row per distinct set
);

CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    source_key TEXT NOT NULL,           -- label MBID, or the name when the source has no id
    name TEXT NOT NULL,
    UNIQUE (source_id, source_key)
);

CREATE TABLE albums (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    source_key TEXT NOT NULL,
    name TEXT NOT NULL,
    album_type TEXT,                    -- album | single | compilation | ep ...
    release_date TEXT,                  -- as precise as known: YYYY, YYYY-MM or YYYY-MM-DD
    release_date_precision TEXT CHECK (release_date_precision IN ('year','month','day')),
    total_tracks INTEGER,
    upc TEXT,                           -- barcode (UPC/EAN) as given
    mbid TEXT,
    release_group_mbid TEXT,
    country TEXT,
    status TEXT,
    popularity INTEGER CHECK (popularity BETWEEN 0 AND 100),
    market_set_id INTEGER REFERENCES market_sets(id),
    licence TEXT,
    UNIQUE (source_id, source_key)
);
CREATE INDEX albums_upc ON albums(upc) WHERE upc IS NOT NULL;
CREATE INDEX albums_mbid ON albums(mbid) WHERE mbid IS NOT NULL;

CREATE TABLE album_labels (
    album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    label_id INTEGER REFERENCES labels(id),
    catalog_number TEXT,
    PRIMARY KEY (album_id, position)
);

CREATE TABLE recordings (
    id INTEGER PRIMARY KEY,
    mbid TEXT UNIQUE,                   -- recording MBID when known
    isrc TEXT,                          -- first ISRC (all of them in recording_isrcs)
    title TEXT,
    duration_ms INTEGER,
    video INTEGER
);
CREATE INDEX recordings_isrc ON recordings(isrc) WHERE isrc IS NOT NULL;

CREATE TABLE recording_isrcs (
    isrc TEXT NOT NULL,
    recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    PRIMARY KEY (isrc, recording_id)
) WITHOUT ROWID;
CREATE INDEX recording_isrcs_rec ON recording_isrcs(recording_id);

CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    source_key TEXT NOT NULL,
    album_id INTEGER REFERENCES albums(id),
    recording_id INTEGER REFERENCES recordings(id),
    name TEXT NOT NULL,
    disc_number INTEGER,
    track_number INTEGER,
    number TEXT,                        -- the printed track number ("A1", "3")
    duration_ms INTEGER CHECK (duration_ms >= 0),
    explicit INTEGER CHECK (explicit IN (0, 1)),
    popularity INTEGER CHECK (popularity BETWEEN 0 AND 100),
    listens INTEGER CHECK (listens >= 0),
    market_set_id INTEGER REFERENCES market_sets(id),
    licence TEXT,
    UNIQUE (source_id, source_key)
);
CREATE INDEX tracks_album ON tracks(album_id);
CREATE INDEX tracks_recording ON tracks(recording_id);
CREATE INDEX tracks_popularity ON tracks(popularity);

CREATE TABLE track_artists (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    artist_id INTEGER NOT NULL REFERENCES artists(id),
    credited_name TEXT,                 -- name as credited when it differs from the artist's
    join_phrase TEXT,
    PRIMARY KEY (track_id, position)
) WITHOUT ROWID;
CREATE INDEX track_artists_artist ON track_artists(artist_id);

CREATE TABLE album_artists (
    album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    artist_id INTEGER NOT NULL REFERENCES artists(id),
    credited_name TEXT,
    join_phrase TEXT,
    PRIMARY KEY (album_id, position)
) WITHOUT ROWID;
CREATE INDEX album_artists_artist ON album_artists(artist_id);

CREATE TABLE genres (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE artist_genres (
    artist_id INTEGER NOT NULL REFERENCES artists(id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genres(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (artist_id, genre_id)
) WITHOUT ROWID;
CREATE TABLE album_genres (
    album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genres(id),
    position INTEGER NOT NULL,
    count INTEGER,
    PRIMARY KEY (album_id, genre_id)
) WITHOUT ROWID;

CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL CHECK (entity IN ('album','artist')),
    entity_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    url TEXT,
    width INTEGER,
    height INTEGER,
    sha256 TEXT,                        -- set when the archive holds the image bytes
    UNIQUE (entity, entity_id, position)
);

-- Any further identifier: ISRC, UPC/EAN, MBID, or an id in another source ("spotify", "discogs", ...).
CREATE TABLE external_ids (
    entity TEXT NOT NULL CHECK (entity IN ('track','album','artist','recording','label')),
    entity_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX external_ids_value ON external_ids(kind, value);

CREATE TABLE audio_features (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    source_id INTEGER REFERENCES sources(id),
    tempo REAL, key INTEGER, mode INTEGER, time_signature INTEGER, loudness REAL,
    danceability REAL, energy REAL, valence REAL, acousticness REAL,
    instrumentalness REAL, speechiness REAL, liveness REAL
);

-- One row per imported source record: where it came from and the compact remainder needed to
-- rebuild it exactly from the normalized tables (NULL when the tables alone suffice).
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    kind TEXT NOT NULL,                 -- release | track | row
    source_key TEXT NOT NULL,
    entity_id INTEGER NOT NULL,         -- albums.id for releases, tracks.id for tracks/rows
    line INTEGER,                       -- line (or row) number in the source file
    digest BLOB,                        -- hash of the source record, to skip unchanged re-imports
    remainder BLOB,                     -- zstd-compressed remainder, NULL if empty
    UNIQUE (source_id, kind, source_key)
);
CREATE INDEX records_line ON records(source_id, line);

-- Every rejected record with its reason: the import report.
CREATE TABLE import_rejects (
    id INTEGER PRIMARY KEY,
    source_id INTEGER REFERENCES sources(id),
    path TEXT,
    line INTEGER,
    source_key TEXT,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);

-- Progress of resumable imports: bytes/lines committed so far, per source path.
CREATE TABLE import_progress (
    source_id INTEGER NOT NULL REFERENCES sources(id),
    path TEXT NOT NULL,
    digest TEXT NOT NULL,               -- identity of the input file (size + mtime + head hash)
    lines_done INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, path)
);

CREATE TABLE listen_imports (
    path_digest TEXT PRIMARY KEY,       -- a listens file is counted once
    path TEXT,
    events INTEGER,
    at TEXT
);

-- Exclusion (takedown) list: honoured by plan, package and serve.
CREATE TABLE exclusions (
    kind TEXT NOT NULL CHECK (kind IN ('track','isrc','album','artist','recording','source_key','upc')),
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    added_at TEXT,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
"""

MIGRATIONS: list[str] = [CORE_V1]
