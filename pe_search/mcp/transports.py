"""How the MCP server is reached: stdio (an assistant starts `pe-search mcp` itself), or streamable
HTTP behind the HTTP server's own access rules (`server/auth.py`): bound to loopback without a token
only requests addressed to a loopback name are answered; with a token every request carries
`Authorization: Bearer <token>`."""

from __future__ import annotations

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server
from starlette.types import ASGIApp

from pe_search.server.auth import AccessMiddleware
from pe_search.server.config import ServerConfig

HTTP_PATH = "/mcp"


def run_stdio(server: Server) -> None:
    """Serve one client over stdin/stdout until it closes them (the SDK keeps stray prints off
    stdout, which carries the protocol)."""

    async def serve() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve)


def http_app(server: Server, config: ServerConfig, host: str) -> ASGIApp:
    """The streamable HTTP endpoint at /mcp, refused before it is reached as `pe-search serve`
    refuses: a foreign Host on a loopback-only bind (421), a missing or wrong token (401)."""
    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
    return AccessMiddleware(app, config)
