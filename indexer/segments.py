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
