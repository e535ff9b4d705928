"""Tuning an IVF-PQ index's search settings within a budget (issue 24, item 1): nprobe never goes
past the cap, each (probe, candidate) pair is scored exactly once across the tuning's steps, and a
probe family that the cap keeps below the target is recorded as such instead of searched for
further. Exact answers come from numpy over the same vectors."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from pe_search.store import ivf_tuning

DIM, N, NLIST = 16, 4_000, 64


class CountingSource:
    """A numpy VectorSource that records the ids of every read."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.reads = data, []

    def read(self, ids: np.ndarray) -> np.ndarray:
        self.reads.append(np.asarray(ids).copy())
        return self.data[ids]

    def view(self, rows: int) -> np.ndarray:
        return self.data


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((20, DIM)).astype(np.float32) * 3
    data = (centres[rng.integers(0, 20, N)] + rng.standard_normal((N, DIM))).astype(np.float32)
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(DIM), DIM, NLIST, 8, 6, faiss.METRIC_INNER_PRODUCT)
    index.train(data)
    index.add_with_ids(data, np.arange(N))
    own = data[rng.integers(0, N, 40)]
    far = rng.standard_normal((40, DIM)).astype(np.float32) * 6  # unrelated to the clusters
    queries = np.concatenate([own, far])
    families = np.repeat(np.array(["own", "shifted"]), 40)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    return data, index, queries, families, truth


def numpy_recall(index, data, queries, truth, nprobe: int, depth: int) -> np.ndarray:
    """recall@10 per query of `depth` PQ candidates at `nprobe`, re-ranked on numpy's scores."""
    _, candidates = index.search(queries, depth, params=faiss.SearchParametersIVF(nprobe=nprobe))
    recall = []
    for query, found, right in zip(queries, candidates, truth, strict=True):
        found = found[found >= 0]
        top = found[np.argsort(-(data[found] @ query), kind="stable")[:10]]
        recall.append(len(set(top.tolist()) & set(right.tolist())) / 10)
    return np.array(recall)


def test_a_family_the_cap_keeps_below_the_target_is_recorded_not_chased(world):
    data, index, queries, families, truth = world
    cap = 8
    tuning = ivf_tuning.tune(index, CountingSource(data), queries, families, truth, 0.95, max_nprobe=cap)
    hard = families == "shifted"
    # numpy agrees that no setting within the cap reaches the target on the far queries ...
    best_within = max(
        numpy_recall(index, data, queries[hard], truth[hard], p, 640).mean() for p in (1, 2, 4, 8)
    )
    assert best_within < 0.95
    # ... while probing every list would: the cap, not the index, keeps them below
    assert numpy_recall(index, data, queries[hard], truth[hard], NLIST, 640).mean() >= 0.95
    assert not tuning.reached and tuning.family_reached["shifted"] is None
    assert tuning.nprobe <= cap and tuning.max_nprobe == cap
    # the recall it records is what numpy measures at the settings it chose
    at_choice = numpy_recall(index, data, queries, truth, tuning.nprobe, tuning.rerank)
    for name in ("own", "shifted"):
        assert tuning.recall[name] == pytest.approx(at_choice[families == name].mean(), abs=1e-3)
    reached_own = tuning.family_reached["own"]  # the stored vectors reach it within the cap, and
    assert reached_own is not None and reached_own[0] <= cap  # numpy agrees at those settings
    assert numpy_recall(index, data, queries[~hard], truth[~hard], *reached_own).mean() >= 0.95
    params = tuning.params(N, 0.95)
    assert params["tuned_reached"] is False and params["tuned_max_nprobe"] == cap
    assert params["tuned_families"]["shifted"]["reached_at"] is None
    assert "below the target within nprobe <= 8: shifted" in tuning.describe()
    # without a cap the same probes are all reached
    free = ivf_tuning.tune(index, CountingSource(data), queries, families, truth, 0.95)
    assert free.reached and free.family_reached["shifted"] is not None


def test_each_probe_candidate_pair_is_scored_once_across_steps(world):
    data, index, queries, families, truth = world
    source = CountingSource(data)
    cap = 16
    tuning = ivf_tuning.tune(index, source, queries, families, truth, 1.01, max_nprobe=cap)  # never reached
    pairs = set()
    for nprobe in (1, 2, 4, 8, 16):  # the steps an unreachable target walks through, to the cap
        _, found = index.search(
            queries, max(ivf_tuning.DEPTHS), params=faiss.SearchParametersIVF(nprobe=nprobe)
        )
        pairs |= {(row, int(i)) for row, ids in enumerate(found) for i in ids if i >= 0}
    assert tuning.rows_scored == len(pairs)
    read = np.concatenate(source.reads)
    # each read holds distinct ids, and no more rows than pairs scored were read back
    assert all(np.unique(ids).size == ids.size for ids in source.reads)
    assert read.size <= len(pairs)
    assert len(source.reads) >= 1 and tuning.nprobe <= cap
    # probed more than once (a larger nprobe returns most of the smaller one's candidates), yet
    # a row is read at most once per step: the steps together read fewer rows than they returned
    returned = sum(
        int((index.search(queries, 640, params=faiss.SearchParametersIVF(nprobe=p))[1] >= 0).sum())
        for p in (1, 2, 4, 8, 16)
    )
    assert read.size < returned / 2


def test_settings_within_the_free_bytes_buy_recall_and_lift_the_cap(world):
    """Below `free_bytes` a query's cost is negligible (a small library): the tuning may probe as
    many lists as fit in it, past the cap, and takes the best worst-family recall among the
    settings that fit, not the cheapest that reaches the target."""
    data, index, queries, families, truth = world
    list_bytes = N / NLIST * (index.code_size + 8)  # 62.5 codes of 6 bytes and 8-byte ids
    row_bytes = DIM * 4
    free = 16 * list_bytes  # 14,000 bytes: 16 lists, or fewer lists and some re-ranked rows
    tuning = ivf_tuning.tune(
        index, CountingSource(data), queries, families, truth, 0.5, max_nprobe=4, free_bytes=free
    )
    assert tuning.max_nprobe == 16  # the cap (4) lifted to the lists that fit in the free bytes
    expected = {}
    for nprobe in (1, 2, 4, 8, 16):
        for depth in ivf_tuning.DEPTHS:
            cost = nprobe * list_bytes + depth * row_bytes
            if cost <= free:
                recall = numpy_recall(index, data, queries, truth, nprobe, depth)
                expected[(nprobe, depth)] = (
                    min(recall[families == f].mean() for f in ("own", "shifted")),
                    -cost,
                )
    best = max(expected.values())[0]
    assert best >= 0.5  # the free settings reach the target, so the best of them is taken
    chosen = (tuning.nprobe, tuning.rerank)
    assert chosen in expected and expected[chosen][0] == pytest.approx(best, abs=1e-3)
    cheapest = ivf_tuning.tune(index, CountingSource(data), queries, families, truth, 0.5, max_nprobe=4)
    assert (cheapest.nprobe, cheapest.rerank) != chosen  # without free bytes: the cheapest reaching 0.5
    assert min(cheapest.recall.values()) < best
