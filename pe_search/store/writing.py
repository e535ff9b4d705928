"""Writing to a library: one write transaction at a time, the in-memory indexes following each
commit, and the writes that are one transaction each (delete, move, compact).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import numpy as np

from pe_search.store import duplicate_books, heap
from pe_search.store.core import StoreCore
from pe_search.store.duplicate_books import DuplicateUpdate
from pe_search.store.space_index import SpaceIndex
from pe_search.store.transaction import SpaceCommit, VectorSink, WriteTransaction


class Writing(StoreCore):
    """The writer's verbs of `LibraryStore`."""

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """One write transaction: all of it is committed at the end of the block, or none of it."""
        self._require_writer()
        if self._writer_thread == threading.get_ident():
            raise RuntimeError("write transactions do not nest: use the open transaction's methods")
        with self._write_lock, self._session() as session:
            self._writer_thread = threading.get_ident()
            sink = VectorSink(
                dim=lambda: self.require_identity().dim,
                policy=self.policy,
                vector_file=lambda name: self.space_for_write(name).file,
                frames=self.frames,
            )
            tx = WriteTransaction(sink, session)
            created = set(self._spaces)
            with ExitStack() as held:
                try:
                    yield tx
                    # Searches in other threads wait until the indexes show this commit.
                    for name in sorted(tx.touched):
                        held.enter_context(self.space_for_write(name).lock)
                    committed = tx.finish()
                except BaseException:
                    session.rollback()
                    with self._spaces_lock:
                        for name in set(self._spaces) - created:
                            self._spaces.pop(name).close()
                    raise
                finally:
                    self._writer_thread = None
                self._after_commit(committed, tx.frame_spaces)

    def keep_duplicates(self, change: DuplicateUpdate, crash_at: str | None = None) -> None:
        """Keep what a duplicates run learnt for the next run: each chunk of its new postings in a
        transaction of its own, staged (readers do not see it), then the slots, pairs and state in
        one last transaction that takes the staged chunks in. So the write-ahead log holds a chunk
        at a time, not a whole book (1.5 GB at a million files, which the log would hold beside the
        library), and a run that dies before its last transaction changes nothing a reader sees
        (the next run drops what it staged). `crash_at="staged"` (tests) stops before the last."""
        with self.write() as tx:
            duplicate_books.discard_staged(tx.session, change.kind)
        for book, postings in (change.compacted or change.segments).items():
            with self.write() as tx:
                segment = duplicate_books.next_segment(tx.session, change.kind, book)
            for begin, end in duplicate_books.chunk_bounds(postings.values):
                with self.write() as tx:
                    duplicate_books.stage(tx.session, change.kind, book, segment, postings, begin, end)
        if crash_at == "staged":
            raise RuntimeError("crash_at: staged")
        with self.write() as tx:
            duplicate_books.apply(tx.session, change)

    def _after_commit(self, committed: dict[str, SpaceCommit], frame_spaces: set[str]) -> None:
        """Bring the in-memory indexes to the committed state; switch types and save as due."""
        for name, change in committed.items():
            space = self._spaces[name]
            vectors = change.added_vectors
            if vectors is None:
                vectors = np.zeros((0, space.dim), np.float32)
            space.apply(change.added_ids, vectors, change.removed_ids, change.generation)
            changed = self._maintain(space, change.count)
            if changed is not None and (changed or space.should_save()):
                self._save(space)
                heap.give_back()  # the lists the save let go of, before the next space's build
        for name in sorted(frame_spaces):
            with self._session() as session:
                due = self.frames.due_for_compaction(session, name)
            if due:
                self._compact(name)

    def compact(self, on_step: Callable[[str], None] | None = None) -> list[str]:
        """Reclaim the dead bytes of every frame space's block file; returns what was done.

        `on_step(step)` (tests) runs after each step of a compaction (see `FrameStore.compact`).
        """
        self._require_writer()
        with self._write_lock:
            with self._session() as session:
                spaces = list(self.frames.counts(session))
            return [m for m in (self._compact(space, on_step) for space in spaces) if m]

    def _compact(self, space: str, on_step: Callable[[str], None] | None = None) -> str | None:
        with self._session() as session:
            message = self.frames.compact(session, space, on_step)
        if message:
            self._say(message)
        return message

    def space_for_write(self, name: str) -> SpaceIndex:
        """The space a transaction writes vectors to, made on first use."""
        with self._spaces_lock:
            space = self._spaces.get(name)
            if space is None:
                space = self._new_space(name, self.require_identity().dim)
            return space

    def delete_media(self, path: str) -> bool:
        """Delete a file, its segments and vectors; False if the library does not have it."""
        with self.write() as tx:
            media_id = tx.media_id(path)
            if media_id is None:
                return False
            tx.delete_media(media_id)
            return True

    def move_media(self, old_path: str, new_path: str) -> None:
        """Record that a file moved; its vectors are kept as they are."""
        with self.write() as tx:
            media_id = tx.media_id(old_path)
            if media_id is None:
                raise KeyError(f"{old_path} is not in the library")
            tx.move_media(media_id, new_path)
