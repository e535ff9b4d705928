"""The URLs the API hands out for a file (one place, so the page and the tests agree)."""

from __future__ import annotations


def media_url(file_id: int) -> str:
    return f"/media/{file_id}"


def poster_url(file_id: int, kind: str, at: float = 0.0) -> str | None:
    return f"/api/files/{file_id}/poster?t={at:.3f}" if kind == "video" else None


def clip_url(file_id: int, start: float, end: float) -> str:
    """The trimmed file of [start, end) of a file (the page builds the same in app.js)."""
    return f"/api/files/{file_id}/clip?start={start:.3f}&end={end:.3f}"
