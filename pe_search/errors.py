"""Errors a user can cause. Each carries a one-line message that says what to do; the CLI prints
it without a traceback. Anything else is a bug and propagates."""

from __future__ import annotations

from pathlib import Path


class PeSearchError(Exception):
    """Base class: `str(error)` is the one line shown to the user."""


class MediaError(PeSearchError):
    """A media file cannot be used: names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelLoadError(PeSearchError):
    """A checkpoint cannot be found or read."""
