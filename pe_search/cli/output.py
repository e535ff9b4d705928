"""How every command talks to the user: a readable line or table, or `--json`; errors as one line."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")(
        function
    )


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def shown_path(path: str) -> str:
    """A path kept on its one line of text output: control characters in a file name (a newline)
    are shown escaped, as Python writes them ("\\n"); JSON output carries the path as it is."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def hit_path(item) -> str:
    """A hit's or span's path for a text row, marked when the file is gone from disk."""
    shown = shown_path(item.path)
    return f"{shown}  (missing: deleted since it was indexed)" if getattr(item, "missing", False) else shown


def clock(seconds: float) -> str:
    """Seconds as mm:ss.ss, or h:mm:ss.ss past an hour."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{rest:05.2f}" if hours else f"{minutes:02d}:{rest:05.2f}"


def emit_json(value: Any) -> None:
    click.echo(json.dumps(_plain(value), indent=2, sort_keys=False))


def fail(message: str, as_json: bool = False, code: int = 1) -> None:
    """Print one line (and the JSON error object with --json) and exit non-zero."""
    if as_json:
        emit_json({"error": message})
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
