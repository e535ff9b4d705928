"""Waveform peaks for drawing a file's sound: the lowest and highest sample in each of `bins` equal
slices of the file, from its decoded audio (mono, 48 kHz, as the models hear it), in bounded memory:
a two-hour file is decoded a chunk at a time, never held whole."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pe_search.media.audio import iter_audio
from pe_search.media.rate import SAMPLE_RATE

MAX_BINS = 10_000  # more than any screen is wide: what a caller may ask for
CHUNK_SECONDS = 60.0  # decoded at a time (11 MB of float32)


@dataclass(frozen=True)
class Peaks:
    """`peaks[i]` is (min, max) of the samples in [i, i + 1) * duration / bins; a slice with no
    decoded audio (past a truncated stream's end) is (0, 0)."""

    duration: float  # seconds the bins cover
    peaks: list[tuple[float, float]]


def waveform_peaks(path: str | os.PathLike[str], bins: int, duration: float) -> Peaks:
    """The file's peaks in `bins` slices of its first `duration` seconds (the library's record of
    its length)."""
    if not 1 <= bins <= MAX_BINS:
        raise ValueError(f"bins must be between 1 and {MAX_BINS}")
    total = round(max(duration, 0.0) * SAMPLE_RATE)
    if total == 0:
        return Peaks(0.0, [(0.0, 0.0)] * bins)
    pieces = ((c.offset, c.samples) for c in iter_audio(path, CHUNK_SECONDS, end=duration))
    return _binned(pieces, bins, total)


def _binned(pieces, bins: int, total: int) -> Peaks:
    low = np.full(bins, np.inf, np.float64)
    high = np.full(bins, -np.inf, np.float64)
    for offset, samples in pieces:
        if samples.size:
            index = offset + np.arange(samples.size, dtype=np.int64)
            which = np.minimum(index * bins // total, bins - 1)  # the bin of every sample
            starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])  # sorted: runs per bin
            ids = which[starts]
            low[ids] = np.minimum(low[ids], np.minimum.reduceat(samples, starts))
            high[ids] = np.maximum(high[ids], np.maximum.reduceat(samples, starts))
    empty = ~np.isfinite(low)
    low[empty], high[empty] = 0.0, 0.0
    return Peaks(total / SAMPLE_RATE, [(float(a), float(b)) for a, b in zip(low, high, strict=True)])
