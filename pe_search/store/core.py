"""What every part of an open library shares: its directory, engines, lock, in-memory space
indexes and the messages for the user. The jobs (opening, writing, reading, searching, status)
are mixins over this core; `LibraryStore` (store/library.py) puts them together.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Self

import numpy as np
from sqlalchemy import Connection, Engine, update
from sqlalchemy.orm import Session

from pe_search.models.identity import ModelIdentity
from pe_search.store.disk import disk_problem
from pe_search.store.errors import LibraryDiskFullError
from pe_search.store.frame_store import FramePolicy, FrameStore
from pe_search.store.layout import LibraryLayout
from pe_search.store.lock import WriterLock
from pe_search.store.policy import IndexPolicy
from pe_search.store.schema import IndexState
from pe_search.store.space_index import SpaceIndex, SpaceState
from pe_search.store.vectors import IndexSpec

log = logging.getLogger(__name__)

JOIN_CHUNK = 900  # ids per IN (...) when joining hits to their rows


class StoreCore:
    """The state of one open library; use `LibraryStore.open(...)`, not this class."""

    def __init__(
        self,
        layout: LibraryLayout,
        policy: IndexPolicy,
        *,
        readonly: bool,
        frame_policy: FramePolicy | None = None,
    ) -> None:
        self.layout = layout
        self.policy = policy
        self.readonly = readonly
        self.frames = FrameStore(layout, writable=not readonly, policy=frame_policy)
        self.identity: ModelIdentity | None = None
        self.messages: list[str] = []  # what opening (or maintenance) repaired or changed, for the CLI
        self._lock: WriterLock | None = None
        self._write_engine: Engine | None = None
        self._read_engine: Engine | None = None
        self._spaces: dict[str, SpaceIndex] = {}
        self._spaces_lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._writer_thread: int | None = None

    # -- the in-memory space indexes --------------------------------------------------------------

    def _new_space(self, name: str, dim: int) -> SpaceIndex:
        with self._spaces_lock:
            space = SpaceIndex(
                self.layout, name, dim, self.policy, writable=not self.readonly, spaces=self._space_count
            )
            self._spaces[name] = space
            return space

    def _space_count(self) -> int:
        """How many clip spaces share the policy's memory budget: those the library has (a
        reader may not have loaded them all), at least one."""
        with self._read_engine.connect() as connection:
            recorded = connection.exec_driver_sql("SELECT count(*) FROM index_state").scalar_one()
        return max(1, int(recorded), len(self._spaces))

    def _maintain(self, space: SpaceIndex, count: int) -> bool | None:
        """Switch, rebuild or tune the space's index as due: True when it changed; None when a
        full disk stopped a build (said in one line; nothing is saved then, the previous index
        file stays as it was)."""

        def live() -> np.ndarray:
            with self._read_engine.connect() as connection:
                return live_ids(connection, space.space)

        try:
            message = space.maintain(count, live)
        except OSError as error:
            if not isinstance(disk_problem(self.layout.root, error), LibraryDiskFullError):
                raise
            self._say(
                f"{space.space}: the disk is full: could not build its new index; the previous "
                f"{space.index.spec.kind} index is still used (free some space: the next write "
                "resumes the build where it stopped)"
            )
            return None
        if message:
            self._say(message)
        return message is not None

    def _save(self, space: SpaceIndex, crash_at: str | None = None) -> None:
        """Write the index file, then record in SQLite what it holds."""
        header = space.save(crash_at=crash_at)
        with self._session() as session:
            session.execute(
                update(IndexState)
                .where(IndexState.space == space.space)
                .values(
                    index_type=header.kind, index_params=header.params, saved_generation=header.generation
                )
            )
            session.commit()

    # -- closing ----------------------------------------------------------------------------------

    def checkpoint(self, crash_at: str | None = None) -> None:
        """Save every index that has unsaved changes (opening would otherwise catch them up).

        `crash_at` (tests) stops each save at that step of `atomic_write`.
        """
        self._require_writer()
        with self._write_lock:
            for space in list(self._spaces.values()):
                if space.dirty:
                    self._save(space, crash_at=crash_at)

    def close(self, save: bool = True) -> None:
        """Save unsaved indexes (writer), release files, engines and the writer lock."""
        try:
            if save and not self.readonly and self._write_engine is not None:
                self.checkpoint()
                self._fold_wal()
        finally:
            with self._spaces_lock:
                for space in self._spaces.values():
                    space.close()
                self._spaces.clear()
            self.frames.close()
            for engine in (self._write_engine, self._read_engine):
                if engine is not None:
                    engine.dispose()
            self._write_engine = self._read_engine = None
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def _fold_wal(self) -> None:
        """Fold the WAL into library.db when the writer is done, so that the file alone is the
        library (a copy, a backup, a read-only disk). Skipped while readers hold it."""
        self._read_engine.dispose()  # this process's readers let go of their snapshots first
        raw = self._write_engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as error:  # busy: another process reads; fold next time
            log.debug("WAL not folded: %s", error)
        finally:
            raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------------------------

    def require_identity(self) -> ModelIdentity:
        """The model identity vectors are written with (the library's, or the one it was opened with)."""
        if self.identity is None:
            raise ValueError("open the library with the model's identity to write vectors")
        return self.identity

    def read_connection(self) -> Connection:
        """A read-only SQLite connection (one snapshot in WAL mode), for reads the store has no
        method for: maintenance steps such as the frame-row migration, and tests. Use it as a
        context manager."""
        if self._read_engine is None:
            raise ValueError("the library is closed")
        return self._read_engine.connect()

    def _require_writer(self) -> None:
        if self.readonly or self._write_engine is None:
            raise ValueError("this library was opened read-only (or is closed)")

    def _session(self) -> Session:
        return Session(self._write_engine, expire_on_commit=False)

    def _say(self, message: str) -> None:
        log.info(message)
        self.messages.append(message)


def live_ids(connection: Connection, space: str) -> np.ndarray:
    """The live vector ids of a space, ascending, from one snapshot."""
    result = connection.exec_driver_sql(
        "SELECT vector_id FROM vectors WHERE space = ? ORDER BY vector_id", (space,)
    )
    return np.fromiter((row[0] for row in result), dtype=np.int64)


def space_state(row) -> SpaceState:
    """A space's committed state from its `index_state` row."""
    return SpaceState(
        space=row.space,
        dim=row.dim,
        generation=row.generation,
        count=row.count,
        spec=IndexSpec(row.index_type, dict(row.index_params)),
    )
