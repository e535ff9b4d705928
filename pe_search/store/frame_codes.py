"""How frame vectors are coded inside a block: float32, 8-bit scalar quantisation, or PQ.

- `sq8` (the default): FAISS's 8-bit scalar quantiser with per-dimension ranges trained on the
  block's own vectors (min and max of each dimension over the file's frames). One byte per
  dimension plus 8 bytes per dimension per block for the ranges. Nothing library-wide to train,
  no vector ever falls outside its range, and a block is a function of its file's vectors alone,
  so a re-run writes the same block as a clean build.
- `pq` (opt-in, `--frame-codes pq`): FAISS product quantisation, `PQ_M` bytes per frame, with one
  codebook per space trained on the library's first `PQ_TRAIN_MIN` frames and recorded in the
  library. Blocks written before the codebook exists are `sq8`.
- `f32`: raw float32 (`--frame-codes f32`), four times sq8's size.

Scoring never decodes a whole block: a reused FAISS flat-codes index (the SIMD distance kernels
of `IndexScalarQuantizer` / `IndexPQ`) is pointed at the codes a piece at a time (several runs
gathered first by one numpy call) and searched by inner product on two threads; the pieces of
many slices (a library-wide locate's windows) go to the threads in one hand-off (`scan_jobs`).

sq8 is scanned in two passes (`_Coarse`): an integer pass over every code with the query's
weights rounded to int8 (FAISS's 8-bit direct signed kernel, an exact integer dot product, 2.5x
faster than its sq8 kernel), which rules out every frame it proves below the cut, then the sq8
kernel on the frames left. Every frame the sq8 kernel alone would find is left, and gets the very
score it would have given, so the answer is the one a single sq8 pass gives.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from pe_search.store.lazy_faiss import faiss  # imported on first use (issue 24)

FRAME_CODES = ("f32", "sq8", "pq")  # what a library may ask for
# sq8 by default: a quarter of float32's size, and exact spans all the same, because its error has a
# certain bound (`score_error`) and the query layer re-encodes the few frames within it of a cut.
DEFAULT_FRAME_CODES = "sq8"
PQ_M = 128  # sub-quantisers: 128 bytes per 1024-d frame
PQ_NBITS = 8
PQ_TRAIN_MIN = 10_000  # frames (6.7 minutes of audio) before the codebook is trained
PQ_TRAIN_SAMPLE = 4_096  # frames the codebook is fitted on (16 per centroid), 10 k-means rounds:
PQ_TRAIN_ROUNDS = 10  # k-means over 256 centroids in each of 128 subspaces costs n * 256 * d per round
PQ_SEED = 1234

ENCODING_IDS = {"f32": 0, "sq8": 1, "pq": 2}
ENCODINGS = {value: key for key, value in ENCODING_IDS.items()}


@dataclass(frozen=True)
class CodedFrames:
    """Frames coded for one block: `params` (float32, written in the block) and `codes`."""

    encoding: str
    params: np.ndarray  # float32: sq8 [2 * dim] (ranges), else empty
    codes: np.ndarray  # uint8 [n, code_size] (f32: the raw bytes)

    @property
    def code_size(self) -> int:
        return int(self.codes.shape[1])


class Codebook:
    """A trained product quantiser of one space (recorded in the library)."""

    def __init__(self, dim: int, centroids: np.ndarray, m: int = PQ_M, nbits: int = PQ_NBITS) -> None:
        self.dim, self.m, self.nbits = dim, m, nbits
        self.pq = faiss.ProductQuantizer(dim, m, nbits)
        faiss.copy_array_to_vector(
            np.ascontiguousarray(centroids, dtype=np.float32).ravel(), self.pq.centroids
        )

    @classmethod
    def train(cls, vectors: np.ndarray, m: int = PQ_M, nbits: int = PQ_NBITS) -> Codebook:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) > PQ_TRAIN_SAMPLE:
            rng = np.random.default_rng(PQ_SEED)
            vectors = vectors[np.sort(rng.choice(len(vectors), PQ_TRAIN_SAMPLE, replace=False))]
        pq = faiss.ProductQuantizer(vectors.shape[1], m, nbits)
        pq.verbose = False
        pq.cp.seed = PQ_SEED
        pq.cp.niter = PQ_TRAIN_ROUNDS
        pq.cp.min_points_per_centroid = 1  # a 4,096-frame sample is enough for 256 centroids of 8 dims
        pq.train(vectors)
        return cls(vectors.shape[1], faiss.vector_to_array(pq.centroids), m, nbits)

    def centroids(self) -> np.ndarray:
        return faiss.vector_to_array(self.pq.centroids)

    def params(self) -> dict:
        return {"m": self.m, "nbits": self.nbits, "dim": self.dim}


def encode(vectors: np.ndarray, encoding: str, codebook: Codebook | None = None) -> CodedFrames:
    """Code float32 [n, d] frames for a block."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if encoding == "f32":
        return CodedFrames("f32", np.zeros(0, np.float32), vectors.view(np.uint8).reshape(n, dim * 4))
    if encoding == "sq8":
        quantiser = faiss.ScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit)
        quantiser.train(vectors)
        return CodedFrames("sq8", faiss.vector_to_array(quantiser.trained), quantiser.compute_codes(vectors))
    if encoding == "pq":
        if codebook is None:
            raise ValueError("pq frames need the space's codebook")
        return CodedFrames("pq", np.zeros(0, np.float32), codebook.pq.compute_codes(vectors))
    raise ValueError(f"unknown frame encoding {encoding!r}")


SCAN_PIECE = 32_768  # frames per FAISS call when scanning a block (two threads share the pieces)
# The integer pass's sums of `dim` products (code - 128) * weight, |.| <= 128 * 127 each, are exact
# in float32 (FAISS's output) while below 2**24: up to 1,032 dimensions; beyond, sq8 alone.
COARSE_MAX_DIM = (2**24 - 1) // (128 * 127)
# Slices under this many frames are scored by sq8 alone: library-wide locate's windows are where
# clip search found the sound, so most of their frames pass, and two passes would score them twice.
COARSE_MIN_FRAMES = 4_096
SCAN_TOP = 512  # top-k asked per piece; a piece whose k-th frame still passes is searched again,
SCAN_TOP_GROWTH = 8  # for this many times more (an event of the query's sound fills a piece's top 512)
SCAN_WHOLE = 4_096  # a piece of at most this many frames is asked for all of them at once
_scratch = threading.local()
# The two scan threads are the parallelism: FAISS's own OpenMP threads inside them would only
# oversubscribe the cores (the setting is per calling thread, so clip indexes keep theirs).


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=2, thread_name_prefix="frame-scan", initializer=lambda: faiss.omp_set_num_threads(1)
    )


def _renew_pool_after_fork() -> None:
    """A forked child has none of its parent's pool threads: work handed to the inherited pool
    would wait for them for ever (a user's script forking workers after a search)."""
    global _pool
    _pool = _new_pool()


_pool = _new_pool()
os.register_at_fork(after_in_child=_renew_pool_after_fork)


def _flat_codes_index(encoding: str, dim: int, params: np.ndarray, codebook: Codebook | None) -> faiss.Index:
    """A FAISS flat-codes index scoring by inner product, kept per thread and reused; its codes
    are pointed at the caller's memory for each scan (`_viewed`)."""
    cache = getattr(_scratch, "indexes", None)
    if cache is None:
        cache = _scratch.indexes = {}
    key = (encoding, dim)
    entry = cache.get(key)  # [index, what its parameters were loaded from]
    if entry is None:
        if encoding == "f32":
            index = faiss.IndexFlatIP(dim)
        elif encoding == "sq8":
            index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        elif encoding == "coarse":  # codes taken as the integers code - 128, the query as int8
            index = faiss.IndexScalarQuantizer(
                dim, faiss.ScalarQuantizer.QT_8bit_direct_signed, faiss.METRIC_INNER_PRODUCT
            )
        elif encoding == "pq":
            assert codebook is not None
            index = faiss.IndexPQ(dim, codebook.m, codebook.nbits, faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"unknown frame encoding {encoding!r}")
        index.is_trained = True
        entry = cache[key] = [index, None]
    index = entry[0]
    if encoding == "sq8" and entry[1] != params.tobytes():
        faiss.copy_array_to_vector(params, index.sq.trained)
        entry[1] = params.tobytes()
    elif encoding == "pq" and entry[1] is not codebook:
        faiss.copy_array_to_vector(codebook.centroids(), index.pq.centroids)
        entry[1] = codebook
    return index


@dataclass(frozen=True)
class ScanJob:
    """One slice's codes to scan against one query: the frames whose coded score exceeds `cutoff`.
    `runs`: only these (start, stop) position ranges (None: all)."""

    encoding: str
    dim: int
    params: np.ndarray
    codes: np.ndarray
    query: np.ndarray
    cutoff: float
    codebook: Codebook | None = None
    runs: list[tuple[int, int]] | None = None


class _viewed:
    """The index's codes pointed at `codes` (C-contiguous rows) for the length of a `with`, not
    copied: copying a 32,768-frame piece of sq8 codes costs 80 % of what scoring it costs. FAISS
    keeps an index's codes in a `MaybeOwnedVector`, which may be a view of memory it does not own
    (what its own memory-mapped indexes use); the view is dropped on leaving."""

    def __init__(self, index: faiss.Index, codes: np.ndarray) -> None:
        self.index, self.codes = index, codes

    def __enter__(self) -> int:
        view = faiss.MaybeOwnedVectorUInt8()
        pointer = faiss.swig_ptr(self.codes.view(np.uint8).reshape(-1))
        view.is_owned = False
        view.view_data = view.c_ptr = pointer
        view.view_size = view.c_size = self.codes.nbytes
        self.index.codes = view
        self.index.ntotal = len(self.codes)
        return len(self.codes)

    def __exit__(self, *exc) -> None:
        self.index.codes = faiss.MaybeOwnedVectorUInt8()  # owns nothing, points at nothing
        self.index.ntotal = 0


def _run_positions(rows: list[tuple[int, int]]) -> np.ndarray:
    """The positions of `rows` (runs), back to back, without a Python loop per position."""
    starts, stops = np.array(rows, dtype=np.int64).reshape(-1, 2).T
    lengths = stops - starts
    return np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
        lengths.sum()
    )


@dataclass(frozen=True)
class _Coarse:
    """The integer pass of an sq8 scan. sq8 decodes code c of dimension d to vmin_d + (c + 0.5) *
    vdiff_d / 255, so a frame's score is sum_d c_d w_d + b with w = query * vdiff / 255 and
    b = query . (vmin + vdiff / 510). With w rounded to integers n_d = round(w_d / step) (step =
    max |w| / 127), FAISS's direct signed kernel gives K = sum_d (c_d - 128) n_d exactly, and
    step * K + offset (offset = b + 128 * step * sum n) is the score with w_d replaced by step * n_d:
    off by sum_d c_d (w_d - step n_d), at most 255 times the sum of the positive w_d - step n_d
    (codes are 0 .. 255). A frame whose K is at most `cut` is then below the job's cutoff for
    certain, the sq8 kernel's own float32 rounding (`sq8_rounding`) included."""

    query: np.ndarray  # float32 [1, dim], integers in -127 .. 127
    cut: float


def integer_pass(encoding: str, dim: int, count: int) -> bool:
    """Whether a scan of `count` frames' codes (all of them, no runs) goes through the integer pass."""
    return encoding == "sq8" and dim <= COARSE_MAX_DIM and count >= COARSE_MIN_FRAMES


def _coarse(job: ScanJob) -> _Coarse | None:
    """The integer pass for an sq8 job (None: sq8 alone, for other codes, a zero or non-finite
    query, an infinite cut, more than COARSE_MAX_DIM dimensions, under COARSE_MIN_FRAMES, or the
    runs piece bounds left)."""
    if not integer_pass(job.encoding, job.dim, len(job.codes)) or not np.isfinite(job.cutoff):
        return None
    if job.runs is not None:
        return None  # what piece bounds leave lies near the cut: mostly frames that pass
    dim = job.dim
    vmin, vdiff = job.params[:dim].astype(np.float64), job.params[dim:].astype(np.float64)
    query = job.query.astype(np.float64).reshape(-1)
    weights = query * vdiff / 255.0
    top = float(np.abs(weights).max()) if dim else 0.0
    if not (np.isfinite(top) and top > 0.0):
        return None
    step = top / 127.0
    integers = np.clip(np.round(weights / step), -127, 127)
    error = weights - step * integers
    reach = 255.0 * float(error[error > 0].sum())  # how far the integer score can lie below
    offset = float(query @ (vmin + vdiff / 510.0)) + 128.0 * step * float(integers.sum())
    rounding = sq8_rounding(dim, job.params, job.query)
    cut = (job.cutoff - rounding - reach - offset) / step
    # float64's own rounding of the few sums above, with a wide margin, and one integer more
    cut -= 1.0 + 1e-12 * (abs(job.cutoff) + abs(offset) + reach + rounding + 1.0) / step
    return _Coarse(integers.astype(np.float32).reshape(1, dim), cut)


def _scan_piece(
    job: ScanJob, coarse: _Coarse | None, rows: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(positions, scores) of the frames of `rows` (position runs) above the job's cut. One run is
    scanned where it lies; several (what the piece bounds leave) are gathered into one array by
    one numpy call first (a Python copy per run cost more than the scan for short runs). With an
    integer pass, only the frames it leaves are scored by the job's own kernel."""
    positions = None
    if len(rows) == 1:
        codes = job.codes[rows[0][0] : rows[0][1]]
    else:
        positions = _run_positions(rows)
        codes = job.codes[positions]
    if not codes.flags.c_contiguous:
        codes = np.ascontiguousarray(codes)
    if coarse is not None:
        index = _flat_codes_index("coarse", job.dim, job.params, None)
        with _viewed(index, codes) as count:
            left, _ = _search(index, coarse.query, coarse.cut, count)
        if not left.size:
            return left, np.zeros(0, np.float32)
        left.sort()
        codes = np.ascontiguousarray(codes[left])
        positions = left + rows[0][0] if positions is None else positions[left]
    index = _flat_codes_index(job.encoding, job.dim, job.params, job.codebook)
    with _viewed(index, codes) as count:
        found_ids, found_scores = _search(index, job.query, job.cutoff, count)
    if positions is None:
        return found_ids + rows[0][0], found_scores
    return positions[found_ids], found_scores


def _search(
    index: faiss.Index, query: np.ndarray, cutoff: float, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, scores) of the index's rows scoring above `cutoff`."""
    if not count:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    top = count if count <= SCAN_WHOLE else min(SCAN_TOP, count)  # small: the heap costs little
    scores, ids = index.search(query, top)
    while top < count and scores[0, -1] > cutoff:  # more pass than asked for: ask for more
        top = min(count, top * SCAN_TOP_GROWTH)  # (all at once: a heap of the whole piece costs more)
        scores, ids = index.search(query, top)
    # Always FAISS's k-nearest search, never its range search: the two round a score differently
    # (in the last bits), and k-NN is 3x faster; a frame's score is then the same whichever piece,
    # slice or batch it is scanned in.
    keep = (ids[0] >= 0) & (scores[0] > cutoff)
    return ids[0][keep].astype(np.int64), scores[0][keep]


def _run_units(
    units: list[tuple[int, list[tuple[int, int]]]], jobs: list[ScanJob], coarse: list[_Coarse | None]
) -> list[tuple]:
    """One scan thread's share: (job, positions, scores) of each unit, one FAISS call after another."""
    return [(number, *_scan_piece(jobs[number], coarse[number], rows)) for number, rows in units]


def scan_jobs(jobs: list[ScanJob]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each job's (frame positions sorted, their scores), all jobs handed to the two scan threads
    at once: the pieces are dealt out by size, and each thread runs its share one FAISS call after
    another (many small slices then cost two thread hand-offs, not two each)."""
    units: list[tuple[int, list[tuple[int, int]], int]] = []  # (job, runs, frames)
    for number, job in enumerate(jobs):
        runs = [(0, len(job.codes))] if job.runs is None else job.runs
        runs = [(start, stop) for start, stop in runs if stop > start]
        units += [(number, group, sum(b - a for a, b in group)) for group in _scan_groups(runs)]
    shares: list[list[tuple[int, list[tuple[int, int]]]]] = [[], []]
    load = [0, 0]
    for number, rows, frames in sorted(units, key=lambda unit: -unit[2]):
        lighter = 0 if load[0] <= load[1] else 1
        shares[lighter].append((number, rows))
        load[lighter] += frames
    shares = [share for share in shares if share]
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in jobs]
    # FAISS on one OpenMP thread in each (see _new_pool)
    coarse = [_coarse(job) for job in jobs]
    for done in _pool.map(_run_units, shares, [jobs] * len(shares), [coarse] * len(shares)):
        for number, positions, scores in done:
            found[number].append((positions, scores))
    results = []
    for parts in found:
        if not parts:
            results.append((np.zeros(0, np.int64), np.zeros(0, np.float32)))
            continue
        positions = np.concatenate([p for p, _ in parts])
        scores = np.concatenate([s for _, s in parts])
        order = np.argsort(positions, kind="stable")
        results.append((positions[order], scores[order]))
    return results


def _scan_groups(runs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """`runs` cut into groups of at most SCAN_PIECE frames, one FAISS call each."""
    groups: list[list[tuple[int, int]]] = [[]]
    room = SCAN_PIECE
    for start, stop in runs:
        while start < stop:
            if not room:
                groups.append([])
                room = SCAN_PIECE
            end = min(stop, start + room)
            groups[-1].append((start, end))
            room -= end - start
            start = end
    return [group for group in groups if group]


def decode(
    encoding: str, dim: int, params: np.ndarray, codes: np.ndarray, codebook: Codebook | None = None
) -> np.ndarray:
    """float32 [n, d]: the frames as the code gives them back."""
    codes = np.ascontiguousarray(codes)
    if not len(codes):
        return np.zeros((0, dim), np.float32)
    if encoding == "f32":
        return codes.view(np.float32).reshape(len(codes), dim).copy()
    if encoding == "sq8":
        quantiser = faiss.ScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit)
        faiss.copy_array_to_vector(np.ascontiguousarray(params, dtype=np.float32), quantiser.trained)
        return quantiser.decode(codes)
    if encoding == "pq":
        assert codebook is not None
        return codebook.pq.decode(codes)
    raise ValueError(f"unknown frame encoding {encoding!r}")


def scores(
    encoding: str,
    dim: int,
    params: np.ndarray,
    codes: np.ndarray,
    query: np.ndarray,
    codebook: Codebook | None = None,
) -> np.ndarray:
    """float32 [n]: the inner product of `query` with every frame (small slices: decodes them)."""
    return decode(encoding, dim, params, codes, codebook) @ np.asarray(query, dtype=np.float32)


def score_error(encoding: str, dim: int, params: np.ndarray, query: np.ndarray) -> float | None:
    """How far a coded frame's inner product with `query` can be from its float32 one, for every
    frame of a block: 0 for f32, a certain bound for sq8, None (no bound) for pq.

    sq8 decodes a component to the middle of its 1/255 step, so it is off by at most half a step,
    vdiff / 510, in each dimension; the bound is the sum over dimensions of |query| times that, plus
    the float32 rounding of a sum of `dim` products (a frame is then decided for certain whenever
    its coded score is further than this from the cut)."""
    if encoding == "f32":
        return 0.0
    if encoding != "sq8":
        return None
    query = np.abs(np.asarray(query, dtype=np.float64).reshape(-1))
    quantisation = float(query @ np.asarray(params[dim:], np.float64)) / 510.0
    return quantisation * (1 + 1e-3) + sq8_rounding(dim, params, query)


def sq8_rounding(dim: int, params: np.ndarray, query: np.ndarray) -> float:
    """How far float32 rounding can move one sq8 coded score from its exact value (the decoded
    components and a sum of `dim` products, each off by a relative 2**-24 at most)."""
    query = np.abs(np.asarray(query, dtype=np.float64).reshape(-1))
    vmin, vdiff = np.asarray(params[:dim], np.float64), np.asarray(params[dim:], np.float64)
    magnitude = float(query @ np.maximum(np.abs(vmin), np.abs(vmin + vdiff)))
    return 2 * dim * 2.0**-24 * magnitude


def frames_above(
    encoding: str,
    dim: int,
    params: np.ndarray,
    codes: np.ndarray,
    query: np.ndarray,
    cutoff: float,
    codebook: Codebook | None = None,
    runs: list[tuple[int, int]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(frame positions sorted, their scores) of the frames whose inner product with `query`
    exceeds `cutoff`: a FAISS range search over the codes, nothing decoded. `runs`: only the
    frames of these (start, stop) position ranges are scanned (default: all)."""
    query = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, dim))
    params = np.ascontiguousarray(params, dtype=np.float32)
    return scan_jobs([ScanJob(encoding, dim, params, codes, query, cutoff, codebook, runs)])[0]


MANY_PIECE = 8_192  # frames scored at a time when many queries score a block (32 MB at 1024-d)


def frames_above_many(
    encoding: str,
    dim: int,
    params: np.ndarray,
    codes: np.ndarray,
    queries: np.ndarray,
    cutoffs: np.ndarray,
    codebook: Codebook | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query rows, frame positions, scores) of every (query, frame) pair whose coded inner product
    exceeds that query's cutoff, sorted by query then position: one matrix product over the codes
    a piece at a time (for hundreds of queries a range search each costs more).

    sq8 is not decoded: a code c of dimension d stands for vmin_d + (c + 0.5) * vdiff_d / 255, so a
    frame's coded score is sum_d c_d * w_d + b with w = query * vdiff / 255 and
    b = query . (vmin + vdiff / 510), the codes taken as they are (as float32)."""
    queries = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, dim))
    cutoffs = np.asarray(cutoffs, dtype=np.float32).reshape(1, -1)
    weights, offsets = queries.T, None
    if encoding == "sq8":
        vmin, vdiff = params[:dim].astype(np.float64), params[dim:].astype(np.float64)
        weights = np.ascontiguousarray((queries.astype(np.float64) * (vdiff / 255.0)).T.astype(np.float32))
        offsets = (queries.astype(np.float64) @ (vmin + vdiff / 510.0)).astype(np.float32)[None, :]
    rows, positions, found = [], [], []
    for at in range(0, len(codes), MANY_PIECE):
        piece = codes[at : at + MANY_PIECE]
        if encoding == "f32":  # the raw floats: no copy
            vectors = np.ascontiguousarray(piece).view(np.float32).reshape(len(piece), dim)
        elif encoding == "sq8":
            vectors = piece.astype(np.float32)
        else:
            vectors = decode(encoding, dim, params, piece, codebook)
        piece_scores = vectors @ weights
        if encoding == "sq8":
            piece_scores += offsets
        frame, query = np.nonzero(piece_scores > cutoffs)
        rows.append(query)
        positions.append(frame.astype(np.int64) + at)
        found.append(piece_scores[frame, query])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    row, position, score = np.concatenate(rows), np.concatenate(positions), np.concatenate(found)
    order = np.lexsort((position, row))
    return row[order].astype(np.int64), position[order], score[order]
