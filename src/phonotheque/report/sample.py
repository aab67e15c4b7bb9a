"""A skewed synthetic catalog written straight into SQLite, for tests, benchmarks and demos.

Not an importer: it fills the core tables with ``executemany`` (about 100 k tracks/s), so the planner
and the report can be exercised at millions of tracks before any real source is imported. The
shape follows the reference catalog's published statistics: ~72 % of tracks at popularity 0, an
exponential tail, a few percent of recordings reappearing on 2–20 albums (shared ISRC), some tracks
with listen counts, a few with missing popularity or duration.
"""

from __future__ import annotations

import numpy as np

from phonotheque.archive import Archive

GENRES = ("pop", "rock", "hip hop", "electronic", "jazz", "classical", "folk", "metal", "r&b", "country",
          "latin", "reggae", "blues", "soul", "punk", "ambient", "k-pop", "chanson", "samba", "techno")
MARKETS = ("US", "GB", "FR", "DE", "JP", "BR", "MX", "SE", "KR", "IN")
ALBUM_TYPES = ("single", "album", "ep", "compilation")


def fill_sample_catalog(archive: Archive, n: int, seed: int = 0, *, features: float = 0.3,
                        batch: int = 200_000) -> None:
    """Write ``n`` tracks (plus artists, albums, recordings, genres, markets) into an empty catalog."""
    rng = np.random.default_rng(seed)
    conn = archive.conn
    n_artists = max(1, n // 10)
    n_albums = max(1, n // 8)
    with archive.transaction():
        cur = conn.execute("INSERT INTO sources(name, format, licence) VALUES ('sample', 'jsonl', 'CC0-1.0')")
        src = int(cur.lastrowid or 1)
        conn.executemany("INSERT INTO genres(id, name) VALUES (?, ?)", list(enumerate(GENRES, start=1)))
        sets = []
        for i in range(1, 21):
            k = int(rng.integers(1, len(MARKETS) + 1))
            sets.append((i, ",".join(sorted(rng.choice(MARKETS, k, replace=False).tolist()))))
        sets = list({codes: (i, codes) for i, codes in sets}.values())
        conn.executemany("INSERT INTO market_sets(id, codes) VALUES (?, ?)", sets)
        set_ids = np.array([s[0] for s in sets])
        # artists
        a_pop = np.minimum(100, np.floor(rng.exponential(12.0, n_artists))).astype(int)
        a_pop[rng.random(n_artists) < 0.05] = -1
        a_fol = np.floor(10 ** (a_pop.clip(0) / 100 * 7 + rng.normal(0, 0.7, n_artists))).astype(np.int64)
        conn.executemany(
            "INSERT INTO artists(id, source_id, source_key, name, popularity, followers) VALUES (?,?,?,?,?,?)",
            ((i + 1, src, f"a{i + 1}", f"Artist {i + 1}", None if a_pop[i] < 0 else int(a_pop[i]),
              int(a_fol[i])) for i in range(n_artists)),
        )
        g_of = rng.integers(1, len(GENRES) + 1, n_artists)
        conn.executemany("INSERT INTO artist_genres(artist_id, genre_id, position) VALUES (?,?,0)",
                         ((i + 1, int(g_of[i])) for i in range(n_artists)))
        # albums: sizes 1..20 tracks, most are singles/EPs
        album_artist = rng.integers(1, n_artists + 1, n_albums)
        years = np.clip(np.rint(2025 - rng.exponential(12.0, n_albums)), 1950, 2025).astype(int)
        al_pop = np.minimum(100, np.floor(rng.exponential(8.0, n_albums))).astype(int)
        al_type = rng.choice(len(ALBUM_TYPES), n_albums, p=[0.55, 0.25, 0.15, 0.05])
        al_mkt = rng.choice(set_ids, n_albums)
        conn.executemany(
            "INSERT INTO albums(id, source_id, source_key, name, album_type, release_date, release_date_precision,"
            " popularity, market_set_id, upc) VALUES (?,?,?,?,?,?,'year',?,?,?)",
            ((i + 1, src, f"al{i + 1}", f"Album {i + 1}", ALBUM_TYPES[al_type[i]], str(years[i]), int(al_pop[i]),
              int(al_mkt[i]), f"{i + 1:012d}") for i in range(n_albums)),
        )
        conn.executemany("INSERT INTO album_artists(album_id, position, artist_id) VALUES (?,0,?)",
                         ((i + 1, int(album_artist[i])) for i in range(n_albums)))
        # tracks
        album_of = np.sort(rng.integers(1, n_albums + 1, n))
        pop = np.zeros(n)
        tail = rng.random(n) > 0.72
        pop[tail] = np.minimum(100, np.floor(rng.exponential(9.0, int(tail.sum())) + 1))
        pop_null = rng.random(n) < 0.01
        dur = np.rint((rng.gamma(4.0, 55.0, n) + 20) * 1000).astype(np.int64)
        dur_null = rng.random(n) < 0.005
        has_listens = rng.random(n) < 0.2
        listens = np.floor(3 * 10 ** (0.092 * pop) * rng.lognormal(0, 0.5, n)).astype(np.int64)
        explicit = (rng.random(n) < 0.12).astype(int)
        # recordings: ~4 % of tracks reuse an earlier track's recording (shared ISRC)
        rec = np.arange(1, n + 1)
        dup = rng.random(n) < 0.04
        dup[0] = False
        idx = np.flatnonzero(dup)
        rec[idx] = rng.integers(1, np.maximum(idx, 1) + 1)
        while True:   # follow chains so every duplicate points at an original recording
            nxt = rec[rec - 1]
            if np.array_equal(nxt, rec):
                break
            rec = nxt
        own = rec == np.arange(1, n + 1)
        isrc_null = rng.random(n) < 0.05
        conn.executemany(
            "INSERT INTO recordings(id, isrc, title, duration_ms) VALUES (?,?,?,?)",
            ((int(i + 1), None if isrc_null[i] else f"XX{seed % 100:02d}{i + 1:08d}", f"Track {i + 1}",
              int(dur[i])) for i in np.flatnonzero(own)),
        )
        key = rng.integers(0, 12, n)
        mode = rng.integers(0, 2, n)
        for a in range(0, n, batch):
            b = min(n, a + batch)
            conn.executemany(
                "INSERT INTO tracks(id, source_id, source_key, album_id, recording_id, name, track_number, "
                "duration_ms, explicit, popularity, listens, market_set_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                ((i + 1, src, f"t{i + 1}", int(album_of[i]), int(rec[i]), f"Track {i + 1}", 1,
                  None if dur_null[i] else int(dur[rec[i] - 1]), int(explicit[i]),
                  None if pop_null[i] else int(pop[i]), int(listens[i]) if has_listens[i] else None,
                  int(al_mkt[album_of[i] - 1])) for i in range(a, b)),
            )
            conn.executemany(
                "INSERT INTO track_artists(track_id, position, artist_id) VALUES (?,0,?)",
                ((i + 1, int(album_artist[album_of[i] - 1])) for i in range(a, b)),
            )
            feat = np.flatnonzero(rng.random(b - a) < features) + a
            en = rng.random(len(feat))
            conn.executemany(
                "INSERT INTO audio_features(track_id, tempo, key, mode, loudness, danceability, energy, valence,"
                " acousticness) VALUES (?,?,?,?,?,?,?,?,?)",
                ((int(i + 1), float(rng.normal(120, 25)), int(key[i]), int(mode[i]), float(-20 + 15 * e),
                  float(np.clip(0.3 + 0.5 * e + rng.normal(0, 0.1), 0, 1)), float(e),
                  float(np.clip(0.5 * e + rng.normal(0.25, 0.15), 0, 1)), float(np.clip(1 - e + rng.normal(0, 0.1), 0, 1)))
                 for i, e in zip(feat.tolist(), en.tolist(), strict=True)),
            )
