"""What a front door asks the query layer: one `QueryRequest` in, hits (or spans) out.

The library API, the CLI and the HTTP server all build one of these and hand it to
`QueryService.run`; the request holds the query (text, audio, video, or a stored segment),
where to look and how many results, and whether spans are wanted instead of hits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pe_search.store import SearchFilter


@dataclass(frozen=True)
class Locate:
    """Spans where the text happens (40 ms audio frames), instead of hits: across the library, or
    inside one file (`path`, encoded on the fly when it is not in the library)."""

    path: str | Path | None = None
    threshold: float = 0.3  # the frame probability that marks the event
    min_duration: float = 0.0  # spans shorter than this (s) are dropped


@dataclass(frozen=True)
class QueryRequest:
    """One query. `audio`/`video`: a file path, or (samples, rate) / (frames uint8 (T, H, W, 3), fps).
    `like`: a stored segment as the query, "PATH@START-END" or (path, start, end)."""

    text: str | None = None
    audio: object = None
    video: object = None
    like: str | tuple[str, float, float] | None = None
    target: str | None = None  # audio, video or audio_video; None: the query kind's default targets
    filters: SearchFilter = field(default_factory=SearchFilter)
    k: int = 10
    offset: int = 0
    min_prob: float | None = None
    all_segments: bool = False  # every matching segment, not the best one per file
    locate: Locate | None = None
