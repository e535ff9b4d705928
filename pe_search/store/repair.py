"""Repairs a writer makes while opening a library (and when the model or the settings change):
leftover files of interrupted saves go, a space whose vectors file is damaged is dropped and its
files become pending, and every encoding can be dropped at once. A reader refuses a damaged
library in one line instead.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pe_search.errors import Option
from pe_search.store import checksums, ivf_build, scrub, tags
from pe_search.store.core import JOIN_CHUNK
from pe_search.store.errors import LibraryDamagedError
from pe_search.store.index_file import data_files
from pe_search.store.schema import IndexState, MediaFile, ScrubState, Segment, Vector, VectorChunk
from pe_search.store.text_repair import rebuild_text_index, text_index_damaged
from pe_search.store.vector_file import VectorFile
from pe_search.store.writing import Writing

log = logging.getLogger(__name__)

# Checksummed bytes (vector chunks and frame blocks) one open verifies at most, in turn (see
# store/checksums.py): about 0.25 s from the page cache. A library under it is verified whole.
VERIFY_VECTORS_BYTES = checksums.VERIFY_BYTES
# What re-encodes lost vectors: `pe-search index` on the command line, `Library.index` in the API.
INDEX = Option("Library.index", flag="`pe-search index`")


class Repair(Writing):
    """What opening repairs; every step is a write of its own."""

    def _drop_encodings(self, reason: str, also: Callable[[Session], None] | None = None) -> None:
        """Every vector and segment goes, the files' rows stay as pending (to be encoded again);
        `also` writes in the same transaction."""
        with self._session() as session:
            vectors = session.scalar(select(func.count()).select_from(Vector)) or 0
            files = session.scalar(select(func.count()).select_from(MediaFile)) or 0
            session.execute(delete(Vector))
            session.execute(delete(Segment))
            session.execute(delete(IndexState))
            session.execute(delete(VectorChunk))
            self.frames.drop_all(session)
            tags.drop_all(session)
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
            shutil.rmtree(path) if path.is_dir() else path.unlink()  # an IVF build's folder too
        self.frames.close()
        with self._session() as session:
            self.frames.remove_leftovers(session)
        self._say(f"{reason}: dropped {vectors} vectors; {files} files are pending, to be encoded again")

    def _repair_text_index(self) -> None:
        """Rebuild the full-text index in place when FTS5 finds its rows damaged: it is worked
        out again from the text entries, so nothing is lost and nothing is re-encoded."""
        with self._write_engine.begin() as connection:  # BEGIN IMMEDIATE: the writer's lock
            damaged = text_index_damaged(connection)
            if damaged:
                rebuild_text_index(connection)
        if damaged:
            self._say(
                "the full-text index (names, tags, subtitles) was damaged: rebuilt it from the text entries"
            )

    def _remove_leftovers(self) -> None:
        """Temporary files of interrupted saves, and files of spaces the database no longer has."""
        with self._read_engine.connect() as connection:
            spaces = set(connection.scalars(select(IndexState.space)))
        self.layout.vectors_dir.mkdir(exist_ok=True)
        for path in sorted(self.layout.vectors_dir.iterdir()):
            if path.suffix == ".tmp" or (path.suffix in (".f32", ".index") and path.stem not in spaces):
                log.info("removing leftover %s", path)
                path.unlink()
        for space in {p.name.split(".")[0] for p in self.layout.vectors_dir.iterdir()} - spaces:
            # the IVF data files and build folder of a space the library no longer has
            index_path = self.layout.vectors_dir / f"{space}.index"
            for path in data_files(index_path):
                path.unlink()
            ivf_build.discard(index_path)
        with self._session() as session:
            self.frames.remove_leftovers(session)

    def _check_stored_vectors(self) -> None:
        """Check the vector files and frame blocks against what SQLite says they hold: lengths
        and sizes always, checksums of at most VERIFY_VECTORS_BYTES of them (all of a small
        library; a large one in turn, from where the last writer's open stopped)."""
        with Session(self._read_engine) as session:
            states = session.execute(
                select(IndexState.space, IndexState.dim, IndexState.next_vector_id, IndexState.vectors_crc32)
            ).all()
            chunks: dict[str, dict[int, int]] = {}
            for space, chunk, crc in session.execute(
                select(VectorChunk.space, VectorChunk.chunk, VectorChunk.crc32)
            ):
                chunks.setdefault(space, {})[chunk] = crc
            units = [
                (("vectors", row.space, chunk), _chunk_bytes(row, chunk))
                for row in states
                for chunk in sorted(chunks.get(row.space, {}))
                if chunk * checksums.CHUNK_BYTES < row.next_vector_id * 4 * row.dim
            ]
            units += self.frames.checksummed(session)
            position = session.scalar(select(ScrubState.position).where(ScrubState.id == 1)) or 0
        plan = scrub.plan(units, position, VERIFY_VECTORS_BYTES)
        self._check_vector_files(states, chunks, plan.keys)
        self._check_frames(plan.keys)
        if not self.readonly and plan.next_position != position:
            with self._session() as session:
                session.merge(ScrubState(id=1, position=plan.next_position))
                session.commit()

    def _check_vector_files(self, states, chunks: dict[str, dict[int, int]], chosen: frozenset) -> None:
        """Compare each space's vector file with what SQLite says it holds (its length, and the
        checksums of the `chosen` chunks). A reader refuses a damaged file in one line; a writer
        drops the space and marks its files pending, so this run (or the next) encodes them
        again, and says so. A writer records the chunk checksums of a file that has none yet."""
        for row in states:
            path = self.layout.vector_file(row.space)
            file = VectorFile(path, row.dim, writable=False)
            recorded = chunks.get(row.space, {})
            # a library from before chunk checksums: its whole-file checksum, while small enough
            problem = file.problem(
                row.next_vector_id, None if recorded else row.vectors_crc32, VERIFY_VECTORS_BYTES
            )
            if problem is None:
                problem = file.chunk_problem(
                    row.next_vector_id,
                    {c: crc for c, crc in recorded.items() if ("vectors", row.space, c) in chosen},
                )
            if problem is None:
                if not recorded and row.next_vector_id and not self.readonly:
                    self._record_chunks(row.space, file, row.next_vector_id)
                continue
            where = f"{path} {problem}"
            if self.readonly:
                raise LibraryDamagedError(
                    where,
                    "run {0} on your folders to encode the files whose vectors are lost again "
                    "(or restore the library from a backup)",
                    options=(INDEX,),
                    value=str(path),
                )
            files = self._drop_space(row.space)
            self._say(
                f"{where}: dropped the {row.space} vectors; {files} files are pending, to be encoded again"
            )

    def _record_chunks(self, space: str, file: VectorFile, rows: int) -> None:
        """Chunk checksums of a vector file written before they were kept (one read of it)."""
        with self._session() as session:
            for chunk, crc in file.chunk_crcs(rows).items():
                session.merge(VectorChunk(space=space, chunk=chunk, crc32=crc))
            session.commit()
        log.info("%s: recorded the checksums of %d vectors", space, rows)

    def _check_frames(self, chosen: frozenset) -> None:
        """Find damaged frame blocks (missing or cut block file, no record of their space, the
        `chosen` ones read and checked). A reader leaves them out of every read and status names
        them; a writer forgets them and marks their files pending, so the run encodes them again."""
        with Session(self._read_engine) as session:
            found = self.frames.find_damage(
                session, lambda space, media_id: ("frames", space, media_id) in chosen
            )
        if self.readonly:
            return
        if found:
            with self._session() as session:
                paths = dict(
                    session.execute(
                        select(MediaFile.id, MediaFile.path).where(
                            MediaFile.id.in_({d.media_id for d in found})
                        )
                    ).all()
                )
                self.frames.drop_damaged(session, found)
                session.commit()
            for damage in found:
                self._say(
                    f"{damage.space} frames of {paths.get(damage.media_id, damage.media_id)} are lost "
                    f"({damage.reason}); the file is pending, to be encoded again"
                )
        with self._session() as session:
            if self.frames.add_missing_checksums(session):
                session.commit()

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
            session.execute(delete(VectorChunk).where(VectorChunk.space == space))
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
        index_path = self.layout.index_file(space)
        for path in (self.layout.vector_file(space), index_path, *data_files(index_path)):
            path.unlink(missing_ok=True)
        ivf_build.discard(index_path)
        return len(media_ids)


def _chunk_bytes(row, chunk: int) -> int:
    """Bytes of chunk `chunk` of a space's vector file that hold committed rows."""
    total = row.next_vector_id * 4 * row.dim
    return min(checksums.CHUNK_BYTES, total - chunk * checksums.CHUNK_BYTES)
