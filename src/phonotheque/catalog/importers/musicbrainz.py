"""MusicBrainz release objects (JSON dump / WS/2 shape), one release per line.

A release → one ``albums`` row (source_key = release MBID); its media's tracks (including
``pregap`` and ``data-tracks``, e.g. the data track of an Enhanced CD or a DVD's tracks) → ``tracks``
rows (source_key = track MBID, disc_number = medium position, track_number = track position,
number = printed number); artist credits with join phrases → ``album_artists``/``track_artists``;
recordings linked by recording MBID (``recordings`` + ``recording_isrcs``); label-info →
``labels``/``album_labels``; barcode → ``albums.upc``; release group → ``release_group_mbid`` and
``album_type``; genres → ``album_genres``.

The rebuild fills MusicBrainz's fixed enumerations (``type-id``, ``status-id``, ``format-id``…)
from their names and common defaults (``quality: normal``, empty disambiguations) so that the
remainder only holds what is really specific: medium ids and formats (hints), recording
first-release dates, areas of release events, label details.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from phonotheque.catalog.importers.common import (
    MAX_DURATION_MS,
    Reject,
    check_date,
    opt_int,
    opt_str,
    req_str,
)
from phonotheque.catalog.importers.jsonl import parse as parse  # same line parser
from phonotheque.catalog.writer import CatalogWriter

KIND = "release"

# Fixed MusicBrainz enumerations (name -> id), from the MusicBrainz database.
ARTIST_TYPE_IDS = {
    "Person": "b6e035f4-3ce9-331c-97df-83397230b0df",
    "Group": "e431f5f6-b5d2-343d-8b36-72607fffb74b",
    "Orchestra": "a0b36c92-3eb1-3839-a4f9-4799823f54a5",
    "Choir": "6124967d-7e3a-3eba-b642-c9a2ffb44d94",
    "Character": "5c1375b0-f18d-3db7-a164-a49d7a63773f",
    "Other": "ac897045-5043-3294-969b-187360e45d86",
}
LABEL_TYPE_IDS = {
    "Imprint": "b6285b2a-3514-3d43-80df-fcf528824ded",
    "Original Production": "7aaa37fe-2def-3476-b359-80245850062d",
    "Production": "a2426aab-2dd4-339c-b47d-b4923a241678",
    "Distributor": "53ab8dcc-9946-3b62-966e-7634d78e5034",
}
STATUS_IDS = {
    "Official": "4e304316-386d-3409-af2e-78857eec5cfe",
    "Promotion": "518ffc83-5cde-34df-8627-81bff5093d92",
    "Bootleg": "1156806e-d06a-38bd-83f0-cf2284a808b9",
    "Pseudo-Release": "41121bb9-3413-3818-8a9a-9742318349aa",
}
PACKAGING_IDS = {
    "Jewel Case": "ec27701a-4a22-37f4-bfac-6616e0f9750a",
    "Cardboard/Paper Sleeve": "f7101ce3-0384-39ce-9fde-fbbd0044d35f",
    "Digipak": "8f931351-d2e2-310f-afc6-37b89ddba246",
    "Gatefold Cover": "e724a489-a7e8-30a1-a17c-30dfd6831202",
    "None": "119eba76-b343-3e02-a292-f0f00644bb9b",
}
FORMAT_IDS = {
    "CD": "9712d52a-4509-3d4b-a1a2-67c88c643e31",
    '12" Vinyl': "3e9080b0-5e6c-34ab-bd15-f526b6306a64",
    "DVD-Video": "bb71fd58-ff93-32b4-a201-4ad1b2a80e5f",
    "Digital Media": "907a28d9-b3b2-3ef6-89a8-7b18d91d4794",
    "Enhanced CD": "8a08dc62-1aa2-34de-a904-fa467c53052c",
    "Vinyl": "10e17707-9751-3aaf-95b2-2432acd5374c",
}
# Country areas of release events (ISO code -> area MBID, name), as in MusicBrainz.
AREAS = {
    "GB": ("8a754a16-0027-3a29-b6d7-2b40ea0481ed", "United Kingdom"),
    "US": ("489ce91b-6658-3307-9877-795b68554c98", "United States"),
    "CA": ("71bbafaa-e825-3e15-8ca9-017dcad1748b", "Canada"),
    "DE": ("85752fda-13c4-31a3-bee5-0e5cb1f51dad", "Germany"),
    "JP": ("2db42837-c832-3c27-b4a3-08198f75693c", "Japan"),
    "BR": ("f45b47f8-5796-386e-b172-6c31b009a5d8", "Brazil"),
    "AU": ("106e0bec-b638-3b37-b731-f53d507dc00e", "Australia"),
    "XE": ("89a675c2-3e37-3518-b83c-418bad59a85a", "Europe"),
    "XW": ("525d4e18-3d00-31b9-a58b-a146a916de8f", "[Worldwide]"),
}
PRIMARY_TYPES = {"album": "Album", "single": "Single", "ep": "EP", "broadcast": "Broadcast", "other": "Other"}
PRIMARY_TYPE_IDS = {
    "Album": "f529b476-6e62-324f-b0aa-1f3e33d313fc",
    "Single": "d6038452-8ee0-3f68-affc-2de9a1ede0b9",
    "EP": "6d0c5bf6-7a33-3420-a519-44fc63eedebf",
    "Broadcast": "3b2a3fa9-00ed-3a6e-8bae-ec9f61f4c1f8",
    "Other": "4fc3be2b-de1e-396b-a933-beb8f1607a22",
}
_MEDIUM_DERIVED = ("tracks", "data-tracks", "pregap", "track-count", "track-offset", "format-id")


def key_of(obj: dict[str, Any]) -> str:
    return req_str(obj, "id")


def prefetch(w: CatalogWriter, objs: list[dict[str, Any]]) -> None:
    """Batch lookups of the artists, labels, recording MBIDs and ISRCs a batch of releases refers to."""
    artists: set[str] = set()
    labels: set[str] = set()
    mbids: set[str] = set()
    isrcs: set[str] = set()

    def credit(c: Any) -> None:
        if type(c) is list:
            for e in c:
                a = e.get("artist") if type(e) is dict else None
                if type(a) is dict and type(a.get("id")) is str:
                    artists.add(a["id"])

    for o in objs:
        credit(o.get("artist-credit"))
        for e in o.get("label-info") or ():
            lab = e.get("label") if type(e) is dict else None
            if type(lab) is dict and type(lab.get("id")) is str:
                labels.add(lab["id"])
        media = o.get("media")
        for m in media if type(media) is list else ():
            if type(m) is not dict:
                continue
            for name in ("tracks", "data-tracks"):
                tl = m.get(name)
                for t in tl if type(tl) is list else ():
                    if type(t) is not dict:
                        continue
                    credit(t.get("artist-credit"))
                    rec = t.get("recording")
                    if type(rec) is dict and type(rec.get("id")) is str:
                        mbids.add(rec["id"])
                        for i in rec.get("isrcs") or ():
                            if type(i) is str:
                                isrcs.add(i)
    w.prefetch(artists, isrcs, (), mbids, labels)


# -- pieces of the effective view, rebuilt as MusicBrainz JSON ---------------------------------------
def artist_json(key: str, attrs: tuple[Any, ...]) -> dict[str, Any]:
    name, sort_name, disamb, type_, country, mbid = attrs
    return {
        "country": country, "disambiguation": disamb, "id": mbid or key, "name": name, "sort-name": sort_name,
        "type": type_, "type-id": ARTIST_TYPE_IDS.get(type_) if type_ else None,
    }


def _credits(w: CatalogWriter, credit: Any, what: str) -> list[tuple[int, str | None, str | None, dict[str, Any]]]:
    """[(artist id, credited_name, join phrase, credit JSON)]."""
    if credit is None:
        return []
    if not isinstance(credit, list):
        raise Reject(f"{what} must be a list")
    out = []
    for c in credit:
        if not isinstance(c, dict) or not isinstance(c.get("artist"), dict):
            raise Reject(f"{what}: an entry has no artist object")
        a = c["artist"]
        key = req_str(a, "id")
        name = req_str(a, "name")
        aid, attrs = w.artist(
            key, name, opt_str(a, "sort-name"), opt_str(a, "disambiguation"), opt_str(a, "type"),
            opt_str(a, "country"), key,
        )
        shown = c.get("name")
        credited = shown if isinstance(shown, str) and shown != attrs[0] else None
        jp = c.get("joinphrase")
        jp = jp if isinstance(jp, str) else None
        out.append((aid, credited, jp, credit_json(key, attrs, credited, jp)))
    return out


def credit_json(key: str, attrs: tuple[Any, ...], credited: str | None, jp: str | None) -> dict[str, Any]:
    return {"artist": artist_json(key, attrs), "joinphrase": jp, "name": credited if credited is not None else attrs[0]}


def label_json(key: str | None, name: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "disambiguation": "", "id": key, "label-code": None, "name": name, "sort-name": name, "type": None,
        "type-id": None,
    }


def store(w: CatalogWriter, obj: dict[str, Any], key: str, existing_album: int | None) -> tuple[int, dict[str, Any], Any]:
    """Write one release; returns (album id, effective view, hints)."""
    title = req_str(obj, "title")
    date, precision = check_date(obj.get("date"), None, "date")
    if date == "":
        precision = None
    status = opt_str(obj, "status")
    country = opt_str(obj, "country")
    barcode = opt_str(obj, "barcode")
    rg_obj = obj.get("release-group")
    rg: dict[str, Any] = rg_obj if isinstance(rg_obj, dict) else {}
    rg_id = rg.get("id") if isinstance(rg.get("id"), str) else None
    ptype = rg.get("primary-type") if isinstance(rg.get("primary-type"), str) else None
    album_type = ptype.lower() if ptype else None
    media = obj.get("media") or []
    if not isinstance(media, list):
        raise Reject("'media' must be a list")

    # tracks first (validation before anything is written)
    tracks_in: list[tuple[dict[str, Any], Any]] = []
    hints_media = []
    for m in media:
        if not isinstance(m, dict):
            raise Reject("'media' must be a list of objects")
        pos = m.get("position")
        hint = {k: v for k, v in m.items() if k not in _MEDIUM_DERIVED}
        lists = []
        if isinstance(m.get("pregap"), dict):
            lists.append([m["pregap"]])
        for name in ("tracks", "data-tracks"):
            tl = m.get(name) or []
            if not isinstance(tl, list):
                raise Reject(f"medium {pos}: {name!r} must be a list")
            lists.append(tl)
        nd = len(m.get("data-tracks") or [])
        if nd:
            hint["_nd"] = nd
        hints_media.append(hint)
        for tl in lists:
            for t in tl:
                if not isinstance(t, dict):
                    raise Reject(f"medium {pos}: a track is not an object")
                tracks_in.append((t, pos))

    album_id = existing_album if existing_album is not None else w.new_id("albums")
    credits = _credits(w, obj.get("artist-credit"), "artist-credit")
    w.album_row(
        (album_id, w.source_id, key, title, album_type, date, precision, None, barcode, key, rg_id, country, status,
         None, None, w.licence),
        replace=existing_album is not None,
    )
    for pos, (artist_id, credited, jp, _j) in enumerate(credits):
        w.p["album_artists"].append((album_id, pos, artist_id, credited, jp))
    labels = []
    li = obj.get("label-info") or []
    if not isinstance(li, list):
        raise Reject("'label-info' must be a list")
    for pos, entry in enumerate(li):
        if not isinstance(entry, dict):
            raise Reject("'label-info' must be a list of objects")
        lab = entry.get("label")
        catno = entry.get("catalog-number") if isinstance(entry.get("catalog-number"), str) else None
        lid = lkey = lname = None
        if isinstance(lab, dict) and isinstance(lab.get("id"), str):
            lkey = lab["id"]
            lname_in = lab.get("name")
            lid, lname = w.label(lkey, lname_in if isinstance(lname_in, str) else "")
        w.p["album_labels"].append((album_id, pos, lid, catno))
        labels.append((lkey, lname, catno))
    genres = []
    for pos, g in enumerate(obj.get("genres") or []):
        if isinstance(g, dict) and isinstance(g.get("name"), str):
            count = g.get("count") if type(g.get("count")) is int else None
            w.p["album_genres"].append((album_id, w.genre(g["name"]), pos, count))
            genres.append((g["name"], count))

    keys = [req_str(t, "id") for t, _p in tracks_in]
    if len(set(keys)) != len(keys):
        raise Reject("the same track id appears twice in the release")
    known: dict[str, int] = {}
    for chunk in [keys[i : i + 900] for i in range(0, len(keys), 900)]:
        marks = ",".join("?" * len(chunk))
        for tid, tkey in w.conn.execute(
            f"SELECT id, source_key FROM tracks WHERE source_id=? AND source_key IN ({marks})", (w.source_id, *chunk)
        ):
            known[tkey] = tid
    eff_tracks = []
    keep = set()
    for (t, disc), tkey in zip(tracks_in, keys, strict=True):
        tname = req_str(t, "title")
        tn = opt_int(t, "position", 0, 100000)
        number = opt_str(t, "number")
        length = opt_int(t, "length", 0, MAX_DURATION_MS)
        disc_n = disc if type(disc) is int else None
        tcredits = _credits(w, t.get("artist-credit"), f"track {tkey} artist-credit")
        rec = t.get("recording")
        rec_eff = None
        rec_id = None
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            isrcs = rec.get("isrcs") or []
            if not isinstance(isrcs, list) or not all(isinstance(i, str) for i in isrcs):
                raise Reject(f"track {tkey}: recording isrcs must be a list of strings")
            video = rec.get("video")
            rec_id, r_title, r_dur, r_video, r_isrcs = w.recording_by_mbid(
                rec["id"], isrcs, opt_str(rec, "title"), opt_int(rec, "length", 0, MAX_DURATION_MS),
                int(video) if isinstance(video, bool) else None,
            )
            rec_eff = (rec["id"], r_title, r_dur, r_video, list(r_isrcs))
        tid = known.get(tkey)
        is_new = tid is None
        if tid is None:
            tid = w.new_id("tracks")
        keep.add(tid)
        w.track_row(
            (tid, w.source_id, tkey, album_id, rec_id, tname, disc_n, tn, number, length, None, None, None, None,
             w.licence),
            replace=not is_new,
        )
        for pos, (artist_id, credited, jp, _j) in enumerate(tcredits):
            w.p["track_artists"].append((tid, pos, artist_id, credited, jp))
        eff_tracks.append(
            {"key": tkey, "name": tname, "disc": disc_n, "tn": tn, "number": number, "length": length,
             "credit": [j for *_x, j in tcredits], "rec": rec_eff}
        )
    if existing_album is not None:
        w.p["del_album_tracks"].append((album_id, keep))
    eff = {
        "key": key, "name": title, "date": date, "country": country, "status": status, "barcode": barcode,
        "rg": rg_id, "album_type": album_type, "credit": [j for *_x, j in credits],
        "labels": labels, "genres": genres, "tracks": eff_tracks,
    }
    hints: dict[str, Any] = {"m": hints_media}
    if obj.get("packaging") is not None:
        hints["pk"] = obj.get("packaging")
    return album_id, eff, hints


# -- rebuild ------------------------------------------------------------------------------------------
def _track_json(t: dict[str, Any], date: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "artist-credit": t["credit"], "id": t["key"], "length": t["length"], "number": t["number"],
        "position": t["tn"],
    }
    rec = t["rec"]
    if rec is not None:
        mbid, title, dur, video, isrcs = rec
        out["recording"] = {
            "artist-credit": t["credit"], "disambiguation": "", "first-release-date": date, "id": mbid,
            "isrcs": isrcs, "length": dur, "title": title, "video": None if video is None else bool(video),
        }
    out["title"] = t["name"]
    return out


def rebuild(eff: dict[str, Any], hints: Any) -> dict[str, Any]:
    date = eff["date"]
    hints = hints or {}
    media = []
    for hm in hints.get("m", []):
        m = {k: v for k, v in hm.items() if k != "_nd"}
        pos = m.get("position")
        ts = sorted(
            (t for t in eff["tracks"] if t["disc"] == pos),
            key=lambda t: (t["tn"] is None, t["tn"] or 0, t["key"]),
        )
        nd = hm.get("_nd", 0)
        pregap = ts.pop(0) if ts and ts[0]["tn"] == 0 else None
        data = ts[len(ts) - nd :] if nd else []
        main = ts[: len(ts) - nd] if nd else ts
        fmt = m.get("format")
        m["format-id"] = FORMAT_IDS.get(fmt) if isinstance(fmt, str) else None
        m["track-count"] = len(main)
        m["track-offset"] = 0
        if pregap is not None:
            m["pregap"] = _track_json(pregap, date)
        m["tracks"] = [_track_json(t, date) for t in main]
        if data:
            m["data-tracks"] = [_track_json(t, date) for t in data]
        media.append(m)
    packaging = hints.get("pk")
    ptype: str | None = PRIMARY_TYPES.get(eff["album_type"] or "", eff["album_type"])
    out: dict[str, Any] = {
        "artist-credit": eff["credit"], "asin": None, "barcode": eff["barcode"], "country": eff["country"],
        "cover-art-archive": {"artwork": False, "back": False, "count": 0, "darkened": False, "front": False},
        "date": date, "disambiguation": "", "id": eff["key"],
        "label-info": [{"catalog-number": c, "label": label_json(k, n)} for k, n, c in eff["labels"]],
        "media": media, "packaging": packaging,
        "packaging-id": PACKAGING_IDS.get(packaging) if isinstance(packaging, str) else None,
        "quality": "normal",
        "release-events": [] if not eff["country"] else [{"area": _area(eff["country"]), "date": date}],
        "release-group": {
            "artist-credit": eff["credit"], "disambiguation": "", "first-release-date": date, "id": eff["rg"],
            "primary-type": ptype, "primary-type-id": PRIMARY_TYPE_IDS.get(ptype) if ptype else None,
            "secondary-type-ids": [], "secondary-types": [], "title": eff["name"],
        },
        "status": eff["status"],
        "status-id": STATUS_IDS.get(eff["status"]) if eff["status"] else None,
        "text-representation": {"language": "eng", "script": "Latn"},
        "title": eff["name"],
    }
    if eff["genres"]:
        out["genres"] = [{"count": c, "disambiguation": "", "id": None, "name": n} for n, c in eff["genres"]]
    return out


def _area(country: str) -> dict[str, Any]:
    area_id, name = AREAS.get(country, (None, None))
    return {"disambiguation": "", "id": area_id, "iso-3166-1-codes": [country], "name": name, "sort-name": name,
            "type": None, "type-id": None}


# -- load -----------------------------------------------------------------------------------------
def _load_credits(conn: sqlite3.Connection, table: str, col: str, ident: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT ar.source_key, ar.name, ar.sort_name, ar.disambiguation, ar.type, ar.country, ar.mbid, "
        f"x.credited_name, x.join_phrase FROM {table} x JOIN artists ar ON ar.id=x.artist_id WHERE x.{col}=? "
        f"ORDER BY x.position",
        (ident,),
    ).fetchall()
    return [credit_json(r[0], (r[1], r[2], r[3], r[4], r[5], r[6]), r[7], r[8]) for r in rows]


def load(conn: sqlite3.Connection, album_id: int) -> dict[str, Any]:
    a = conn.execute(
        "SELECT source_key, name, release_date, country, status, upc, release_group_mbid, album_type FROM albums "
        "WHERE id=?",
        (album_id,),
    ).fetchone()
    labels = [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT l.source_key, l.name, al.catalog_number FROM album_labels al LEFT JOIN labels l ON l.id=al.label_id "
            "WHERE al.album_id=? ORDER BY al.position",
            (album_id,),
        )
    ]
    genres = [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT g.name, ag.count FROM album_genres ag JOIN genres g ON g.id=ag.genre_id WHERE ag.album_id=? "
            "ORDER BY ag.position",
            (album_id,),
        )
    ]
    tracks = []
    for t in conn.execute(
        "SELECT t.id, t.source_key, t.name, t.disc_number, t.track_number, t.number, t.duration_ms, t.recording_id, "
        "r.mbid, r.title, r.duration_ms, r.video FROM tracks t LEFT JOIN recordings r ON r.id=t.recording_id "
        "WHERE t.album_id=? ORDER BY t.disc_number, t.track_number, t.id",
        (album_id,),
    ).fetchall():
        rec = None
        if t[8] is not None:
            isrcs = [
                r[0] for r in conn.execute("SELECT isrc FROM recording_isrcs WHERE recording_id=? ORDER BY isrc", (t[7],))
            ]
            rec = (t[8], t[9], t[10], t[11], isrcs)
        tracks.append(
            {"key": t[1], "name": t[2], "disc": t[3], "tn": t[4], "number": t[5], "length": t[6],
             "credit": _load_credits(conn, "track_artists", "track_id", t[0]), "rec": rec}
        )
    return {
        "key": a[0], "name": a[1], "date": a[2], "country": a[3], "status": a[4], "barcode": a[5], "rg": a[6],
        "album_type": a[7], "credit": _load_credits(conn, "album_artists", "album_id", album_id),
        "labels": labels, "genres": genres, "tracks": tracks,
    }
