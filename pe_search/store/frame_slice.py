"""Frames of one file's block as the query layer sees them: their times, and scoring by `scan`.

Scoring is the frame family's job, not the caller's: `scan(query, cutoff)` returns the frames
whose score passes a cut (a FAISS range search over the codes, nothing decoded) and says which
of them the code cannot decide for certain (their coded score lies within the code's error bound
of the cut), so a caller that needs exact answers re-scores just those on exact vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.store import frame_bounds
from pe_search.store.frame_bounds import PieceBounds
from pe_search.store.frame_codes import (
    Codebook,
    decode,
    frames_above,
    frames_above_many,
    score_error,
    scores,
    sq8_rounding,
)


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
    starts: np.ndarray
    ends: np.ndarray
    encoding: str
    dim: int
    params: np.ndarray
    codes: np.ndarray
    codebook: Codebook | None = None
    total: int = 0  # frames in the whole block
    bounds: PieceBounds | None = None  # the block's per-piece bounds (sq8 blocks of version 2)

    def __len__(self) -> int:
        return len(self.starts)

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
        query = np.asarray(query, dtype=np.float32)
        error = score_error(self.encoding, self.dim, self.params, query)
        searched = cutoff - margin - (error or 0.0)
        runs = self._runs(query, searched)
        positions, found = frames_above(
            self.encoding, self.dim, self.params, self.codes, query, searched, self.codebook, runs
        )
        found = found.astype(np.float64)
        # an exact code (error 0) decides every frame; no bound (None) decides none for certain
        unsure = np.flatnonzero(found <= cutoff + margin + error) if error else np.zeros(0, np.int64)
        scanned = len(self) if runs is None else sum(stop - start for start, stop in runs)
        return FrameScan(positions, found, unsure, error is not None, scanned)

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
