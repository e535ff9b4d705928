"""A library directory opened for reading or writing: SQLite and one FAISS index per space kept
consistent, whatever moment a previous process was killed at.

    store = LibraryStore.open(library_dir, identity)      # creates, migrates, checks, repairs
    with store.write() as tx:                                 # one unit per media file
        media_id = tx.upsert_media(MediaRecord(path=..., size=..., mtime=...))
        segment_ids = tx.add_segments(media_id, [SegmentRecord(0.0, 10.0, "clip")])
        ids = tx.add_vectors("audio", segment_ids, vectors)  # float32 [n, d] -> stable ids
    hits = store.search("audio", queries, k=10, filters=SearchFilter(kinds=("video",)))

One process writes (an exclusive lock file; one transaction at a time within it); any number of
processes read (`readonly=True`): each read transaction sees one committed SQLite snapshot and
their in-memory indexes catch up with it before a search.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from pe_search.store import audio_prints, text_index
from pe_search.store.audio_prints import StoredFingerprint
from pe_search.store.database import check_revision, current_revision, open_engine, upgrade
from pe_search.store.errors import LibraryDamagedError, LibraryNotFoundError, ModelMismatchError
from pe_search.store.filters import SearchFilter
from pe_search.store.frame_blocks import FrameSlice
from pe_search.store.frame_store import FrameBlockInfo, FramePolicy, FrameStore
from pe_search.store.identity import ModelIdentity
from pe_search.store.layout import LibraryLayout
from pe_search.store.lock import WriterLock
from pe_search.store.policy import IndexPolicy
from pe_search.store.records import LibraryStatus, MediaInfo, SearchHit, SegmentVectors, SpaceStatus
from pe_search.store.schema import (
    IndexSettingsRow,
    IndexState,
    MediaFile,
    ModelIdentityRow,
    Segment,
    Vector,
)
from pe_search.store.space_index import SpaceIndex, SpaceState
from pe_search.store.transaction import SpaceCommit, VectorSink, WriteTransaction
from pe_search.store.vector_file import VectorFile
from pe_search.store.vectors import IndexSpec

log = logging.getLogger(__name__)

JOIN_CHUNK = 900  # ids per IN (...) when joining hits to their rows
# Vector files up to this size are checksummed whenever a library is opened (about 0.1 s per
# 256 MB from the page cache); longer ones are checked by length.
VERIFY_VECTORS_BYTES = 256 << 20


class LibraryStore:
    """Use `LibraryStore.open(...)`; close it (or use it as a context manager) when done."""

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
        self._write_engine = None
        self._read_engine = None
        self._spaces: dict[str, SpaceIndex] = {}
        self._spaces_lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._writer_thread: int | None = None

    # -- opening ----------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        library_dir: str | Path,
        identity: ModelIdentity | None = None,
        *,
        create: bool = True,
        readonly: bool = False,
        rebuild: bool = False,
        policy: IndexPolicy | None = None,
        frame_policy: FramePolicy | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> LibraryStore:
        """Open (and with `create`, make) the library in `library_dir`.

        Applies pending migrations, refuses an `identity` other than the one that built the
        library (unless `rebuild`, which drops every vector and marks every file pending), and
        brings each space's index up to date with SQLite, rebuilding it from the stored vectors
        when it is missing or unreadable; `store.messages` says what was repaired. A library
        with frame rows of an older format has them converted into blocks (`progress` hears how
        far that has got).
        """
        layout = LibraryLayout(Path(library_dir))
        if not layout.exists():
            if readonly or not create:
                raise LibraryNotFoundError(layout.root)
            layout.vectors_dir.mkdir(parents=True, exist_ok=True)
        store = cls(layout, policy or IndexPolicy(), readonly=readonly, frame_policy=frame_policy)
        try:
            store._open(identity, rebuild, progress)
        except BaseException:
            store.close(save=False)
            raise
        return store

    def _open(
        self, identity: ModelIdentity | None, rebuild: bool, progress: Callable[[str], None] | None
    ) -> None:
        database = self.layout.database
        if not self.readonly:
            self._lock = WriterLock(self.layout.lock)
            self._lock.acquire()
            self._write_engine = open_engine(database, writer=True)
            before = current_revision(self._write_engine)
            applied = upgrade(self._write_engine)
            if applied and before is not None:
                self._say(f"upgraded the library's schema from {before} to {applied[-1]}")
        self._read_engine = open_engine(database, writer=False)
        if self.readonly:
            check_revision(self._read_engine)
        self._check_model(identity, rebuild)
        if not self.readonly:
            self._remove_leftovers()
            from pe_search.store.frame_migration import convert_frame_rows

            for message in convert_frame_rows(self, progress):
                self._say(message)
        self._load_spaces()

    def _check_model(self, identity: ModelIdentity | None, rebuild: bool) -> None:
        stored = self._stored_identity()
        if stored is not None and identity is not None:
            difference = stored.difference(identity)
            if difference is not None:
                if not rebuild or self.readonly:
                    raise ModelMismatchError(self.layout.root, difference)
                self._reset_for_model(identity, difference)
                stored = identity
        elif stored is None and identity is not None and not self.readonly:
            with self._session() as session:
                session.add(_identity_row(identity))
                session.commit()
            stored = identity
        self.identity = stored or identity

    def _stored_identity(self) -> ModelIdentity | None:
        with self._read_engine.connect() as connection:
            row = connection.execute(select(ModelIdentityRow).where(ModelIdentityRow.id == 1)).first()
        return ModelIdentity.from_json(row._asdict()) if row is not None else None

    def _reset_for_model(self, identity: ModelIdentity, difference: str) -> None:
        """Drop every vector and segment, keep the files' rows as pending, record the new model."""

        def record(session: Session) -> None:
            session.execute(delete(ModelIdentityRow))
            session.add(_identity_row(identity))

        self._drop_encodings(f"model changed ({difference})", record)

    def _drop_encodings(self, reason: str, also: Callable[[Session], None] | None = None) -> None:
        """Every vector and segment goes, the files' rows stay as pending (to be encoded again);
        `also` writes in the same transaction."""
        with self._session() as session:
            vectors = session.scalar(select(func.count()).select_from(Vector)) or 0
            files = session.scalar(select(func.count()).select_from(MediaFile)) or 0
            session.execute(delete(Vector))
            session.execute(delete(Segment))
            session.execute(delete(IndexState))
            self.frames.drop_all(session)
            session.execute(update(MediaFile).values(status="pending", error=None))
            if also is not None:
                also(session)
            session.commit()
        with self._spaces_lock:
            for space in self._spaces.values():
                space.close()
            self._spaces.clear()
        self.layout.vectors_dir.mkdir(exist_ok=True)
        for path in self.layout.vectors_dir.iterdir():
            path.unlink()
        self.frames.close()
        with self._session() as session:
            self.frames.remove_leftovers(session)
        self._say(f"{reason}: dropped {vectors} vectors; {files} files are pending, to be encoded again")

    # ------------------------------------------------------------------ index settings
    def index_settings(self) -> dict | None:
        """The settings the library's files were indexed with (as the indexer recorded them)."""
        with self._read_engine.connect() as connection:
            row = connection.execute(
                select(IndexSettingsRow.settings).where(IndexSettingsRow.id == 1)
            ).first()
        return dict(row.settings) if row is not None else None

    def record_index_settings(self, settings: dict, reason: str | None = None) -> None:
        """Record `settings`; with `reason` (they changed), drop every encoding first."""
        self._require_writer()

        def record(session: Session) -> None:
            session.execute(delete(IndexSettingsRow))
            session.add(IndexSettingsRow(id=1, settings=dict(settings)))

        if reason is not None:
            self._drop_encodings(reason, record)  # one transaction: no half-changed library
            return
        with self._session() as session:
            record(session)
            session.commit()

    def _remove_leftovers(self) -> None:
        """Temporary files of interrupted saves, and files of spaces the database no longer has."""
        with self._read_engine.connect() as connection:
            spaces = set(connection.scalars(select(IndexState.space)))
        self.layout.vectors_dir.mkdir(exist_ok=True)
        for path in sorted(self.layout.vectors_dir.iterdir()):
            if path.suffix == ".tmp" or (path.suffix in (".f32", ".index") and path.stem not in spaces):
                log.info("removing leftover %s", path)
                path.unlink()
        with self._session() as session:
            self.frames.remove_leftovers(session)

    def _check_vector_files(self) -> None:
        """Compare each space's vector file with what SQLite says it holds (its length and, for
        files up to VERIFY_VECTORS_BYTES, its checksum). A reader refuses a damaged file
        in one line; a writer drops the space and marks its files pending, so this run (or the
        next) encodes them again, and says so."""
        with self._read_engine.connect() as connection:
            rows = connection.execute(
                select(IndexState.space, IndexState.dim, IndexState.next_vector_id, IndexState.vectors_crc32)
            ).all()
        for row in rows:
            path = self.layout.vector_file(row.space)
            problem = VectorFile(path, row.dim, writable=False).problem(
                row.next_vector_id, row.vectors_crc32, VERIFY_VECTORS_BYTES
            )
            if problem is None:
                continue
            where = f"{path} {problem}"
            if self.readonly:
                raise LibraryDamagedError(
                    f"{where}: run `pe-search index` on your folders to encode the files whose "
                    "vectors are lost again (or restore the library from a backup)"
                )
            files = self._drop_space(row.space)
            self._say(
                f"{where}: dropped the {row.space} vectors; {files} files are pending, to be encoded again"
            )

    def _drop_space(self, space: str) -> int:
        """Forget a space whose vectors are lost: its files' segments go (with their vectors in
        every space) and the files become pending; returns how many files."""
        with self._session() as session:
            media_ids = list(
                session.scalars(
                    select(Segment.media_file_id)
                    .join(Vector, Vector.segment_id == Segment.id)
                    .where(Vector.space == space)
                    .distinct()
                )
            )
            session.execute(delete(Vector).where(Vector.space == space))
            session.execute(delete(IndexState).where(IndexState.space == space))
            for start in range(0, len(media_ids), JOIN_CHUNK):
                chunk = media_ids[start : start + JOIN_CHUNK]
                session.execute(delete(Segment).where(Segment.media_file_id.in_(chunk)))
                session.execute(
                    update(MediaFile).where(MediaFile.id.in_(chunk)).values(status="pending", error=None)
                )
            for other in session.scalars(select(IndexState)):
                other.count = session.scalar(
                    select(func.count()).select_from(Vector).where(Vector.space == other.space)
                )
                other.generation += 1  # the indexes catch up with the live ids on load
            session.commit()
        for path in (self.layout.vector_file(space), self.layout.index_file(space)):
            path.unlink(missing_ok=True)
        return len(media_ids)

    def _load_spaces(self) -> None:
        self._check_vector_files()
        with self._read_engine.connect() as connection:
            states = [_space_state(row) for row in connection.execute(select(IndexState))]
        for state in states:
            space = self._new_space(state.space, state.dim)
            with self._read_engine.connect() as connection:
                messages = space.load(state, lambda s=state.space, c=connection: _live_ids(c, s))
            for message in messages:
                self._say(message)
            if not self.readonly:
                self._maintain(space, state.count)
                if space.dirty:
                    self._save(space)

    def _new_space(self, name: str, dim: int) -> SpaceIndex:
        with self._spaces_lock:
            space = SpaceIndex(self.layout, name, dim, self.policy, writable=not self.readonly)
            self._spaces[name] = space
            return space

    # -- writing ----------------------------------------------------------------------------------

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

    def _after_commit(self, committed: dict[str, SpaceCommit], frame_spaces: set[str]) -> None:
        """Bring the in-memory indexes to the committed state; switch types and save as due."""
        for name, change in committed.items():
            space = self._spaces[name]
            vectors = change.added_vectors
            if vectors is None:
                vectors = np.zeros((0, space.dim), np.float32)
            space.apply(change.added_ids, vectors, change.removed_ids, change.generation)
            if self._maintain(space, change.count) or space.should_save():
                self._save(space)
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

    def _maintain(self, space: SpaceIndex, count: int) -> bool:
        def live() -> np.ndarray:
            with self._read_engine.connect() as connection:
                return _live_ids(connection, space.space)

        message = space.maintain(count, live)
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

    def checkpoint(self, crash_at: str | None = None) -> None:
        """Save every index that has unsaved changes (opening would otherwise catch them up).

        `crash_at` (tests) stops each save at that step of `atomic_write`.
        """
        self._require_writer()
        with self._write_lock:
            for space in list(self._spaces.values()):
                if space.dirty:
                    self._save(space, crash_at=crash_at)

    # -- reading ----------------------------------------------------------------------------------

    def segment_vectors(
        self, media_id: int, space: str, start: float | None = None, end: float | None = None
    ) -> SegmentVectors:
        """Vectors of `space` for one media file whose segments overlap [start, end], by start time.

        Frames stored as a block come from the slice of the block the window needs (vector ids
        are then the frames' positions in the block)."""
        frames = self.frame_slice(media_id, space, start, end)
        if frames is not None:
            return SegmentVectors(
                frames.starts, frames.ends, frames.vectors(), frames.first + np.arange(len(frames))
            )
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

    def search_text(
        self, query: str, limit: int = 50, filters: SearchFilter | None = None
    ) -> list[text_index.TextMatch]:
        """Text entries (names, folders, tags, subtitles, .txt) matching the query's words, best first."""
        with self._read_engine.connect() as connection:
            return text_index.search(connection, query, limit, filters)

    def text_entries(self, media_id: int) -> list[text_index.TextEntryRecord]:
        with self._read_engine.connect() as connection:
            return text_index.entries_of(connection, media_id)

    def text_signature(self, media_id: int) -> str | None:
        """What the file's text entries were read from (None: never read)."""
        with self._read_engine.connect() as connection:
            return text_index.signature_of(connection, media_id)

    def side_data_state(self) -> tuple[dict[int, str], dict[int, int]]:
        """({media id: text signature}, {media id: fingerprint version}) of every file, in one read."""
        with self._read_engine.connect() as connection:
            return text_index.signatures(connection), audio_prints.versions(connection)

    def has_audio_fingerprint(self, media_id: int, version: int) -> bool:
        with self._read_engine.connect() as connection:
            return audio_prints.has(connection, media_id, version)

    def audio_fingerprints(self, kinds: tuple[str, ...] | None = None) -> Iterator[StoredFingerprint]:
        """Every indexed file's audio fingerprint, streamed (one read transaction)."""
        with self._read_engine.connect() as connection:
            yield from audio_prints.iterate(connection, kinds)

    def missing_audio_fingerprints(self, version: int) -> int:
        with self._read_engine.connect() as connection:
            return audio_prints.missing(connection, version)

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
        return _media_info(row) if row is not None else None

    def find_media_by_hash(self, content_hash: str) -> list[MediaInfo]:
        with self._read_engine.connect() as connection:
            rows = connection.execute(
                select(MediaFile).where(MediaFile.content_hash == content_hash).order_by(MediaFile.id)
            ).all()
        return [_media_info(row) for row in rows]

    def iter_media(self, path_prefix: str | None = None) -> Iterator[MediaInfo]:
        """Every media file (optionally under a path prefix), ordered by path."""
        query = select(MediaFile).order_by(MediaFile.path)
        if path_prefix is not None:
            query = query.where(*SearchFilter(path_prefix=path_prefix).conditions())
        with self._read_engine.connect() as connection:
            rows = connection.execute(query).all()
        yield from (_media_info(row) for row in rows)

    def get_media(self, media_id: int) -> MediaInfo | None:
        """The media file with this row id (the opaque file id the HTTP server hands out)."""
        with self._read_engine.connect() as connection:
            row = connection.execute(select(MediaFile).where(MediaFile.id == media_id)).first()
        return _media_info(row) if row is not None else None

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
        return total, [_media_info(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Live vectors per space."""
        with self._read_engine.connect() as connection:
            return {
                space: count
                for space, count in connection.execute(select(IndexState.space, IndexState.count))
            }

    def vectors(self, space: str, ids: np.ndarray) -> np.ndarray:
        """The stored full-precision vectors of these ids (for re-ranking, spans, migration)."""
        handle = self._synced(space)
        if handle is None:
            raise KeyError(f"the library has no {space!r} vectors")
        return handle.file.read(np.asarray(ids, dtype=np.int64))

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

    def _synced(self, name: str) -> SpaceIndex | None:
        """The space's index, first brought to the newest committed generation (another process
        may have written since): reload a newer saved file, or catch up from the stored vectors."""
        with self._read_engine.connect() as connection:
            row = connection.execute(select(IndexState).where(IndexState.space == name)).first()
            if row is None:
                return None
            state = _space_state(row)
            with self._spaces_lock:
                space = self._spaces.get(name)
                if space is None:
                    space = self._new_space(name, state.dim)
                    space.load(state, lambda: _live_ids(connection, name))
                    return space
            # Never go back: a snapshot older than the index (a commit landed meanwhile) is fine
            # to search with, since hits are joined to rows afterwards. -1 means unknown.
            if space.generation >= state.generation:
                return space
            with space.lock:
                if space.generation >= state.generation:
                    return space
                if row.saved_generation > space.generation:
                    for message in space.load(state, lambda: _live_ids(connection, name)):
                        log.info(message)
                else:
                    space.catch_up(state.generation, _live_ids(connection, name))
        return space

    # -- status -----------------------------------------------------------------------------------

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
                index_bytes=held.index.nbytes() if held else 0,
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
        )

    @property
    def spaces(self) -> list[str]:
        return sorted(self.counts())

    # -- closing ----------------------------------------------------------------------------------

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

    def __enter__(self) -> LibraryStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------------------------

    def require_identity(self) -> ModelIdentity:
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


def _live_ids(connection: Connection, space: str) -> np.ndarray:
    result = connection.exec_driver_sql(
        "SELECT vector_id FROM vectors WHERE space = ? ORDER BY vector_id", (space,)
    )
    return np.fromiter((row[0] for row in result), dtype=np.int64)


def _space_state(row) -> SpaceState:
    return SpaceState(
        space=row.space,
        dim=row.dim,
        generation=row.generation,
        count=row.count,
        spec=IndexSpec(row.index_type, dict(row.index_params)),
    )


def _identity_row(identity: ModelIdentity) -> ModelIdentityRow:
    data = identity.to_json()
    return ModelIdentityRow(id=1, **data)


def _media_info(row) -> MediaInfo:
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
