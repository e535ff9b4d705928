"""The tags a container and its streams carry (title, artist, album, comment, genre, date, ...)."""

from __future__ import annotations

import os

from pe_search.errors import MediaError
from pe_search.media.containers import open_media


def read_tags(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(name, value) of the container's tags, then each stream's, as FFmpeg reads them; [] when
    the file cannot be opened (the indexer records why elsewhere)."""
    try:
        with open_media(path) as container:
            tags = list(container.metadata.items())
            for stream in container.streams:
                tags += list(stream.metadata.items())
    except MediaError:
        return []
    return [(str(name), str(value)) for name, value in tags]
