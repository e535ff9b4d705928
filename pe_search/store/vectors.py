"""The kinds of FAISS index a space can use, each a `VectorIndex` (see `vector_index`):

- `flat`: exact, `IndexIDMap(IndexFlatIP)`.
- `hnsw`: graph, `IndexIDMap(IndexHNSWFlat)`. FAISS cannot remove from HNSW, so deleted ids are
  masked with an id selector until the store rebuilds the index.
- `ivfpq`: inverted lists of product-quantised codes (`IndexIVFPQ`), then an exact re-rank of the
  best `rerank` candidates on the full vectors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pe_search.store.lazy_faiss import faiss  # imported on first use (issue 24)
from pe_search.store.vector_index import (
    BUILD_CHUNK,
    IndexSpec,
    VectorIndex,
    VectorSource,
    as_vectors,
    inner_products_by_id,
)

__all__ = [
    "BUILD_CHUNK",
    "INDEX_CLASSES",
    "FlatIndex",
    "HNSWIndex",
    "IVFPQIndex",
    "IndexSpec",
    "VectorIndex",
    "VectorSource",
    "create_index",
    "inner_products_by_id",
]


class FlatIndex(VectorIndex):
    """Exact search: every query scans every vector (BLAS for batches)."""

    kind = "flat"

    @staticmethod
    def estimate_bytes(n: int, dim: int, params: Mapping[str, Any]) -> int:
        return n * (dim * 4 + 8)

    def _empty(self) -> faiss.Index:
        return faiss.IndexIDMap(faiss.IndexFlatIP(self.dim))

    def _search(self, queries: np.ndarray, k: int, selector, share: float) -> tuple[np.ndarray, np.ndarray]:
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        return self._index.search(queries, k, params=params)


class HNSWIndex(VectorIndex):
    """HNSW graph on full vectors; params M, ef_construction, ef_search."""

    kind = "hnsw"
    can_remove = False

    @staticmethod
    def estimate_bytes(n: int, dim: int, params: Mapping[str, Any]) -> int:
        # vector, level-0 links (2M int32), upper-level links (about 1/M of nodes hold M more),
        # level and offset bookkeeping, id map
        m = int(params.get("M", 32))
        return n * (dim * 4 + 2 * m * 4 + 4 + 4 + 8 + 8)

    def _empty(self) -> faiss.Index:
        graph = faiss.IndexHNSWFlat(self.dim, int(self.params.get("M", 32)), faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = int(self.params.get("ef_construction", 80))
        return faiss.IndexIDMap(graph)

    def _search(self, queries: np.ndarray, k: int, selector, share: float) -> tuple[np.ndarray, np.ndarray]:
        ef = math.ceil(max(int(self.params.get("ef_search", 128)), k) / max(share, 1e-6))
        ef = min(ef, max(int(self._index.ntotal), k))
        params = faiss.SearchParametersHNSW(efSearch=ef)
        if selector is not None:
            params.sel = selector
        return self._index.search(queries, k, params=params)


class IVFPQIndex(VectorIndex):
    """Inverted lists of PQ codes, probed by inner product, then an exact re-rank.

    params: nlist, nprobe, pq_m, pq_nbits, rerank (candidates re-scored on full vectors),
    train_size (vectors sampled for training), trained_on (library size when trained).
    """

    kind = "ivfpq"

    @staticmethod
    def estimate_bytes(n: int, dim: int, params: Mapping[str, Any]) -> int:
        code = (int(params.get("pq_m", 64)) * int(params.get("pq_nbits", 8)) + 7) // 8
        return n * (code + 8) + int(params.get("nlist", 1)) * dim * 4

    def _empty(self) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(
            quantizer,
            self.dim,
            int(self.params["nlist"]),
            int(self.params["pq_m"]),
            int(self.params.get("pq_nbits", 8)),
            faiss.METRIC_INNER_PRODUCT,
        )
        index.cp.niter = int(self.params.get("train_iterations", 10))
        return index

    def _train(self, ids: np.ndarray) -> None:
        size = min(ids.size, int(self.params.get("train_size", 100_000)))
        rng = np.random.default_rng(int(self.params.get("seed", 1234)))
        sample = np.sort(rng.choice(ids, size=size, replace=False)) if size < ids.size else ids
        self._index.train(as_vectors(self.source.read(sample), self.dim))

    def _search(self, queries: np.ndarray, k: int, selector, share: float) -> tuple[np.ndarray, np.ndarray]:
        depth = max(k, int(self.params.get("rerank", 100)))
        nlist = int(self.params["nlist"])
        nprobe = min(nlist, math.ceil(int(self.params.get("nprobe", 16)) / max(share, 1e-6)))
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        if selector is not None:
            params.sel = selector
        _, candidates = self._index.search(queries, depth, params=params)
        return inner_products_by_id(queries, self.source, candidates, k)

    def _all_ids(self) -> np.ndarray:
        lists = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(lists.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


INDEX_CLASSES: dict[str, type[VectorIndex]] = {cls.kind: cls for cls in (FlatIndex, HNSWIndex, IVFPQIndex)}


def create_index(
    spec: IndexSpec,
    dim: int,
    source: VectorSource,
) -> VectorIndex:
    """An empty index of the kind `spec` names (build it with `.index(ids)`)."""
    return INDEX_CLASSES[spec.kind](dim, spec.params, source)
