"""``serve()``: run the web app on uvicorn, bound before the URL is announced (so ``port=0`` works)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from phonotheque.archive import Archive
from phonotheque.errors import PhonothequeError


class ServeError(PhonothequeError):
    """The server cannot start (address in use, bad host or port)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port); :class:`ServeError` if impossible."""
    if not 0 <= port <= 65535:
        raise ServeError(f"port {port}: must be between 0 and 65535")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"host {host!r}: cannot resolve ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"{host}:{port}: cannot listen ({exc.strerror or exc})") from exc
    sock.set_inheritable(True)
    return sock


def serve(
    archive: Archive,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``archive`` read-only at ``http://host:port/`` until interrupted.

    ``on_ready(url)`` is called once the socket listens (with the real port when ``port`` is 0).
    A host other than a loopback address makes every page, the API and the held audio public on
    that network: the CLI warns about it.
    """
    import uvicorn

    from phonotheque.web.app import create_app

    app = create_app(archive.root)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    if on_ready is not None:
        on_ready(url_of(host, actual))
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level in ("info", "debug"), lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
