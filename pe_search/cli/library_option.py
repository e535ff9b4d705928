"""The `--library DIR` option every library command shares (env PE_SEARCH_LIBRARY, default ./pe-library)."""

from __future__ import annotations

import click

from pe_search.store import LIBRARY_ENV


def library_option(function):
    return click.option(
        "--library",
        "library",
        default=None,
        metavar="DIR",
        help=f"Library directory (default: ${LIBRARY_ENV} or ./pe-library).",
    )(function)
