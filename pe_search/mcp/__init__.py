"""pe-search as a Model Context Protocol server (docs/mcp.md): a front door beside the CLI and the
HTTP API, calling the same `Library` entry points; nothing below the front doors knows of it."""

from pe_search.mcp.results import MediaUrls
from pe_search.mcp.server import build_server
from pe_search.mcp.tools import LibraryTools

__all__ = ["LibraryTools", "MediaUrls", "build_server"]
