"""Web-API-shaped track objects, one per line (the shape music web APIs export a library in).

``{id, name, artists:[{id,name}], album:{id, name, album_type, release_date, release_date_precision,
total_tracks, artists, external_ids:{upc}, label, images}, external_ids:{isrc}, popularity,
duration_ms, explicit, disc_number, track_number, available_markets, listens?}``

One record = one track. The album is shared by its tracks (first writer wins); the recording is
linked by ISRC (any source) or created. :func:`store` writes one parsed track and returns its
*effective* view (what the tables hold for it); :func:`rebuild` turns that view back into the
track object; :func:`load` reads the same view from the tables. The remainder is the diff
between the original object and ``rebuild(store(...))``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from phonotheque.catalog.importers.common import (
    MAX_DURATION_MS,
    Reject,
    check_date,
    opt_bool,
    opt_int,
    opt_str,
    req_str,
)
from phonotheque.catalog.writer import CatalogWriter

KIND = "track"


def parse(raw: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise Reject("invalid UTF-8 in the line") from exc
        raise Reject(f"malformed JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise Reject(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def key_of(obj: dict[str, Any]) -> str:
    return req_str(obj, "id")


_MARKET_CODES: dict[tuple[Any, ...], str] = {}
"""Market lists already checked → their codes (a catalog has few distinct lists; only all-string ones enter)."""


def _markets(obj: dict[str, Any], key: str = "available_markets") -> str | None:
    m = obj.get(key)
    if m is None or m == []:
        return None
    if type(m) is not list:
        raise Reject(f"field {key!r} must be a list of market codes")
    try:
        t = tuple(m)
        hit = _MARKET_CODES.get(t)
        if hit is not None:
            return hit
        uniq = set(m)
        codes = ",".join(sorted(uniq))
    except TypeError as exc:
        raise Reject(f"field {key!r} must be a list of market codes") from exc
    if codes.count(",") != len(uniq) - 1 or ",," in codes or codes.startswith(",") or codes.endswith(","):
        raise Reject(f"field {key!r} must be a list of market codes")
    if len(_MARKET_CODES) >= 4096:
        _MARKET_CODES.clear()
    _MARKET_CODES[t] = codes
    return codes


def prefetch(w: CatalogWriter, objs: list[dict[str, Any]]) -> None:
    """Batch lookups of the artists, albums and ISRCs a batch of tracks refers to."""
    artists: set[str] = set()
    isrcs: set[str] = set()
    albums: set[str] = set()
    for o in objs:
        for a in o.get("artists") or ():
            if type(a) is dict and a.get("id") is not None:
                artists.add(str(a["id"]))
        alb = o.get("album")
        if type(alb) is dict:
            if alb.get("id") is not None:
                albums.add(str(alb["id"]))
            for a in alb.get("artists") or ():
                if type(a) is dict and a.get("id") is not None:
                    artists.add(str(a["id"]))
        ext = o.get("external_ids")
        if type(ext) is dict and type(ext.get("isrc")) is str:
            isrcs.add(ext["isrc"])
    w.prefetch(artists, isrcs, albums)


def _artists(w: CatalogWriter, items: Any, what: str) -> list[tuple[int, str, str, str | None]]:
    """[(artist_id, key, effective name, credited_name)] for a list of {id, name} objects."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise Reject(f"field {what!r} must be a list")
    out = []
    artists = w.artists
    for a in items:
        if not isinstance(a, dict):
            raise Reject(f"field {what!r} must be a list of objects")
        name = a.get("name")
        if not isinstance(name, str):
            raise Reject(f"an artist in {what!r} has no name")
        key = a.get("id")
        if type(key) is not str:
            key = name if key is None else str(key)
        hit = artists.get(key)  # the common case, without a call
        aid, attrs = hit if hit is not None else w.artist(key, name)
        credited = None if attrs[0] == name else name
        out.append((aid, key, name, credited))
    return out


def _ext(obj: dict[str, Any], skip: str) -> list[tuple[str, str]]:
    ext = obj.get("external_ids")
    if ext is None or (type(ext) is dict and (not ext or (len(ext) == 1 and skip in ext))):
        return []
    if not isinstance(ext, dict):
        raise Reject("field 'external_ids' must be an object")
    return sorted((k, v) for k, v in ext.items() if k != skip and isinstance(v, str))


def _album(w: CatalogWriter, alb: Any) -> tuple[int, dict[str, Any]] | None:
    """The shared album of a track: (album id, its rebuilt object)."""
    if alb is None:
        return None
    if not isinstance(alb, dict):
        raise Reject("field 'album' must be an object")
    key = alb.get("id")
    if type(key) is not str:
        key = req_str(alb, "id") if key is not None else None
    if key is None:
        name = req_str(alb, "name")
        key = "name:" + name
    hit = w.albums.get(key)
    if hit is not None:
        payload = hit[1]
        if alb.get("release_date") != payload["release_date"]:  # this line's own album data is still checked
            check_date(alb.get("release_date"), alb.get("release_date_precision"))
        if alb.get("total_tracks") != payload["total_tracks"]:
            opt_int(alb, "total_tracks", 0, 100000)
        if alb.get("popularity") != payload.get("popularity"):
            opt_int(alb, "popularity", 0, 100)
        return hit  # type: ignore[no-any-return]
    row = None if key in w.absent_albums else w.conn.execute(
        "SELECT id FROM albums WHERE source_id=? AND source_key=?", (w.source_id, key)
    ).fetchone()
    if row is not None:
        hit = (row[0], load_album(w.conn, row[0]))
        w.albums[key] = hit
        return hit
    name = alb["name"] if type(alb.get("name")) is str else req_str(alb, "name")
    date, precision = check_date(alb.get("release_date"), alb.get("release_date_precision"))
    total = alb.get("total_tracks")
    if type(total) is not int or not 0 <= total <= 100000:
        total = opt_int(alb, "total_tracks", 0, 100000)
    pop = alb.get("popularity")
    if pop is not None and (type(pop) is not int or not 0 <= pop <= 100):
        pop = opt_int(alb, "popularity", 0, 100)
    album_type = opt_str(alb, "album_type")
    ext = alb.get("external_ids")
    upc = ext.get("upc") if isinstance(ext, dict) and isinstance(ext.get("upc"), str) else None
    label = alb.get("label")
    markets = _markets(alb)
    images = alb.get("images") or []
    if not isinstance(images, list):
        raise Reject("field 'album.images' must be a list")
    artists = _artists(w, alb.get("artists"), "album.artists")
    aid = w.new_id("albums")
    mset = w.market_set(markets) if markets is not None else None
    w.album_row(
        (aid, w.source_id, key, name, album_type, date, precision, total, upc, None, None, None, None, pop, mset,
         w.licence),
        replace=False,
    )
    for pos, (artist_id, _k, _n, credited) in enumerate(artists):
        w.p["album_artists"].append((aid, pos, artist_id, credited, None))
    label_name = None
    if isinstance(label, str) and label:
        _lid, label_name = w.label(label, label)
        w.p["album_labels"].append((aid, 0, _lid, None))
    img_rows = []
    for pos, im in enumerate(images):
        if isinstance(im, dict) and isinstance(im.get("url"), str):
            width = im.get("width") if type(im.get("width")) is int else None
            height = im.get("height") if type(im.get("height")) is int else None
            img_rows.append((aid, pos, im["url"], width, height))
    w.p["images"].extend(img_rows)
    album_ext = _ext(alb, "upc")
    for kind, value in album_ext:
        w.p["external_ids"].append(("album", aid, kind, value))
    payload = rebuild_album(
        key, name, album_type, date, precision, total, upc, label_name,
        [(k, n) for _a, k, n, _c in artists], [(u, wd, ht) for _i, _p, u, wd, ht in img_rows], album_ext, pop, markets,
    )
    hit = (aid, payload)
    w.albums[key] = hit
    return hit


def store(
    w: CatalogWriter, obj: dict[str, Any], key: str, existing_track: int | None
) -> tuple[int, dict[str, Any], Any]:
    """Write one track object; returns (track id, effective view, hints)."""
    get = obj.get
    # fast paths for well-typed values; the helpers give the precise rejection reasons
    name = get("name")
    if type(name) is not str:
        name = req_str(obj, "name")
    dur = get("duration_ms")
    if type(dur) is not int or not 0 <= dur <= MAX_DURATION_MS:
        dur = opt_int(obj, "duration_ms", 0, MAX_DURATION_MS)
    pop = get("popularity")
    if type(pop) is not int or not 0 <= pop <= 100:
        pop = opt_int(obj, "popularity", 0, 100)
    explicit = get("explicit")
    if explicit is True or explicit is False:
        explicit = int(explicit)
    else:
        explicit = opt_bool(obj, "explicit")
    disc = get("disc_number")
    if type(disc) is not int or not 0 <= disc <= 10000:
        disc = opt_int(obj, "disc_number", 0, 10000)
    tn = get("track_number")
    if type(tn) is not int or not 0 <= tn <= 100000:
        tn = opt_int(obj, "track_number", 0, 100000)
    listens = get("listens")
    if listens is not None and (type(listens) is not int or listens < 0):
        listens = opt_int(obj, "listens", 0)
    markets = _markets(obj)
    ext = obj.get("external_ids")
    isrc = ext.get("isrc") if isinstance(ext, dict) else None
    if isrc is not None and not isinstance(isrc, str):
        raise Reject(f"external_ids.isrc must be a string, got {isrc!r}"[:200])
    track_ext = _ext(obj, "isrc")
    album = _album(w, obj.get("album"))
    artists = _artists(w, obj.get("artists"), "artists")
    if isrc:
        rec_id, rec_isrc = w.recording_by_isrc(isrc, name, dur)
    else:
        rec_id, rec_isrc = None, None
        if existing_track is not None:
            row = w.conn.execute(
                "SELECT r.id FROM tracks t JOIN recordings r ON r.id=t.recording_id "
                "WHERE t.id=? AND r.mbid IS NULL AND r.isrc IS NULL",
                (existing_track,),
            ).fetchone()
            rec_id = row[0] if row else None
        if rec_id is None:
            rec_id = w.recording_new(name, dur)
    tid = existing_track if existing_track is not None else w.new_id("tracks")
    mset = w.market_set(markets) if markets is not None else None
    w.track_row(
        (tid, w.source_id, key, album[0] if album else None, rec_id, name, disc, tn, None, dur, explicit, pop,
         listens, mset, w.licence),
        replace=existing_track is not None,
    )
    for pos, (artist_id, _k, _n, credited) in enumerate(artists):
        w.p["track_artists"].append((tid, pos, artist_id, credited, None))
    for kind, value in track_ext:
        w.p["external_ids"].append(("track", tid, kind, value))
    eff = {
        "key": key, "name": name, "disc": disc, "tn": tn, "dur": dur, "explicit": explicit, "pop": pop,
        "listens": listens, "markets": markets, "artists": [(k, n) for _a, k, n, _c in artists],
        "isrc": rec_isrc, "ext": track_ext, "album": album[1] if album else None,
        # key order does not matter to the round trip, but rebuilding in the source's usual layout
        # lets the importer compare serialized bytes instead of parsed values
        "album_last": album is not None and next(reversed(obj)) == "album",
    }
    return tid, eff, None


# -- rebuild ----------------------------------------------------------------------------------------
def rebuild_album(
    key: str, name: str, album_type: str | None, date: str | None, precision: str | None, total: int | None,
    upc: str | None, label: str | None, artists: list[tuple[str, str]], images: list[tuple[str, Any, Any]],
    ext: list[tuple[str, str]], pop: int | None, markets: str | None,
) -> dict[str, Any]:
    ext_ids: dict[str, Any] = {"upc": upc} if upc is not None else {}
    ext_ids.update(ext)
    out: dict[str, Any] = {
        "id": key, "name": name, "album_type": album_type, "release_date": date,
        "release_date_precision": precision, "total_tracks": total,
        "artists": [{"id": k, "name": n} for k, n in artists], "external_ids": ext_ids, "label": label,
        "images": [{"url": u, "width": wd, "height": ht} for u, wd, ht in images],
    }
    if pop is not None:
        out["popularity"] = pop
    if markets is not None:
        out["available_markets"] = markets.split(",")
    return out


def rebuild(eff: dict[str, Any], hints: Any = None) -> dict[str, Any]:
    ext: dict[str, Any] = {"isrc": eff["isrc"]} if eff["isrc"] is not None else {}
    ext.update(eff["ext"])
    out: dict[str, Any] = {
        "id": eff["key"],
        "name": eff["name"],
        "artists": [{"id": k, "name": n} for k, n in eff["artists"]],
    }
    album_last = eff.get("album_last")
    if eff["album"] is not None and not album_last:
        out["album"] = eff["album"]
    out["external_ids"] = ext
    out["popularity"] = eff["pop"]
    out["duration_ms"] = eff["dur"]
    out["explicit"] = None if eff["explicit"] is None else bool(eff["explicit"])
    out["disc_number"] = eff["disc"]
    out["track_number"] = eff["tn"]
    out["available_markets"] = eff["markets"].split(",") if eff["markets"] else []
    if eff["listens"] is not None:
        out["listens"] = eff["listens"]
    if album_last:
        out["album"] = eff["album"]
    return out


# -- load (the same effective view, from the tables) ------------------------------------------------
def load_album(conn: sqlite3.Connection, album_id: int) -> dict[str, Any]:
    a = conn.execute(
        "SELECT a.source_key, a.name, a.album_type, a.release_date, a.release_date_precision, a.total_tracks, "
        "a.upc, a.popularity, m.codes FROM albums a LEFT JOIN market_sets m ON m.id=a.market_set_id WHERE a.id=?",
        (album_id,),
    ).fetchone()
    artists = [
        (r[0], r[1] if r[1] is not None else r[2])
        for r in conn.execute(
            "SELECT ar.source_key, aa.credited_name, ar.name FROM album_artists aa JOIN artists ar ON ar.id=aa.artist_id "
            "WHERE aa.album_id=? ORDER BY aa.position",
            (album_id,),
        )
    ]
    lab = conn.execute(
        "SELECT l.name FROM album_labels al JOIN labels l ON l.id=al.label_id WHERE al.album_id=? ORDER BY al.position "
        "LIMIT 1",
        (album_id,),
    ).fetchone()
    images = [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT url, width, height FROM images WHERE entity='album' AND entity_id=? ORDER BY position", (album_id,)
        )
    ]
    ext = [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT kind, value FROM external_ids WHERE entity='album' AND entity_id=? ORDER BY kind, value", (album_id,)
        )
    ]
    return rebuild_album(
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], lab[0] if lab else None, artists, images, ext, a[7], a[8]
    )


def load(conn: sqlite3.Connection, track_id: int, album_cache: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    t = conn.execute(
        "SELECT t.source_key, t.name, t.disc_number, t.track_number, t.duration_ms, t.explicit, t.popularity, "
        "t.listens, m.codes, r.isrc, t.album_id FROM tracks t LEFT JOIN market_sets m ON m.id=t.market_set_id "
        "LEFT JOIN recordings r ON r.id=t.recording_id WHERE t.id=?",
        (track_id,),
    ).fetchone()
    artists = [
        (r[0], r[1] if r[1] is not None else r[2])
        for r in conn.execute(
            "SELECT ar.source_key, ta.credited_name, ar.name FROM track_artists ta JOIN artists ar ON ar.id=ta.artist_id "
            "WHERE ta.track_id=? ORDER BY ta.position",
            (track_id,),
        )
    ]
    ext = [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT kind, value FROM external_ids WHERE entity='track' AND entity_id=? ORDER BY kind, value", (track_id,)
        )
    ]
    album = None
    if t[10] is not None:
        if album_cache is not None and t[10] in album_cache:
            album = album_cache[t[10]]
        else:
            album = load_album(conn, t[10])
            if album_cache is not None:
                if len(album_cache) > 10000:
                    album_cache.clear()
                album_cache[t[10]] = album
    return {
        "key": t[0], "name": t[1], "disc": t[2], "tn": t[3], "dur": t[4], "explicit": t[5], "pop": t[6],
        "listens": t[7], "markets": t[8], "artists": artists, "isrc": t[9], "ext": ext, "album": album,
    }
