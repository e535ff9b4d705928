"""IVF-PQ for small libraries under the shared index budget (issue 24, items 1 and 6: the
three-space library switches to IVF-PQ at ~22,000 vectors a space).

- The build trains on one OpenMP thread: FAISS's PQ training runs thousands of tiny parallel
  loops (128 sub-quantisers x 25 k-means iterations), and on a busy machine each loop's barrier
  waits for a descheduled thread (30,000 x 1024-d with three other busy processes: 29.8 s wall
  and 12.5 s CPU on two threads, 6.5 s and 2.0 s on one).
"""

from __future__ import annotations

import faiss
import numpy as np

from pe_search.store import IndexPolicy
from pe_search.store.vectors import create_index

DIM = 32


class ArraySource:
    """A numpy VectorSource: row i is vector id i."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def read(self, ids: np.ndarray) -> np.ndarray:
        return self.data[ids]

    def view(self, rows: int) -> np.ndarray:
        return self.data


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32) * 2
    return (centres[rng.integers(0, 40, n)] + rng.standard_normal((n, DIM))).astype(np.float32)


def test_the_build_trains_on_one_openmp_thread_and_restores_the_setting(monkeypatch):
    seen = []
    real_train = faiss.IndexIVFPQ.train

    def train(self, x):
        seen.append(faiss.omp_get_max_threads())
        return real_train(self, x)

    monkeypatch.setattr(faiss.IndexIVFPQ, "train", train)
    data = clustered(3_000, 1)
    policy = IndexPolicy(train_size=2_000, tune_probes=20)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        index = create_index(policy.spec("ivfpq", len(data), DIM), DIM, ArraySource(data))
        index.index(np.arange(len(data)))
        assert seen == [1]
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(threads)
    assert index.count() == len(data)
