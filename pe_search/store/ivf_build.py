"""Building a large IVF-PQ index so that a kill -9 or a full disk costs only the chunk under way
(the autofaiss / faiss `contrib.ondisk` pattern: train once, add shards, merge).

The build keeps its state in a folder beside the index file (`SPACE.index.build/`):

    manifest.json     the index's structural parameters (a different one starts over)
    trained.faiss     the trained, empty index (coarse centroids and PQ codebooks)
    probes.npy        the tuning probes (see `ivf_tuning`), made from the training sample
    chunk-NNNNN.npz   chunk N of the live ids (`build_chunk` ids each): the hash of its ids, its
                      vectors' codes (`sa_encode`: list number and PQ code, 130 bytes at
                      d = 1024) and the probes' exact top k among them

Each file is written atomically, and a chunk only after the step before it is on disk, so a
re-run finds every finished chunk and adds only the rest: a chunk is reused when the hash of its
ids equals that of the same slice of today's live ids (a library that only grew reuses them all).
The probes' exact neighbours are computed on the same pass over the vectors, so tuning costs
no second read of a vectors file that may be larger than the machine's memory. The folder goes
when the finished index has been saved (`discard`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pe_search import crash_points
from pe_search.store.atomic import fsync_dir, temporary_path
from pe_search.store.lazy_faiss import faiss, one_omp_thread  # imported on first use (issue 24)
from pe_search.store.vector_index import BUILD_CHUNK, VectorSource, as_vectors, read_sorted

TRUTH_K = 10  # recall@10 is what the search parameters are tuned for
RESIDUAL_ROWS = 8_192  # rows turned into residuals at a time while training (32 MB at d = 1024)
# ENCODE_ROWS: rows of a chunk read, encoded and scored against the probes at a time. FAISS's
# `sa_encode` holds the rows' residuals beside them, and the probes' scores their argpartition:
# a whole 50,000-row chunk at once took ~590 MB (rows 205, residuals 205, scores 60, their
# order 120), most of the writer's retrain peak at 1.4M vectors (issue 24, item 6).
ENCODE_ROWS = 8_192
STRUCTURAL = ("nlist", "pq_m", "pq_nbits", "train_size", "seed", "train_iterations")
CHUNK_FORMAT = "sa-codes"  # chunk files hold codes only (the quantiser once, in trained.faiss)
# TRAIN_THREADS: training runs on one OpenMP thread. The PQ's 128 sub-quantisers are trained one
# after another, 25 k-means iterations each, each iteration a few tiny parallel loops; on a busy
# machine every loop's barrier waits for a descheduled thread. 30,000 x 1024-d at load 8-9 took
# 421 s to build (bench_vectors); the PQ training alone took 29.8 s wall / 12.5 s CPU on two
# threads beside three busy processes, 6.5 s / 2.0 s on one. The coarse k-means (BLAS) gained
# nothing from a second thread (30,000 -> 2,048 lists: 9.9 s wall on two, 8.9 s on one).


@dataclass(frozen=True)
class BuildReport:
    """What one call of `build` did (tests count what a resumed build re-did)."""

    chunks_reused: int
    chunks_added: int
    vectors_added: int
    trained_now: bool


@dataclass(frozen=True)
class Truth:
    """Tuning probes with their exact top `TRUTH_K` ids among the vectors indexed."""

    queries: np.ndarray  # float32 [p, d]
    families: np.ndarray  # str [p]: which kind of probe each is
    ids: np.ndarray  # int64 [p, TRUTH_K]


def build_dir(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + ".build")


def discard(index_path: Path) -> None:
    """Forget a build's state (after the finished index was saved)."""
    shutil.rmtree(build_dir(index_path), ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    """Put `data` at `path` atomically (as `atomic_write`, without its index-save crash point)."""
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk keeps no half file
        raise
    fsync_dir(path.parent)


def _faiss_bytes(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def _read_faiss(path: Path) -> faiss.Index:
    return faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))


def _chunk_key(ids: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k best (score, id), best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    best = np.take_along_axis(scores, part, 1)
    order = np.argsort(-best, axis=1, kind="stable")
    return np.take_along_axis(best, order, 1), np.take_along_axis(ids, np.take_along_axis(part, order, 1), 1)


def build(
    folder: Path,
    params: dict,
    dim: int,
    ids: np.ndarray,
    source: VectorSource,
    empty: Callable[[], faiss.Index],
    make_probes: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[faiss.Index, Truth, BuildReport]:
    """The IVF-PQ index of the stored vectors of `ids` (sorted), resuming what `folder` holds.

    `empty()` makes the untrained index; `make_probes(sample)` the tuning probes (queries,
    families) from the training sample's vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"dim": dim, "chunks": CHUNK_FORMAT, **{key: params.get(key) for key in STRUCTURAL}}
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists() or json.loads(manifest_path.read_text()) != manifest:
        shutil.rmtree(folder)
        folder.mkdir(parents=True)
        _write(manifest_path, json.dumps(manifest, sort_keys=True).encode())
    trained_path, probes_path = folder / "trained.faiss", folder / "probes.npz"
    trained_now = not (trained_path.exists() and probes_path.exists())
    if trained_now:
        size = min(ids.size, int(params.get("train_size", 100_000)))
        rng = np.random.default_rng(int(params.get("seed", 1234)))
        sample = np.sort(rng.choice(ids, size=size, replace=False)) if size < ids.size else ids
        vectors = as_vectors(read_sorted(source, sample), dim)
        queries, families = make_probes(vectors)  # before the sample becomes residuals
        trained = empty()
        with one_omp_thread():  # see TRAIN_THREADS
            train_in_place(trained, vectors)
        del vectors
        _write(probes_path, _npz_bytes(queries=queries, families=families))
        _write(trained_path, _faiss_bytes(trained))
    trained = _read_faiss(trained_path)
    with np.load(probes_path) as saved:
        queries, families = saved["queries"], saved["families"]
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    sizes = np.zeros(int(trained.nlist), dtype=np.int64)  # each list's length once all are added
    reused = added = vectors_added = 0
    chunk = int(params.get("build_chunk", BUILD_CHUNK))
    chunks = [
        (folder / f"chunk-{number:05d}.npz", ids[start : start + chunk])
        for number, start in enumerate(range(0, ids.size, chunk))
    ]
    for chunk_path, part in chunks:
        key = _chunk_key(part)
        saved = _chunk(chunk_path, key)
        if saved is None:
            codes, top_scores, top_ids = _encode(trained, source, part, dim, queries)
            _write(chunk_path, _npz_bytes(key=np.array(key), codes=codes, scores=top_scores, ids=top_ids))
            added, vectors_added = added + 1, vectors_added + part.size
            crash_points.reached("index-build-chunk")
        else:
            codes, top_scores, top_ids = saved
            reused += 1
        sizes += np.bincount(_list_numbers(trained, codes), minlength=sizes.size)
        del codes
        best_scores, best_ids = _top(
            np.concatenate([best_scores, top_scores], 1), np.concatenate([best_ids, top_ids], 1), TRUTH_K
        )
    merged = _merge(trained, sizes, chunks)
    truth = Truth(queries, families, best_ids)
    return merged, truth, BuildReport(reused, added, vectors_added, trained_now)


def _encode(
    trained: faiss.IndexIVFPQ, source: VectorSource, part: np.ndarray, dim: int, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A chunk's codes and the probes' exact top k among its vectors, `ENCODE_ROWS` at a time."""
    codes = []
    top_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    top_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, part.size, ENCODE_ROWS):
        block = part[start : start + ENCODE_ROWS]
        vectors = as_vectors(read_sorted(source, block), dim)
        codes.append(trained.sa_encode(vectors))
        scores = queries @ vectors.T
        del vectors
        top_scores, top_ids = _top(
            np.concatenate([top_scores, scores], 1),
            np.concatenate([top_ids, np.broadcast_to(block, scores.shape)], 1),
            TRUTH_K,
        )
    return np.concatenate(codes), top_scores, top_ids


def _list_numbers(index: faiss.IndexIVF, codes: np.ndarray) -> np.ndarray:
    """The list each `sa_encode` code goes to: its first bytes, the list number little-endian."""
    coarse = int(index.coarse_code_size())
    weights = 256 ** np.arange(coarse, dtype=np.int64)
    return codes[:, :coarse].astype(np.int64) @ weights


def _merge(
    trained: faiss.IndexIVFPQ, sizes: np.ndarray, chunks: list[tuple[Path, np.ndarray]]
) -> faiss.Index:
    """The trained index holding every chunk's codes, as `add_sa_codes` chunk after chunk would
    leave it (each list in id order), with each list allocated once at its final length: grown
    by appends, the lists' arrays double, and at 1.4M vectors the slack and the freed arrays
    left behind added hundreds of MB to the writer's retrain (issue 24, item 6)."""
    merged = faiss.clone_index(trained)
    lists, coarse = merged.invlists, int(merged.coarse_code_size())
    for number in np.flatnonzero(sizes):
        lists.resize(int(number), int(sizes[number]))
    filled = np.zeros_like(sizes)
    for chunk_path, part in chunks:
        with np.load(chunk_path) as saved:
            codes = saved["codes"]
        numbers = _list_numbers(merged, codes)
        order = np.argsort(numbers, kind="stable")
        numbers, part = numbers[order], np.ascontiguousarray(part[order])
        codes = np.ascontiguousarray(codes[order, coarse:])
        starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
        for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), numbers.size]):
            number = int(numbers[begin])
            lists.update_entries(
                number,
                int(filled[number]),
                end - begin,
                faiss.swig_ptr(part[begin:end]),
                faiss.swig_ptr(codes[begin:end]),
            )
            filled[number] += end - begin
    merged.ntotal = int(sizes.sum())
    return merged


def train_in_place(index: faiss.IndexIVFPQ, sample: np.ndarray) -> None:
    """Train `index` as FAISS's `IndexIVFPQ.train` does, turning `sample` into its residuals in
    place: FAISS computes them into a copy (65,536 x d: 268 MB at d = 1024), which with the
    100,000-vector sample made the writer's retrain its memory peak (1.64 GB at 4,117 hours, issue
    24 item 6). The coarse quantiser is trained by FAISS (`train_q1`), the PQ by FAISS on all the
    residuals (it samples 256 per centroid itself; FAISS samples the same number before taking
    residuals): with a sample of at most 65,536 the trained index is FAISS's, byte for byte."""
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    count = sample.shape[0]
    index.train_q1(count, faiss.swig_ptr(sample), False, index.metric_type)
    _, assigned = index.quantizer.search(sample, 1)
    centroids = index.quantizer.reconstruct_n(0, index.nlist)
    for start in range(0, count, RESIDUAL_ROWS):  # a block at a time: no n x d temporary
        block = slice(start, start + RESIDUAL_ROWS)
        sample[block] -= centroids[assigned[block, 0]]
    index.pq.train(sample)
    index.precompute_table()
    index.is_trained = True


def _chunk(path: Path, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A finished chunk's (codes, probes' top k scores, ids), when it holds the ids hashed to `key`."""
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            if str(saved["key"]) != key:
                return None
            return saved["codes"], saved["scores"], saved["ids"]
    except (OSError, ValueError, KeyError):
        return None


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
