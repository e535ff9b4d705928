"""The text a media file carries, for full-text search: its name and folders, its container tags
(read with PyAV), subtitles beside it (`.srt`, `.vtt`; each cue a timed entry) and a `.txt` of
the same stem.

Cues are kept inside the media: one that starts at or after the file's end is dropped (it would be
a hit nobody can play), one that runs past it ends at the end. Sidecars are read up to a cap
(`MAX_TEXT_CHARS` for a `.txt`, `MAX_SUBTITLE_CHARS` for a subtitle file), with a logged note,
so a huge or runaway file costs a bounded read and a bounded number of FTS rows; a subtitle file
is cut at its last whole cue before the cap.

Sidecars are found by stem: `walk.mp4` takes `walk.srt`, `walk.en.vtt` and `walk.txt`. The
signature (names, sizes and mtimes of the sidecars found) tells a later run whether to read them
again when the media file itself did not change.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pe_search.media.check import UTF16_BOMS
from pe_search.media.tags import read_tags
from pe_search.store import TextEntryRecord, path_entries

log = logging.getLogger(__name__)

SIGNATURE_VERSION = "1"
SUBTITLE_SUFFIXES = (".srt", ".vtt")
TEXT_SUFFIX = ".txt"
MAX_TEXT_CHARS = 200_000  # a .txt beyond this is cut (FTS entries stay a sane size)
MAX_SUBTITLE_CHARS = 1_000_000  # a subtitle file beyond this is cut: ~15k cues, a day of dialogue
# Container tags that describe how a file was made, not what it holds.
TECHNICAL_TAGS = frozenset(
    {
        "encoder",
        "encoded_by",
        "major_brand",
        "minor_version",
        "compatible_brands",
        "handler_name",
        "vendor_id",
        "creation_time",
        "duration",
        "language",
        "timecode",
        "encoder_options",
        "itunsmpb",
        "itunnorm",
    }
)
_CUE_TIME = re.compile(
    r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MARKUP = re.compile(r"<[^>]+>|\{\\[^}]*\}")


@dataclass(frozen=True)
class FileText:
    entries: list[TextEntryRecord]
    signature: str | None  # None: the sidecars were not read (a later run's refresh reads them)


def sidecars(path: str | Path, listing: dict[Path, dict[str, list[str]]] | None = None) -> list[Path]:
    """Subtitle and text files beside `path` that belong to it (same stem, optional .LANG).

    `listing` caches each folder's sidecar names by stem across the files of one run (a folder of
    10,000 files is listed and indexed once, and each file's lookup is one dict access)."""
    media = Path(path)
    by_stem = listing.get(media.parent) if listing is not None else None
    if by_stem is None:
        by_stem = _sidecars_by_stem(media.parent)
        if listing is not None:
            listing[media.parent] = by_stem
    return [media.parent / name for name in by_stem.get(media.stem.lower(), ())]


def _sidecars_by_stem(folder: Path) -> dict[str, list[str]]:
    """The folder's subtitle and text names under each media stem they may belong to: `x.srt`
    and `x.txt` under `x`; `x.en.vtt` under `x` (a language) and `x.en` (a stem with a dot)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    by_stem: dict[str, list[str]] = {}
    for name in names:
        if not name.isprintable() and not _utf8(name):
            continue  # a name that is not UTF-8 (lone surrogates): not storable, see indexer.walk
        candidate = Path(name)
        suffix = candidate.suffix.lower()
        base = candidate.stem.lower()
        if suffix == TEXT_SUFFIX:
            stems = {base}
        elif suffix in SUBTITLE_SUFFIXES:
            stems = {base, base.rsplit(".", 1)[0]}
        else:
            continue
        for stem in stems:
            by_stem.setdefault(stem, []).append(name)
    return by_stem


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def signature(path: str | Path, listing: dict[Path, dict[str, list[str]]] | None = None) -> str:
    """Changes when a sidecar appears, goes or changes (the media's own changes re-index it anyway)."""
    digest = hashlib.sha1(SIGNATURE_VERSION.encode())
    for sidecar in sidecars(path, listing):
        try:
            stat = sidecar.stat()
        except OSError:
            continue
        digest.update(f"{sidecar.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def read_file_text(
    path: str | Path, tags: list[tuple[str, str]] | None = None, duration: float | None = None
) -> FileText:
    """Every text entry of the media file at `path` (never raises for an unreadable tag or sidecar).
    `tags`: the container's, when the caller has read them already (the decode stage has);
    `duration`: the media's, in seconds, which keeps subtitle cues inside it (None: unknown)."""
    entries = path_entries(str(path))
    entries += container_tags(path, tags)
    for sidecar in sidecars(path):
        subtitle = sidecar.suffix.lower() in SUBTITLE_SUFFIXES
        content = read_sidecar(
            sidecar, MAX_SUBTITLE_CHARS if subtitle else MAX_TEXT_CHARS, whole_cues=subtitle
        )
        if content is None:
            continue
        if subtitle:
            entries += [
                TextEntryRecord("subtitle", text, key=sidecar.name, start=start, end=end)
                for start, end, text in subtitle_cues(content, duration)
            ]
        else:
            entries.append(TextEntryRecord("text_file", content, key=sidecar.name))
    return FileText(entries, signature(path))


def text_encoding(head: bytes) -> str:
    """How to read a sidecar: UTF-16 when it starts with a UTF-16 byte-order mark (Windows tools
    write subtitles so), else UTF-8 (a UTF-8 byte-order mark dropped)."""
    return "utf-16" if head[:2] in UTF16_BOMS else "utf-8-sig"


def read_sidecar(sidecar: Path, limit: int, whole_cues: bool = False) -> str | None:
    """The first `limit` characters of a sidecar (None: unreadable, logged). Only that much is read,
    so a runaway file costs a bounded read; a cut is logged. `whole_cues`: cut back to the last
    blank line, so a subtitle file's last cue is not a fragment. Undecodable bytes are replaced."""
    try:
        with sidecar.open("rb") as raw:
            encoding = text_encoding(raw.read(2))
        with sidecar.open(encoding=encoding, errors="replace") as handle:
            content = handle.read(limit + 1)
    except OSError as error:
        log.warning("%s: cannot read %s", sidecar, error)
        return None
    if len(content) <= limit:
        return content
    log.warning(
        "%s: larger than %s characters; only its first %s are indexed", sidecar, f"{limit:,}", f"{limit:,}"
    )
    content = content[:limit]
    if whole_cues:
        content = content[: max((blank.start() for blank in _BLANK_LINE.finditer(content)), default=0)]
    return content


def container_tags(path: str | Path, tags: list[tuple[str, str]] | None = None) -> list[TextEntryRecord]:
    """Descriptive tags of the container and its streams (title, artist, album, comment, genre,
    date, ...), one entry each, as PyAV reads them (`tags`: already read, else read here)."""
    entries, seen = [], set()
    for key, value in read_tags(path) if tags is None else tags:
        name = key.lower()
        value = str(value).strip()
        if not value or name in TECHNICAL_TAGS or (name, value) in seen:
            continue
        seen.add((name, value))
        entries.append(TextEntryRecord("tag", value, key=name[:64]))
    return entries


def subtitle_cues(content: str, duration: float | None = None) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an SRT or WebVTT file; markup and cue numbers dropped.
    With the media's `duration`, a cue starting at or after it is dropped and one running past it
    ends there (a sidecar of another cut, or a typo'd hour, must not give hits beyond the end)."""
    cues = []
    for block in re.split(r"\n\s*\n", content.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            timing = _CUE_TIME.search(line)
            if timing is None:
                continue
            numbers = timing.groups()
            start = _seconds(*numbers[:4])
            end = _seconds(*numbers[4:])
            text = " ".join(_MARKUP.sub("", rest).strip() for rest in lines[index + 1 :]).strip()
            if duration is not None:
                if start >= duration:
                    break
                end = min(end, duration)
            if text and end >= start:
                cues.append((start, end, text))
            break
    return cues


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000
