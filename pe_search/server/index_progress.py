"""Where one indexing run stands, folded from the pipeline's events (`indexer.events`): files planned,
done and failed, media seconds, the encoding rate and an estimate of the time left. Every event
the server streams carries this whole picture, so a page that joins late or misses an event still
shows the right totals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from indexer.events import FileDone, FilesPlanned, IndexEvent, MediaEncoded

RUNNING, DONE, STOPPED, FAILED = "running", "done", "stopped", "failed"


@dataclass
class IndexProgress:
    run: int
    folders: list[str]
    started: float  # seconds since the epoch (for the page); the arithmetic below uses `now` given
    status: str = RUNNING
    planned: int | None = None  # files to decode and encode (None: still walking the folders)
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    done: int = 0
    failed: int = 0
    media_seconds: float = 0.0
    rate: float | None = None  # media seconds encoded per second of encoding
    eta: float | None = None  # seconds left, from the pace of the files finished so far
    error: str | None = None
    summary: dict[str, Any] | None = None  # the run's `IndexSummary` once it ended
    _planned_at: float | None = field(default=None, repr=False)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def apply(self, event: IndexEvent, now: float) -> None:
        """Fold one pipeline event in; `now` is a monotonic clock reading."""
        if isinstance(event, FilesPlanned):
            self.planned, self.unchanged = event.to_encode, event.unchanged
            self.moved, self.removed = event.moved, event.removed
            self._planned_at = now
        elif isinstance(event, MediaEncoded):
            self.media_seconds = event.media_seconds
            self.rate = event.media_seconds / event.elapsed if event.elapsed > 0 else None
        elif isinstance(event, FileDone):
            if event.reason is None:
                self.done += 1
            else:
                self.failed += 1
        self.eta = self._eta(now)

    def _eta(self, now: float) -> float | None:
        if self.planned is None or self._planned_at is None:
            return None
        left = max(self.planned - self.finished, 0)
        if left == 0:
            return 0.0
        if self.finished == 0:
            return None
        return (now - self._planned_at) / self.finished * left

    def end(self, status: str, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
        self.status, self.summary, self.error = status, summary, error
        self.eta = 0.0 if status == DONE else None

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if not name.startswith("_")}
