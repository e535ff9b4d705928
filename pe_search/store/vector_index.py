"""The interface of one space's FAISS index, after txtai's ANN: seven verbs, `index` (build
from the stored vectors), `append`, `delete`, `search`, `count`, `save`, `load`, and the exact
inner products by id that both the index kinds and the store's small-subset search use.

Every index scores by inner product (`METRIC_INNER_PRODUCT`): PE-AV vectors are not normalised
and the raw dot product is the model's score. Ids are the library's vector ids. An index reads
full-precision vectors from a `VectorSource` (the space's `VectorFile`, where row i is id i) to
build itself and, for compressed codes, to re-rank. The kinds are in `vectors`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, Protocol

import numpy as np

from pe_search.store.lazy_faiss import faiss  # imported on first use (issue 24)

BUILD_CHUNK = 50_000


class VectorSource(Protocol):
    """Full-precision vectors addressed by id."""

    def read(self, ids: np.ndarray) -> np.ndarray:
        """float32 [len(ids), d], a copy."""

    def view(self, rows: int) -> np.ndarray:
        """A read-only float32 [>= rows, d] array (a memory map) whose row i is vector id i."""


@dataclass(frozen=True)
class IndexSpec:
    """An index type and its parameters, as recorded in `index_state` and in the index file."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        inner = ", ".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.kind}({inner})" if inner else self.kind


def read_sorted(source: VectorSource, ids: np.ndarray) -> np.ndarray:
    """The vectors of sorted `ids`: a run of consecutive ids by plain reads where the source can
    (`VectorFile.read_rows`), so a pass over a file larger than memory leaves no mapped pages in
    the process (the writer's RSS; issue 24, item 6), else through the source's map."""
    if hasattr(source, "read_rows") and ids.size and ids[-1] - ids[0] == ids.size - 1:
        return source.read_rows(int(ids[0]), int(ids[-1]) + 1)
    if hasattr(source, "read_scattered"):
        return source.read_scattered(ids)
    return source.read(ids)


def _ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)


def as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    """float32 [n, dim], contiguous (one vector may come as [dim]); a wrong shape is a ValueError."""
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if data.ndim == 1:
        data = data.reshape(1, -1)
    if data.ndim != 2 or data.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {np.shape(vectors)}")
    return data


class IdSelector:
    """A FAISS id selector with the numpy memory it points into kept alive beside it."""

    def __init__(self, ids: np.ndarray, *, negate: bool = False) -> None:
        ids = _ids(ids)
        top = int(ids.max()) + 1 if ids.size else 1
        bits = np.zeros(top, dtype=bool)
        bits[ids] = True
        self._bitmap = np.packbits(bits, bitorder="little")
        self._inner = faiss.IDSelectorBitmap(self._bitmap.size, faiss.swig_ptr(self._bitmap))
        self.selector = faiss.IDSelectorNot(self._inner) if negate else self._inner


def _pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Results with exactly k columns; missing ones have id -1 and score -inf."""
    nq, have = ids.shape
    if have >= k:
        return scores[:, :k], ids[:, :k]
    out_scores = np.full((nq, k), -np.inf, dtype=np.float32)
    out_ids = np.full((nq, k), -1, dtype=np.int64)
    out_scores[:, :have], out_ids[:, :have] = scores, ids
    return out_scores, out_ids


def _no_results(nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((nq, k), -np.inf, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64)


def inner_products_by_id(
    queries: np.ndarray, source: VectorSource, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k of each query among vector ids (FAISS, multithreaded, no copies of the vectors).

    `candidates` is [nq, c] (each query its own ids, -1 for none) or [c] (the same ids for all).
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    candidates = np.ascontiguousarray(candidates, dtype=np.int64)
    nq = len(queries)
    if not candidates.size or candidates.max() < 0 or k <= 0:
        return _no_results(nq, k)
    shared = candidates.ndim == 1
    width = candidates.shape[-1]
    matrix = source.view(int(candidates.max()) + 1)
    will_need = getattr(source, "will_need", None)  # a file on disk (vectors in memory need none)
    if will_need is not None:
        will_need(candidates)
    scores = np.empty((nq, k), dtype=np.float32)
    ids = np.empty((nq, k), dtype=np.int64)
    faiss.knn_inner_products_by_idx(
        faiss.swig_ptr(queries),
        faiss.swig_ptr(matrix),
        faiss.swig_ptr(candidates),
        queries.shape[1],
        nq,
        matrix.shape[0],
        width,
        k,
        faiss.swig_ptr(scores),
        faiss.swig_ptr(ids),
        0 if shared else width,  # the binding's default (-1) misreads the stride
    )
    scores[ids < 0] = -np.inf
    return scores, ids


class VectorIndex(ABC):
    """One space's FAISS index. Not thread-safe: the store serialises access."""

    kind: ClassVar[str]
    can_remove: ClassVar[bool] = True

    def __init__(
        self,
        dim: int,
        params: Mapping[str, Any],
        source: VectorSource,
        index: faiss.Index | None = None,
        masked: np.ndarray | None = None,
    ) -> None:
        self.dim = dim
        self.params = dict(params)
        self.source = source
        self._index = index if index is not None else self._empty()
        self._masked = np.unique(_ids(masked)) if masked is not None else np.zeros(0, dtype=np.int64)

    @property
    def spec(self) -> IndexSpec:
        return IndexSpec(self.kind, dict(self.params))

    # -- the seven verbs -------------------------------------------------------------------------

    def index(self, ids: np.ndarray) -> None:
        """Build from scratch on the stored vectors of `ids` (read in chunks)."""
        ids = np.sort(_ids(ids))
        self._index = self._empty()
        self._masked = np.zeros(0, dtype=np.int64)
        if ids.size:
            self._train(ids)
        for start in range(0, ids.size, BUILD_CHUNK):
            part = ids[start : start + BUILD_CHUNK]
            self._index.add_with_ids(as_vectors(self.source.read(part), self.dim), part)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = _ids(ids)
        if ids.size:
            self._index.add_with_ids(as_vectors(vectors, self.dim), ids)

    def delete(self, ids: np.ndarray) -> int:
        """Remove `ids`; where FAISS cannot remove, mask them until the next rebuild."""
        ids = np.unique(_ids(ids))
        if not ids.size:
            return 0
        if self.can_remove:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids.size, faiss.swig_ptr(ids))))
        fresh = np.setdiff1d(ids, self._masked, assume_unique=True)
        self._masked = np.union1d(self._masked, fresh)
        return int(fresh.size)

    def search(
        self, queries: np.ndarray, k: int, subset: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top k by inner product: (scores float32 [nq, k], ids int64 [nq, k]), best first.

        `subset` (vector ids) restricts the search with a FAISS id selector; approximate kinds
        widen their search by the inverse of the share selected, so a narrow filter still finds
        k results. Missing results have id -1 and score -inf.
        """
        queries = as_vectors(queries, self.dim)
        if self.count() == 0 or k <= 0:
            return _no_results(len(queries), k)
        keep = None
        if subset is not None:
            subset = _ids(subset)
            if self._masked.size:
                subset = np.setdiff1d(subset, self._masked)
            if not subset.size:
                return _no_results(len(queries), k)
            keep = IdSelector(subset)
            share = subset.size / max(1, int(self._index.ntotal))
        elif self._masked.size:
            keep = IdSelector(self._masked, negate=True)
            share = 1.0 - self.masked_share()
        else:
            share = 1.0
        scores, ids = self._search(queries, k, keep.selector if keep is not None else None, share)
        del keep  # the selector must outlive the FAISS call, no longer
        scores, ids = _pad(scores, ids, k)
        scores[ids < 0] = -np.inf
        return scores, ids

    def count(self) -> int:
        return int(self._index.ntotal) - int(self._masked.size)

    def save(self, handle: BinaryIO) -> None:
        """Write the FAISS index to an open binary file (the store adds its header before it)."""
        writer = faiss.PyCallbackIOWriter(handle.write)
        faiss.write_index(self._index, writer)
        del writer

    @classmethod
    def load(
        cls,
        handle: BinaryIO,
        dim: int,
        params: Mapping[str, Any],
        source: VectorSource,
        masked: np.ndarray | None = None,
    ) -> VectorIndex:
        reader = faiss.PyCallbackIOReader(handle.read)
        index = faiss.read_index(reader)
        del reader
        if index.d != dim:
            raise ValueError(f"index has dimension {index.d}, library {dim}")
        return cls(dim, params, source, index=index, masked=masked)

    # -- inspection -----------------------------------------------------------------------------

    def ids(self) -> np.ndarray:
        """Sorted live ids held by the index."""
        ids = np.sort(self._all_ids())
        return np.setdiff1d(ids, self._masked, assume_unique=True) if self._masked.size else ids

    def masked(self) -> np.ndarray:
        return self._masked.copy()

    def masked_share(self) -> float:
        total = int(self._index.ntotal)
        return self._masked.size / total if total else 0.0

    def nbytes(self) -> int:
        return self.estimate_bytes(int(self._index.ntotal), self.dim, self.params)

    def prefetch(self) -> threading.Thread | None:
        """Start bringing what the index reads from disk into memory ahead of queries (a mapped
        kind): the thread reading, if any."""
        return None

    # -- per kind -------------------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def estimate_bytes(n: int, dim: int, params: Mapping[str, Any]) -> int:
        """Memory the index takes for n vectors (what the policy compares with its budget)."""

    @abstractmethod
    def _empty(self) -> faiss.Index: ...

    def _train(self, ids: np.ndarray) -> None:
        """Train on the stored vectors of `ids`; most kinds need no training."""
        del ids

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int, selector, share: float) -> tuple[np.ndarray, np.ndarray]:
        """Search with an optional FAISS selector that lets through `share` of the vectors."""

    def _all_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)
