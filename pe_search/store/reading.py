"""Reading a library's rows: media files, full-text entries, audio prints and frame blocks. Each
read is one committed snapshot; none of them waits for the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pe_search.media.timecode import SourceTimecode
from pe_search.store import audio_prints, duplicate_books, text_index, timecodes, transcripts
from pe_search.store.audio_prints import StoredFingerprint
from pe_search.store.core import StoreCore
from pe_search.store.filters import SearchFilter
from pe_search.store.frame_blocks import FrameSlice
from pe_search.store.frame_store import FrameBlockInfo
from pe_search.store.records import MediaInfo
from pe_search.store.schema import IndexState, MediaFile


class Reading(StoreCore):
    """The read verbs of `LibraryStore` that return rows, not search hits."""

    # -- media files ------------------------------------------------------------------------------

    def media_ids(self, filters: SearchFilter) -> set[int]:
        """Ids of the media files a filter lets through."""
        with self._read_engine.connect() as connection:
            return set(connection.scalars(select(MediaFile.id).where(*filters.conditions())))

    def media_kind(self, media_id: int) -> str:
        with self._read_engine.connect() as connection:
            return connection.scalar(select(MediaFile.kind).where(MediaFile.id == media_id)) or "audio"

    def find_media(self, path: str) -> MediaInfo | None:
        with self._read_engine.connect() as connection:
            row = connection.execute(select(MediaFile).where(MediaFile.path == path)).first()
        return media_info(row) if row is not None else None

    def find_media_by_hash(self, content_hash: str) -> list[MediaInfo]:
        with self._read_engine.connect() as connection:
            rows = connection.execute(
                select(MediaFile).where(MediaFile.content_hash == content_hash).order_by(MediaFile.id)
            ).all()
        return [media_info(row) for row in rows]

    def iter_media(self, path_prefix: str | None = None) -> Iterator[MediaInfo]:
        """Every media file (optionally under a path prefix), ordered by path."""
        query = select(MediaFile).order_by(MediaFile.path)
        if path_prefix is not None:
            query = query.where(*SearchFilter(path_prefix=path_prefix).conditions())
        with self._read_engine.connect() as connection:
            rows = connection.execute(query).all()
        yield from (media_info(row) for row in rows)

    def get_media(self, media_id: int) -> MediaInfo | None:
        """The media file with this row id (the opaque file id the HTTP server hands out)."""
        with self._read_engine.connect() as connection:
            row = connection.execute(select(MediaFile).where(MediaFile.id == media_id)).first()
        return media_info(row) if row is not None else None

    def list_media(
        self,
        filters: SearchFilter | None = None,
        statuses: tuple[str, ...] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[MediaInfo]]:
        """One page of media files matching `filters` (file fields only) and `statuses`, ordered
        by path: (how many match in all, the page)."""
        where = list(filters.conditions()) if filters is not None else []
        if statuses is not None:
            where.append(MediaFile.status.in_(list(statuses)))
        with self._read_engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(MediaFile).where(*where)) or 0
            rows = connection.execute(
                select(MediaFile).where(*where).order_by(MediaFile.path).offset(offset).limit(limit)
            ).all()
        return total, [media_info(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Live vectors per space."""
        with self._read_engine.connect() as connection:
            return {
                space: count
                for space, count in connection.execute(select(IndexState.space, IndexState.count))
            }

    # -- text entries and audio prints ------------------------------------------------------------

    def search_text(
        self, query: str, limit: int = 50, filters: SearchFilter | None = None
    ) -> list[text_index.TextMatch]:
        """Text entries (names, folders, tags, subtitles, .txt, transcript phrases) matching the
        query's words and "quoted phrases", best first; a transcript phrase's match lands on the
        spoken words matched (`TextMatch.words`)."""
        with self._read_engine.connect() as connection:
            return text_index.search(connection, query, limit, filters, transcripts.phrase_words)

    def side_data_state(self) -> tuple[dict[int, str], dict[int, int]]:
        """({media id: text signature}, {media id: fingerprint version}) of every file, in one read."""
        with self._read_engine.connect() as connection:
            return text_index.signatures(connection), audio_prints.versions(connection)

    def timecodes(self, media_ids: Iterable[int]) -> dict[int, SourceTimecode]:
        """The source timecode of each of these files that has been read, by media id."""
        with self._read_engine.connect() as connection:
            return timecodes.by_media(connection, media_ids)

    def timecodes_by_path(self, paths: Iterable[str]) -> dict[str, SourceTimecode]:
        """The source timecode of each of these indexed files that has been read, by path."""
        with self._read_engine.connect() as connection:
            return timecodes.by_path(connection, paths)

    def timecode_read_ids(self) -> set[int]:
        """The media ids whose source timecode has been read (one query, for the index run)."""
        with self._read_engine.connect() as connection:
            return timecodes.read_ids(connection)

    def has_audio_fingerprint(self, media_id: int, version: int) -> bool:
        with self._read_engine.connect() as connection:
            return audio_prints.has(connection, media_id, version)

    def audio_fingerprints(self, kinds: tuple[str, ...] | None = None) -> Iterator[StoredFingerprint]:
        """Every indexed file's audio fingerprint, streamed (one read transaction)."""
        with self._read_engine.connect() as connection:
            yield from audio_prints.iterate(connection, kinds)

    # -- what duplicate grouping keeps (duplicate_books.py) -----------------------------------------

    def grouped_media(
        self, kinds: tuple[str, ...], paired: Iterable[int] | None = None
    ) -> duplicate_books.GroupedMedia:
        """Every indexed file of these kinds by path (id, path, kind, content hash), as columns;
        with `paired` (media ids), only files sharing a content hash and those."""
        with self._read_engine.connect() as connection:
            return duplicate_books.grouped_media(connection, kinds, paired)

    def fingerprint_entries(self, kinds: tuple[str, ...]) -> list[duplicate_books.FingerprintEntry]:
        """Every indexed file's stored fingerprint of these kinds, without its codes."""
        with self._read_engine.connect() as connection:
            return duplicate_books.fingerprint_entries(connection, kinds)

    def fingerprint_codes(self, media_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The codes of these files' fingerprints (a damaged blob is left out)."""
        with self._read_engine.connect() as connection:
            return duplicate_books.codes_of(connection, media_ids)

    def saved_duplicates(self, kind: str) -> duplicate_books.SavedDuplicates | None:
        """What the last `pe-search duplicates` run kept for this kind, or None."""
        with self._read_engine.connect() as connection:
            return duplicate_books.saved(connection, kind)

    def duplicate_segments(self, kind: str, book: str) -> list[duplicate_books.Postings]:
        with self._read_engine.connect() as connection:
            return duplicate_books.segments(connection, kind, book)

    def missing_audio_fingerprints(self, version: int) -> int:
        with self._read_engine.connect() as connection:
            return audio_prints.missing(connection, version)

    # -- frame blocks -----------------------------------------------------------------------------

    def frame_slice(
        self, media_id: int, space: str, start: float | None = None, end: float | None = None
    ) -> FrameSlice | None:
        """The frames of one file's block in `space` overlapping [start, end] (only that slice
        of the block is read), or None if the file has no block there."""
        with Session(self._read_engine) as session:
            return self.frames.read(session, media_id, space, start, end)

    def frame_blocks(
        self, space: str, media_ids: list[int] | None = None
    ) -> list[tuple[FrameBlockInfo, Callable[..., FrameSlice]]]:
        """Every block of `space` (or of these files), each with `read(start=None, end=None)`
        for a slice of it, from one snapshot."""
        with Session(self._read_engine) as session:
            return self.frames.read_many(session, space, media_ids)

    def frame_counts(self) -> dict[str, int]:
        """Live frames per frame space (stored as blocks)."""
        with Session(self._read_engine) as session:
            return self.frames.counts(session)


def media_info(row) -> MediaInfo:
    """A `media_files` row as the record other layers see."""
    return MediaInfo(
        id=row.id,
        path=row.path,
        size=row.size,
        mtime=row.mtime,
        content_hash=row.content_hash,
        duration=row.duration,
        has_audio=bool(row.has_audio),
        has_video=bool(row.has_video),
        status=row.status,
        error=row.error,
    )
