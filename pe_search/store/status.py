"""A library's status in one report: files by status, segments, each clip space (SQLite's truth
beside what the in-memory index holds), the frame spaces and what opening repaired."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pe_search.store.core import StoreCore
from pe_search.store.database import current_revision
from pe_search.store.records import DamagedFrames, LibraryStatus, SpaceStatus
from pe_search.store.schema import IndexState, MediaFile, Segment
from pe_search.store.vectors import INDEX_CLASSES


class Reporting(StoreCore):
    """`LibraryStore.status()`."""

    def status(self) -> LibraryStatus:
        with self._read_engine.connect() as connection:
            by_status = {
                status: count
                for status, count in connection.execute(
                    select(MediaFile.status, func.count()).group_by(MediaFile.status)
                )
            }
            segments = connection.scalar(select(func.count()).select_from(Segment)) or 0
            states = connection.execute(select(IndexState).order_by(IndexState.space)).all()
        with Session(self._read_engine) as session:
            frames = self.frames.status(session)
        damaged = self.damaged_frames()
        spaces = {}
        for row in states:
            held = self._spaces.get(row.space)
            spaces[row.space] = SpaceStatus(
                space=row.space,
                count=row.count,
                index_count=held.index.count() if held else 0,
                generation=row.generation,
                index_type=held.index.kind if held else row.index_type,
                index_params=dict(held.index.params) if held else dict(row.index_params),
                saved_generation=row.saved_generation,
                index_bytes=held.index.nbytes() if held else _estimated_bytes(row),
                masked=int(held.index.masked().size) if held else 0,
            )
        return LibraryStatus(
            library_dir=str(self.layout.root),
            schema_revision=current_revision(self._read_engine),
            identity=self.identity,
            media_by_status=by_status,
            segments=segments,
            spaces=spaces,
            frames=frames,
            messages=tuple(self.messages),
            damaged=damaged,
        )

    def damaged_frames(self) -> tuple[DamagedFrames, ...]:
        """Files whose frame blocks this process found damaged (when opening, or reading them):
        their frames are left out of every read until an index run encodes them again."""
        with Session(self._read_engine) as session:
            damage = self.frames.damaged(session)
            if not damage:
                return ()
            paths = dict(
                session.execute(
                    select(MediaFile.id, MediaFile.path).where(MediaFile.id.in_({d.media_id for d in damage}))
                ).all()
            )
        return tuple(
            DamagedFrames(d.media_id, paths.get(d.media_id, f"media {d.media_id}"), d.space, d.reason)
            for d in damage
        )


def _estimated_bytes(row) -> int:
    """What a space's index takes in memory, from SQLite's record of it (an index not loaded:
    `LibraryStore.open(indexes=False)`), by the estimate a loaded index reports too."""
    kind = INDEX_CLASSES.get(row.index_type)
    return kind.estimate_bytes(row.count, row.dim, dict(row.index_params)) if kind is not None else 0
