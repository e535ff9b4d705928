"""One space of a library in memory: its vectors file, its FAISS index, and the generation of the
library that index reflects.

SQLite is the truth. A commit bumps the space's `generation` and writes its vectors to the file
before it commits; the in-memory index follows after the commit; the index file is saved now and
then, so it may lag. Bringing an index up to date never needs a log: the live ids in SQLite minus
the ids the index holds are the vectors to add (read from the file), and the other way round the
ids to delete.

It is the clip vectors' interface, as `FrameStore` is the frame blocks': the transaction writes
rows to `file` (`VectorFile.write`, an `AppendFile` shared with the block files), `apply` follows
a commit's appends and removals, `search` scores, `file.read` reads vectors back by id, and
`index.count()` counts them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pe_search.store import ivf_build
from pe_search.store.index_file import IndexFileError, IndexHeader, load_index, save_index
from pe_search.store.layout import LibraryLayout
from pe_search.store.policy import IndexPolicy
from pe_search.store.vector_file import VectorFile
from pe_search.store.vectors import BUILD_CHUNK, IndexSpec, VectorIndex, create_index, inner_products_by_id

log = logging.getLogger(__name__)

LiveIds = Callable[[], np.ndarray]


@dataclass(frozen=True)
class SpaceState:
    """A space's committed state, as read from `index_state` in one transaction."""

    space: str
    dim: int
    generation: int
    count: int
    spec: IndexSpec


class SpaceIndex:
    def __init__(
        self,
        layout: LibraryLayout,
        space: str,
        dim: int,
        policy: IndexPolicy,
        *,
        writable: bool,
        spaces: Callable[[], int] = lambda: 1,
    ):
        self.space = space
        self.dim = dim
        self.policy = policy
        self.spaces = spaces  # how many clip spaces share the policy's memory budget
        self.writable = writable
        self.index_path = layout.index_file(space)
        self.file = VectorFile(layout.vector_file(space), dim, writable=writable)
        self.index: VectorIndex = create_index(policy.choose(0, dim), dim, self.file)
        self.generation = 0  # library generation the in-memory index reflects; -1 unknown
        self.saved_generation = -1
        self.dirty = 0  # changes since the index file was last written
        self.warm = False  # a long-lived reader: read each index file it maps ahead (`warm_up`)
        self.lock = threading.RLock()

    # -- loading and repair ------------------------------------------------------------------------

    def warm_up(self) -> threading.Thread | None:
        """From now on read each index file this reader maps into the page cache in the
        background, starting with the current one (the read started, if any)."""
        with self.lock:
            self.warm = True
            return self.index.prefetch()

    def load(self, state: SpaceState, live_ids: LiveIds) -> list[str]:
        """Load the index file and bring it to `state`; returns what had to be repaired."""
        with self.lock:
            try:
                header, index = self._read_index()
                if header.dim != self.dim or header.space != self.space:
                    raise IndexFileError(f"made for {header.space} with dimension {header.dim}")
            except FileNotFoundError:
                reason = "index file missing"
            except IndexFileError as error:
                reason = f"index file unreadable ({error})"
            else:
                return self._adopt(header, index, state, live_ids)
            spec = self.policy.choose(state.count, self.dim, state.spec, self.spaces())
            return [self.rebuild(spec, live_ids(), state.generation, reason=reason)]

    def _read_index(self) -> tuple[IndexHeader, VectorIndex]:
        """The saved index; an IVF index's data file is mapped, by the writer too (it then holds
        in memory only what it adds: issue 24, item 6). A writer may have replaced that file
        between a reader's reading the header and opening it: then read the header again."""
        for attempt in range(3):
            try:
                return load_index(self.index_path, self.file, mapped=True)
            except IndexFileError as error:
                if attempt == 2 or not isinstance(error.__cause__, FileNotFoundError):
                    raise
        raise AssertionError("unreachable")

    def _adopt(
        self, header: IndexHeader, index: VectorIndex, state: SpaceState, live_ids: LiveIds
    ) -> list[str]:
        with self.lock:
            index.params.update(self.policy.search_params(index.spec).params)
            self.index = index
            if self.warm:
                index.prefetch()
            self.saved_generation = header.generation
            self.generation = header.generation
            if (header.generation, header.count) == (state.generation, state.count):
                return []
            wanted = self.policy.choose(state.count, self.dim, index.spec, self.spaces())
            if wanted.kind != index.kind:
                # Far behind (vectors written in bulk, a long crash-free run never saved): build
                # the kind the library's size calls for at once, instead of first catching the
                # old one up (a flat index caught up to 10M vectors would be 41 GB of RAM).
                reason = f"index file at {header.count} vectors, library at {state.count}"
                return [self.rebuild(wanted, live_ids(), state.generation, reason=reason)]
            return [self._stale_message(header, state, *self.catch_up(state.generation, live_ids()))]

    def _stale_message(self, header: IndexHeader, state: SpaceState, added: int, removed: int) -> str:
        return (
            f"{self.space}: index was at generation {header.generation} ({header.count} vectors), "
            f"library at {state.generation} ({state.count}); brought up to date from the stored "
            f"vectors (+{added} -{removed})"
        )

    def catch_up(self, generation: int, live: np.ndarray) -> tuple[int, int]:
        """Make the index hold exactly the `live` ids; returns (added, removed)."""
        with self.lock:
            have = self.index.ids()
            add = np.setdiff1d(live, have, assume_unique=True)
            remove = np.setdiff1d(have, live, assume_unique=True)
            self.index.delete(remove)
            for start in range(0, add.size, BUILD_CHUNK):
                part = add[start : start + BUILD_CHUNK]
                self.index.append(part, self.file.read(part))
            self.generation = generation
            self.dirty += int(add.size + remove.size)
            return int(add.size), int(remove.size)

    def rebuild(self, spec: IndexSpec, live: np.ndarray, generation: int, reason: str) -> str:
        """Build a `spec` index from the stored vectors of `live`; returns a message saying why."""
        with self.lock:
            index = create_index(spec, self.dim, self.file)
            if hasattr(index, "workdir") and self.writable:
                index.workdir = ivf_build.build_dir(self.index_path)  # survives a kill -9
            index.index(live)
            self.index = index
            self.generation = generation
            self.dirty += max(1, int(live.size))
            message = f"{self.space}: {reason}; built {spec.describe()} from {live.size} stored vectors"
            tuning = getattr(index, "tuning", None)
            return message if tuning is None else f"{message}; search settings tuned to {tuning.describe()}"

    # -- changes after a commit ------------------------------------------------------------------

    def apply(
        self, added_ids: np.ndarray, added: np.ndarray, removed_ids: np.ndarray, generation: int
    ) -> None:
        """Follow a commit: the in-memory index then reflects `generation`."""
        with self.lock:
            try:
                if removed_ids.size:
                    self.index.delete(removed_ids)
                if added_ids.size:
                    self.index.append(added_ids, added)
            except Exception:
                self.generation = -1  # unknown: the next use brings it up to date from SQLite
                raise
            self.generation = generation
            self.dirty += int(added_ids.size + removed_ids.size)

    def maintain(self, count: int, live_ids: LiveIds) -> str | None:
        """Switch index type when the size calls for it, or rebuild when too much of it is masked.

        After a build or a tuning the vectors file's map is let go: the rows they read through
        it (a tuning's candidates, up to ~0.8 GB at 10M) would stay in the writer's RSS until
        the next remap."""
        message = self._maintain(count, live_ids)
        if message is not None:
            self.file.release()
        return message

    def _maintain(self, count: int, live_ids: LiveIds) -> str | None:
        with self.lock:
            current = self.index.spec
            wanted = self.policy.choose(count, self.dim, current, self.spaces())
            if wanted != current:
                reason = f"{count} vectors: switching from {current.describe()}"
                return self.rebuild(wanted, live_ids(), self.generation, reason=reason)
            if self.index.masked_share() > self.policy.mask_rebuild_share:
                reason = f"{self.index.masked().size} deleted vectors masked"
                return self.rebuild(current, live_ids(), self.generation, reason=reason)
            if self.policy.needs_tuning(current, count):
                self.index.params.update(
                    recall_target=self.policy.recall_target,
                    rerank_min=self.policy.rerank_min,
                    tune_max_probe_share=self.policy.tune_max_probe_share,
                    tune_free_bytes=self.policy.tune_free_bytes,
                )
                self.index.retune(live_ids())
                self.dirty += 1  # the new settings are saved with the index
                return (
                    f"{self.space}: {count} vectors: search settings tuned to {self.index.tuning.describe()}"
                )
            return None

    def should_save(self) -> bool:
        return self.dirty > 0 and self.policy.should_save(self.dirty, self.index.count())

    def save(self, crash_at: str | None = None) -> IndexHeader:
        with self.lock:
            header = save_index(self.index_path, self.space, self.index, self.generation, crash_at=crash_at)
            map_saved = getattr(self.index, "map_saved", None)
            if map_saved is not None and header.extra.get("data"):
                # what was held is now in the file: map it, as readers do (issue 24, item 6)
                map_saved(self.index_path.with_name(header.extra["data"]))
            ivf_build.discard(self.index_path)  # a finished build's chunks are in the saved index
            self.saved_generation = self.generation
            self.dirty = 0
            log.debug("%s: saved %s at generation %d", self.space, header.kind, header.generation)
            return header

    # -- search ------------------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, subset: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top k (scores, ids); a small `subset` is scanned exactly, a large one through FAISS."""
        if subset is not None and subset.size <= self.policy.exact_subset_max:
            queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
            return inner_products_by_id(queries, self.file, subset, k)
        with self.lock:
            return self.index.search(queries, k, subset)

    def close(self) -> None:
        self.file.close()
