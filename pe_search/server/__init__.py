"""`pe-search serve`: the HTTP API (FastAPI, OpenAPI at /openapi.json, docs at /docs) and the web page
where every hit plays at its moment. Built on the public `Library` API; see docs/http.md.

The app is imported when first asked for (PEP 562), not with the package: the CLI reads the
server's settings (`pe_search.server.config`) to build `pe-search serve`'s options, and importing
the app would load the models' libraries (torch) into every command, `pe-search status` included
(issue 24: most of its start-up time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pe_search.server.app import create_app
    from pe_search.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from pe_search.server.app import create_app

        return create_app
    if name == "ServerConfig":
        from pe_search.server.config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
