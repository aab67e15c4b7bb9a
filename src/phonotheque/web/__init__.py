"""The web UI and JSON API (``phonotheque serve``): read-only pages over an archive, each with a JSON twin.

``create_app`` and ``serve`` are imported on first use, so that importing this package (the CLI does, for
every command) does not load FastAPI and uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phonotheque.web.app import create_app
    from phonotheque.web.server import serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from phonotheque.web.app import create_app

        return create_app
    if name == "serve":
        from phonotheque.web.server import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
