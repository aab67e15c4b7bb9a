"""The JSON API under ``/api/``: thin adapters over :mod:`phonotheque.web.data`.

Every answer is JSON (``{"error": ...}`` on failure) except audio and ``.torrent`` downloads. Audio
is served by catalog track id or store file id only, with single byte ranges (206), ``ETag`` = the
file's sha256 (content-addressed bytes never change) and ``If-Range``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from phonotheque.errors import NotFoundError
from phonotheque.web import data
from phonotheque.web.app import json_response
from phonotheque.web.data import MAX_ID, MAX_LIMIT, AudioFile
from phonotheque.web.ranges import parse_range

router = APIRouter(prefix="/api")

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=10_000)]
CHUNK = 256 * 1024
MAX_LOOKUP_PARAM = 64 * 1024

ENDPOINTS = {
    "stats": "/api/stats",
    "search": "/api/search?q=QUERY&limit=20&offset=0",
    "lookup": "/api/lookup?id=ID&id=ISRC (or POST {\"ids\": [...]}; up to 400 ids)",
    "lookup_one": "/api/lookup/{id} (404 when nothing matches)",
    "track": "/api/tracks/{id}",
    "where": "/api/tracks/{id}/where",
    "track_audio": "/api/tracks/{id}/audio",
    "file_audio": "/api/files/{id}/audio",
    "album": "/api/albums/{id}",
    "artist": "/api/artists/{id}?limit=50&offset=0",
    "shuffle": "/api/shuffle?n=10&min_popularity=P&held=false&seed=S",
    "releases": "/api/releases",
    "release": "/api/releases/{name}",
    "torrent_file": "/api/torrents/{id}.torrent",
    "openapi": "/api/openapi.json",
}


def _pool(request: Request) -> Any:
    return request.app.state.pool


@router.get("")
def index(request: Request) -> Response:
    """The endpoints of this API."""
    name = _pool(request).base.settings["archive.name"]
    return data_json({"archive": name, "endpoints": ENDPOINTS})


def data_json(value: Any, status: int = 200) -> Response:
    return json_response(value, status)


@router.get("/stats")
def stats(request: Request) -> Response:
    """Catalog counts and distributions, plus store, releases and exclusion counts."""
    return data_json(_pool(request).summary())


@router.get("/search")
def search(request: Request, q: Annotated[str, Query(max_length=10_000)], limit: Limit = 20,
           offset: Offset = 0) -> Response:
    """Ranked search of track, artist and album names; every word must match; ``beat*`` is a prefix."""
    with _pool(request).archive() as archive:
        page = data.search_tracks(archive, q, limit=limit, offset=offset)
    page["next"] = (f"/api/search?{urlencode({'q': q, 'limit': limit, 'offset': offset + limit})}"
                    if page["more"] and offset + limit <= 10_000 else None)
    return data_json(page)


def _split_ids(id: list[str], ids: str | None) -> list[str]:
    out = [i for i in id if i.strip()]
    if ids:
        out += [i for i in ids.split(",") if i.strip()]
    return out


@router.get("/lookup")
def lookup(request: Request, id: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI's own pattern)
           ids: Annotated[str | None, Query(max_length=MAX_LOOKUP_PARAM)] = None) -> Response:
    """Look up catalog ids, ISRCs, UPC/EANs, MBIDs or SOURCE:KEY ids (``?id=…&id=…`` or ``?ids=a,b``)."""
    wanted = _split_ids(id, ids)
    with _pool(request).archive() as archive:
        return data_json(data.lookup_ids(archive, wanted))


@router.get("/lookup/{value}")
def lookup_one(request: Request, value: Annotated[str, Path(max_length=1000)]) -> Response:
    """Look up one id; 404 when it matches nothing."""
    with _pool(request).archive() as archive:
        result = data.lookup_ids(archive, [value])["results"][0]
    if not result["found"]:
        raise NotFoundError(f"{value}: {result['reason']}")
    return data_json(result)


@router.post("/lookup")
def lookup_batch(request: Request, ids: Annotated[list[str], Body(embed=True, max_length=400)]) -> Response:
    """Batch lookup: ``{"ids": ["123", "USRC17607839", ...]}`` (up to 400)."""
    with _pool(request).archive() as archive:
        return data_json(data.lookup_ids(archive, ids))


@router.get("/tracks/{track_id}")
def track(request: Request, track_id: Id) -> Response:
    """A track: credits, album, recording (ISRCs), popularity, plan decision, files held, where to get it."""
    with _pool(request).archive() as archive:
        return data_json(data.track(archive, track_id))


@router.get("/tracks/{track_id}/where")
def where(request: Request, track_id: Id) -> Response:
    """Which torrent, path and byte offset serve the track, or why none does (451 when excluded)."""
    with _pool(request).archive() as archive:
        return data_json(data.where(archive, track_id))


@router.get("/tracks/{track_id}/audio")
@router.head("/tracks/{track_id}/audio", include_in_schema=False)
def track_audio(request: Request, track_id: Id) -> Response:
    """The audio the track page plays (its first playable held file); Range requests supported."""
    with _pool(request).archive() as archive:
        f = data.track_audio_file(archive, track_id)
    return audio_response(request, f)


@router.get("/files/{file_id}/audio")
@router.head("/files/{file_id}/audio", include_in_schema=False)
def file_audio(request: Request, file_id: Id) -> Response:
    """A stored file by its id in the store; Range requests supported; 451 if it serves an excluded track."""
    with _pool(request).archive() as archive:
        f = data.audio_file(archive, file_id)
    return audio_response(request, f)


@router.get("/albums/{album_id}")
def album(request: Request, album_id: Id) -> Response:
    with _pool(request).archive() as archive:
        return data_json(data.album(archive, album_id))


@router.get("/artists/{artist_id}")
def artist(request: Request, artist_id: Id, limit: Limit = 50,
           offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    with _pool(request).archive() as archive:
        return data_json(data.artist(archive, artist_id, limit=limit, offset=offset))


@router.get("/shuffle")
def shuffle(request: Request, n: Annotated[int, Query(ge=1, le=1000)] = 10,
            min_popularity: Annotated[int | None, Query(ge=0, le=100)] = None, held: bool = False,
            seed: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None) -> Response:
    """Uniformly random tracks over the whole catalog (or the filtered tracks); ``seed`` repeats a draw."""
    with _pool(request).archive() as archive:
        return data_json(data.shuffle_tracks(archive, n=n, min_popularity=min_popularity, held=held, seed=seed))


@router.get("/releases")
def releases(request: Request) -> Response:
    """Every release with its torrents (as in torrents.json: sizes, files, popularity range, share of listens)."""
    with _pool(request).archive() as archive:
        return data_json(data.releases(archive))


@router.get("/releases/{name}")
def release(request: Request, name: Annotated[str, Path(max_length=200)]) -> Response:
    with _pool(request).archive() as archive:
        return data_json(data.releases(archive, release=name)[0])


@router.get("/torrents/{torrent_id}.torrent")
def torrent_file(request: Request, torrent_id: Id) -> Response:
    """The ``.torrent`` file of a release's torrent, by torrent id."""
    with _pool(request).archive() as archive:
        name, path = data.torrent_file(archive, torrent_id)
    return Response(path.read_bytes(), media_type="application/x-bittorrent",
                    headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}.torrent"'})


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


# ---------------------------------------------------------------------------------------------
# audio responses


def _read(path: Any, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def audio_response(request: Request, f: AudioFile) -> Response:
    """200 with the whole file, or 206 with one byte range; 416 (RangeError) when none is satisfiable."""
    etag = f'"{f.sha256}"'
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "public, max-age=86400",
               "Content-Disposition": f'inline; filename="{f.file_id}{f.path.suffix}"'}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if header is not None and if_range is not None and if_range.strip() != etag:
        header = None  # the client's copy changed: send it whole
    rng = parse_range(header, f.size)
    if rng is None:
        start, length, status = 0, f.size, 200
    else:
        start, length, status = rng[0], rng[1] - rng[0] + 1, 206
        headers["Content-Range"] = f"bytes {rng[0]}-{rng[1]}/{f.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=f.content_type)
    return StreamingResponse(_read(f.path, start, length), status_code=status, headers=headers,
                             media_type=f.content_type)

