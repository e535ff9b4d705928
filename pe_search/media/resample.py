"""Mono float32 audio at any rate to 48 kHz, with PyAV's resampler (FFmpeg's swresample).

Streams are resampled from a sample where the input and 48 kHz grids meet, so the output does not
depend on where decoding started: a late window read after a seek equals the same span of a decode
from the start.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from pe_search.media.rate import SAMPLE_RATE


@dataclass
class AudioBlock:
    """Mono float32 samples at `rate`. `index` is the position of the first sample on the file's
    timeline at `rate` when the source knows it (the first block, or after a seek)."""

    rate: int
    samples: np.ndarray
    index: int | None = None


class Resampler:
    """Mono float32 at `rate` in, 48 kHz out, stream-wise. The output does not depend on how the input
    is split into blocks; 48 kHz input passes through untouched."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._pushed = 0
        self._resampler = (
            None if rate == SAMPLE_RATE else av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self._resampler is None or samples.size == 0:
            return samples if self._resampler is None else samples[:0]
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = self.rate
        frame.time_base = Fraction(1, self.rate)
        frame.pts = self._pushed
        self._pushed += samples.size
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32, copy=False)


def grid_period(rate: int) -> int:
    """Input samples between points where the input and 48 kHz grids coincide."""
    return rate // math.gcd(rate, SAMPLE_RATE)


def to_48k(blocks: Iterator[AudioBlock]) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, samples) at 48 kHz on the file's timeline, from blocks at the source rate."""
    resampler: Resampler | None = None
    position = 0  # 48 kHz index of the next output sample
    skip = 0  # input samples still to drop to reach a grid point
    for block in blocks:
        samples = block.samples
        if resampler is None or block.rate != resampler.rate:
            if resampler is not None:  # the rate changed mid-stream: finish the old one, carry on
                tail = resampler.flush()
                yield position, tail
                position += tail.size
                index = position * block.rate // SAMPLE_RATE
            else:
                index = block.index or 0
            period = grid_period(block.rate)
            aligned = -(-index // period) * period
            skip = aligned - index
            if resampler is None:
                position = aligned * SAMPLE_RATE // block.rate
            resampler = Resampler(block.rate)
        if skip:
            dropped = min(skip, samples.size)
            samples, skip = samples[dropped:], skip - dropped
        out = resampler.push(samples)
        if out.size:
            yield position, out
            position += out.size
    if resampler is not None:
        tail = resampler.flush()
        if tail.size:
            yield position, tail


def resample_array(samples: np.ndarray, rate: int) -> np.ndarray:
    """One whole mono float32 array at `rate`, resampled to 48 kHz (a query clip given as an array)."""
    resampler = Resampler(rate)
    out = [resampler.push(np.asarray(samples, dtype=np.float32).reshape(-1)), resampler.flush()]
    return np.concatenate(out).astype(np.float32, copy=False)
