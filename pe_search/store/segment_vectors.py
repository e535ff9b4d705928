"""A file's own vectors in one space, in time order: what localisation inside a file reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from pe_search.store.library import LibraryStore
from pe_search.store.schema import Segment, Vector


@dataclass
class SegmentVectors:
    starts: np.ndarray  # float64 seconds
    ends: np.ndarray
    vectors: np.ndarray  # float32 (n, dim)
    vector_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


def segment_vectors(
    store: LibraryStore, media_id: int, space: str, start: float | None = None, end: float | None = None
) -> SegmentVectors:
    """Vectors of `space` for one media file whose segments overlap [start, end], by start time."""
    query = (
        select(Segment.start_s, Segment.end_s, Vector.vector_id)
        .join(Vector, Vector.segment_id == Segment.id)
        .where(Segment.media_file_id == media_id, Vector.space == space)
        .order_by(Segment.start_s)
    )
    if start is not None:
        query = query.where(Segment.end_s > start)
    if end is not None:
        query = query.where(Segment.start_s < end)
    with store._read_engine.connect() as connection:
        rows = connection.execute(query).all()
    ids = np.asarray([r[2] for r in rows], dtype=np.int64)
    vectors = (
        store.vectors(space, ids) if len(ids) else np.zeros((0, store.require_fingerprint().dim), np.float32)
    )
    return SegmentVectors(
        np.asarray([r[0] for r in rows], dtype=np.float64),
        np.asarray([r[1] for r in rows], dtype=np.float64),
        vectors,
        ids,
    )
