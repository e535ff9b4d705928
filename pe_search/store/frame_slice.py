"""Frames of one file's block as the query layer sees them: their times, and scoring by `scan`.

Scoring is the frame family's job, not the caller's: `scan(query, cutoff)` returns the frames
whose score passes a cut (a FAISS range search over the codes, nothing decoded) and says which
of them the code cannot decide for certain (their coded score lies within the code's error bound
of the cut), so a caller that needs exact answers re-scores just those on exact vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from pe_search.store import frame_bounds
from pe_search.store.frame_bounds import PieceBounds
from pe_search.store.frame_codes import (
    Codebook,
    ScanJob,
    decode,
    frames_above_many,
    integer_pass,
    scan_jobs,
    score_error,
    scores,
    sq8_rounding,
)

BOUNDS_MIN_FRAMES = 4_096  # smaller slices skip the piece bounds' pass: it costs more than it saves


@dataclass(frozen=True)
class FrameScan:
    """What `FrameSlice.scan` found: frames of the slice above the searched cut, time order.

    `positions` are frame positions in the slice, `scores` their coded inner products (float64).
    `unsure` indexes `positions`: the frames whose coded score is within the code's error bound
    of the cut (empty when the code is exact). `bounded` is False when the code has no error
    bound (pq): its answer is then approximate whatever `unsure` says."""

    positions: np.ndarray
    scores: np.ndarray
    unsure: np.ndarray
    bounded: bool
    scanned: int = 0  # frames whose codes were scored (the rest were ruled out by piece bounds)


@dataclass
class FrameSlice:
    """Frames first .. stop-1 of one block: their times, the coding and the codes (a view)."""

    media_id: int
    space: str
    first: int
    count: int
    times: Callable[[int, int], tuple[np.ndarray, np.ndarray]]  # (starts, ends) of positions a .. b-1
    encoding: str
    dim: int
    params: np.ndarray
    codes: np.ndarray
    codebook: Codebook | None = None
    total: int = 0  # frames in the whole block
    bounds: PieceBounds | None = None  # the block's per-piece bounds (sq8 blocks of version 2)

    def __len__(self) -> int:
        return self.count

    @cached_property
    def starts(self) -> np.ndarray:
        """float64 [n]: every frame's start (built on first use: a 10-hour slice has 900,000)."""
        return self._all_times[0]

    @cached_property
    def ends(self) -> np.ndarray:
        return self._all_times[1]

    @cached_property
    def _all_times(self) -> tuple[np.ndarray, np.ndarray]:
        return self.times(0, self.count)

    def part(self, start: int, stop: int) -> FrameSlice:
        """Frames start .. stop-1 of this slice (positions in it) as a slice of their own."""
        start, stop = max(0, start), min(self.count, max(start, stop))
        times = self.times
        return replace(
            self,
            first=self.first + start,
            count=stop - start,
            times=lambda a, b: times(start + a, start + b),
            codes=self.codes[start:stop],
        )

    def vectors(self) -> np.ndarray:
        """float32 [n, d]: the frames as their code gives them back."""
        return decode(self.encoding, self.dim, self.params, self.codes, self.codebook)

    def scores(self, query: np.ndarray) -> np.ndarray:
        """float32 [n]: the inner product of `query` with every frame of the slice (decoded)."""
        return scores(self.encoding, self.dim, self.params, self.codes, query, self.codebook)

    def scan(self, query: np.ndarray, cutoff: float, margin: float = 0.0) -> FrameScan:
        """The frames whose coded inner product with `query` may exceed `cutoff`: every frame
        whose true score can be above `cutoff - margin`, given the code's error bound, is in the
        answer; those within `margin` plus that bound of `cutoff` are marked `unsure`."""
        return scan_slices([self], query, cutoff, margin)[0]

    def job(self, query: np.ndarray, searched: float) -> tuple[ScanJob, int]:
        """(the scan of this slice's codes above `searched`, the frames whose codes it reads at
        most): the piece bounds' pass runs here, for slices long enough to gain from it."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        params = np.ascontiguousarray(self.params, dtype=np.float32)
        # A slice the integer pass scans skips the bounds: at 10 h the integer pass over every code
        # took 83-88 ms of CPU on i.i.d. and smooth frames alike, the bounds' centroid pass with the
        # runs it keeps 106-180 (most centroids pass its low cut, so its searches grow and repeat).
        bounded = len(self) >= BOUNDS_MIN_FRAMES and not integer_pass(self.encoding, self.dim, len(self))
        runs = self._runs(query, searched) if bounded else None
        scanned = len(self) if runs is None else sum(stop - start for start, stop in runs)
        job = ScanJob(self.encoding, self.dim, params, self.codes, query, searched, self.codebook, runs)
        return job, scanned

    def _runs(self, query: np.ndarray, searched: float) -> list[tuple[int, int]] | None:
        """The position runs whose codes may hold a frame above `searched` (None: all of them)."""
        if self.bounds is None or self.encoding != "sq8" or not np.isfinite(searched):
            return None
        return frame_bounds.surviving_runs(
            self.bounds,
            self.params,
            self.dim,
            query,
            searched,
            self.first,
            self.first + len(self),
            sq8_rounding(self.dim, self.params, query),
        )

    def scan_many(self, queries: np.ndarray, cutoff: float, margin: float = 0.0) -> list[FrameScan]:
        """`scan` for each row of `queries` at the same cut, as one matrix product over the slice
        (for hundreds of labels at once): each answer holds the frames `scan` would return for that
        query, with the same rule for `unsure`, each query with its own error bound."""
        queries = np.asarray(queries, dtype=np.float32).reshape(len(queries), self.dim)
        errors = [score_error(self.encoding, self.dim, self.params, query) for query in queries]
        cutoffs = np.array([cutoff - margin - (error or 0.0) for error in errors], np.float64)
        rows, positions, found = frames_above_many(
            self.encoding, self.dim, self.params, self.codes, queries, cutoffs, self.codebook
        )
        bounds = np.searchsorted(rows, np.arange(len(queries) + 1))
        scans = []
        for row, error in enumerate(errors):
            at, stop = bounds[row], bounds[row + 1]
            row_found = found[at:stop].astype(np.float64)
            unsure = np.flatnonzero(row_found <= cutoff + margin + error) if error else np.zeros(0, np.int64)
            scans.append(FrameScan(positions[at:stop], row_found, unsure, error is not None))
        return scans


def scan_slices(
    slices: list[FrameSlice], query: np.ndarray, cutoff: float, margin: float = 0.0
) -> list[FrameScan]:
    """`FrameSlice.scan` of each slice (of any blocks) for one query, their codes scanned in one
    hand-off to the scan threads (library-wide locate reads up to 80 small slices per query)."""
    query = np.asarray(query, dtype=np.float32)
    errors = [score_error(s.encoding, s.dim, s.params, query) for s in slices]
    planned = [
        s.job(query, cutoff - margin - (error or 0.0)) for s, error in zip(slices, errors, strict=True)
    ]
    found = scan_jobs([job for job, _ in planned])
    scans = []
    for (positions, scores_found), error, (_, scanned) in zip(found, errors, planned, strict=True):
        scores_found = scores_found.astype(np.float64)
        # an exact code (error 0) decides every frame; no bound (None) decides none for certain
        unsure = np.flatnonzero(scores_found <= cutoff + margin + error) if error else np.zeros(0, np.int64)
        scans.append(FrameScan(positions, scores_found, unsure, error is not None, scanned))
    return scans
