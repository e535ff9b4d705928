"""Searching a library's vectors: top k by inner product in one space (filtered in SQLite), the
stored full-precision vectors of ids or of one file's window, each space's in-memory index first
brought up to the newest committed generation (another process may have written since).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pe_search.store.core import JOIN_CHUNK, StoreCore, live_ids, space_state
from pe_search.store.filters import SearchFilter
from pe_search.store.records import SearchHit, SegmentVectors
from pe_search.store.schema import IndexState, MediaFile, Segment, Vector
from pe_search.store.space_index import SpaceIndex

log = logging.getLogger(__name__)


class Searching(StoreCore):
    """The vector verbs of `LibraryStore`."""

    def vectors(self, space: str, ids: np.ndarray) -> np.ndarray:
        """The stored full-precision vectors of these ids (for re-ranking, spans, migration)."""
        handle = self._synced(space)
        if handle is None:
            raise KeyError(f"the library has no {space!r} vectors")
        return handle.file.read(np.asarray(ids, dtype=np.int64))

    def segment_vectors(
        self, media_id: int, space: str, start: float | None = None, end: float | None = None
    ) -> SegmentVectors:
        """Vectors of `space` for one media file whose segments overlap [start, end], by start time.

        Frames stored as a block come from the slice of the block the window needs (vector ids
        are then the frames' positions in the block)."""
        with Session(self._read_engine) as session:
            frames = self.frames.read(session, media_id, space, start, end)
        if frames is not None:
            return SegmentVectors(
                frames.starts, frames.ends, frames.vectors(), frames.first + np.arange(len(frames))
            )
        query = (
            select(Segment.start_s, Segment.end_s, Vector.vector_id)
            .join(Vector, Vector.segment_id == Segment.id)
            # `space || ''`: SQLite would otherwise walk every vector of the space by its primary
            # key (space, vector_id) instead of the file's few segments (issue 24: 27 ms a call
            # at 20,000 vectors, growing with the library).
            .where(Segment.media_file_id == media_id, Vector.space.concat("") == space)
            .order_by(Segment.start_s)
        )
        if start is not None:
            query = query.where(Segment.end_s > start)
        if end is not None:
            query = query.where(Segment.start_s < end)
        with self._read_engine.connect() as connection:
            rows = connection.execute(query).all()
        ids = np.asarray([r[2] for r in rows], dtype=np.int64)
        vectors = (
            self.vectors(space, ids) if len(ids) else np.zeros((0, self.require_identity().dim), np.float32)
        )
        return SegmentVectors(
            np.asarray([r[0] for r in rows], dtype=np.float64),
            np.asarray([r[1] for r in rows], dtype=np.float64),
            vectors,
            ids,
        )

    def files_segment_vectors(self, media_ids: list[int], space: str) -> dict[int, SegmentVectors]:
        """Every clip segment's vector of `space` for these files, by media id (one read for all;
        each file's by start time). Files with none there are left out: frames kept as blocks are
        read per file and window by `segment_vectors`."""
        if not media_ids:
            return {}
        rows = []
        with self._read_engine.connect() as connection:
            for first in range(0, len(media_ids), JOIN_CHUNK):
                rows += connection.execute(
                    select(Segment.media_file_id, Segment.start_s, Segment.end_s, Vector.vector_id)
                    .join(Vector, Vector.segment_id == Segment.id)
                    .where(  # `space || ''`: by the files' segments, as in segment_vectors
                        Segment.media_file_id.in_(media_ids[first : first + JOIN_CHUNK]),
                        Vector.space.concat("") == space,
                    )
                    .order_by(Segment.media_file_id, Segment.start_s)
                ).all()
        if not rows:
            return {}
        ids = np.asarray([r[3] for r in rows], dtype=np.int64)
        vectors = self.vectors(space, ids)
        owners = np.asarray([r[0] for r in rows], dtype=np.int64)
        found = {}
        for media_id in dict.fromkeys(owners.tolist()):
            at = np.flatnonzero(owners == media_id)
            found[media_id] = SegmentVectors(
                np.asarray([rows[i][1] for i in at], dtype=np.float64),
                np.asarray([rows[i][2] for i in at], dtype=np.float64),
                vectors[at],
                ids[at],
            )
        return found

    def search_ids(
        self, space: str, queries: np.ndarray, k: int = 10, filters: SearchFilter | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top k by raw inner product: (scores float32 [nq, k], vector ids int64 [nq, k]), best
        first; -1 ids (score -inf) where fewer than k match."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        handle = self._synced(space)
        if handle is None:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        if queries.shape[1] != handle.dim:
            raise ValueError(f"{space}: queries must have dimension {handle.dim}, got {queries.shape[1]}")
        subset = None
        if filters is not None and not filters.is_empty():
            subset = self._filtered_ids(space, filters)
        return handle.search(queries, k, subset)

    def search(
        self, space: str, queries: np.ndarray, k: int = 10, filters: SearchFilter | None = None
    ) -> list[list[SearchHit]]:
        """Top k hits per query with their segment and media file, best first."""
        scores, ids = self.search_ids(space, queries, k, filters)
        rows = self._hit_rows(space, ids[ids >= 0])
        results = []
        for query_scores, query_ids in zip(scores, ids, strict=True):
            hits = []
            for score, vector_id in zip(query_scores.tolist(), query_ids.tolist(), strict=True):
                row = rows.get(vector_id)
                if row is not None:  # gone if deleted since the index was searched
                    hits.append(SearchHit(space, vector_id, score, *row))
            results.append(hits)
        return results

    def _hit_rows(self, space: str, ids: np.ndarray) -> dict[int, tuple]:
        unique = np.unique(ids).tolist()
        rows: dict[int, tuple] = {}
        with self._read_engine.connect() as connection:
            for start in range(0, len(unique), JOIN_CHUNK):
                query = (
                    select(
                        Vector.vector_id,
                        MediaFile.id,
                        MediaFile.path,
                        MediaFile.kind,
                        Segment.id,
                        Segment.start_s,
                        Segment.end_s,
                        Segment.level,
                    )
                    .join(Segment, Vector.segment_id == Segment.id)
                    .join(MediaFile, Segment.media_file_id == MediaFile.id)
                    .where(Vector.space == space, Vector.vector_id.in_(unique[start : start + JOIN_CHUNK]))
                )
                for vector_id, *rest in connection.execute(query):
                    rows[vector_id] = tuple(rest)
        return rows

    def _filtered_ids(self, space: str, filters: SearchFilter) -> np.ndarray:
        query = (
            select(Vector.vector_id)
            .join(Segment, Vector.segment_id == Segment.id)
            .join(MediaFile, Segment.media_file_id == MediaFile.id)
            .where(Vector.space == space, *filters.conditions())
            .order_by(Vector.vector_id)
        )
        with self._read_engine.connect() as connection:
            return np.fromiter(connection.scalars(query), dtype=np.int64)

    def warm_up(self) -> list[threading.Thread]:
        """For a long-lived reader (a server): load every space's index now and read the files
        it maps into the page cache in the background (`page_cache`), now and after each reload,
        so the first queries do not each wait for their lists' pages from disk (measured at 10M
        vectors: the first family's p50 13 ms above the later ones). Not for a process that
        answers one query: the read-ahead competes with that query's own reads. Returns the
        reads started, for a caller that waits for them (a benchmark)."""
        with self._read_engine.connect() as connection:
            names = connection.execute(select(IndexState.space)).scalars().all()
        started = []
        for name in names:
            space = self._synced(name)
            reading = None if space is None else space.warm_up()
            if reading is not None:
                started.append(reading)
        return started

    def _synced(self, name: str) -> SpaceIndex | None:
        """The space's index, first brought to the newest committed generation (another process
        may have written since): reload a newer saved file, or catch up from the stored vectors."""
        with self._read_engine.connect() as connection:
            row = connection.execute(select(IndexState).where(IndexState.space == name)).first()
            if row is None:
                return None
            state = space_state(row)
            with self._spaces_lock:
                space = self._spaces.get(name)
                if space is None:
                    space = self._new_space(name, state.dim)
                    space.load(state, lambda: live_ids(connection, name))
                    return space
            # Never go back: a snapshot older than the index (a commit landed meanwhile) is fine
            # to search with, since hits are joined to rows afterwards. -1 means unknown.
            if space.generation >= state.generation:
                return space
            with space.lock:
                if space.generation >= state.generation:
                    return space
                if row.saved_generation > space.generation:
                    for message in space.load(state, lambda: live_ids(connection, name)):
                        log.info(message)
                else:
                    space.catch_up(state.generation, live_ids(connection, name))
        return space
