"""Find media files under folders: by content (magic bytes), not only by extension.

A file whose first bytes are a media container is taken whatever its name; a file that only
*claims* to be media by its extension is taken too, so that the decoder can record why it is
unusable instead of it silently vanishing. Everything else (images, documents) is ignored.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pe_search.media.check import SNIFF_BYTES, sniff_container

MEDIA_EXTENSIONS = frozenset(
    [
        ".wav",
        ".wave",
        ".flac",
        ".mp3",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".aac",
        ".mp4",
        ".m4v",
        ".mkv",
        ".mka",
        ".webm",
        ".mov",
        ".avi",
        ".wma",
        ".wmv",
        ".aif",
        ".aiff",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".3gp",
        ".caf",
    ]
)


@dataclass(frozen=True)
class MediaCandidate:
    path: Path
    container: str | None  # what the first bytes say, None when only the extension claims media


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def classify(path: Path) -> MediaCandidate | None:
    """A candidate if the content or the extension says media, else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        head = b""
    container = sniff_container(head)
    if container is None and path.suffix.lower() not in MEDIA_EXTENSIONS:
        return None
    return MediaCandidate(path, container)


def iter_media(
    roots: Iterable[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[MediaCandidate]:
    """Media candidates under `roots` (files or folders), recursively, in a stable order.

    `include`/`exclude` are shell globs matched against the path relative to its root and
    against the file name; hidden files and folders are skipped.
    """
    seen: set[Path] = set()
    for root in roots:
        root = Path(root).expanduser().resolve()
        if root.is_file():
            files = [(root, root.name)]
        else:
            files = []
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith("."):
                        file = Path(folder) / name
                        files.append((file, file.relative_to(root).as_posix()))
        for file, relative in files:
            if file in seen or not file.is_file():
                continue
            if include and not _matches(relative, include):
                continue
            if exclude and _matches(relative, exclude):
                continue
            candidate = classify(file)
            if candidate is not None:
                seen.add(file)
                yield candidate
