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

The tuning has a budget, so that it ends at 10M vectors: nprobe goes no further than
`tune_max_probe_share` of the lists (policy: 1/16, 128 of 2,048), and each (probe, candidate)
pair is scored exactly once across the steps (`ScoreCache`). A small index is the other way
round: below `tune_free_bytes` (policy: 1 MiB) a query costs next to nothing, so the tuning may
probe as many lists as fit in it, past that share, and among the settings within it that reach
the target takes the one with the best recall rather than the cheapest: the cheapest sits at
the edge of the target on its own probes, and 30,000 vectors tuned so fell below it (0.94) on
probes and queries it never saw. A family the cap keeps below the
target is recorded as such (`tuned_reached`, `tuned_families`) and said in the build's message,
and the settings then are those with the best worst-family recall within the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pe_search.store.lazy_faiss import faiss  # imported on first use (issue 24)
from pe_search.store.vector_index import VectorSource, read_sorted

FAMILIES = ("own", "near", "shifted")
# Re-rank depths tried. At 10M vectors (nlist 2048: ~4,900 a list) PQ 128 x 8 ranks the true top
# 10 deep: bench_scale's text-like queries reach recall@10 0.894 at 640, 0.958 at 1,280 and
# 0.982 at 2,560, whatever the nprobe (16 to 128); 2,560 rows are 10 MB read back at d = 1024.
DEPTHS = (10, 20, 40, 80, 160, 320, 640, 1280, 2560)
READ_ROWS = 16_384  # rows read back at a time while scoring candidates (64 MiB at d = 1024)


@dataclass(frozen=True)
class Tuning:
    nprobe: int
    rerank: int
    recall: dict[str, float]  # recall@10 of each probe family at these settings
    reached: bool  # whether every family reached the target
    # the cheapest (nprobe, depth) at which each family alone reached the target; None: not
    # within the budget (nprobe <= max_nprobe)
    family_reached: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    max_nprobe: int = 0  # the budget: the most lists a tuning step probed
    rows_scored: int = 0  # distinct (probe, vector) pairs scored exactly: what tuning read back

    def params(self, count: int, target: float) -> dict:
        return {
            "nprobe": self.nprobe,
            "rerank": self.rerank,
            "tuned_on": count,
            "tuned_recall": min(self.recall.values()),
            "recall_target": target,
            "tuned_reached": self.reached,
            "tuned_families": {
                name: {"recall": self.recall[name], "reached_at": list(at) if at else None}
                for name, at in self.family_reached.items()
            },
            "tuned_max_nprobe": self.max_nprobe,
        }

    def describe(self) -> str:
        """One line: the settings, and each family that the budget kept below the target."""
        line = f"nprobe={self.nprobe}, rerank={self.rerank} (recall@10 {self.recall})"
        missed = sorted(name for name, at in self.family_reached.items() if at is None)
        if missed:
            line += f"; below the target within nprobe <= {self.max_nprobe}: {', '.join(missed)}"
        return line


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


def probe_cap(nlist: int, share: float) -> int:
    """The most lists tuning may have a query probe: `share` of them (at least one)."""
    return max(1, min(nlist, math.ceil(nlist * share)))


def tune(
    index: faiss.IndexIVF,
    source: VectorSource,
    queries: np.ndarray,
    families: np.ndarray,
    truth: np.ndarray,
    target: float,
    k: int = 10,
    min_depth: int = 10,
    max_nprobe: int | None = None,
    free_bytes: float = 0.0,
) -> Tuning:
    """The cheapest (nprobe, depth) whose recall@k reaches `target` on every probe family (else
    the best worst-family recall found), with nprobe <= `max_nprobe` (default: all lists).

    A query touching at most `free_bytes` costs next to nothing (a small library: lists of a few
    dozen codes): the tuning may probe as many lists as fit in it even past `max_nprobe`, and
    when some settings within it reach the target it takes the best worst-family recall among
    them instead of the cheapest. Tuned at the edge of the target, 100 probes a family left
    30,000 vectors below it on probes they never saw (docs/benchmarks.md, "Small libraries").

    Its cost is bounded: at most log2(max_nprobe) + 1 searches of the probes, and each
    (probe, candidate) pair is scored exactly once across them (`ScoreCache`), so the rows read
    back are at most probes x max(DEPTHS) x steps, in practice little more than one step's."""
    nlist, ntotal = int(index.nlist), max(1, int(index.ntotal))
    list_bytes = ntotal / nlist * (index.code_size + 8)
    cap = nlist if max_nprobe is None else max(1, min(nlist, int(max_nprobe)))
    cap = max(cap, min(nlist, int(free_bytes // list_bytes)))  # lists that fit in the free bytes
    row_bytes = index.d * 4
    floor = max(k, min_depth)
    depths = [d for d in DEPTHS if d >= floor] or [floor]
    names = [f for f in FAMILIES if np.any(families == f)]
    cache = ScoreCache(queries, source)
    best: tuple[float, int, int, dict] | None = None  # (cost, nprobe, depth, recall)
    fallback: tuple[float, float, int, int, dict] | None = None  # (-worst recall, cost, ...)
    free: tuple[float, float, int, int, dict] | None = None  # the same, within the free bytes
    family_best: dict[str, tuple[float, int, int] | None] = dict.fromkeys(names)  # (cost, nprobe, depth)
    nprobe = 1
    while nprobe <= cap:
        lists = nprobe * list_bytes
        # Once a pair reached the target and this many lists cost more, only settings within the
        # free bytes can still be taken: score no deeper than they reach (the same choice, a
        # fraction of the rows: at 30,000 vectors 160 candidates a probe instead of 2,560).
        chasing = best is None or lists < best[0]
        step = depths if chasing else [d for d in depths if lists + d * row_bytes <= free_bytes]
        if not step:
            break
        _, candidates = index.search(queries, max(step), params=faiss.SearchParametersIVF(nprobe=nprobe))
        exact = cache.scores(candidates)
        for depth in step:
            scores = np.where(np.arange(candidates.shape[1]) < depth, exact, -np.inf)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            found = np.take_along_axis(candidates, order, 1)
            found = np.where(np.take_along_axis(scores, order, 1) > -np.inf, found, -1)
            per_probe = _recall(found, truth, k)
            recall = {f: round(float(per_probe[families == f].mean()), 4) for f in names}
            worst, cost = min(recall.values()), nprobe * list_bytes + depth * row_bytes
            for name in names:
                mark = family_best[name]
                if recall[name] >= target and (mark is None or cost < mark[0]):
                    family_best[name] = (cost, nprobe, depth)
            if worst >= target and (best is None or cost < best[0]):
                best = (cost, nprobe, depth, recall)
            if fallback is None or (-worst, cost) < fallback[:2]:
                fallback = (-worst, cost, nprobe, depth, recall)
            if cost <= free_bytes and (free is None or (-worst, cost) < free[:2]):
                free = (-worst, cost, nprobe, depth, recall)
        nprobe *= 2
    reached = {name: (mark[1], mark[2]) if mark else None for name, mark in family_best.items()}
    if free is not None and -free[0] >= target:
        return Tuning(free[2], free[3], free[4], True, reached, cap, cache.scored)
    if best is not None:
        return Tuning(best[1], best[2], best[3], True, reached, cap, cache.scored)
    return Tuning(fallback[2], fallback[3], fallback[4], False, reached, cap, cache.scored)


class ScoreCache:
    """Exact inner products of each probe with the vectors of its candidates, each (probe, id)
    computed once: successive tuning steps (more lists probed) mostly return the same rows."""

    def __init__(self, queries: np.ndarray, source: VectorSource) -> None:
        self.queries, self.source = queries, source
        self.ids = [np.zeros(0, dtype=np.int64) for _ in range(len(queries))]  # sorted, per probe
        self.values = [np.zeros(0, dtype=np.float32) for _ in range(len(queries))]
        self.scored = 0

    def scores(self, candidates: np.ndarray) -> np.ndarray:
        """float32 like `candidates`: each one's exact score (-inf where there is none)."""
        fresh = []
        for row, known in enumerate(self.ids):
            ids = np.unique(candidates[row][candidates[row] >= 0])
            fresh.append(ids[~np.isin(ids, known, assume_unique=True)])
        wanted = np.unique(np.concatenate(fresh)) if fresh else np.zeros(0, dtype=np.int64)
        for start in range(0, wanted.size, READ_ROWS):  # sorted ids: one pass through the file
            part = wanted[start : start + READ_ROWS]
            rows = read_sorted(self.source, part)
            for row, ids in enumerate(fresh):
                ids = ids[(ids >= part[0]) & (ids <= part[-1])]
                if not ids.size:
                    continue
                values = rows[np.searchsorted(part, ids)] @ self.queries[row]
                merged = np.concatenate([self.ids[row], ids])
                order = np.argsort(merged, kind="stable")
                self.ids[row] = merged[order]
                self.values[row] = np.concatenate([self.values[row], values.astype(np.float32)])[order]
                self.scored += int(ids.size)
            del rows
        out = np.full(candidates.shape, -np.inf, dtype=np.float32)
        for row, known in enumerate(self.ids):
            valid = candidates[row] >= 0
            if valid.any():
                out[row, valid] = self.values[row][np.searchsorted(known, candidates[row][valid])]
        return out


def exact_top(queries: np.ndarray, source: VectorSource, ids: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """The exact top k ids of each query among `ids` (sorted), one chunk of vectors at a time."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, ids.size, chunk):
        part = ids[start : start + chunk]
        scores = queries @ read_sorted(source, part).T  # plain reads: no mapped pages kept
        scores = np.concatenate([best_scores, scores], 1)
        every = np.concatenate([best_ids, np.broadcast_to(part, (len(queries), part.size))], 1)
        keep = min(k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        best_scores, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(every, top, 1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, 1)
