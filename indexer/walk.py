"""Find media files under folders: by content (magic bytes, then FFmpeg), not by extension.

A file whose first bytes are a media container is taken whatever its name; a file that only
*claims* to be media by its extension is taken too, so that the decoder can record why it is
unusable instead of it silently vanishing; a file neither recognises is shown to FFmpeg, and taken
if FFmpeg finds audio or footage in it (`.au`, `.flv`, `.ac3`, ... under any name). Everything
else (images, documents, text) is ignored, and `walk` says so: runs count and record ignored files.
A link named like media that leads to no file (dangling, or a loop) is a candidate with a
`problem`, so the library records why it was not indexed.

Subtitles and text beside a media file of the same stem (`indexer.file_text.sidecars`) are not
media but not ignored either: full-text search reads them, so they are counted as sidecars.
A file whose name is not valid UTF-8 cannot be stored (the library keeps paths as SQLite TEXT):
it is set apart in `bad_names`, so the run reports it and indexes everything else. Folders are
walked with an explicit stack, not recursion, so any depth the file system allows is walked.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av

from indexer.file_text import sidecars
from pe_search.media.check import (
    SNIFF_BYTES,
    looks_like_text,
    sniff_container,
    sniff_not_media,
    symlink_problem,
)
from pe_search.media.containers import is_image_format

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
        ".au",
        ".snd",
        ".flv",
        ".f4v",
        ".ac3",
        ".eac3",
        ".dts",
        ".amr",
        ".wv",
        ".ape",
        ".mka",
        ".ogv",
        ".spx",
        ".m2ts",
        ".vob",
        ".mxf",
        ".dv",
        ".mp2",
        ".m4b",
        ".w64",
        ".rf64",
        ".aifc",
    ]
)


@dataclass(frozen=True)
class MediaCandidate:
    path: Path
    container: str | None  # what the first bytes (or FFmpeg) say, None when only the extension claims media
    problem: str | None = None  # a link that leads to no file: recorded as failed with this reason


@dataclass(frozen=True)
class IgnoredFile:
    path: Path
    what: str  # what the file is instead of audio or video ("text", "a PNG image")
    status: str = "ignored"  # or "sidecar": subtitles or text of a media file beside it


@dataclass
class WalkResult:
    media: list[MediaCandidate] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)
    bad_names: list[MediaCandidate | IgnoredFile] = field(default_factory=list)  # names not UTF-8


BAD_NAME = (
    "the file name is not valid UTF-8, so the library cannot record it; rename it to UTF-8 "
    "(for example with convmv) and index again"
)


def shown_name(path: str | Path) -> str:
    """A path as text whatever its bytes: bytes that are not UTF-8 shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _storable(path: Path) -> bool:
    """Whether the path is valid UTF-8 (os.fsdecode leaves other bytes as lone surrogates)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _files_under(root: Path, skip: frozenset[Path] = frozenset()) -> Iterator[Path]:
    """Files under `root` in os.walk's top-down sorted order (a folder's files, then its
    subfolders), hidden names, links to folders and the folders in `skip` left out; iterative,
    so no depth is too deep."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue  # unreadable folder: skipped, as os.walk does
        subfolders = []
        for entry in listed:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                yield Path(entry.path)
            elif not entry.is_symlink() and Path(entry.path) not in skip:
                subfolders.append(Path(entry.path))
        stack.extend(reversed(subfolders))


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def classify(path: Path) -> MediaCandidate | IgnoredFile:
    """A candidate if the content, the extension or FFmpeg says media, else what the file is."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        head = b""
    container = sniff_container(head)
    if container is not None or path.suffix.lower() in MEDIA_EXTENSIONS:
        return MediaCandidate(path, container)
    what = sniff_not_media(head)
    if what is not None:
        return IgnoredFile(path, what)
    if not head:
        return IgnoredFile(path, "an empty file" if path.stat().st_size == 0 else "unreadable")
    if looks_like_text(path):
        return IgnoredFile(path, "text")
    return _ask_ffmpeg(path)


def _ask_ffmpeg(path: Path) -> MediaCandidate | IgnoredFile:
    """Whether FFmpeg finds audio or footage (not a still picture) in a file nothing else recognised."""
    try:
        with av.open(
            str(path), options={"protocol_whitelist": "file"}, metadata_errors="ignore"
        ) as container:
            if container.streams.audio or (container.streams.video and not is_image_format(container)):
                return MediaCandidate(path, container.format.name.split(",")[0])
            return IgnoredFile(path, "an image" if container.streams.video else "not audio or video")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return IgnoredFile(path, "not audio or video")


def _only_under(root: Path, only: Iterable[Path], skipped: frozenset[Path]) -> Iterator[tuple[Path, str]]:
    """The files of `only` (files or folders; gone ones give nothing) that lie under the folder
    `root`, with their paths relative to it: hidden names and skipped folders left out as a
    whole walk leaves them out."""
    for path in only:
        if path != root and not path.is_relative_to(root):
            continue
        parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in parts):
            continue
        if any(path == folder or path.is_relative_to(folder) for folder in skipped):
            continue
        if path.is_dir() and not path.is_symlink():
            yield from ((file, file.relative_to(root).as_posix()) for file in _files_under(path, skipped))
        elif path.is_file() or path.is_symlink():
            yield path, "/".join(parts)


def walk(
    roots: Iterable[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip: Iterable[str | Path] = (),
    only: Iterable[str | Path] | None = None,
) -> WalkResult:
    """Media candidates and ignored files under `roots` (files or folders), recursively, in a
    stable order.

    `include`/`exclude` are shell globs matched against the path relative to its root and
    against the file name; hidden files and folders are skipped (neither media nor ignored), and
    so are the folders in `skip` (the library's own folder, when it is kept among its media).
    `only`: look at just these paths under the roots (what a watcher saw change), each judged
    as the whole walk would judge it.
    """
    result = WalkResult()
    seen: set[Path] = set()
    skipped = frozenset(Path(folder).expanduser().absolute().resolve() for folder in skip)
    changed = None if only is None else sorted({Path(p).expanduser().absolute() for p in only})
    for root in roots:
        root = Path(root).expanduser().absolute()
        if root.is_symlink() and not root.exists() or (root := root.resolve()).is_file():
            files = [(root, root.name)] if changed is None or root in changed else []
        elif changed is not None:
            files = list(_only_under(root, changed, skipped))
        else:
            files = [(file, file.relative_to(root).as_posix()) for file in _files_under(root, skipped)]
        for file, relative in files:
            linked_to_nothing = file.is_symlink() and not file.exists()
            if not linked_to_nothing and not file.is_file():
                continue
            if file in seen:
                continue
            if include and not _matches(relative, include):
                continue
            if exclude and _matches(relative, exclude):
                continue
            seen.add(file)
            if not _storable(file):
                result.bad_names.append(
                    IgnoredFile(file, symlink_problem(file)) if linked_to_nothing else classify(file)
                )
                continue
            if linked_to_nothing:
                if file.suffix.lower() in MEDIA_EXTENSIONS:
                    result.media.append(MediaCandidate(file, None, symlink_problem(file)))
                else:
                    result.ignored.append(IgnoredFile(file, symlink_problem(file)))
                continue
            found = classify(file)
            (result.media if isinstance(found, MediaCandidate) else result.ignored).append(found)
    _mark_sidecars(result)
    return result


def _mark_sidecars(result: WalkResult) -> None:
    """Ignored files that are the subtitles or text of a media file found: sidecars."""
    listing: dict[Path, dict[str, list[str]]] = {}
    belonging = {side for media in result.media for side in sidecars(media.path, listing)}
    result.ignored = [
        IgnoredFile(other.path, "subtitles or text of a media file", "sidecar")
        if other.path in belonging
        else other
        for other in result.ignored
    ]


def iter_media(
    roots: Iterable[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[MediaCandidate]:
    """The media candidates of `walk` (links that lead to no file left out)."""
    yield from (c for c in walk(roots, include, exclude).media if c.problem is None)
