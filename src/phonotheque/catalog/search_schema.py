"""Tables of the search stage (owned by phonotheque.catalog.search). Append migrations only.

The ranked index lives outside SQLite (``search-index/``, tantivy); the catalog stays the system of
record. To refresh incrementally without per-row work during bulk imports:

* ``search_state.watermark`` is the highest ``tracks.id`` already indexed: rows above it are new and
  are found by a range scan, no trigger fires for them;
* triggers record in ``search_dirty`` only changes to rows *at or below* the watermark (renames,
  popularity/listens updates, credit changes, deletions), which re-imports and ``listens`` cause.
  While no index exists the watermark is 0 and the triggers do nothing.
"""

from __future__ import annotations

SEARCH_V1 = """
CREATE TABLE search_state (
    key TEXT PRIMARY KEY,
    value
);
INSERT INTO search_state(key, value) VALUES ('watermark', 0), ('index_token', NULL);

CREATE TABLE search_dirty (
    track_id INTEGER PRIMARY KEY
);

CREATE TRIGGER search_tracks_update AFTER UPDATE OF name, album_id, popularity, listens ON tracks
WHEN OLD.id <= (SELECT value FROM search_state WHERE key = 'watermark')
 AND (OLD.name IS NOT NEW.name OR OLD.album_id IS NOT NEW.album_id
      OR OLD.popularity IS NOT NEW.popularity OR OLD.listens IS NOT NEW.listens)
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id) VALUES (OLD.id);
END;

CREATE TRIGGER search_tracks_delete AFTER DELETE ON tracks
WHEN OLD.id <= (SELECT value FROM search_state WHERE key = 'watermark')
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id) VALUES (OLD.id);
END;

CREATE TRIGGER search_track_artists_insert AFTER INSERT ON track_artists
WHEN NEW.track_id <= (SELECT value FROM search_state WHERE key = 'watermark')
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id) VALUES (NEW.track_id);
END;

CREATE TRIGGER search_track_artists_delete AFTER DELETE ON track_artists
WHEN OLD.track_id <= (SELECT value FROM search_state WHERE key = 'watermark')
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id) VALUES (OLD.track_id);
END;

CREATE TRIGGER search_track_artists_update AFTER UPDATE ON track_artists
WHEN NEW.track_id <= (SELECT value FROM search_state WHERE key = 'watermark')
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id) VALUES (NEW.track_id);
END;

CREATE TRIGGER search_artists_rename AFTER UPDATE OF name ON artists
WHEN OLD.name IS NOT NEW.name
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id)
    SELECT track_id FROM track_artists
    WHERE artist_id = NEW.id AND track_id <= (SELECT value FROM search_state WHERE key = 'watermark');
END;

CREATE TRIGGER search_albums_rename AFTER UPDATE OF name ON albums
WHEN OLD.name IS NOT NEW.name
BEGIN
    INSERT OR IGNORE INTO search_dirty(track_id)
    SELECT id FROM tracks
    WHERE album_id = NEW.id AND id <= (SELECT value FROM search_state WHERE key = 'watermark');
END;
"""

MIGRATIONS: list[str] = [SEARCH_V1]
