"""The IVF-PQ index tunes its own search parameters (nprobe, re-rank depth) to a recall target,
as autofaiss does, instead of probing a fixed share of its lists.

A library cannot know the text queries it will be asked, so the probes are three families made
from its own vectors (a sample of them), and the chosen parameters must reach the target on the
worst family:

- `own`: stored vectors as they are (the "more like this clip" query);
- `near`: a stored vector plus isotropic noise as large as the vector itself (cosine ~0.7 to it):
  a query near the data but not on it;
- `shifted`: the mean of two stored vectors, moved by a fixed random offset as long as a typical
  vector, plus noise of half that: a query from another modality, off the data's own region,
  between two of its concepts.

The exact top 10 of each probe comes from a full pass over the vectors (the build's own pass,
see `ivf_build`). For each nprobe (powers of two) the index's candidates are re-ranked exactly at
each depth in `DEPTHS`; the cheapest pair reaching the target is kept, its cost counted in bytes a
query touches: nprobe lists of codes and ids, plus `depth` full vectors read back for the
re-rank (on a library larger than memory both are disk reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.store.lazy_faiss import faiss  # imported on first use (issue 24)
from pe_search.store.vector_index import VectorSource

FAMILIES = ("own", "near", "shifted")
DEPTHS = (10, 20, 40, 80, 160, 320, 640)


@dataclass(frozen=True)
class Tuning:
    nprobe: int
    rerank: int
    recall: dict[str, float]  # recall@10 of each probe family at these settings
    reached: bool  # whether every family reached the target

    def params(self, count: int, target: float) -> dict:
        return {
            "nprobe": self.nprobe,
            "rerank": self.rerank,
            "tuned_on": count,
            "tuned_recall": min(self.recall.values()),
            "recall_target": target,
        }


def make_probes(sample: np.ndarray, per_family: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(queries float32 [3 * per_family, d], families) from sampled stored vectors."""
    rng = np.random.default_rng([seed, 17])
    n, dim = sample.shape
    pick = rng.integers(0, n, (3, per_family))
    norm = float(np.median(np.linalg.norm(sample[pick[0]], axis=1))) or 1.0
    own = sample[pick[0]]
    noise = rng.standard_normal((per_family, dim)).astype(np.float32)
    near = own + noise * (np.linalg.norm(own, axis=1, keepdims=True) / np.sqrt(dim))
    offset = rng.standard_normal(dim).astype(np.float32)
    offset *= norm / np.linalg.norm(offset)
    mixed = 0.5 * (sample[pick[1]] + sample[pick[2]]) + offset
    shifted = mixed + rng.standard_normal((per_family, dim)).astype(np.float32) * (0.5 * norm / np.sqrt(dim))
    queries = np.concatenate([own, near, shifted]).astype(np.float32)
    families = np.repeat(np.array(FAMILIES), per_family)
    return queries, families


def _recall(found: np.ndarray, truth: np.ndarray, k: int) -> np.ndarray:
    """recall@k of each row."""
    return np.array([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth)])


def tune(
    index: faiss.IndexIVF,
    source: VectorSource,
    queries: np.ndarray,
    families: np.ndarray,
    truth: np.ndarray,
    target: float,
    k: int = 10,
    min_depth: int = 10,
) -> Tuning:
    """The cheapest (nprobe, depth) whose recall@k reaches `target` on every probe family (else
    the best recall found)."""
    nlist, ntotal = int(index.nlist), max(1, int(index.ntotal))
    list_bytes = ntotal / nlist * (index.code_size + 8)
    row_bytes = index.d * 4
    floor = max(k, min_depth)
    depths = [d for d in DEPTHS if d >= floor] or [floor]
    names = [f for f in FAMILIES if np.any(families == f)]
    best: tuple[float, int, int, dict] | None = None  # (cost, nprobe, depth, recall)
    fallback: tuple[float, float, int, int, dict] | None = None  # (-worst recall, cost, ...)
    nprobe = 1
    while nprobe <= nlist:
        if best is not None and nprobe * list_bytes >= best[0]:
            break
        _, candidates = index.search(queries, max(depths), params=faiss.SearchParametersIVF(nprobe=nprobe))
        exact = _exact_scores(queries, source, candidates)
        for depth in depths:
            scores = np.where(np.arange(candidates.shape[1]) < depth, exact, -np.inf)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            found = np.take_along_axis(candidates, order, 1)
            found = np.where(np.take_along_axis(scores, order, 1) > -np.inf, found, -1)
            per_probe = _recall(found, truth, k)
            recall = {f: round(float(per_probe[families == f].mean()), 4) for f in names}
            worst, cost = min(recall.values()), nprobe * list_bytes + depth * row_bytes
            if worst >= target and (best is None or cost < best[0]):
                best = (cost, nprobe, depth, recall)
            if fallback is None or (-worst, cost) < fallback[:2]:
                fallback = (-worst, cost, nprobe, depth, recall)
        nprobe *= 2
    if best is not None:
        return Tuning(best[1], best[2], best[3], True)
    return Tuning(fallback[2], fallback[3], fallback[4], False)


def _exact_scores(queries: np.ndarray, source: VectorSource, candidates: np.ndarray) -> np.ndarray:
    """Exact inner products of each query with its candidates (-inf where there is none)."""
    scores = np.full(candidates.shape, -np.inf, dtype=np.float32)
    valid = candidates >= 0
    if not valid.any():
        return scores
    view = source.view(int(candidates.max()) + 1)
    for row in range(len(queries)):
        ids = candidates[row][valid[row]]
        scores[row, valid[row]] = view[np.sort(ids)][np.argsort(np.argsort(ids))] @ queries[row]
    return scores


def exact_top(queries: np.ndarray, source: VectorSource, ids: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """The exact top k ids of each query among `ids` (sorted), one chunk of vectors at a time."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, ids.size, chunk):
        part = ids[start : start + chunk]
        scores = queries @ source.read(part).T
        scores = np.concatenate([best_scores, scores], 1)
        every = np.concatenate([best_ids, np.broadcast_to(part, (len(queries), part.size))], 1)
        keep = min(k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        best_scores, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(every, top, 1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, 1)
