"""The web application: ``create_app(archive_root)`` → a FastAPI app with the JSON API and the HTML pages.

Read-only by construction: every request borrows a :class:`~phonotheque.web.data.ReadOnlyArchive`
from a small pool (one read-only SQLite connection each, used by one request at a time), so a
running import or package is never blocked by the server and never blocks it (WAL readers).

Errors: every :class:`~phonotheque.errors.PhonothequeError` becomes ``{"error": "..."}`` (JSON under
``/api/``) or an HTML error page, with the status its meaning calls for (400 malformed, 404 unknown,
416 bad range, 451 excluded, 503 catalog or search index unavailable). Nothing else leaks: an
unexpected exception answers 500 ``internal error`` without a traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from phonotheque.archive import Archive
from phonotheque.catalog.search import SearchIndexError
from phonotheque.errors import (
    ArchiveError,
    CatalogSchemaError,
    ExcludedError,
    NotFoundError,
    PhonothequeError,
    QueryError,
    StoreError,
)
from phonotheque.web import data
from phonotheque.web.data import ReadOnlyArchive
from phonotheque.web.ranges import RangeError

log = logging.getLogger("phonotheque.web")

STATUS: tuple[tuple[type[PhonothequeError], int], ...] = (
    (RangeError, 416),
    (ExcludedError, 451),
    (QueryError, 400),
    (NotFoundError, 404),
    (StoreError, 404),
    (SearchIndexError, 503),
    (CatalogSchemaError, 503),
    (ArchiveError, 503),
)
SUMMARY_TTL = 30.0  # seconds a changed catalog may show older statistics on the home page
SECURITY_HEADERS = {
    # pages load only from this server: no CDN, no outside requests, no inline script
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
                               "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ArchivePool:
    """Read-only archive handles, each lent to one request at a time (threads of the server's pool)."""

    def __init__(self, root: str | Path) -> None:
        self.base = Archive.open(root)
        self._free: list[ReadOnlyArchive] = []
        self._all: list[ReadOnlyArchive] = []
        self._lock = threading.Lock()
        self._summary: tuple[tuple[int, ...], float, dict[str, Any]] | None = None

    @contextmanager
    def archive(self) -> Iterator[ReadOnlyArchive]:
        with self._lock:
            handle = self._free.pop() if self._free else None
        if handle is None:
            handle = ReadOnlyArchive(self.base.root, self.base.settings)
            with self._lock:
                self._all.append(handle)
        try:
            yield handle
        finally:
            handle.end_read()
            with self._lock:
                self._free.append(handle)

    def summary(self) -> dict[str, Any]:
        """The home page's statistics, recomputed at most every SUMMARY_TTL seconds and only after a write.

        ``stats()`` aggregates whole tables; serving it on every request would make the home page
        cost a full scan of the catalog. Writes are seen through the catalog and WAL files' sizes and
        modification times.
        """
        key = self._catalog_state()
        now = time.monotonic()
        with self._lock:
            cached = self._summary
        if cached is not None and (cached[0] == key or now - cached[1] < SUMMARY_TTL):
            return cached[2]
        with self.archive() as archive:
            value = data.summary(archive)
        with self._lock:
            self._summary = (key, now, value)
        return value

    def _catalog_state(self) -> tuple[int, ...]:
        out: list[int] = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(f"{self.base.catalog_path}{suffix}")
                out += [st.st_mtime_ns, st.st_size]
            except OSError:
                out += [0, 0]
        return tuple(out)

    def close(self) -> None:
        with self._lock:
            for handle in self._all:
                handle.close()
            self._all.clear()
            self._free.clear()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def status_of(exc: PhonothequeError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    message = _one_line(message)
    if _is_api(request):
        return json_response({"error": message, "status": status}, status, headers)
    from phonotheque.web.pages import render_error

    try:
        return render_error(request, status, message, headers)
    except Exception:  # the error page itself failed: plain text, never a traceback
        log.exception("rendering the error page failed")
        return Response(f"{status}: {message}\n", status_code=status, media_type="text/plain", headers=headers)


def create_app(archive_root: str | Path) -> FastAPI:
    """The app serving the archive at ``archive_root`` (raises :class:`ArchiveError` if it is not one)."""
    pool = ArchivePool(archive_root)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        title=f"phonotheque: {pool.base.settings['archive.name']}",
        description="Read-only JSON API of a phonotheque archive: search, lookups, pages, true shuffle, "
                    "where to get a file, audio of held files.",
        docs_url=None, redoc_url=None,  # Swagger UI would load its script from a CDN
        openapi_url="/api/openapi.json", lifespan=lifespan,
    )
    app.state.pool = pool

    @app.exception_handler(PhonothequeError)
    async def _phonotheque_error(request: Request, exc: PhonothequeError) -> Response:
        status = status_of(exc)
        headers = {"Content-Range": f"bytes */{exc.size}"} if isinstance(exc, RangeError) else None
        if status == 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(request, status, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors()[:3]:
            loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body")]
            value = err.get("input")
            shown = repr(value) if isinstance(value, str | int | float) else ""
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            name = ".".join(loc) or "request"
            parts.append(f"{name} {shown}: {err.get('msg', 'invalid')}" if shown else f"{name}: {err.get('msg', 'invalid')}")
        return error_response(request, 400, "; ".join(parts) or "malformed request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"{request.url.path}: no such page"
        return error_response(request, exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(sqlite3.Error)
    async def _sqlite_error(request: Request, exc: sqlite3.Error) -> Response:
        log.error("%s %s: sqlite: %s", request.method, request.url.path, exc)
        return error_response(request, 503, f"catalog unavailable: {exc}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(request, 500, "internal error (see the server log)")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if _is_api(request):
            response.headers.setdefault("Access-Control-Allow-Origin", "*")
        return response

    from phonotheque.web import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("phonotheque.web", "static")]), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> Response:
        return Response(status_code=204)

    return app
