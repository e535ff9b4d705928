"""An IVF-PQ build encodes each chunk a block of rows at a time and fills each list once at its
final length (issue 24, item 6: the retrain's memory). What it builds is checked against FAISS's
own `add_with_ids` on the trained index, and its tuning truth against a brute-force top 10."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from pe_search.store import ivf_build, ivf_tuning
from pe_search.store.vector_file import VectorFile

DIM = 32


def empty(nlist: int) -> faiss.IndexIVFPQ:
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(DIM), DIM, nlist, 8, 6, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 5
    return index


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((60, DIM)).astype(np.float32) * 2
    vectors = (centres[rng.integers(0, 60, 6_000)] + rng.standard_normal((6_000, DIM))).astype(np.float32)
    file = VectorFile(tmp_path / "audio.f32", DIM, writable=True)
    yield vectors, file
    file.close()


# 300 lists: a list number takes two bytes of each code; chunks of 1,000 rows in blocks of 128
@pytest.mark.parametrize("nlist", [20, 300])
def test_the_built_index_is_faisss_add_of_the_same_vectors_byte_for_byte(
    stored, tmp_path, monkeypatch, nlist
):
    vectors, file = stored
    monkeypatch.setattr(ivf_build, "ENCODE_ROWS", 128)
    ids = np.sort(np.random.default_rng(4).choice(8_000, size=vectors.shape[0], replace=False))
    rows = np.zeros((8_000, DIM), np.float32)  # row i of the file is id i: holes between ids
    rows[ids] = vectors
    file.write(0, rows)
    params = {"nlist": nlist, "pq_m": 8, "pq_nbits": 6, "train_size": 6_000, "build_chunk": 1_000}
    built, truth, report = ivf_build.build(
        tmp_path / "build", params, DIM, ids, file, lambda: empty(nlist),
        lambda sample: ivf_tuning.make_probes(sample, 20, 1),
    )  # fmt: skip
    assert report.chunks_added == 6
    theirs = faiss.deserialize_index(np.fromfile(tmp_path / "build" / "trained.faiss", dtype=np.uint8))
    theirs.add_with_ids(vectors, ids)
    assert built.ntotal == vectors.shape[0]
    assert bytes(faiss.serialize_index(built)) == bytes(faiss.serialize_index(theirs))

    exact = np.argsort(-(truth.queries @ vectors.T), axis=1, kind="stable")[:, : ivf_build.TRUTH_K]
    assert np.array_equal(np.sort(truth.ids, axis=1), np.sort(ids[exact], axis=1))

    # a re-run reuses every chunk file and builds the same index again
    again, _, report = ivf_build.build(
        tmp_path / "build", params, DIM, ids, file, lambda: empty(nlist),
        lambda sample: ivf_tuning.make_probes(sample, 20, 1),
    )  # fmt: skip
    assert (report.chunks_reused, report.chunks_added) == (6, 0)
    assert bytes(faiss.serialize_index(again)) == bytes(faiss.serialize_index(theirs))
