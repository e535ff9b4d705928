"""Frame probabilities -> event spans. Pure arithmetic, as PE-A-Frame's reference does it:
frames above a threshold are the event; rising and falling edges become [start, end]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The frame probability above which a frame is part of the event: the one default of `locate`,
# the curve's spans and every front door's threshold.
LOCATE_THRESHOLD = 0.3


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    probability: float  # the highest frame probability inside the span

    @property
    def duration(self) -> float:
        return self.end - self.start


def frames_to_spans(
    starts: np.ndarray,
    ends: np.ndarray,
    probabilities: np.ndarray,
    threshold: float = LOCATE_THRESHOLD,
    min_duration: float = 0.0,
    max_gap: float = 1e-6,
) -> list[Span]:
    """Merge consecutive frames whose probability exceeds `threshold` into spans.

    Frames are (start, end) in seconds, sorted by start; two frames are adjacent when the next
    starts within `max_gap` of the previous one's end. Spans shorter than `min_duration` go.
    """
    starts, ends, probabilities = (np.asarray(a, dtype=np.float64) for a in (starts, ends, probabilities))
    spans: list[Span] = []
    current: list[float] | None = None  # [start, end, max probability]
    for start, end, probability in zip(starts, ends, probabilities, strict=True):
        if probability > threshold:
            if current is not None and start - current[1] <= max_gap:
                current[1] = end
                current[2] = max(current[2], probability)
                continue
            if current is not None:
                spans.append(Span(*map(float, current)))
            current = [start, end, probability]
        elif current is not None:
            spans.append(Span(*map(float, current)))
            current = None
    if current is not None:
        spans.append(Span(*map(float, current)))
    return [s for s in spans if s.duration >= min_duration - 1e-9]
