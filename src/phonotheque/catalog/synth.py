"""Deterministic, seeded generator of realistic synthetic catalogs.

Two entry points share one model, so a JSONL file and the column arrays agree for the same seed:

* :func:`columns` — numpy arrays per track (popularity, listens, durations, ISRC groups, artist and
  album popularity), for planner benchmarks that need no SQLite at all;
* :func:`write_jsonl` — web-API-shaped track objects, one per line (the ``jsonl`` import format).

The model (see docs/stats.md for the figures it produces):

* **listens** follow a Zipf-like law over a random rank ``r``: ``L0 * (r/n) ** -S`` times log-normal
  noise, so >= 70 % of tracks have under 1,000 listens and the top 0.1 % draw most listens;
* **popularity** (0-100) is a log of listens, zero for the quiet majority (as in the reference data);
* **albums**: most are singles; EPs and long albums make up the rest;
* **ISRCs**: most tracks own one; some recordings reappear on 2-20 albums (compilations, reissues) and
  then share the ISRC, the title and the duration;
* **names** are built from word lists in many scripts (accents, CJK, Cyrillic, Arabic, emoji).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

if TYPE_CHECKING:
    from phonotheque.archive import Archive

ZIPF_EXPONENT = 1.3
TAIL_LISTENS = 40.0

_WORDS: dict[str, list[str]] = {
    "en": ["love", "night", "heart", "dance", "fire", "light", "dream", "blue", "rain", "home", "summer", "road", "girl", "boy", "world", "time", "baby", "moon", "star", "river", "gold", "wild", "city", "ghost", "sweet", "broken", "stay", "alone", "forever", "shadow", "ocean", "midnight", "sugar", "thunder", "paper", "radio", "electric", "young", "lonely", "silver", "highway"],
    "fr": ["amour", "nuit", "cœur", "été", "rêve", "lumière", "étoile", "chanson", "fenêtre", "éternel", "déjà", "vu", "âme", "mélodie", "première", "fois", "où", "ciel", "château", "français", "forêt"],
    "es": ["corazón", "canción", "niña", "mañana", "fuego", "noche", "luna", "mío", "señor", "pasión", "bailar", "vida", "años", "amor", "sueño", "dolor", "cielo", "así", "también"],
    "de": ["Straße", "Mädchen", "schön", "Größe", "über", "Nacht", "Träume", "Frühling", "Herz", "Wald", "Feuer", "Sehnsucht", "für", "Glück", "Müde"],
    "pt": ["saudade", "coração", "ação", "canção", "não", "irmão", "mãe", "sol", "amanhã", "você"],
    "nord": ["Björk", "Ísland", "sjö", "Ørsted", "søvn", "hjärta", "kärlek", "Åsa"],
    "ja": ["夜", "桜", "東京", "恋", "夢", "心", "空", "雨", "君", "花火", "さくら", "ありがとう", "光", "風", "ひかり"],
    "zh": ["月亮", "爱情", "北京", "晚安", "星空", "时间", "你好", "梦想", "春天", "青春"],
    "ko": ["사랑", "밤", "하늘", "너", "꿈", "봄날", "눈물", "별", "우리"],
    "ru": ["Любовь", "ночь", "город", "звезда", "зима", "Москва", "песня", "сердце", "ветер", "небо"],
    "uk": ["Київ", "пісня", "мрія", "серце", "весна"],
    "ar": ["حبيبي", "قلبي", "ليل", "يا", "نور", "سلام", "حياة", "بحر"],
    "el": ["αγάπη", "νύχτα", "θάλασσα", "όνειρο"],
    "he": ["אהבה", "לילה", "שלום"],
    "hi": ["दिल", "प्यार", "रात", "सपना"],
    "emoji": ["🔥", "❤️", "🌙", "✨", "🎵", "💔", "🌊", "☀️"],
}
_LANGS = list(_WORDS)
# share of artists writing in each language (roughly world-catalog-like: English dominates)
_LANG_WEIGHTS = np.array([40, 7, 9, 5, 3, 1, 7, 6, 4, 5, 1, 3, 1, 1, 2, 5], dtype=float)
_ARTIST_SUFFIX = ["", "", "", "", " Band", " & The Night", " Trio", " Quartet", " Orchestra", " DJ", " MC"]
_MARKET_SETS = [
    ["US"], ["GB", "IE"], ["DE", "AT", "CH"], ["FR", "BE", "CH", "LU"], ["JP"], ["KR"], ["BR", "PT"],
    ["ES", "MX", "AR", "CO", "CL"], ["AD", "AR", "AT", "AU", "BE", "BR", "CA", "CH", "DE", "DK", "ES", "FI",
                                    "FR", "GB", "IE", "IT", "JP", "MX", "NL", "NO", "NZ", "PT", "SE", "US"],
    [],
]
_MARKET_WEIGHTS = np.array([5, 3, 3, 3, 2, 2, 2, 3, 70, 7], dtype=float)
_ALPHA = np.array(list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_WORD_LISTS = [_WORDS[lang] for lang in _LANGS]
_SEPS = ["" if lang in ("ja", "zh") else " " for lang in _LANGS]
CHUNK = 100_000
_COUNTRIES = ["US", "GB", "DE", "FR", "JP", "KR", "BR", "SE", "NL", "ES", "IT", "CA", "AU", "RU", "MX"]


def columns(n_tracks: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-track arrays of a synthetic catalog of ``n_tracks`` (deterministic for ``seed``).

    Keys: ``popularity`` (int8 0-100), ``listens`` (int64), ``duration_ms`` (int32), ``isrc_group``
    (int64, equal for tracks sharing an ISRC), ``artist`` (artist index), ``artist_popularity``,
    ``artist_followers``, ``album`` (album index), ``album_popularity``, ``explicit`` (bool),
    ``track_number``, ``album_size``.
    """
    if n_tracks < 0:
        raise ValueError("n_tracks must be >= 0")
    rng = np.random.default_rng(seed)
    n = n_tracks
    # albums: sizes until they cover n tracks; most albums are singles
    kinds = rng.choice(3, size=max(1, n), p=[0.62, 0.18, 0.20])
    sizes = np.where(kinds == 0, 1, np.where(kinds == 1, rng.integers(2, 7, size=kinds.size), rng.integers(7, 21, size=kinds.size)))
    cum = np.cumsum(sizes)
    n_albums = int(np.searchsorted(cum, n) + 1) if n else 0
    sizes = sizes[:n_albums].copy()
    if n_albums:
        sizes[-1] -= int(cum[n_albums - 1] - n)
    album = np.repeat(np.arange(n_albums), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if n_albums else np.zeros(0, dtype=np.int64)
    track_number = (np.arange(n) - np.repeat(starts, sizes) + 1).astype(np.int32)
    album_size = np.repeat(sizes, sizes).astype(np.int32)

    # artists: about one per 3 albums; albums per artist heavy-tailed (a few prolific artists)
    per_artist = np.minimum(rng.zipf(2.1, size=max(1, n_albums)), 300)
    n_artists = int(np.searchsorted(np.cumsum(per_artist), n_albums) + 1) if n_albums else 1
    artist_of_album = rng.permutation(np.repeat(np.arange(n_artists), per_artist[:n_artists])[:n_albums])
    artist = artist_of_album[album] if n else np.zeros(0, dtype=np.int64)

    # listens: Zipf over a random rank, popular artists lean to the head
    u = (rng.permutation(n) + 1.0) / max(n, 1)
    listens_f = TAIL_LISTENS * u ** (-ZIPF_EXPONENT) * rng.lognormal(0.0, 0.6, size=n)
    listens_f = np.where(rng.random(n) < 0.25, listens_f * rng.random(n) * 0.05, listens_f)
    listens = np.minimum(listens_f, 9e15).astype(np.int64)
    popularity = np.clip(np.round((np.log10(listens + 1.0) - 2.2) * 12.0), 0, 100).astype(np.int8)

    # ISRC groups: ~6 % of tracks repeat a recording that appears elsewhere (2-20 tracks per ISRC)
    isrc_group = np.arange(n, dtype=np.int64)
    n_shared = int(n * 0.06)
    if n_shared and n > 40:
        group_sizes = np.minimum(rng.zipf(1.8, size=n_shared) + 1, 20)
        group_sizes = group_sizes[np.cumsum(group_sizes) <= n_shared * 2]
        members = rng.choice(n, size=int(group_sizes.sum()), replace=False)
        heads = members[np.concatenate([[0], np.cumsum(group_sizes)[:-1]])]
        isrc_group[members] = np.repeat(heads, group_sizes)
    duration = np.clip(rng.normal(215_000, 60_000, size=n), 30_000, 1_200_000).astype(np.int32)
    duration = duration[isrc_group]

    art_listens = np.bincount(artist, weights=listens.astype(float), minlength=n_artists) if n else np.zeros(1)
    artist_popularity = np.clip(np.round((np.log10(art_listens + 1) - 2.0) * 12), 0, 100).astype(np.int8)
    artist_followers = (art_listens * rng.uniform(0.001, 0.02, size=n_artists)).astype(np.int64)
    alb_listens = np.bincount(album, weights=listens.astype(float), minlength=n_albums) if n else np.zeros(0)
    album_popularity = np.clip(np.round((np.log10(alb_listens + 1) - 2.2) * 12), 0, 100).astype(np.int8)
    explicit = rng.random(n) < 0.12
    return {
        "popularity": popularity,
        "listens": listens,
        "duration_ms": duration,
        "isrc_group": isrc_group,
        "artist": artist.astype(np.int64),
        "artist_popularity": artist_popularity[artist] if n else artist_popularity[:0],
        "artist_followers": artist_followers[artist] if n else artist_followers[:0],
        "album": album.astype(np.int64),
        "album_popularity": album_popularity[album] if n else album_popularity[:0],
        "explicit": explicit,
        "track_number": track_number,
        "album_size": album_size,
    }


class _WebIds:
    """22-character base62 ids (web-API style), a pure function of (seed, kind, index), made in blocks."""

    def __init__(self, seed: int, kind: int, count: int) -> None:
        self.seed = seed
        self.kind = kind
        self.size = max(1, min(CHUNK, count))
        self.block = -1
        self.ids: list[str] = []

    def __getitem__(self, i: int) -> str:
        block, offset = divmod(i, self.size)
        if block != self.block:
            rng = np.random.default_rng([self.seed, 7, self.kind, block])
            chars = _ALPHA[rng.integers(0, _ALPHA.size, size=(self.size, 22))]
            self.ids = ["".join(row) for row in chars.tolist()]
            self.block = block
        return self.ids[offset]


class _Names:
    """Names in one language per row, built on demand from compact word picks (bounded memory)."""

    def __init__(self, rng: np.random.Generator, langs: np.ndarray, lo: int, hi: int) -> None:
        self.langs = langs.astype(np.int8)
        self.counts = rng.integers(lo, hi + 1, size=langs.size, dtype=np.int8)
        self.picks = rng.integers(0, 1 << 16, size=(langs.size, hi), dtype=np.uint16)

    def __getitem__(self, i: int) -> str:
        lang = int(self.langs[i])
        words = _WORD_LISTS[lang]
        picks = self.picks[i, : int(self.counts[i])].tolist()
        text = _SEPS[lang].join(words[x % len(words)] for x in picks)
        return text if _LANGS[lang] == "de" else text[:1].upper() + text[1:]


def _isrc(country: str, year: int, group: int) -> str:
    """A well-formed ISRC (CC-XXX-YY-NNNNN) unique per ISRC group."""
    reg = group // 100000
    letters = "".join(chr(65 + (reg // 26**k) % 26) for k in (2, 1, 0))
    return f"{country}{letters}{year:02d}{group % 100000:05d}"


def write_jsonl(
    path: str | Path, n_tracks: int, seed: int = 0, *, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Write ``n_tracks`` web-API-shaped track objects to ``path`` (one JSON object per line).

    Deterministic: the same ``(n_tracks, seed)`` writes the same bytes. Returns counts of tracks,
    albums, artists and distinct ISRCs. ``progress(n)`` is called with lines written per chunk.
    """
    cols = columns(n_tracks, seed)
    rng = np.random.default_rng([seed, 1])
    n = n_tracks
    n_artists = int(cols["artist"].max()) + 1 if n else 0
    n_albums = int(cols["album"].max()) + 1 if n else 0
    p = _LANG_WEIGHTS / _LANG_WEIGHTS.sum()
    artist_lang = rng.choice(len(_LANGS), size=n_artists, p=p)
    suffix = rng.integers(0, len(_ARTIST_SUFFIX), size=n_artists)
    artist_namer = _Names(rng, artist_lang, 1, 2)
    artist_names = [artist_namer[i] + _ARTIST_SUFFIX[s] for i, s in enumerate(suffix.tolist())]
    artist_id = _WebIds(seed, 0, n_artists)
    artist_ids = [artist_id[i] for i in range(n_artists)]
    album_ids = _WebIds(seed, 1, n_albums)
    track_ids = _WebIds(seed, 2, n)
    album_lang = artist_lang[cols["artist"][np.searchsorted(cols["album"], np.arange(n_albums))]] if n else artist_lang
    album_names = _Names(rng, album_lang, 1, 3)
    album_market = rng.choice(len(_MARKET_SETS), size=n_albums, p=_MARKET_WEIGHTS / _MARKET_WEIGHTS.sum())
    album_year = rng.integers(1950, 2026, size=n_albums)
    album_prec = rng.choice(3, size=n_albums, p=[0.15, 0.05, 0.80])
    album_month = rng.integers(1, 13, size=n_albums)
    album_day = rng.integers(1, 29, size=n_albums)
    album_upc = rng.integers(10**11, 10**12, size=n_albums)
    album_label = rng.integers(0, max(1, n_albums // 20), size=n_albums)
    track_lang = artist_lang[cols["artist"]] if n else artist_lang
    track_names = _Names(rng, track_lang, 1, 4)
    feat = rng.random(n) < 0.1
    feat_artist = rng.integers(0, max(1, n_artists), size=n)
    isrc_country = rng.integers(0, len(_COUNTRIES), size=n)
    isrc_year = rng.integers(0, 100, size=n)
    groups = cols["isrc_group"]
    n_isrc = int(np.unique(groups).size) if n else 0
    with_listens = rng.random(n) < 0.9

    feat_all = np.where(feat & (feat_artist != cols["artist"]), feat_artist, -1)
    artist_objs = [{"id": i, "name": nm} for i, nm in zip(artist_ids, artist_names, strict=True)]

    def album_bytes(a: int, size: int, ar: int, pop: int) -> bytes:
        prec = int(album_prec[a])
        y = int(album_year[a])
        mo = int(album_month[a])
        date = (f"{y}", f"{y}-{mo:02d}", f"{y}-{mo:02d}-{int(album_day[a]):02d}")[prec]
        album_id = album_ids[a]
        return orjson.dumps({
            "id": album_id,
            "name": album_names[a],
            "album_type": "album" if size >= 7 else "single",
            "release_date": date,
            "release_date_precision": ("year", "month", "day")[prec],
            "total_tracks": size,
            "artists": [artist_objs[ar]],
            "external_ids": {"upc": f"{int(album_upc[a]):012d}"},
            "label": f"{artist_names[int(album_label[a]) % max(1, n_artists)]} Records",
            "images": [
                {"url": f"https://img.example.org/{album_id}/{w}", "width": w, "height": w} for w in (640, 300)
            ],
            "popularity": pop,
        })

    tmp = Path(str(path) + ".tmp")
    current_album = -1
    album_json = b""
    with open(tmp, "wb") as fh:
        for start in range(0, n, CHUNK):
            sl = slice(start, min(n, start + CHUNK))
            album_col = cols["album"][sl].tolist()
            artist_col = cols["artist"][sl].tolist()
            pop_col = cols["popularity"][sl].tolist()
            dur_col = cols["duration_ms"][sl].tolist()
            expl_col = cols["explicit"][sl].tolist()
            tn_col = cols["track_number"][sl].tolist()
            size_col = cols["album_size"][sl].tolist()
            alb_pop_col = cols["album_popularity"][sl].tolist()
            listens_col = cols["listens"][sl].tolist()
            group_col = groups[sl].tolist()
            feat_col = feat_all[sl].tolist()
            wl_col = with_listens[sl].tolist()
            chunk: list[bytes] = []
            for j in range(len(album_col)):
                a = album_col[j]
                ar = artist_col[j]
                g = group_col[j]
                if a != current_album:
                    current_album = a
                    album_json = album_bytes(a, size_col[j], ar, alb_pop_col[j])
                fa = feat_col[j]
                obj = {
                    "id": track_ids[start + j],
                    "name": track_names[g],
                    "artists": [artist_objs[ar]] if fa < 0 else [artist_objs[ar], artist_objs[fa]],
                    "external_ids": {"isrc": _isrc(_COUNTRIES[int(isrc_country[g])], int(isrc_year[g]), g)},
                    "popularity": pop_col[j],
                    "duration_ms": dur_col[j],
                    "explicit": expl_col[j],
                    "disc_number": 1,
                    "track_number": tn_col[j],
                    "available_markets": _MARKET_SETS[int(album_market[a])],
                }
                if wl_col[j]:
                    obj["listens"] = listens_col[j]
                chunk.append(orjson.dumps(obj)[:-1] + b',"album":' + album_json + b"}")
            fh.write(b"\n".join(chunk) + b"\n")
            if progress:
                progress(len(chunk))
    tmp.replace(path)
    return {"tracks": n, "albums": n_albums, "artists": n_artists, "isrcs": n_isrc}


def load_direct(archive: Archive, path: str | Path, source_name: str = "synth") -> int:
    """Fill the core tables straight from a :func:`write_jsonl` file (benchmarks and tests only).

    Not an importer: no remainder, no validation, no rejects — the ``jsonl`` importer is the real
    path. Tracks of one ISRC share one recording. Returns the number of tracks written.
    """
    conn = archive.conn
    with archive.transaction():
        cur = conn.execute(
            "INSERT INTO sources(name, format, licence, path) VALUES (?, 'jsonl', 'CC0-1.0', ?)",
            (source_name, str(path)),
        )
        source_id = cur.lastrowid
        artists: dict[str, int] = {}
        albums: dict[str, int] = {}
        recordings: dict[str, int] = {}
        n = 0
        with open(path, "rb") as fh:
            for line in fh:
                obj = orjson.loads(line)
                album = obj["album"]
                credits = []
                for a in [*album["artists"], *obj["artists"]]:
                    if a["id"] not in artists:
                        artists[a["id"]] = conn.execute(
                            "INSERT INTO artists(source_id, source_key, name) VALUES (?, ?, ?)",
                            (source_id, a["id"], a["name"]),
                        ).lastrowid or 0
                    credits.append(artists[a["id"]])
                album_id = albums.get(album["id"])
                if album_id is None:
                    album_id = albums[album["id"]] = conn.execute(
                        "INSERT INTO albums(source_id, source_key, name, album_type, release_date, "
                        "release_date_precision, total_tracks, upc, popularity) VALUES (?,?,?,?,?,?,?,?,?)",
                        (source_id, album["id"], album["name"], album["album_type"], album["release_date"],
                         album["release_date_precision"], album["total_tracks"], album["external_ids"]["upc"],
                         album.get("popularity")),
                    ).lastrowid or 0
                    conn.execute("INSERT INTO album_artists(album_id, position, artist_id) VALUES (?, 0, ?)",
                                 (album_id, credits[0]))
                isrc = obj["external_ids"]["isrc"]
                rec = recordings.get(isrc)
                if rec is None:
                    rec = recordings[isrc] = conn.execute(
                        "INSERT INTO recordings(isrc, title, duration_ms) VALUES (?, ?, ?)",
                        (isrc, obj["name"], obj["duration_ms"]),
                    ).lastrowid or 0
                    conn.execute("INSERT INTO recording_isrcs(isrc, recording_id) VALUES (?, ?)", (isrc, rec))
                track_id = conn.execute(
                    "INSERT INTO tracks(source_id, source_key, album_id, recording_id, name, disc_number, "
                    "track_number, duration_ms, explicit, popularity, listens) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (source_id, obj["id"], album_id, rec, obj["name"], obj["disc_number"], obj["track_number"],
                     obj["duration_ms"], int(obj["explicit"]), obj["popularity"], obj.get("listens")),
                ).lastrowid
                conn.executemany(
                    "INSERT INTO track_artists(track_id, position, artist_id) VALUES (?, ?, ?)",
                    [(track_id, pos, artists[a["id"]]) for pos, a in enumerate(obj["artists"])],
                )
                n += 1
        conn.execute("UPDATE sources SET record_count = ? WHERE id = ?", (n, source_id))
    return n
