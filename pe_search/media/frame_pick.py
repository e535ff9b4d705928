"""Which frames a window samples: every 1/fps seconds, or N spread as PE's frame sampler spreads them."""

from __future__ import annotations

import math


def pe_frame_indices(total: int, count: int) -> list[int]:
    """PE's frame sampler: `int(i * (T - 1) / (N - 1))` of T frames, first and last included
    (the middle frame when N is 1)."""
    if count > 1:
        return [int(i * (total - 1) / (count - 1)) for i in range(count)]
    return [(total - 1) // 2]


def window_frame_times(
    start: float,
    end: float,
    *,
    fps: float | None = None,
    frames_per_window: int | None = None,
    frame_rate: float | None = None,
) -> list[float]:
    """Times at which to sample frames in the window [start, end).

    `fps`: every 1/fps seconds from `start`, while before `end`.
    `frames_per_window=N`: N times spread as PE's frame sampler spreads them, `int(i * (T - 1) / (N - 1))`
    over the window's T frames, first and last frame included. With the stream's `frame_rate` this
    is that sampler exactly (for constant frame rate and `start` on a frame); without it, the same
    spread over continuous time, from `start` to the last instant before `end`.
    """
    if (fps is None) == (frames_per_window is None):
        raise ValueError("give exactly one of fps or frames_per_window")
    if end <= start:
        return []
    if fps is not None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        count = math.ceil(round((end - start) * fps, 9))
        return [start + k / fps for k in range(count)]
    n = frames_per_window
    if n is None or n < 1:
        raise ValueError("frames_per_window must be at least 1")
    if frame_rate:
        total = max(1, round((end - start) * frame_rate))
        indices = pe_frame_indices(total, n)
        return [start + index / frame_rate for index in indices]
    if n == 1:
        return [start + (end - start) / 2]
    # The last instant of the window: a frame shown at `end` belongs to the next window.
    last = max(start, end - 1e-4)
    return [start + i * (last - start) / (n - 1) for i in range(n)]
