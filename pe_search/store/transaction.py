"""One write transaction: a media file's row, its segments and its vectors, committed as one unit.

Vectors are written to their space's file at freshly allocated ids before the commit and fsynced
with it, so once SQLite says an id is live its vector is on disk; if the process dies before the
commit, the ids were never live and the next transaction overwrites those rows. The in-memory
FAISS indexes follow only after the commit: `finish` returns what changed in each space
(`SpaceCommit`), and the store applies it (`Writing._after_commit` in store/writing.py). The
transaction knows the store only through `VectorSink`, so the store imports the transaction and
never the reverse.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from pe_search.media.timecode import SourceTimecode
from pe_search.store import audio_prints, checksums, tags, text_index, timecodes, transcripts
from pe_search.store.frame_codes import DEFAULT_FRAME_CODES
from pe_search.store.frame_store import FrameStore
from pe_search.store.layout import check_space_name
from pe_search.store.policy import IndexPolicy
from pe_search.store.records import MediaRecord, SegmentRecord
from pe_search.store.schema import (
    MEDIA_STATUSES,
    SEGMENT_LEVELS,
    IndexState,
    MediaFile,
    Segment,
    Vector,
    VectorChunk,
)
from pe_search.store.tags import FileTagsRecord
from pe_search.store.text_index import TextEntryRecord
from pe_search.store.transcripts import TranscriptRecord
from pe_search.store.vector_file import VectorFile


@dataclass(frozen=True)
class VectorSink:
    """What a transaction needs from the store to write vectors."""

    dim: Callable[[], int]  # the library's vector size (raises when no model is recorded yet)
    policy: IndexPolicy  # picks the index type of a new space
    vector_file: Callable[[str], VectorFile]  # a space's vector file, made on first use
    frames: FrameStore  # the frame spaces' blocks


@dataclass(frozen=True)
class SpaceCommit:
    """What one committed transaction changed in one space, for the in-memory index to follow."""

    added_ids: np.ndarray  # int64
    added_vectors: np.ndarray | None  # float32 (n, dim); None when nothing was added
    removed_ids: np.ndarray  # int64
    generation: int
    count: int


class WriteTransaction:
    """Use through `LibraryStore.write()`; every method runs inside the one SQLite transaction."""

    def __init__(self, sink: VectorSink, session: Session) -> None:
        self._sink = sink
        self.session = session
        self._next_id: dict[str, int] = {}
        self._crc: dict[str, int | None] = {}  # running CRC-32 of each space's committed rows
        self._chunks: dict[str, dict[int, int]] = {}  # CRC-32 of each chunk this transaction extends
        self._count_delta: dict[str, int] = defaultdict(int)
        self.added: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        self.removed: dict[str, list[np.ndarray]] = defaultdict(list)
        self.generations: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.frame_spaces: set[str] = set()  # frame spaces whose blocks this transaction changed

    # -- media ------------------------------------------------------------------------------------

    def media_id(self, path: str) -> int | None:
        """The id of the file at `path`, or None."""
        return self.session.scalar(select(MediaFile.id).where(MediaFile.path == path))

    def upsert_media(self, media: MediaRecord) -> int:
        """Insert or update the row for `media.path`; returns its id. Segments are left alone."""
        if media.status not in MEDIA_STATUSES:
            raise ValueError(f"status must be one of {MEDIA_STATUSES}, got {media.status!r}")
        row = self.session.scalar(select(MediaFile).where(MediaFile.path == media.path))
        if row is None:
            row = MediaFile(path=media.path)
            self.session.add(row)
        row.size = media.size
        row.mtime = media.mtime
        row.content_hash = media.content_hash
        row.duration = media.duration
        row.has_audio = media.has_audio
        row.has_video = media.has_video
        row.status = media.status
        row.error = media.error
        row.kind = media.kind
        self.session.flush()
        return row.id

    def move_media(self, media_id: int, new_path: str) -> None:
        """Give a file a new path; its segments and vectors stay as they are."""
        taken = self.media_id(new_path)
        if taken is not None and taken != media_id:
            raise ValueError(f"{new_path} is already in the library (media {taken}): delete it first")
        moved = self.session.execute(update(MediaFile).where(MediaFile.id == media_id).values(path=new_path))
        if moved.rowcount != 1:
            raise KeyError(f"no media file with id {media_id}")
        text_index.rename_entries(self.session, media_id, new_path)

    def set_timecode(self, media_id: int, timecode: SourceTimecode) -> None:
        """Keep the file's source timecode as the media layer read it (replacing any before)."""
        timecodes.put(self.session, media_id, timecode)

    def set_tags(self, media_id: int, record: FileTagsRecord | None) -> None:
        """Replace the file's tags with `record` (None: drop them; the next update tags it)."""
        if record is None:
            tags.drop(self.session, media_id)
        else:
            tags.put(self.session, media_id, record)

    def set_text(self, media_id: int, entries: Sequence[TextEntryRecord], signature: str | None) -> None:
        """Replace the file's text entries (full-text search); `signature`: what they were read from."""
        text_index.replace_entries(self.session, media_id, list(entries), signature)

    def set_transcript(self, media_id: int, record: TranscriptRecord) -> None:
        """Replace the file's transcript: its phrases become text entries of field "transcript"
        (timed as the phrase), each phrase's words and times kept beside its entry."""
        transcripts.put(self.session, media_id, record)

    def clear_transcript(self, media_id: int) -> None:
        """Drop the file's transcript (its phrase entries and their words)."""
        transcripts.drop(self.session, media_id)

    def set_audio_fingerprint(
        self, media_id: int, codes: np.ndarray | None, content_hash: str | None, version: int
    ) -> None:
        """Replace the file's audio fingerprint (None: the file has none, e.g. no sound)."""
        if codes is None:
            audio_prints.drop(self.session, media_id)
        else:
            audio_prints.put(self.session, media_id, codes, content_hash, version)

    def delete_media(self, media_id: int) -> int:
        """Delete a file with its segments and vectors; returns how many vectors went."""
        removed = self.delete_segments(media_id)
        self.session.execute(delete(MediaFile).where(MediaFile.id == media_id))
        return removed

    # -- segments and vectors -----------------------------------------------------------------------

    def add_segments(self, media_id: int, segments: Sequence[SegmentRecord]) -> list[int]:
        """Insert segments of a media file; returns their ids in the order given."""
        if not segments:
            return []
        rows = []
        for segment in segments:
            if segment.level not in SEGMENT_LEVELS:
                raise ValueError(f"level must be one of {SEGMENT_LEVELS}, got {segment.level!r}")
            if segment.end < segment.start:
                raise ValueError(f"segment ends before it starts: {segment}")
            rows.append(
                {
                    "media_file_id": media_id,
                    "start_s": segment.start,
                    "end_s": segment.end,
                    "level": segment.level,
                }
            )
        result = self.session.execute(
            insert(Segment).returning(Segment.id, sort_by_parameter_order=True), rows
        )
        return [row[0] for row in result]

    def delete_segments(self, media_id: int) -> int:
        """Delete a file's segments, their vectors, its frame blocks and its tags (before encoding it again)."""
        self.frame_spaces.update(self._sink.frames.remove(self.session, media_id))
        tags.drop(self.session, media_id)  # tags come from the segments' vectors
        segment_ids = select(Segment.id).where(Segment.media_file_id == media_id).scalar_subquery()
        doomed = self.session.execute(
            select(Vector.space, Vector.vector_id).where(Vector.segment_id.in_(segment_ids))
        ).all()
        self.session.execute(delete(Vector).where(Vector.segment_id.in_(segment_ids)))
        self.session.execute(delete(Segment).where(Segment.media_file_id == media_id))
        by_space: dict[str, list[int]] = defaultdict(list)
        for space, vector_id in doomed:
            by_space[space].append(vector_id)
        for space, ids in by_space.items():
            self._touch(space)
            self.removed[space].append(np.asarray(ids, dtype=np.int64))
            self._count_delta[space] -= len(ids)
        return len(doomed)

    def add_vectors(self, space: str, segment_ids: Sequence[int], vectors: np.ndarray) -> np.ndarray:
        """Store one vector per segment in `space`; returns their new, stable vector ids."""
        check_space_name(space)
        dim = self._sink.dim()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"{space}: expected vectors of shape (n, {dim}), got {vectors.shape}")
        if len(segment_ids) != len(vectors):
            raise ValueError(f"{space}: {len(vectors)} vectors for {len(segment_ids)} segments")
        if not len(vectors):
            return np.zeros(0, dtype=np.int64)
        if not np.isfinite(vectors).all():
            raise ValueError(f"{space}: vectors contain NaN or infinity")
        start = self._touch(space)
        ids = np.arange(start, start + len(vectors), dtype=np.int64)
        self._sink.vector_file(space).write(start, vectors)
        if self._crc[space] is not None:
            self._crc[space] = zlib.crc32(memoryview(vectors).cast("B"), self._crc[space])
        row_bytes = 4 * dim
        checksums.extend_chunks(self._chunk_crcs(space, start, row_bytes), start * row_bytes, vectors)
        self.session.execute(
            insert(Vector),
            [
                {"space": space, "vector_id": int(i), "segment_id": int(s)}
                for i, s in zip(ids.tolist(), segment_ids, strict=True)
            ],
        )
        self._next_id[space] = start + len(vectors)
        self._count_delta[space] += len(vectors)
        self.added[space].append((ids, vectors))
        return ids

    def put_frames(
        self,
        media_id: int,
        space: str,
        starts: np.ndarray,
        ends: np.ndarray,
        vectors: np.ndarray,
        codes: str = DEFAULT_FRAME_CODES,
    ) -> int:
        """Store a file's frames of `space` (time order) as one block, replacing its old one;
        `codes` is the library's frame code (f32, sq8 or pq; sq8 unless the library chose
        another). Returns the number of frames."""
        dim = self._sink.dim()
        info = self._sink.frames.write(self.session, media_id, space, starts, ends, vectors, dim, codes)
        self.frame_spaces.add(space)
        return info.count

    # -- bookkeeping ------------------------------------------------------------------------------

    def _touch(self, space: str) -> int:
        """Mark `space` changed by this transaction; returns its next free vector id."""
        if space not in self._next_id:
            state = self.session.get(IndexState, space)
            if state is None:
                dim = self._sink.dim()
                spec = self._sink.policy.choose(0, dim)
                state = IndexState(
                    space=space,
                    dim=dim,
                    next_vector_id=0,
                    generation=0,
                    count=0,
                    index_type=spec.kind,
                    index_params=dict(spec.params),
                    saved_generation=-1,
                    vectors_crc32=0,
                )
                self.session.add(state)
                self.session.flush()
            self._next_id[space] = state.next_vector_id
            self._crc[space] = state.vectors_crc32
        return self._next_id[space]

    def _chunk_crcs(self, space: str, start: int, row_bytes: int) -> dict[int, int]:
        """The chunk CRCs of `space` this transaction continues, starting with the CRC of the
        chunk holding row `start` as recorded (or, when not recorded, as its committed rows are
        on disk: at most one chunk read, once)."""
        chunks = self._chunks.get(space)
        if chunks is None:
            chunks = self._chunks[space] = {}
            index, into = divmod(start * row_bytes, checksums.CHUNK_BYTES)
            if into:
                crc = self.session.get(VectorChunk, (space, index))
                if crc is not None:
                    chunks[index] = crc.crc32
                else:
                    first = index * checksums.CHUNK_BYTES // row_bytes
                    rows = self._sink.vector_file(space).view(start)[first:start]
                    chunks[index] = zlib.crc32(memoryview(rows).cast("B"))
        return chunks

    @property
    def touched(self) -> list[str]:
        return list(self._next_id)

    def finish(self) -> dict[str, SpaceCommit]:
        """Bump each touched space's generation and count, make vectors durable, commit; returns
        what changed in each touched space."""
        for space in self.touched:
            self.session.execute(
                update(IndexState)
                .where(IndexState.space == space)
                .values(
                    next_vector_id=self._next_id[space],
                    count=IndexState.count + self._count_delta[space],
                    generation=IndexState.generation + 1,
                    vectors_crc32=self._crc[space],
                )
            )
            generation, count = self.session.execute(
                select(IndexState.generation, IndexState.count).where(IndexState.space == space)
            ).one()
            self.generations[space], self.counts[space] = generation, count
        for space, chunks in self._chunks.items():
            for index, crc in chunks.items():
                self.session.merge(VectorChunk(space=space, chunk=index, crc32=crc))
        for space in self.added:
            self._sink.vector_file(space).sync()
        self._sink.frames.sync(self.frame_spaces)
        self.session.commit()
        return {space: self._commit_of(space) for space in self.touched}

    def _commit_of(self, space: str) -> SpaceCommit:
        added = self.added.get(space, [])
        removed = self.removed.get(space, [])
        return SpaceCommit(
            added_ids=np.concatenate([ids for ids, _ in added]) if added else np.zeros(0, np.int64),
            added_vectors=np.concatenate([v for _, v in added]) if added else None,
            removed_ids=np.concatenate(removed) if removed else np.zeros(0, np.int64),
            generation=self.generations[space],
            count=self.counts[space],
        )
