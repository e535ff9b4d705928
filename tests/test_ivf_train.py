"""Training an IVF-PQ index with its residuals computed in the sample itself (issue 24, item 6:
FAISS's own `train` takes them into a 268 MB copy at d = 1024, the writer's retrain peak). The
result is checked against FAISS's own `IndexIVFPQ.train` on the same data."""

from __future__ import annotations

import faiss
import numpy as np

from pe_search.store.ivf_build import train_in_place


def empty(dim: int, nlist: int, pq_m: int) -> faiss.IndexIVFPQ:
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, pq_m, 8, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    return index


def clustered(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim)).astype(np.float32) * 3
    return (centres[rng.integers(0, 40, count)] + rng.standard_normal((count, dim))).astype(np.float32)


def test_up_to_65536_vectors_the_index_is_faisss_own_byte_for_byte():
    sample = clustered(12_000, 32, 0)
    theirs = empty(32, 32, 4)
    theirs.train(sample.copy())
    ours = empty(32, 32, 4)
    residuals = sample.copy()
    train_in_place(ours, residuals)
    assert ours.is_trained
    assert bytes(faiss.serialize_index(ours)) == bytes(faiss.serialize_index(theirs))
    # and the sample itself now holds the residuals (no copy was made of them)
    _, assigned = theirs.quantizer.search(sample, 1)
    centroids = theirs.quantizer.reconstruct_n(0, theirs.nlist)
    np.testing.assert_allclose(residuals, sample - centroids[assigned[:, 0]], atol=1e-5)


def test_past_65536_vectors_the_codes_are_as_good_as_faisss():
    """FAISS samples 65,536 vectors before taking residuals, the PQ's own k-means samples the
    same number from all of them here: other codebooks, the same quality (reconstruction error
    of vectors never trained on, within 2 %)."""
    sample = clustered(80_000, 16, 1)
    held_out = clustered(5_000, 16, 2)
    errors = []
    for train in (lambda index, x: index.train(x), train_in_place):
        index = empty(16, 16, 4)
        train(index, sample.copy())
        index.add(held_out)
        decoded = index.reconstruct_n(0, held_out.shape[0])
        errors.append(float(np.mean(np.sum((decoded - held_out) ** 2, axis=1))))
    theirs, ours = errors
    assert abs(ours - theirs) <= 0.02 * theirs
