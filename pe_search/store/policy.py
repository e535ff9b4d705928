"""Which index a space gets as it grows, chosen like autofaiss: by size and a memory budget.

    exact (flat)  while n <= flat_max and its full vectors fit the space's share of the budget
    HNSW          while n <= hnsw_max and the graph with its full vectors fits that share; built
                  only if the graph would still fit the share at 2n (else straight to IVF-PQ)
    IVF-PQ        beyond: compressed codes in RAM, exact re-rank on the vectors file

The budget is the writer's, over all of a library's clip spaces together (issue 24, item 6):
each of `spaces` spaces gets an equal share, so a library with three clip spaces keeps its
float32 indexes (flat, HNSW) to a third of it each. A budget per space let each of three spaces
hold a 2 GB HNSW graph (500,000 x 1024-d full vectors plus links), and the writing process
peaked at 5.8 GB growing one space to 2M vectors.

Growing past a threshold switches at once; shrinking steps back only below half of it, so a
library near a threshold does not rebuild back and forth. An IVF-PQ index is retrained when the
library has grown `retrain_growth` times past the size it was trained on; its search settings
(nprobe, re-rank depth) are measured against exact search to reach `recall_target` when it is
built and when it has grown by `retune_growth` (`ivf_tuning`). Every threshold is a
constructor parameter so tests can exercise every type with a few hundred vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pe_search.store.vectors import INDEX_CLASSES, IndexSpec

ORDER = ("flat", "hnsw", "ivfpq")


@dataclass(frozen=True)
class IndexPolicy:
    flat_max: int = 50_000
    hnsw_max: int = 500_000
    # bytes of RAM the flat and HNSW indexes of ALL clip spaces may take together (each space an
    # equal share); IVF-PQ (~136 B a vector) is what a space outgrowing its share switches to.
    # 256 MiB: the writer's build of that IVF-PQ holds its training sample twice (100,000 x 4 KB,
    # and FAISS's residuals of it) beside the index it replaces (docs/benchmarks.md, issue 24 item 6)
    memory_budget: int = 256 * 2**20
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    ivf_lists_per_sqrt_n: float = 4.0  # nlist ~ 4 sqrt(n), a power of two
    recall_target: float = 0.95  # recall@10 the IVF search settings are tuned to reach (ivf_tuning)
    tune_probes: int = 100  # tuning probes per family (three families)
    tune_max_probe_share: float = 1 / 16  # tuning tries nprobe up to this share of the lists (its budget)
    # bytes a query may touch (lists of codes, re-ranked rows) that tuning counts as free: it may
    # probe the lists that fit in them past the share above, and within them takes the best
    # recall reaching the target, not the cheapest (small libraries; ivf_tuning). 1 MiB: 256
    # re-ranked rows at d = 1024; at 10M a single list is 0.66 MB, so big indexes are unchanged.
    tune_free_bytes: int = 2**20
    retune_growth: float = 0.5  # tune again once the index has grown by this share
    ivf_probe_share: float = 1 / 512  # only for an index saved before tuning existed, until tuned
    ivf_min_probes: int = 4
    ivf_min_list_size: int = 39  # FAISS wants >= 39 training points per list
    pq_m: int = 128  # sub-quantisers (bytes per code at 8 bits): 8 dimensions each at d = 1024
    pq_nbits: int = 8
    rerank: int = 300  # PQ candidates re-scored exactly, for an index saved before tuning existed
    rerank_min: int = 10  # the least re-rank depth tuning may choose
    train_size: int = 100_000  # vectors sampled to train IVF-PQ
    build_chunk: int = 50_000  # vectors added (and kept on disk, for a resumed build) at a time
    retrain_growth: float = 4.0
    mask_rebuild_share: float = 0.2  # rebuild when this share of an index is masked deletions
    exact_subset_max: int = 20_000  # filtered search scans the subset exactly up to this size
    save_every: int = 20_000  # save an index after this many changed vectors ...
    save_share: float = 0.1  # ... or this share of its size, whichever is larger

    def share(self, spaces: int = 1) -> int:
        """The bytes one of `spaces` clip spaces may give a flat or HNSW index."""
        return self.memory_budget // max(1, spaces)

    def kind_for(self, n: int, dim: int, spaces: int = 1) -> str:
        """The kind a space of n vectors, one of a library's `spaces` clip spaces, is built as.

        An HNSW graph only if it would still fit the space's share at 2n: one space under the
        256 MiB budget built a graph at 50,001 vectors and left it at 61,343 (92 s of building
        for 22% of growth); it now goes from flat to IVF-PQ."""
        kind = self._fitting(n, dim, spaces)
        if kind == "hnsw" and self.estimate("hnsw", 2 * n, dim) > self.share(spaces):
            return "ivfpq"
        return kind

    def _fitting(self, n: int, dim: int, spaces: int) -> str:
        """The smallest kind that holds n vectors within its size limit and the space's share:
        what an index already built may stay."""
        share = self.share(spaces)
        if n <= self.flat_max and self.estimate("flat", n, dim) <= share:
            return "flat"
        if n <= self.hnsw_max and self.estimate("hnsw", n, dim) <= share:
            return "hnsw"
        return "ivfpq"

    def estimate(self, kind: str, n: int, dim: int) -> int:
        return INDEX_CLASSES[kind].estimate_bytes(n, dim, self.spec(kind, n, dim).params)

    def spec(self, kind: str, n: int, dim: int) -> IndexSpec:
        """Parameters of a `kind` index for n vectors of dimension dim."""
        if kind == "flat":
            return IndexSpec("flat", {})
        if kind == "hnsw":
            return IndexSpec(
                "hnsw",
                {
                    "M": self.hnsw_m,
                    "ef_construction": self.hnsw_ef_construction,
                    "ef_search": self.hnsw_ef_search,
                },
            )
        if kind == "ivfpq":
            return IndexSpec("ivfpq", self._ivfpq_params(n, dim))
        raise ValueError(f"unknown index kind {kind!r}")

    def _ivfpq_params(self, n: int, dim: int) -> dict:
        n = max(n, 1)
        train = min(n, self.train_size)
        nlist = 2 ** round(math.log2(max(1.0, self.ivf_lists_per_sqrt_n * math.sqrt(n))))
        while nlist > 1 and nlist * self.ivf_min_list_size > train:
            nlist //= 2
        pq_m = max(m for m in range(1, min(self.pq_m, dim) + 1) if dim % m == 0)
        # 2**nbits centroids per sub-quantiser need enough training points
        nbits = max(1, min(self.pq_nbits, int(math.log2(max(2, train // self.ivf_min_list_size)))))
        params = {
            "nlist": nlist, "pq_m": pq_m, "pq_nbits": nbits, "train_size": train, "trained_on": n,
            "recall_target": self.recall_target, "tune_probes": self.tune_probes,
            "tune_max_probe_share": self.tune_max_probe_share, "tune_free_bytes": self.tune_free_bytes,
            "rerank_min": self.rerank_min, "build_chunk": self.build_chunk,
        }  # fmt: skip
        return self.search_params(IndexSpec("ivfpq", params)).params

    def search_params(self, spec: IndexSpec) -> IndexSpec:
        """`spec` with this policy's search-time settings, which need no rebuild to change."""
        params = dict(spec.params)
        if spec.kind == "hnsw":
            params["ef_search"] = self.hnsw_ef_search
        elif spec.kind == "ivfpq" and "tuned_on" not in params:  # tuned settings stay as measured
            probes = max(self.ivf_min_probes, math.ceil(params["nlist"] * self.ivf_probe_share))
            params["nprobe"] = min(params["nlist"], probes)
            params["rerank"] = self.rerank
        return IndexSpec(spec.kind, params)

    def needs_tuning(self, spec: IndexSpec, n: int) -> bool:
        """Whether an IVF index of n vectors should measure its search settings again: never
        tuned, tuned to another target or budget, or grown by `retune_growth` since."""
        if spec.kind != "ivfpq":
            return False
        tuned_on = spec.params.get("tuned_on")
        if tuned_on is None or spec.params.get("recall_target") != self.recall_target:
            return True
        if spec.params.get("tune_max_probe_share", self.tune_max_probe_share) != self.tune_max_probe_share:
            return True  # another budget
        if spec.params.get("tune_free_bytes", 0) != self.tune_free_bytes and self._free_lifts_cap(spec, n):
            return True  # other free bytes, that let a small index probe more lists
        return n > (1 + self.retune_growth) * max(int(tuned_on), 1)

    def _free_lifts_cap(self, spec: IndexSpec, n: int) -> bool:
        """Whether the free bytes hold more of the index's lists than its probe share: only then
        can they change its settings (not at 10M, where one list is 0.66 MB: no costly retune)."""
        params = spec.params
        nlist = max(1, int(params.get("nlist", 1)))
        code = (int(params.get("pq_m", self.pq_m)) * int(params.get("pq_nbits", self.pq_nbits)) + 7) // 8
        list_bytes = max(1, n) / nlist * (code + 8)
        return self.tune_free_bytes // list_bytes > math.ceil(nlist * self.tune_max_probe_share)

    def choose(self, n: int, dim: int, current: IndexSpec | None = None, spaces: int = 1) -> IndexSpec:
        """The index a space of n vectors, one of the library's `spaces` clip spaces, should
        have; `current` when it is still right."""
        want = self._fitting(n, dim, spaces)
        if current is None or current.kind not in ORDER:
            return self.spec(self.kind_for(n, dim, spaces), n, dim)
        if current.kind == want:
            trained_on = int(current.params.get("trained_on", n))
            if want == "ivfpq" and n > self.retrain_growth * max(trained_on, 1):
                return self.spec(want, n, dim)
            return current
        if ORDER.index(want) > ORDER.index(current.kind):
            return self.spec(self.kind_for(n, dim, spaces), n, dim)
        # Shrinking: step down only when twice the size would still fit the smaller kind (for
        # HNSW the rule it is built by).
        smaller = self._fitting(2 * n, dim, spaces)
        if ORDER.index(smaller) < ORDER.index(current.kind):
            return self.spec(smaller, n, dim)
        return current

    def should_save(self, dirty: int, count: int) -> bool:
        return dirty >= max(self.save_every, self.save_share * count)
