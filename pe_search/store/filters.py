"""Search filters on the media a vector belongs to, turned into SQL over the library's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func

from pe_search.store.schema import MediaFile, Segment


def _timestamp(value: float | datetime | None) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class SearchFilter:
    """Keep only vectors whose media file matches every field that is set.

    kinds: "audio" and/or "video"; path_prefix: the path starts with it; path_glob: SQLite GLOB
    (case-sensitive, `*` crosses "/"); durations in seconds; modified_*: the file's mtime (Unix
    seconds or an aware datetime); media_ids: these files only; levels: "clip" and/or "frame".
    """

    kinds: tuple[str, ...] | None = None
    path_prefix: str | None = None
    path_glob: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    modified_after: float | datetime | None = None
    modified_before: float | datetime | None = None
    media_ids: tuple[int, ...] | None = None
    levels: tuple[str, ...] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.kinds is not None:
            where.append(MediaFile.kind.in_(list(self.kinds)))
        if self.path_prefix is not None:
            prefix = self.path_prefix
            where.append(func.substr(MediaFile.path, 1, len(prefix)) == prefix)
        if self.path_glob is not None:
            where.append(MediaFile.path.op("GLOB")(self.path_glob))
        if self.min_duration is not None:
            where.append(MediaFile.duration >= self.min_duration)
        if self.max_duration is not None:
            where.append(MediaFile.duration <= self.max_duration)
        if self.modified_after is not None:
            where.append(MediaFile.mtime >= _timestamp(self.modified_after))
        if self.modified_before is not None:
            where.append(MediaFile.mtime <= _timestamp(self.modified_before))
        if self.media_ids is not None:
            where.append(MediaFile.id.in_(list(self.media_ids)))
        if self.levels is not None:
            where.append(Segment.level.in_(list(self.levels)))
        return where

    def is_empty(self) -> bool:
        return not self.conditions()
