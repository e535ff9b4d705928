"""The kinds of FAISS index a space can use, each a `VectorIndex` (see `vector_index`):

- `flat`: exact, `IndexIDMap(IndexFlatIP)`.
- `hnsw`: graph, `IndexIDMap(IndexHNSWFlat)`. FAISS cannot remove from HNSW, so deleted ids are
  masked with an id selector until the store rebuilds the index.
- `ivfpq`: inverted lists of product-quantised codes (`IndexIVFPQ`), then an exact re-rank of the
  best `rerank` candidates on the full vectors; built in resumable chunks, its search settings
  tuned to a recall target, mapped from disk by readers.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pe_search.store import ivf_build, ivf_lists, ivf_tuning
from pe_search.store.atomic import atomic_write, temporary_path
from pe_search.store.lazy_faiss import faiss, one_omp_thread  # FAISS imported on first use (issue 24)
from pe_search.store.page_cache import prefetch
from pe_search.store.vector_index import (
    BUILD_CHUNK,
    IndexSpec,
    VectorIndex,
    VectorSource,
    as_vectors,
    inner_products_by_id,
    read_sorted,
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
        with _one_thread_for_one_query(len(queries)):
            return self._index.search(queries, k, params=params)


def _one_thread_for_one_query(queries: int):
    """One OpenMP thread for a single query (issue 24): FAISS's exact search splits its work by
    query, so a second thread has nothing to do but wait at the team's barrier, and on a busy
    machine that wait costs more than the search (hybrid mode's one query at 20,000 vectors: about
    20 ms of CPU of a 60 ms page)."""
    return one_omp_thread() if queries == 1 else contextlib.nullcontext()


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
    train_size (vectors sampled for training), trained_on (library size when trained), and what
    tuning chose them from (`ivf_tuning`: tuned_on, tuned_recall, recall_target).

    Built in chunks that survive a kill (`ivf_build`). Saved as its own FAISS file beside the
    index file (`save_data`), which a reading process maps (`IO_FLAG_MMAP`) instead of reading:
    it holds the coarse centroids and codebooks, and the lists' pages come from disk as probes
    touch them (a long-lived reader reads the whole file ahead: `prefetch`). Vectors a mapped index
    catches up with go to in-memory lists stacked behind the mapped ones (`HStackInvertedLists`),
    and deletions there are masked. The writer maps it too and holds only what it added since its
    last save; a save merges both into a new file (`ivf_lists`) and maps that (`map_saved`; issue
    24, item 6).
    """

    kind = "ivfpq"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.workdir: Path | None = None  # where a build keeps its resumable state
        self.build_report: ivf_build.BuildReport | None = None
        self.tuning: ivf_tuning.Tuning | None = None  # the last tuning's outcome (messages)
        self.timings: dict[str, float] = {}  # the last build's: train and add, tuning (benchmarks)
        self._mapped: tuple | None = None  # (mapped lists, in-memory lists, their stack)
        self.data_path: Path | None = None  # the data file mapped
        self.prefetching = None  # that file being read ahead (`prefetch`)
        self.saved_bytes = 0  # what the last save wrote (benchmarks)

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

    def index(self, ids: np.ndarray) -> None:
        """Train on a sample, add in chunks (resuming a build `workdir` holds), then tune."""
        ids = np.sort(np.ascontiguousarray(ids, dtype=np.int64).reshape(-1))
        self._masked = np.zeros(0, dtype=np.int64)
        self._release()
        self.data_path = None
        if not ids.size:
            self._index = self._empty()
            return
        with contextlib.ExitStack() as stack:
            folder = self.workdir
            if folder is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pe-ivf-build-")))
            per_family = int(self.params.get("tune_probes", 100))
            seed = int(self.params.get("seed", 1234))
            began = time.perf_counter()
            self._index, truth, self.build_report = ivf_build.build(
                folder,
                self.params,
                self.dim,
                ids,
                self.source,
                self._empty,
                lambda sample: ivf_tuning.make_probes(sample, per_family, seed),
            )
            built = time.perf_counter()
        self._tune(truth.queries, truth.families, truth.ids)
        self.timings = {"build_s": round(built - began, 1), "tune_s": round(time.perf_counter() - built, 1)}

    def retune(self, live: np.ndarray) -> dict:
        """Tune again on probes from today's vectors (the library grew since the last tuning)."""
        live = np.sort(np.ascontiguousarray(live, dtype=np.int64))
        rng = np.random.default_rng([int(self.params.get("seed", 1234)), live.size])
        sample = np.sort(rng.choice(live, size=min(live.size, 10_000), replace=False))
        queries, families = ivf_tuning.make_probes(
            read_sorted(self.source, sample),
            int(self.params.get("tune_probes", 100)),
            int(self.params.get("seed", 1234)),
        )
        # a chunk of READ_ROWS (64 MiB at d = 1024): with BUILD_CHUNK the pass held ~600 MB of
        # rows, scores and their ids at a time (issue 24, item 6)
        truth = ivf_tuning.exact_top(queries, self.source, live, ivf_build.TRUTH_K, ivf_tuning.READ_ROWS)
        return self._tune(queries, families, truth)

    def _tune(self, queries: np.ndarray, families: np.ndarray, truth: np.ndarray) -> dict:
        target = float(self.params.get("recall_target", 0.95))
        floor = int(self.params.get("rerank_min", 10))
        cap = ivf_tuning.probe_cap(
            int(self.params["nlist"]), float(self.params.get("tune_max_probe_share", 1.0))
        )
        tuning = ivf_tuning.tune(
            self._index, self.source, queries, families, truth, target, min_depth=floor, max_nprobe=cap,
            free_bytes=float(self.params.get("tune_free_bytes", 0)),
        )  # fmt: skip
        self.params.update(tuning.params(int(self._index.ntotal), target))
        self.tuning = tuning
        return dict(tuning.recall)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._mapped is None:
            return super().append(ids, vectors)
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not ids.size:
            return None
        _, memory, stacked = self._mapped
        self._index.replace_invlists(memory, False)  # new codes go to the in-memory lists
        try:
            self._index.add_with_ids(as_vectors(vectors, self.dim), ids)
        finally:
            self._index.replace_invlists(stacked, False)
        return None

    def _search(self, queries: np.ndarray, k: int, selector, share: float) -> tuple[np.ndarray, np.ndarray]:
        # tuned for recall@10: a longer list re-ranks proportionally more candidates
        depth = max(k, math.ceil(int(self.params.get("rerank", 100)) * max(k, 10) / 10))
        nlist = int(self.params["nlist"])
        nprobe = min(nlist, math.ceil(int(self.params.get("nprobe", 16)) / max(share, 1e-6)))
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        if selector is not None:
            params.sel = selector
        _, candidates = self._index.search(queries, depth, params=params)
        return inner_products_by_id(queries, self.source, candidates, k)

    def _all_ids(self) -> np.ndarray:
        every = [self._index.invlists] if self._mapped is None else list(self._mapped[:2])
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for lists in every
            for i in range(lists.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    # -- its own data file -----------------------------------------------------------------------

    def save_data(self, index_path: Path) -> str:
        """Write the FAISS index to a new file beside `index_path`; returns its name.

        Written list by list (`ivf_lists`): a mapped index's saved lists are read from its data
        file with plain reads and merged with those added since, so a save never holds all the
        codes in memory (issue 24, item 6)."""
        name = f"{index_path.name}.{secrets.token_hex(4)}.ivf"
        header = ivf_lists.header_bytes(self._index)
        nlist, code_size = int(self._index.nlist), int(self._index.code_size)
        sources = self._list_sources(len(header), nlist, code_size)

        def write(handle) -> None:
            self.saved_bytes = ivf_lists.write(handle, header, nlist, code_size, sources)

        data_path = index_path.with_name(name)
        try:
            atomic_write(data_path, write)
        except BaseException:
            temporary_path(data_path).unlink(missing_ok=True)  # a full disk keeps no half file
            raise
        return name

    def _list_sources(self, offset: int, nlist: int, code_size: int) -> list[ivf_lists.ListSource]:
        if self._mapped is None:
            return [ivf_lists.MemoryLists(self._index.invlists, code_size)]
        on_disk, memory, _ = self._mapped
        saved: ivf_lists.ListSource = ivf_lists.MemoryLists(on_disk, code_size)  # through the map
        if self.data_path is not None:
            # the same trained index wrote the file: its lists start where the new header ends
            with contextlib.suppress(OSError, ValueError):
                from_file = ivf_lists.FileLists(self.data_path, offset, nlist, code_size)
                if np.array_equal(from_file.sizes(), saved.sizes()):
                    saved = from_file
        return [saved, ivf_lists.MemoryLists(memory, code_size)]

    def held_rows(self) -> int:
        """Codes this process holds in memory: all of them, or for a mapped index those added
        since it was mapped (the rest are pages of its data file)."""
        if self._mapped is None:
            return int(self._index.ntotal)
        memory = self._mapped[1]
        return sum(int(memory.list_size(i)) for i in range(memory.nlist))

    def map_saved(self, data_path: Path) -> None:
        """Let go of the lists held and map the data file just saved (which holds them all)."""
        index = faiss.read_index(str(data_path), faiss.IO_FLAG_MMAP)
        if int(index.ntotal) != int(self._index.ntotal):
            raise RuntimeError(f"{data_path.name} holds {index.ntotal} codes, the index {self._index.ntotal}")
        self._release()
        self._index = index
        self.data_path = data_path
        self._stack()

    @classmethod
    def load_data(
        cls,
        data_path: Path,
        dim: int,
        params: Mapping[str, Any],
        source: VectorSource,
        masked: np.ndarray | None = None,
        *,
        mapped: bool,
    ) -> IVFPQIndex:
        """Load a `save_data` file: mapped (a reader) or read into memory (the writer)."""
        if not data_path.exists():
            raise FileNotFoundError(data_path)
        index = faiss.read_index(str(data_path), faiss.IO_FLAG_MMAP if mapped else 0)
        if index.d != dim:
            raise ValueError(f"index has dimension {index.d}, library {dim}")
        loaded = cls(dim, params, source, index=index, masked=masked)
        if mapped:
            loaded.data_path = data_path
            loaded._stack()
        return loaded

    def prefetch(self) -> threading.Thread | None:
        """Read the mapped data file into the page cache from a background thread (`page_cache`)."""
        if self._mapped is not None and self.data_path is not None:
            self.prefetching = prefetch(self.data_path)
        return self.prefetching

    def _stack(self) -> None:
        on_disk = self._index.invlists
        self._index.own_invlists = False  # given back to the index in __del__, which unmaps them
        memory = faiss.ArrayInvertedLists(self._index.nlist, self._index.code_size)
        pointers = faiss.InvertedListsPtrVector()
        pointers.push_back(on_disk)
        pointers.push_back(memory)
        stacked = faiss.HStackInvertedLists(2, pointers.data())
        self._index.replace_invlists(stacked, False)
        self._mapped = (on_disk, memory, stacked)
        self.can_remove = False  # mapped codes cannot be removed: deletions are masked

    def _release(self) -> None:
        mapped = getattr(self, "_mapped", None)
        if mapped is not None:  # the index owns (and frees, unmapping the file) its mapped lists again
            self._index.replace_invlists(mapped[0], True)
            self._mapped = None

    def __del__(self) -> None:
        self._release()


INDEX_CLASSES: dict[str, type[VectorIndex]] = {cls.kind: cls for cls in (FlatIndex, HNSWIndex, IVFPQIndex)}


def create_index(
    spec: IndexSpec,
    dim: int,
    source: VectorSource,
) -> VectorIndex:
    """An empty index of the kind `spec` names (build it with `.index(ids)`)."""
    return INDEX_CLASSES[spec.kind](dim, spec.params, source)
