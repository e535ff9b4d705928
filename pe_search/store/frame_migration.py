"""The data step of migration 0004: frame rows of an older library become blocks.

Before 0004 every frame was a `segments` row, a `vectors` row, a float32 row in `SPACE.f32` and an
entry of the space's FAISS index. Opening such a library for writing converts it, one file per
transaction: the file's frame vectors are read from `SPACE.f32` (nothing is encoded again by a
model), written as one block, and its frame rows deleted, all in one commit. Killed part way, the
next open carries on with the files still having frame rows. When a space has none left, its
`index_state` row and its `.f32` and `.index` files go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np
from sqlalchemy import Connection, delete, select, text

from pe_search.models.catalogue import FRAME_SPACES
from pe_search.store.frame_codes import DEFAULT_FRAME_CODES
from pe_search.store.layout import LibraryLayout
from pe_search.store.schema import IndexState
from pe_search.store.transaction import WriteTransaction
from pe_search.store.vector_file import VectorFile

log = logging.getLogger(__name__)

PROGRESS_EVERY = 50  # files between progress reports


class Writer(Protocol):
    """What the conversion needs of the store opening the library (it is called while opening,
    so it knows the store by these verbs only and never imports it)."""

    layout: LibraryLayout

    def read_connection(self) -> Connection: ...

    def index_settings(self) -> dict | None: ...

    def write(self) -> AbstractContextManager[WriteTransaction]: ...


FRAME_ROWS = text(
    "SELECT s.start_s, s.end_s, v.vector_id FROM segments s JOIN vectors v ON v.segment_id = s.id "
    "WHERE v.space = :space AND s.media_file_id = :media_id AND s.level = 'frame' ORDER BY s.start_s"
)


def convert_frame_rows(store: Writer, progress: Callable[[str], None] | None = None) -> list[str]:
    """Convert every frame space still held as rows; returns what was done (for store.messages)."""
    with store.read_connection() as connection:
        legacy = connection.execute(
            select(IndexState.space, IndexState.dim).where(IndexState.space.in_(FRAME_SPACES))
        ).all()
    if not legacy:
        return []
    say = progress or log.info
    settings = store.index_settings() or {}
    codes = settings.get("frame_codes", DEFAULT_FRAME_CODES)
    messages = []
    for space, dim in legacy:
        messages.append(_convert_space(store, space, dim, codes, say))
    return messages


def _convert_space(store: Writer, space: str, dim: int, codes: str, say: Callable[[str], None]) -> str:
    with store.read_connection() as connection:
        files = [
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT DISTINCT s.media_file_id FROM segments s JOIN vectors v ON v.segment_id = s.id "
                "WHERE v.space = ? AND s.level = 'frame' ORDER BY s.media_file_id",
                (space,),
            )
        ]
    vector_file = VectorFile(store.layout.vector_file(space), dim, writable=False)
    frames = 0
    try:
        if files:
            say(
                f"{space}: converting the frame vectors of {len(files)} files into blocks (resumes if stopped)"
            )
        for done, media_id in enumerate(files, start=1):
            frames += convert_file(store, vector_file, space, media_id, codes)
            if done % PROGRESS_EVERY == 0 or done == len(files):
                say(f"{space}: {done}/{len(files)} files converted ({frames} frames)")
    finally:
        vector_file.close()
    with store.write() as tx:
        tx.session.execute(delete(IndexState).where(IndexState.space == space))
    freed = 0
    for path in (store.layout.vector_file(space), store.layout.index_file(space)):
        if path.exists():
            freed += path.stat().st_size
            path.unlink()
    return (
        f"{space}: converted {frames} frame rows of {len(files)} files into blocks; "
        f"removed {space}.f32 and {space}.index ({freed / 1e6:.1f} MB)"
    )


def convert_file(store: Writer, vector_file: VectorFile, space: str, media_id: int, codes: str) -> int:
    """Convert one file's frame rows of `space` into a block, in one transaction; returns how many."""
    with store.write() as tx:
        rows = tx.session.execute(FRAME_ROWS, {"space": space, "media_id": media_id}).all()
        if not rows:
            return 0
        starts = np.asarray([r[0] for r in rows], dtype=np.float64)
        ends = np.asarray([r[1] for r in rows], dtype=np.float64)
        vectors = vector_file.read(np.asarray([r[2] for r in rows], dtype=np.int64))
        tx.put_frames(media_id, space, starts, ends, vectors, codes)
        connection = tx.session.connection()
        connection.exec_driver_sql(
            "DELETE FROM vectors WHERE space = ? AND segment_id IN "
            "(SELECT id FROM segments WHERE media_file_id = ? AND level = 'frame')",
            (space, media_id),
        )
        connection.exec_driver_sql(
            "DELETE FROM segments WHERE media_file_id = ? AND level = 'frame' "
            "AND NOT EXISTS (SELECT 1 FROM vectors WHERE vectors.segment_id = segments.id)",
            (media_id,),
        )
        connection.exec_driver_sql(  # the space's committed truth stays true while rows remain
            "UPDATE index_state SET count = count - ?, generation = generation + 1 WHERE space = ?",
            (len(rows), space),
        )
        return len(rows)
