"""`pe-search mcp`: the library as tools for an AI assistant over the Model Context Protocol
(docs/mcp.md): stdio by default, streamable HTTP with `--http`."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import click

from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option
from pe_search.cli.serve import bind_token
from pe_search.server.config import DEFAULT_HOST, TOKEN_ENV, ServerConfig, is_loopback

DEFAULT_MCP_PORT = 8766  # beside `serve`'s 8765, so both can run


def _server_address(_context, _parameter, value: str | None) -> str | None:
    """`--media-url` is where a `pe-search serve` answers: an http(s) address, not a bare host."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise click.BadParameter(f"{value!r} is not a server address: give one like http://127.0.0.1:8765")
    return value


@click.command("mcp")
@library_option
@click.option("--http", "over_http", is_flag=True, help="Streamable HTTP at /mcp instead of stdio.")
@click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="With --http: address to bind (off loopback needs a token)."
)  # fmt: skip
@click.option(
    "--port", default=DEFAULT_MCP_PORT, show_default=True, type=click.IntRange(0, 65535),
    help="With --http: port (0: any free one).",
)  # fmt: skip
@click.option(
    "--token",
    default=None,
    help=f"With --http: require `Authorization: Bearer TOKEN` (default: ${TOKEN_ENV}).",
)
@click.option(
    "--media-url", default=None, metavar="BASE", callback=_server_address,
    help="A running `pe-search serve` (http://127.0.0.1:8765): results carry its media URLs.",
)  # fmt: skip
@click.option("--device", default=None, help="cpu or cuda.")
@json_option
def mcp_command(library, over_http, host, port, token, media_url, device, as_json) -> None:
    """Serve a library's search, locate, file and status as MCP tools (stdio, or --http)."""
    from pe_search.api import Library
    from pe_search.mcp import LibraryTools, MediaUrls, build_server

    token = bind_token(host, token) if over_http else None
    opened = Library.open(library, device=device)
    _ = opened.store  # a missing or unreadable library fails here, as one line, not in the first call
    tools = LibraryTools(opened, MediaUrls(media_url), allow_paths=not over_http)
    server = build_server(tools)
    threading.Thread(target=tools.warm_up, name="pe-search-warm-up", daemon=True).start()
    if not over_http:
        from pe_search.mcp.transports import run_stdio

        click.echo(f"pe-search MCP server on stdio for {opened.path}", err=True)
        run_stdio(server)
        return
    import uvicorn

    from pe_search.mcp.transports import HTTP_PATH, http_app

    config = ServerConfig(library=opened.path, token=token, loopback_only=is_loopback(host))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}{HTTP_PATH}"
    if as_json:  # one line for whoever started it: where the server listens
        emit_json({"library": str(opened.path), "url": url, "token_required": bool(token)})
    else:
        click.echo(f"MCP server for {opened.path} on {url}; Ctrl+C stops", err=True)
    uvicorn.run(http_app(server, config, host), host=host, port=port, log_level="warning")
