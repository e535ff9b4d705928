"""Where clip-level windows fall in a file. Pure arithmetic, tested directly."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def clip_windows(duration: float, window: float = 30.0, hop: float = 15.0) -> list[Window]:
    """Windows of `window` seconds every `hop` seconds covering [0, duration].

    A file no longer than a window is one segment. Otherwise every window has the full length
    (the last one is aligned to the file's end), so windows batch without padding.
    """
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be positive")
    if duration <= 0:
        return []
    if duration <= window + 1e-9:
        return [Window(0.0, duration)]
    last_start = duration - window
    starts = [k * hop for k in range(math.floor(last_start / hop + 1e-9) + 1)]
    if last_start - starts[-1] > 1e-6:
        starts.append(last_start)
    return [Window(round(s, 6), round(s + window, 6)) for s in starts]


def frame_grid_step(window: float, hop: float, frames_per_window: int) -> float:
    """Spacing of a file's video frame grid: about `frames_per_window` per window, and a whole
    number of steps per hop so that overlapping windows share their frames."""
    if frames_per_window < 1:
        raise ValueError("frames_per_window must be at least 1")
    return hop / max(1, round(hop * frames_per_window / window))


def frame_grid(windows: list[Window], step: float) -> list[list[float]]:
    """Each window's frame times on one grid from the file's start: k * step in [start, end).

    Windows that overlap ask for the same times, so each shared frame is decoded, preprocessed and
    encoded once. A window too short to hold a grid point gets its midpoint.
    """
    if step <= 0:
        raise ValueError("step must be positive")
    times = []
    for w in windows:
        first = math.ceil(round(w.start / step, 9))
        grid = []
        k = first
        while round(k * step, 6) < w.end - 1e-6:
            grid.append(round(k * step, 6))
            k += 1
        times.append(grid or [round(w.start + w.duration / 2, 6)])
    return times
