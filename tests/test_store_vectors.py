"""The FAISS wrappers (every index type) and the policy that picks one."""

from __future__ import annotations

import io

import numpy as np
import pytest

from pe_search.store.policy import IndexPolicy
from pe_search.store.vector_file import VectorFile
from pe_search.store.vectors import INDEX_CLASSES, IndexSpec, create_index, inner_products_by_id

DIM = 16
N = 400


@pytest.fixture
def source(tmp_path):
    """A vectors file with ids 0..N-1; ids are row numbers."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32) * rng.uniform(0.5, 2.0, (N, 1)).astype(
        np.float32
    )
    file = VectorFile(tmp_path / "space.f32", DIM, writable=True)
    file.write(0, vectors)
    file.sync()
    yield file, vectors
    file.close()


def _spec(kind: str) -> IndexSpec:
    # (tuning may probe every list: this test is about the verbs, not the tuning's budget)
    spec = IndexPolicy(train_size=N, rerank=N, tune_max_probe_share=1.0).spec(kind, N, DIM)
    if kind == "ivfpq":  # probe every list and re-rank everything: IVF-PQ is then exact
        spec = IndexSpec(kind, {**spec.params, "nprobe": spec.params["nlist"]})
    return spec


def _exact(vectors, ids, queries, k):
    scores = queries @ vectors[ids].T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


QUERIES = np.random.default_rng(8).standard_normal((5, DIM)).astype(np.float32) + 0.5


@pytest.mark.parametrize("kind", sorted(INDEX_CLASSES))
def test_index_append_delete_search_save_load(kind, source):
    file, vectors = source
    index = create_index(_spec(kind), DIM, file)
    first, rest = np.arange(300), np.arange(300, N)
    index.index(first)
    index.append(rest, vectors[rest])
    assert index.count() == N

    all_ids = np.arange(N)
    scores, ids = index.search(QUERIES, 10)
    expected = _exact(vectors, all_ids, QUERIES, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected, strict=True)])
    assert recall >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 1e-5), "sorted by score, best first"
    # scores are raw inner products, not distances or normalised values
    np.testing.assert_allclose(scores[:, 0], np.einsum("qd,qd->q", QUERIES, vectors[ids[:, 0]]), rtol=1e-4)

    doomed = expected[:, :3].ravel()
    assert index.delete(doomed) == len(np.unique(doomed))
    assert index.count() == N - len(np.unique(doomed))
    _, ids = index.search(QUERIES, 10)
    assert not set(ids.ravel()) & set(doomed.tolist())
    np.testing.assert_array_equal(index.ids(), np.setdiff1d(all_ids, doomed))

    buffer = io.BytesIO()
    index.save(buffer)
    buffer.seek(0)
    loaded = INDEX_CLASSES[kind].load(buffer, DIM, index.params, file, masked=index.masked())
    assert loaded.count() == index.count()
    np.testing.assert_array_equal(loaded.search(QUERIES, 10)[1], index.search(QUERIES, 10)[1])


@pytest.mark.parametrize("kind", sorted(INDEX_CLASSES))
def test_subset_search_returns_only_the_subset(kind, source):
    file, vectors = source
    index = create_index(_spec(kind), DIM, file)
    index.index(np.arange(N))
    subset = np.arange(0, N, 7)
    scores, ids = index.search(QUERIES, 5, subset=subset)
    assert set(ids.ravel()) <= set(subset.tolist())
    np.testing.assert_array_equal(ids[:, 0], _exact(vectors, subset, QUERIES, 1)[:, 0])
    # a subset smaller than k pads with -1 / -inf
    scores, ids = index.search(QUERIES, 5, subset=np.array([3, 4]))
    assert (
        set(ids[:, :2].ravel()) == {3, 4} and np.all(ids[:, 2:] == -1) and np.all(np.isneginf(scores[:, 2:]))
    )


def test_flat_single_query_is_exact_and_leaves_the_thread_setting_as_it_was(source):
    """One query searches on one OpenMP thread (issue 24: hybrid mode's single query): the same
    exact answer as numpy's, with and without a subset, and the caller's thread count restored."""
    from pe_search.store.lazy_faiss import faiss

    file, vectors = source
    index = create_index(_spec("flat"), DIM, file)
    index.index(np.arange(N))
    before = faiss.omp_get_max_threads()
    for query in QUERIES:
        _, ids = index.search(query[None, :], 10)
        np.testing.assert_array_equal(ids[0], _exact(vectors, np.arange(N), query[None, :], 10)[0])
        subset = np.arange(1, N, 3)
        _, ids = index.search(query[None, :], 4, subset=subset)
        np.testing.assert_array_equal(ids[0], _exact(vectors, subset, query[None, :], 4)[0])
    assert faiss.omp_get_max_threads() == before


def test_hnsw_masks_deletions_and_reports_share(source):
    file, _ = source
    index = create_index(_spec("hnsw"), DIM, file)
    index.index(np.arange(N))
    assert not index.can_remove
    index.delete(np.arange(100))
    assert index.masked_share() == pytest.approx(0.25)
    assert index.count() == N - 100
    assert index.search(QUERIES, 50)[1].min() >= 100


def test_exact_search_by_ids_matches_numpy(source):
    file, vectors = source
    subset = np.array([5, 17, 99, 250, 399])
    scores, ids = inner_products_by_id(QUERIES, file, subset, 3)
    np.testing.assert_array_equal(ids, _exact(vectors, subset, QUERIES, 3))
    # per-query candidates with -1 holes, as IVF-PQ hands them to the re-rank
    candidates = np.array([[5, -1, 17, 99]] * len(QUERIES))
    scores, ids = inner_products_by_id(QUERIES, file, candidates, 4)
    assert np.all(ids[:, 3] == -1) and np.all(np.isneginf(scores[:, 3]))


def test_policy_switches_with_size_and_budget():
    policy = IndexPolicy(flat_max=100, hnsw_max=1000)
    assert policy.choose(0, DIM).kind == "flat"
    assert policy.choose(100, DIM).kind == "flat"
    assert policy.choose(101, DIM).kind == "hnsw"
    assert policy.choose(1001, DIM).kind == "ivfpq"
    # a memory budget too small for an HNSW graph goes straight to compressed codes (a graph is
    # built only if it would still fit at twice the size: here up to 200 vectors)
    graph_bytes = IndexPolicy().estimate("hnsw", 400, DIM)
    tight = IndexPolicy(flat_max=100, hnsw_max=1000, memory_budget=graph_bytes)
    assert tight.choose(150, DIM).kind == "hnsw"
    assert tight.choose(201, DIM).kind == "ivfpq"
    assert tight.choose(400, DIM).kind == "ivfpq"


def test_policy_hysteresis_and_retraining():
    policy = IndexPolicy(flat_max=100, hnsw_max=1000, retrain_growth=4.0)
    hnsw = policy.choose(150, DIM)
    assert policy.choose(90, DIM, hnsw) == hnsw, "just below the threshold: keep the graph"
    assert policy.choose(40, DIM, hnsw).kind == "flat", "well below: step down"
    ivf = policy.choose(2000, DIM)
    assert policy.choose(7000, DIM, ivf) == ivf
    retrained = policy.choose(9000, DIM, ivf)
    assert retrained.kind == "ivfpq" and retrained.params["trained_on"] == 9000


def test_policy_ivfpq_parameters_at_scale():
    params = IndexPolicy().spec("ivfpq", 1_000_000, 1024).params
    assert 1024 % params["pq_m"] == 0
    assert params["nlist"] * IndexPolicy().ivf_min_list_size <= params["train_size"]
    assert 1 <= params["nprobe"] <= params["nlist"]
    small = IndexPolicy().spec("ivfpq", 300, 12).params
    assert 12 % small["pq_m"] == 0 and small["nlist"] >= 1 and small["pq_nbits"] <= 8
