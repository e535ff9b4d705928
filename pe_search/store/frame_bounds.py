"""Per-piece bounds of an sq8 block: proof that a piece of frames holds no frame above a cut, so
a scan of the block skips the piece's codes and still returns exactly what a full scan returns.

Per piece of `BOUND_PIECE` frames (0.64 s of 40 ms frames) a block stores the centroid c of the
piece's decoded frames, coded by the block's own sq8 quantiser (one byte per dimension), and the
radius r of the piece around that decoded centroid (float32, rounded up). For a query q and any
frame x of the piece, q.x = q.c + q.(x - c) <= q.c + |q| r (Cauchy-Schwarz), so a piece whose
bound is at most the cut holds no frame whose coded score passes it. The centroids are scored by
the same FAISS kernel as frames (a range search over them, `frame_codes.frames_above`); both
scores carry float32 rounding, bounded as `frame_codes.score_error` bounds it, and taken twice.

Cost: dim + 4 bytes per 16 frames (6.4 % of an sq8 block). What it prunes depends on how
smooth the frames are: a piece is skipped only when its frames stay close together, which
frames of one steady sound do and frames of independent noise do not (docs/store.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.store.lazy_faiss import faiss, one_omp_thread  # FAISS imported on first use (issue 24)

BOUND_PIECE = 16  # frames per bounded piece
_GROUP = 256  # pieces decoded at a time while computing bounds (16 MB of float32 at 1024-d)
_RADIUS_SLACK = 1e-3  # relative: float32 sums of squares over 1024 dimensions, rounded up generously
# The centroids' pass runs only when at least this share of the pieces could be ruled out (their
# radius term alone is below the cut): frames whose noise is drawn anew every 40 ms spread every
# piece wider than any cut, and the pass would read 6 % more for nothing.
MIN_PRUNABLE_SHARE = 0.1


@dataclass(frozen=True)
class PieceBounds:
    """The bounds of a block's pieces: piece k covers block frames k * piece .. (k + 1) * piece - 1."""

    piece: int
    centroids: np.ndarray  # uint8 [pieces, code size]: sq8 codes of the pieces' centroids
    radii: np.ndarray  # float32 [pieces]

    def __len__(self) -> int:
        return len(self.radii)

    def tobytes(self) -> bytes:
        """As stored in a block: radii (float32), then the centroid codes."""
        return self.radii.astype("<f4").tobytes() + np.ascontiguousarray(self.centroids).tobytes()

    @classmethod
    def nbytes_for(cls, pieces: int, code_size: int) -> int:
        return pieces * (4 + code_size)


def pieces_of(count: int, piece: int) -> int:
    return -(-count // piece) if piece else 0


def compute(codes: np.ndarray, params: np.ndarray, dim: int, piece: int = BOUND_PIECE) -> PieceBounds:
    """The bounds of sq8 `codes` [n, dim] coded with `params` (the block's ranges)."""
    quantiser = faiss.ScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit)
    faiss.copy_array_to_vector(np.ascontiguousarray(params, dtype=np.float32), quantiser.trained)
    pieces = pieces_of(len(codes), piece)
    centroids = np.empty((pieces, dim), np.uint8)
    radii = np.empty(pieces, np.float32)
    with one_omp_thread():  # small calls: OpenMP's team costs more than it gives on a busy machine
        for group in range(0, pieces, _GROUP):
            first, stop = group * piece, min(len(codes), (group + _GROUP) * piece)
            decoded = quantiser.decode(np.ascontiguousarray(codes[first:stop]))
            heads = np.arange(0, stop - first, piece)  # each piece's first frame, within the group
            sizes = np.diff(np.append(heads, stop - first))
            means = np.add.reduceat(decoded, heads, axis=0, dtype=np.float64) / sizes[:, None]
            coded = quantiser.compute_codes(np.ascontiguousarray(means, dtype=np.float32))
            centre = quantiser.decode(coded)
            offsets = decoded - np.repeat(centre, sizes, axis=0)
            distances = np.sqrt(np.einsum("ij,ij->i", offsets, offsets, dtype=np.float64))
            centroids[group : group + len(heads)] = coded
            radii[group : group + len(heads)] = _round_up(
                np.maximum.reduceat(distances, heads) * (1 + _RADIUS_SLACK)
            )
    return PieceBounds(piece, centroids, radii)


def _round_up(values: np.ndarray) -> np.ndarray:
    as32 = values.astype(np.float32)
    return np.where(as32.astype(np.float64) < values, np.nextafter(as32, np.float32(np.inf)), as32)


def from_bytes(data: np.ndarray, pieces: int, code_size: int, piece: int) -> PieceBounds:
    """Bounds from a block's bytes (a uint8 view: no copy of the centroid codes)."""
    radii = np.frombuffer(data[: 4 * pieces].tobytes(), dtype="<f4")
    centroids = np.asarray(data[4 * pieces : 4 * pieces + pieces * code_size]).reshape(pieces, code_size)
    return PieceBounds(piece, centroids, radii)


def surviving_runs(
    bounds: PieceBounds,
    params: np.ndarray,
    dim: int,
    query: np.ndarray,
    cutoff: float,
    first: int,
    stop: int,
    rounding: float,
) -> list[tuple[int, int]] | None:
    """(start, stop) runs of frame positions in the slice first .. stop-1 of the block that may hold
    a frame whose coded score exceeds `cutoff`: every piece is kept unless its bound proves it
    holds none; None (all of them) without looking, when too few pieces' radii are below the cut
    for the pass to pay (`MIN_PRUNABLE_SHARE`). `rounding` bounds the float32 rounding of one
    coded score."""
    from pe_search.store.frame_codes import frames_above  # the scan's own kernel (no import cycle)

    piece = bounds.piece
    low, high = first // piece, pieces_of(stop, piece)
    if high <= low:
        return []
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(query.astype(np.float64))) * (1 + 1e-6)
    radii = bounds.radii[low:high].astype(np.float64)
    reach = norm * radii + 2 * rounding  # a frame's score is at most its centroid's plus this
    if np.mean(reach < cutoff) < MIN_PRUNABLE_SHARE:
        return None
    kept, centre_scores = frames_above(
        "sq8", dim, params, bounds.centroids[low:high], query, cutoff - float(reach.max())
    )
    kept = kept[centre_scores.astype(np.float64) + reach[kept] > cutoff] + low
    if not kept.size:
        return []
    breaks = np.flatnonzero(np.diff(kept) != 1) + 1
    runs = []
    for run in np.split(kept, breaks):
        start = max(first, int(run[0]) * piece)
        end = min(stop, (int(run[-1]) + 1) * piece)
        runs.append((start - first, end - first))
    return runs
