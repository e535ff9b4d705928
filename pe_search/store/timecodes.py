"""Source timecodes kept with the library: one row per media file (`schema.SourceTimecodeRow`).

The store keeps what the media layer read (`pe_search.media.timecode.SourceTimecode`) and gives
it back; it computes no timecode itself. A moved file keeps its row, a deleted one loses it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from pe_search.media.timecode import SourceTimecode
from pe_search.store.schema import MediaFile, SourceTimecodeRow

_BATCH = 500  # ids per IN (...) query, under SQLite's variable limit


def put(session: Session, media_id: int, timecode: SourceTimecode) -> None:
    session.execute(delete(SourceTimecodeRow).where(SourceTimecodeRow.media_file_id == media_id))
    session.add(
        SourceTimecodeRow(
            media_file_id=media_id,
            start=timecode.start,
            rate=timecode.rate,
            drop_frame=timecode.drop_frame,
            start_seconds=timecode.start_seconds,
            origin=timecode.origin,
            note=timecode.note,
        )
    )


_COLUMNS = (
    SourceTimecodeRow.start,
    SourceTimecodeRow.rate,
    SourceTimecodeRow.drop_frame,
    SourceTimecodeRow.start_seconds,
    SourceTimecodeRow.origin,
    SourceTimecodeRow.note,
)


def _record(row) -> SourceTimecode:
    start, rate, drop_frame, start_seconds, origin, note = row
    return SourceTimecode(start, rate, bool(drop_frame), start_seconds, origin, note)


def by_media(connection: Connection, media_ids: Iterable[int]) -> dict[int, SourceTimecode]:
    """The stored timecode of each of `media_ids` that has one."""
    ids = sorted(set(media_ids))
    found: dict[int, SourceTimecode] = {}
    for first in range(0, len(ids), _BATCH):
        query = select(SourceTimecodeRow).where(
            SourceTimecodeRow.media_file_id.in_(ids[first : first + _BATCH])
        )
        found.update({row.media_file_id: _record(row) for row in connection.execute(query)})
    return found


def by_path(connection: Connection, paths: Iterable[str]) -> dict[str, SourceTimecode]:
    """The stored timecode of each of `paths` that is indexed and has one."""
    wanted = sorted(set(paths))
    found: dict[str, SourceTimecode] = {}
    for first in range(0, len(wanted), _BATCH):
        query = (
            select(MediaFile.path, *_COLUMNS)
            .join(SourceTimecodeRow, SourceTimecodeRow.media_file_id == MediaFile.id)
            .where(MediaFile.path.in_(wanted[first : first + _BATCH]))
        )
        found.update({row[0]: _record(row[1:]) for row in connection.execute(query)})
    return found


def read_ids(connection: Connection) -> set[int]:
    """The media ids whose timecode has been read (the rest are read on the next index run)."""
    return set(connection.scalars(select(SourceTimecodeRow.media_file_id)))
