"""IVF-PQ for small libraries under the shared index budget (issue 24, items 1 and 6: the
three-space library switches to IVF-PQ at ~22,000 vectors a space).

- The build trains on one OpenMP thread: FAISS's PQ training runs thousands of tiny parallel
  loops (128 sub-quantisers x 25 k-means iterations), and on a busy machine each loop's barrier
  waits for a descheduled thread (30,000 x 1024-d with three other busy processes: 29.8 s wall
  and 12.5 s CPU on two threads, 6.5 s and 2.0 s on one).
- The policy builds an HNSW graph only if it would still fit the space's share at twice the size:
  one space under the 256 MiB budget built a graph at 50,001 vectors and threw it away at 60,897
  (92 s of building for 22% of growth).

Thresholds are worked out by hand from the byte counts (HNSW: the float32 row, 2M int32 links,
level, offset, id map: 4 * DIM + 8 * M + 24 bytes a vector); exact answers come from numpy.
"""

from __future__ import annotations

import faiss
import numpy as np

from pe_search.store import IndexPolicy, ivf_build, ivf_tuning
from pe_search.store.vectors import IndexSpec, create_index

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
    real_train = ivf_build.train_in_place

    def train(index, sample):
        seen.append(faiss.omp_get_max_threads())
        return real_train(index, sample)

    monkeypatch.setattr(ivf_build, "train_in_place", train)
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


M = 4
GRAPH_ROW = 4 * DIM + 8 * M + 24  # 184 bytes a vector


def test_hnsw_is_built_only_if_it_would_still_fit_at_twice_the_size():
    policy = IndexPolicy(flat_max=50, hnsw_max=10_000, hnsw_m=M, memory_budget=400 * GRAPH_ROW)
    assert policy.estimate("hnsw", 400, DIM) == 400 * GRAPH_ROW  # the arithmetic above
    # a fresh space: a graph for 200 vectors fits 400 too; one for 201 would be left at 401
    assert policy.choose(200, DIM).kind == "hnsw"
    assert policy.choose(201, DIM).kind == "ivfpq"
    # three spaces: a third each (133 graph rows): HNSW up to 66 vectors, flat up to 50
    assert policy.choose(66, DIM, spaces=3).kind == "hnsw"
    assert policy.choose(67, DIM, spaces=3).kind == "ivfpq"
    # growing out of flat: the same rule
    flat = policy.choose(50, DIM)
    assert flat.kind == "flat"
    assert policy.choose(51, DIM, flat).kind == "hnsw"
    assert policy.choose(200, DIM, flat).kind == "hnsw"
    assert policy.choose(201, DIM, flat).kind == "ivfpq"
    # a graph that was built keeps serving while it fits the share itself (400 vectors)
    graph = policy.choose(150, DIM)
    assert policy.choose(400, DIM, graph) == graph
    assert policy.choose(401, DIM, graph).kind == "ivfpq"
    # shrinking from IVF-PQ steps down only to a kind that fits at twice the size
    ivf = policy.choose(1_000, DIM)
    assert policy.choose(201, DIM, ivf) == ivf
    assert policy.choose(200, DIM, ivf).kind == "hnsw"


def test_one_space_under_the_default_budget_skips_the_short_lived_graph():
    policy = IndexPolicy()
    share = 256 * 2**20
    graph_row = 4 * 1024 + 8 * 32 + 24  # d = 1024, M = 32: 4,376 bytes a vector
    last_graph = share // graph_row  # 61,342: the most vectors a graph may hold
    assert policy.choose(50_000, 1024).kind == "flat"
    assert policy.choose(50_001, 1024).kind == "ivfpq"  # a graph there would go at 61,343
    assert 2 * 50_001 * graph_row > share
    graph = policy.spec("hnsw", 50_001, 1024)  # built by an earlier version: kept while it fits
    assert policy.choose(last_graph, 1024, graph) == graph
    assert policy.choose(last_graph + 1, 1024, graph).kind == "ivfpq"


def test_a_small_index_reaches_the_target_on_probes_the_tuning_never_saw():
    """8,000 vectors around 500 centres: 128 lists, and the default cap (1/16: 8 lists) kept the
    tuned recall at 0.56. Probes from another seed, exact answers from numpy."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((500, DIM)).astype(np.float32)
    data = (centres[rng.integers(0, 500, 8_000)] + rng.standard_normal((8_000, DIM))).astype(np.float32)
    policy = IndexPolicy()
    index = create_index(policy.spec("ivfpq", len(data), DIM), DIM, ArraySource(data))
    index.index(np.arange(len(data)))
    assert index.params["nlist"] == 128
    probes, families = ivf_tuning.make_probes(data[rng.choice(len(data), 4_000, replace=False)], 200, 77)
    exact = np.argsort(-(probes @ data.T), axis=1)[:, :10]
    found = index.search(probes, 10)[1]
    recall = np.array([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    for name in ivf_tuning.FAMILIES:
        assert recall[families == name].mean() >= policy.recall_target, name
    assert index.params["tuned_reached"] is True


def test_an_index_tuned_without_free_bytes_is_retuned_only_where_they_lift_its_cap():
    policy = IndexPolicy()  # 1 MiB free, a 1/16 probe share
    tuned = {"recall_target": 0.95, "tune_max_probe_share": 1 / 16, "pq_m": 128, "pq_nbits": 8}
    # 30,000 vectors in 512 lists of 136-byte entries (128-byte code, 8-byte id): 7,969 bytes a
    # list, 131 in 1 MiB, more than the share's 32
    small = IndexSpec("ivfpq", {**tuned, "nlist": 512, "tuned_on": 30_000})
    assert 2**20 // (30_000 / 512 * 136) == 131
    assert policy.needs_tuning(small, 30_000)
    assert not policy.needs_tuning(IndexSpec("ivfpq", {**small.params, "tune_free_bytes": 2**20}), 30_000)
    # 10M vectors in 2,048 lists: 664,063 bytes a list, one in 1 MiB: its settings cannot change
    big = IndexSpec("ivfpq", {**tuned, "nlist": 2_048, "tuned_on": 10_000_000})
    assert not policy.needs_tuning(big, 10_000_000)
