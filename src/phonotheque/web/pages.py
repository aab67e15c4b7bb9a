"""Server-rendered HTML pages (jinja2, autoescaped; they work without JavaScript).

Each page is a thin adapter over the same :mod:`phonotheque.web.data` function as its JSON twin
under ``/api/``, which every page links to (``<link rel="alternate">`` and a visible link).
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from phonotheque import __version__
from phonotheque.catalog.lookup import credit_line
from phonotheque.errors import QueryError
from phonotheque.units import format_duration, format_size
from phonotheque.web import data
from phonotheque.web.data import MAX_ID

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PAGE = 20


def _duration(ms: int | None) -> str:
    return "–" if ms is None else format_duration(ms / 1000)


def _num(n: float | None) -> str:
    if n is None:
        return "–"
    return f"{n:,.0f}" if isinstance(n, float) else f"{n:,}"


def _credits(credits: list[dict[str, Any]] | str | None) -> str:
    if not credits:
        return ""
    return credits if isinstance(credits, str) else credit_line(credits)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("phonotheque.web", "templates"),
        autoescape=True,  # every template is HTML: names with <script> render as text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(size=lambda n: "–" if n is None else format_size(n), duration=_duration, num=_num,
                       credits=_credits, pct=lambda x: f"{100 * (x or 0):.2f} %")
    env.globals.update(version=__version__, urlencode=urlencode)
    return env


def render(request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    pool = request.app.state.pool
    context.setdefault("json_url", None)
    context.setdefault("q", "")
    body = environment().get_template(template).render(
        archive_name=pool.base.settings["archive.name"], path=request.url.path, **context)
    return HTMLResponse(body, status_code=status_code, headers=headers)


def render_error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    titles = {400: "Bad request", 404: "Not found", 416: "Range not satisfiable", 451: "Unavailable for legal reasons",
              503: "Unavailable"}
    return render(request, "error.html", status, headers, title=titles.get(status, "Error"), status=status,
                  message=message)


@router.get("/")
def home(request: Request) -> HTMLResponse:
    summary = request.app.state.pool.summary()
    return render(request, "home.html", title="Home", stats=summary, json_url="/api/stats", q="")


@router.get("/search")
def search(request: Request, q: Annotated[str, Query(max_length=10_000)] = "",
           offset: Annotated[int, Query(ge=0, le=10_000)] = 0) -> HTMLResponse:
    if not q.strip():
        return render(request, "search.html", title="Search", q=q, page=None, exact=None, json_url=None,
                      prev_url=None, next_url=None)
    with request.app.state.pool.archive() as archive:
        exact = data.id_matches(archive, q) if not offset else None
        try:
            page = data.search_tracks(archive, q, limit=PAGE, offset=offset)
        except QueryError:
            if exact is None:
                raise
            page = {"q": q, "limit": PAGE, "offset": 0, "results": [], "more": False}
    def url(o: int) -> str:
        return "/search?" + urlencode({"q": q, "offset": o} if o else {"q": q})
    return render(request, "search.html", title=f"Search: {q}", q=q, page=page, exact=exact,
                  json_url="/api/search?" + urlencode({"q": q, "limit": PAGE, "offset": offset}),
                  prev_url=url(max(0, offset - PAGE)) if offset else None,
                  next_url=url(offset + PAGE) if page["more"] and offset + PAGE <= 10_000 else None)


@router.get("/lookup")
def lookup(request: Request, ids: Annotated[str, Query(max_length=20_000)] = "") -> HTMLResponse:
    """Many ids at once (the HTML twin of ``/api/lookup``): which are in the catalog, held, excluded."""
    wanted = data.split_ids(ids)
    if not wanted:
        return render(request, "lookup.html", title="Lookup", ids=ids, result=None, found=0, json_url=None, q="")
    with request.app.state.pool.archive() as archive:
        result = data.lookup_ids(archive, wanted)
    return render(request, "lookup.html", title=f"Lookup: {len(wanted)} id(s)", ids=ids, result=result,
                  found=len(wanted) - len(result["not_found"]), q="",
                  json_url="/api/lookup?" + urlencode([("id", i) for i in wanted]))


@router.get("/tracks/{track_id}")
def track(request: Request, track_id: Id) -> HTMLResponse:
    with request.app.state.pool.archive() as archive:
        t = data.track(archive, track_id)
    return render(request, "track.html", title=t["name"], t=t, json_url=f"/api/tracks/{track_id}", q="")


@router.get("/albums/{album_id}")
def album(request: Request, album_id: Id) -> HTMLResponse:
    with request.app.state.pool.archive() as archive:
        a = data.album(archive, album_id)
    return render(request, "album.html", title=a["name"], a=a, json_url=f"/api/albums/{album_id}", q="")


@router.get("/artists/{artist_id}")
def artist(request: Request, artist_id: Id, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> HTMLResponse:
    with request.app.state.pool.archive() as archive:
        a = data.artist(archive, artist_id, limit=50, offset=offset)
    base = f"/artists/{artist_id}"
    return render(request, "artist.html", title=a["name"], a=a, q="",
                  json_url=f"/api/artists/{artist_id}?limit=50&offset={offset}",
                  prev_url=f"{base}?offset={max(0, offset - 50)}" if offset else None,
                  next_url=f"{base}?offset={offset + 50}" if offset + 50 < a["track_count"] else None)


@router.get("/shuffle")
def shuffle(request: Request, n: Annotated[int, Query(ge=1, le=100)] = 10,
            min_popularity: Annotated[int | None, Query(ge=0, le=100)] = None, held: bool = False,
            seed: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None) -> HTMLResponse:
    seed = random.SystemRandom().randrange(1, 2**31) if seed is None else seed
    params: dict[str, Any] = {"n": n, "seed": seed}
    if min_popularity is not None:
        params["min_popularity"] = min_popularity
    if held:
        params["held"] = "true"
    with request.app.state.pool.archive() as archive:
        tracks = data.shuffle_tracks(archive, n=n, min_popularity=min_popularity, held=held, seed=seed)
    again = {k: v for k, v in params.items() if k != "seed"}
    return render(request, "shuffle.html", title="True shuffle", tracks=tracks, n=n, min_popularity=min_popularity,
                  held=held, seed=seed, q="", json_url="/api/shuffle?" + urlencode(params),
                  permalink="/shuffle?" + urlencode(params), again_url="/shuffle?" + urlencode(again))


@router.get("/releases")
def releases(request: Request) -> HTMLResponse:
    with request.app.state.pool.archive() as archive:
        rels = data.releases(archive)
    return render(request, "releases.html", title="Releases", releases=rels, json_url="/api/releases", q="")
