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
