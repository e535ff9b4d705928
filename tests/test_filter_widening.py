"""HNSW and IVF-PQ widen their search under a narrow filter (issue 27, item 4): with a subset of
a few vectors out of thousands, the search still returns k results, the exact top k of the
subset (numpy over the stored vectors). Each case also shows that the same index searched
without widening misses, so the test would fail if the widening went."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.store.policy import IndexPolicy
from pe_search.store.vector_file import VectorFile
from pe_search.store.vector_index import IdSelector
from pe_search.store.vectors import IndexSpec, create_index

DIM = 16
N = 3_000
K = 5
QUERIES = np.random.default_rng(21).standard_normal((8, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    vectors = np.random.default_rng(20).standard_normal((N, DIM)).astype(np.float32)
    file = VectorFile(tmp_path_factory.mktemp("widening") / "space.f32", DIM, writable=True)
    file.write(0, vectors)
    file.sync()
    yield file, vectors
    file.close()


def _spec(kind: str) -> IndexSpec:
    # no free bytes: at d = 16 every setting is "free" and the tuning would probe most lists,
    # while this test needs an index that misses when its search is not widened
    spec = IndexPolicy(train_size=N, tune_free_bytes=0).spec(kind, N, DIM)
    if kind == "hnsw":
        return IndexSpec(kind, {**spec.params, "ef_search": 16})
    return IndexSpec(kind, {**spec.params, "nprobe": 1, "rerank": 20})  # one list probed unwidened


def _exact(vectors, subset, k):
    scores = QUERIES @ vectors[subset].T
    return subset[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_a_narrow_filter_still_finds_the_exact_top_k(source, kind):
    file, vectors = source
    index = create_index(_spec(kind), DIM, file)
    index.index(np.arange(N))
    subset = np.sort(np.random.default_rng(22).choice(N, 12, replace=False))  # 0.4 % of the vectors
    scores, ids = index.search(QUERIES, K, subset=subset)
    assert np.all(ids >= 0), "a narrow filter left results out"
    np.testing.assert_array_equal(ids, _exact(vectors, subset, K))
    np.testing.assert_allclose(scores, np.take_along_axis(QUERIES @ vectors.T, ids, axis=1), rtol=1e-5)
    # the same search without widening (share 1) misses: this filter is narrow enough to matter
    keep = IdSelector(subset)
    _, unwidened = index._search(QUERIES, K, keep.selector, 1.0)
    unwidened = np.asarray(unwidened)
    complete = [
        unwidened.shape[1] >= K
        and set(unwidened[q, :K].tolist()) == set(_exact(vectors, subset, K)[q].tolist())
        for q in range(len(QUERIES))
    ]
    assert not all(complete)
