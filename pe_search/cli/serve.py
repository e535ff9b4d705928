"""`pe-search serve`: the HTTP API and the web page on uvicorn (see docs/http.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pe_search.cli.index_options import transcribe_options
from pe_search.cli.library_option import library_option
from pe_search.cli.output import emit_json, json_option
from pe_search.errors import PeSearchError
from pe_search.server.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_SECONDS,
    TOKEN_ENV,
    ServerConfig,
    is_loopback,
)


def bind_token(host: str, token: str | None) -> str | None:
    """The token to require (given, else $PE_SEARCH_TOKEN); refuses a bind off loopback without one
    (`serve` and `mcp --http` share the rule)."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and token is None:
        raise PeSearchError(
            f"binding {host} lets other machines in: give --token TOKEN (or set ${TOKEN_ENV}), or bind 127.0.0.1"
        )
    return token


@click.command("serve")
@library_option
@click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="Address to bind (off loopback needs a token)."
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one).",
)
@click.option("--token", default=None, help=f"Require `Authorization: Bearer TOKEN` (default: ${TOKEN_ENV}).")
@click.option(
    "--max-upload-mb", default=MAX_UPLOAD_BYTES // (1024 * 1024), show_default=True, type=click.IntRange(1),
    help="Largest query upload.",
)  # fmt: skip
@click.option(
    "--max-upload-seconds", default=MAX_UPLOAD_SECONDS, show_default=True, type=click.FloatRange(min=1),
    help="Longest query upload.",
)  # fmt: skip
@click.option("--device", default=None, help="cpu or cuda.")
@click.option(
    "--allow-index", "allow_index", multiple=True, metavar="FOLDER",
    type=click.Path(exists=True, file_okay=False, readable=True, resolve_path=True, path_type=Path),
    help="A folder the page (POST /api/index) may index, with live progress (repeatable).",
)  # fmt: skip
@click.option(
    "--watch", "watch", multiple=True, metavar="FOLDER",
    type=click.Path(exists=True, file_okay=False, readable=True, resolve_path=True, path_type=Path),
    help="Watch a folder and index its changes as they happen (Library.watch), shown live on the page (repeatable).",
)  # fmt: skip
@transcribe_options
@json_option
def serve_command(
    library,
    host,
    port,
    token,
    max_upload_mb,
    max_upload_seconds,
    device,
    allow_index,
    watch,
    transcribe,
    language,
    as_json,
) -> None:
    """Serve a library over HTTP: the API (docs at /docs) and a page where every hit plays."""
    import uvicorn

    from pe_search.api import Library
    from pe_search.server import create_app

    token = bind_token(host, token)
    if allow_index and watch:
        raise PeSearchError(
            "give --watch or --allow-index, not both", "a watching server indexes its folders' changes itself"
        )
    if (transcribe or language) and not (allow_index or watch):
        raise PeSearchError(
            "--transcribe and --language apply to the runs this server starts",
            "add --allow-index FOLDER or --watch FOLDER",
        )
    opened = Library.open(library, device=device)
    _ = opened.store  # a missing or unreadable library fails here, as one line, not in the first request
    if transcribe or language:  # a mistake is said now, not at the first run
        opened.check_transcription(transcribe=transcribe, language=language)
    config = ServerConfig(
        library=opened.path,
        token=token,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        max_upload_seconds=max_upload_seconds,
        loopback_only=is_loopback(host),
        index_folders=tuple(dict.fromkeys(allow_index or watch)),
        watch=bool(watch),
        transcribe=transcribe,
        language=language,
    )
    app = create_app(config, opened, warm_up=True)
    shown = f"[{host}]" if ":" in host else host
    if as_json:  # one line for whoever started it: where the server listens
        emit_json(
            {
                "library": str(opened.path),
                "url": f"http://{shown}:{port}/",
                "token_required": bool(token),
                "index_folders": [str(folder) for folder in config.index_folders],
                "watching": config.watch,
                "transcribe": config.transcribe,
            }
        )
    else:
        click.echo(
            f"serving {opened.path} on http://{shown}:{port}/ (API docs: /docs); Ctrl+C stops", err=True
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
