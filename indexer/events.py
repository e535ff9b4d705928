"""What an indexing run reports while it works: small dataclass events sent to a callback.

The pipeline prints nothing; a front door renders the events (the CLI and `Library.index` as a
tqdm bar, `pe_search.progress_bar`) or forwards them (the HTTP server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FilesPlanned:
    """The run's plan: files to decode and encode, and those that need no encoding."""

    to_encode: int
    unchanged: int
    moved: int
    removed: int


@dataclass(frozen=True)
class MediaEncoded:
    """Media seconds encoded so far in this run (each second of a file counted once)."""

    media_seconds: float
    elapsed: float  # seconds since encoding started


@dataclass(frozen=True)
class FileDone:
    """A file left the encoder: handed to the writer, or failed (`reason`)."""

    path: str
    reason: str | None = None


IndexEvent = FilesPlanned | MediaEncoded | FileDone
EventSink = Callable[[IndexEvent], None]


@dataclass(frozen=True)
class Watching:
    """A watcher caught up (its first run done) and listens for file events."""

    paths: tuple[str, ...]
    settle: float  # seconds a changed file must stay unchanged before it is indexed
    rescan: float  # seconds between full runs (the safety net for lost events)


@dataclass(frozen=True)
class RunStarted:
    """A watcher starts a run: `reason` "start" (catching up with what changed while it was not
    running), "changes" (what file events reported; `paths` of them) or "rescan" (the periodic
    full run). The run's own events follow."""

    reason: str
    paths: int = 0


@dataclass(frozen=True)
class RunFinished:
    """A watcher's run ended; `summary` is its `indexer.pipeline.IndexSummary`."""

    reason: str
    summary: object


WatchEvent = Watching | RunStarted | RunFinished
