"""What crosses the store's boundary: media rows in and out, segments, search hits, status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pe_search.models.identity import ModelIdentity


def media_kind(has_video: bool) -> str:
    """The one rule for a file's kind: a picture stream makes it "video", otherwise "audio"."""
    return "video" if has_video else "audio"


@dataclass(frozen=True, kw_only=True)
class MediaRecord:
    """A media file as the indexer describes it. `status` is one of `schema.MEDIA_STATUSES`."""

    path: str
    size: int
    mtime: float
    content_hash: str | None = None
    duration: float | None = None
    has_audio: bool = False
    has_video: bool = False
    status: str = "pending"
    error: str | None = None

    @property
    def kind(self) -> str:
        return media_kind(self.has_video)


@dataclass(frozen=True, kw_only=True)
class MediaInfo(MediaRecord):
    """A media file as stored, with its row id."""

    id: int


@dataclass(frozen=True)
class SegmentRecord:
    """A stretch of a media file in seconds; level is "clip" (a window) or "frame"."""

    start: float
    end: float
    level: str = "clip"


@dataclass(frozen=True)
class SearchHit:
    """One result: the raw inner product `score` of the query with the vector `vector_id`."""

    space: str
    vector_id: int
    score: float
    media_id: int
    path: str
    kind: str
    segment_id: int
    start: float
    end: float
    level: str


@dataclass(frozen=True)
class SpaceStatus:
    """`count`/`generation`: committed in SQLite; `index_count`: what this process's index holds
    (equal once it is up to date); `saved_generation`: what the index file on disk reflects."""

    space: str
    count: int
    index_count: int
    generation: int
    index_type: str
    index_params: dict[str, Any]
    saved_generation: int
    index_bytes: int
    masked: int


@dataclass(frozen=True)
class DamagedFrames:
    """A file whose frame block is damaged: its frames are left out of every read until an index
    run encodes it again (the next writer marks it pending)."""

    media_id: int
    path: str
    space: str
    reason: str


@dataclass(frozen=True)
class LibraryStatus:
    library_dir: str
    schema_revision: str | None
    identity: ModelIdentity | None
    media_by_status: dict[str, int]
    segments: int
    spaces: dict[str, SpaceStatus] = field(default_factory=dict)
    frames: dict[str, Any] = field(default_factory=dict)  # frame space -> FrameSpaceStatus
    messages: tuple[str, ...] = ()
    damaged: tuple[DamagedFrames, ...] = ()  # frame blocks found damaged by this process


@dataclass
class SegmentVectors:
    """One file's vectors in one space, in time order: what localisation inside a file reads."""

    starts: np.ndarray  # float64 seconds
    ends: np.ndarray
    vectors: np.ndarray  # float32 (n, dim)
    vector_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)
