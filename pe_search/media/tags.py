"""The tags a container and its streams carry (title, artist, album, comment, genre, date, ...)."""

from __future__ import annotations

import os

import av.container

from pe_search.errors import MediaError
from pe_search.media.containers import open_media


def read_tags(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(name, value) of the container's tags, then each stream's, as FFmpeg reads them; [] when
    the file cannot be opened (the indexer records why elsewhere)."""
    try:
        with open_media(path) as container:
            return tags_of(container)
    except MediaError:
        return []


def tags_of(container: av.container.InputContainer) -> list[tuple[str, str]]:
    """`read_tags` of a container already open (the indexer reads them in its one open of a file)."""
    tags = list(container.metadata.items())
    for stream in container.streams:
        tags += list(stream.metadata.items())
    return [(str(name), str(value)) for name, value in tags]
