"""`pe-search serve`: the HTTP API (FastAPI, OpenAPI at /openapi.json, docs at /docs) and the web page
where every hit plays at its moment. Built on the public `Library` API; see docs/http.md."""

from pe_search.server.app import create_app
from pe_search.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
