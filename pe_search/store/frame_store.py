"""The frame spaces of a library: one block per (file, space), their rows, reads and compaction.

`LibraryStore` holds one `FrameStore`. Writes happen inside a `WriteTransaction`'s session (the
block is written past the committed tail, fsynced before the commit, and made live by it); reads
take one SQLite read transaction for the block's row and then read only the slice they need from
the memory-mapped block file.

It is the frame family's one interface, as `SpaceIndex` is the clip vectors': `put` (write a
file's block), `free` (remove it), `read` / `read_many` (slices of blocks; a slice's `scan` and
`scores` do the scoring), `counts` and `status`. Compaction lives in `frame_compaction`.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pe_search.errors import Option
from pe_search.store import checksums, frame_compaction, frame_damage
from pe_search.store.frame_blocks import BlockFile, FrameTimes, block_parts
from pe_search.store.frame_codes import (
    DEFAULT_FRAME_CODES,
    FRAME_CODES,
    Codebook,
    encode,
)
from pe_search.store.frame_records import (
    FrameBlockInfo,
    FrameCodesError,
    FrameDamage,
    FramePolicy,
    FrameSpaceStatus,
)
from pe_search.store.frame_slice import FrameSlice
from pe_search.store.layout import LibraryLayout, check_space_name
from pe_search.store.schema import FrameBlock, FrameFile

log = logging.getLogger(__name__)


class FrameStore:
    def __init__(self, layout: LibraryLayout, *, writable: bool, policy: FramePolicy | None = None) -> None:
        self.layout = layout
        self.writable = writable
        self.policy = policy or FramePolicy()
        self._files: dict[tuple[str, int], BlockFile] = {}
        self._codebooks: dict[tuple[str, str], Codebook] = {}
        self._lock = threading.Lock()
        self._damage = frame_damage.DamageRegistry()  # found by this process: left out of every read

    # -- files ------------------------------------------------------------------------------------

    def block_file(self, space: str, generation: int) -> BlockFile:
        with self._lock:
            key = (space, generation)
            handle = self._files.get(key)
            if handle is None:
                for old in [k for k in self._files if k[0] == space]:  # a compaction moved on
                    self._files.pop(old).close()
                if self.writable:
                    self.layout.frames_dir.mkdir(parents=True, exist_ok=True)
                handle = BlockFile(self.layout.block_file(space, generation), writable=self.writable)
                self._files[key] = handle
            return handle

    def codebook(self, row: FrameFile) -> Codebook | None:
        if row.codebook is None or not row.codebook_params:
            return None
        key = (row.space, row.codebook_params["token"])
        with self._lock:
            found = self._codebooks.get(key)
            if found is None:
                params = row.codebook_params
                centroids = np.frombuffer(row.codebook, dtype="<f4")
                found = Codebook(int(params["dim"]), centroids, int(params["m"]), int(params["nbits"]))
                self._codebooks[key] = found
            return found

    # -- writing (inside a write transaction) -----------------------------------------------------

    def write(
        self,
        session: Session,
        media_id: int,
        space: str,
        starts: np.ndarray,
        ends: np.ndarray,
        vectors: np.ndarray,
        dim: int,
        codes: str = DEFAULT_FRAME_CODES,
    ) -> FrameBlockInfo:
        """Write one block for (media, space), replacing the file's old one; live once committed."""
        check_space_name(space)
        if codes not in FRAME_CODES:
            raise FrameCodesError(
                f"{{0}} must be one of {', '.join(FRAME_CODES)}, got {codes!r}",
                options=(Option("frame_codes"),),
                value=codes,
            )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"{space}: expected frames of shape (n, {dim}), got {vectors.shape}")
        if not (len(starts) == len(ends) == len(vectors)) or not len(vectors):
            raise ValueError(
                f"{space}: {len(vectors)} frames for {len(starts)} start and {len(ends)} end times"
            )
        if not np.isfinite(vectors).all():
            raise ValueError(f"{space}: frames contain NaN or infinity")
        row = session.get(FrameFile, space)
        if row is None:
            row = FrameFile(space=space, dim=dim, generation=0, tail=0, live_bytes=0, frames=0, codes=codes)
            session.add(row)
        elif row.codes != codes:
            raise FrameCodesError(
                f"{space}: the library's frames are coded {row.codes}, not {codes}",
                "index with {0}, or pass {1} to code every file again",
                options=(Option("frame_codes", row.codes), Option("rebuild", switch=True)),
                value=codes,
            )
        self.remove(session, media_id, space)
        codebook = self.codebook(row)
        encoding = "f32" if codes == "f32" else "sq8"  # pq blocks are sq8 until a codebook exists
        if codes == "pq":
            if codebook is None and len(vectors) >= self.policy.pq_train_min:
                codebook = Codebook.train(vectors)
                row.codebook = codebook.centroids().astype("<f4").tobytes()
                row.codebook_params = {**codebook.params(), "token": secrets.token_hex(8)}
                log.info("%s: trained a PQ codebook on %d frames", space, len(vectors))
            if codebook is not None:
                encoding = "pq"
        parts = block_parts(FrameTimes.of(starts, ends), encode(vectors, encoding, codebook), dim)
        offset = int(row.tail)
        size = 0
        block_file = self.block_file(space, row.generation)
        for part in parts:  # one after the other: the codes are not copied into one string
            block_file.write(offset + size, part)
            size += memoryview(part).nbytes
        row.tail = offset + size
        row.live_bytes = row.live_bytes + size
        row.frames = row.frames + len(vectors)
        info = FrameBlockInfo(
            media_id, space, offset, size, len(vectors), float(starts[0]), float(ends[-1]), encoding
        )
        session.add(
            FrameBlock(
                media_file_id=media_id,
                space=space,
                offset=offset,
                nbytes=size,
                count=len(vectors),
                start_s=info.start,
                end_s=info.end,
                encoding=encoding,
                crcs=checksums.parts_crcs(parts),
            )
        )
        return info

    def remove(self, session: Session, media_id: int, space: str | None = None) -> list[str]:
        """Drop a file's blocks (all spaces, or one); their bytes become dead. Returns the spaces."""
        query = select(FrameBlock).where(FrameBlock.media_file_id == media_id)
        if space is not None:
            query = query.where(FrameBlock.space == space)
        freed = []
        for block in session.scalars(query).all():
            row = session.get(FrameFile, block.space)
            row.live_bytes = row.live_bytes - block.nbytes
            row.frames = row.frames - block.count
            freed.append(block.space)
            session.delete(block)
        if freed:
            session.flush()
        return freed

    def sync(self, spaces) -> None:
        with self._lock:
            handles = [h for (space, _), h in self._files.items() if space in spaces]
        for handle in handles:
            handle.sync()

    # -- reading ----------------------------------------------------------------------------------

    def read(
        self,
        session: Session,
        media_id: int,
        space: str,
        start: float | None = None,
        end: float | None = None,
    ) -> FrameSlice | None:
        """The frames of (media, space) overlapping [start, end], or None if it has no block."""
        found = session.execute(
            select(FrameBlock, FrameFile)
            .join(FrameFile, FrameFile.space == FrameBlock.space)
            .where(FrameBlock.media_file_id == media_id, FrameBlock.space == space)
        ).first()
        if found is None:
            return None
        block, row = found
        return self._slice(block, row, start, end)

    def read_many(
        self, session: Session, space: str, media_ids: list[int] | None = None
    ) -> list[tuple[FrameBlockInfo, Callable[..., FrameSlice]]]:
        """Every block of `space` (or of these files) with a reader for slices of it; one snapshot."""
        row = session.execute(select(FrameFile).where(FrameFile.space == space)).scalar_one_or_none()
        if row is None:
            return []
        query = select(FrameBlock).where(FrameBlock.space == space).order_by(FrameBlock.media_file_id)
        if media_ids is not None:
            query = query.where(FrameBlock.media_file_id.in_(media_ids))
        blocks = [
            b
            for b in session.execute(query).scalars().all()
            if not self.is_damaged(space, b.media_file_id, row.generation)
        ]

        def reader(block):
            return lambda start=None, end=None: self._slice(block, row, start, end)

        return [(_info(block), reader(block)) for block in blocks]

    def _slice(self, block: FrameBlock, row: FrameFile, start, end) -> FrameSlice | None:
        """A slice of the block, its bytes checked on the way; None (and the block remembered as
        damaged, for status and for the next writer) when they are not what was written."""
        if self.is_damaged(block.space, block.media_file_id, row.generation):
            return None
        handle = self.block_file(block.space, row.generation)
        try:
            return handle.read_slice(
                block.offset,
                block.nbytes,
                block.media_file_id,
                block.space,
                start,
                end,
                self.codebook(row),
                checksums.unpack(block.crcs),
            )
        except frame_damage.DAMAGE as error:
            damage = FrameDamage(block.media_file_id, block.space, frame_damage.reason(error), row.generation)
            self._damage.mark(damage)
            return None

    # -- damage (store/frame_damage.py) ----------------------------------------------------------

    def mark_damaged(self, damage: FrameDamage) -> None:
        self._damage.mark(damage)

    def is_damaged(self, space: str, media_id: int, generation: int | None) -> bool:
        return self._damage.has(space, media_id, generation)

    def damaged(self, session: Session) -> list[FrameDamage]:
        """The blocks this process found damaged (on open, or when reading them) that are still
        in the live block files, by space and file."""
        return self._damage.all(dict(session.execute(select(FrameFile.space, FrameFile.generation)).all()))

    def find_damage(self, session: Session, verify: Callable[[str, int], bool]) -> list[FrameDamage]:
        """Damaged blocks (see `frame_damage.find`), remembered: every read leaves them out."""
        found = frame_damage.find(session, self.layout, self.block_file, verify)
        for damage in found:
            self._damage.mark(damage)
        return found

    def drop_damaged(self, session: Session, damages: list[FrameDamage]) -> list[int]:
        """Forget damaged blocks, their files pending (a writer; the caller commits)."""
        media_ids = frame_damage.forget(session, self.layout, damages)
        self._damage.clear(damages)
        return media_ids

    def add_missing_checksums(self, session: Session) -> int:
        """Checksums for blocks written before they were kept (the caller commits)."""
        return frame_damage.add_missing_checksums(session, self.block_file, self._damage)

    def checksummed(self, session: Session) -> list[tuple[tuple[str, str, int], int]]:
        """Every block as a unit the open's checksum scrub walks."""
        return frame_damage.units(session)

    def blocks(self, session: Session, space: str | None = None) -> list[FrameBlockInfo]:
        query = select(FrameBlock).order_by(FrameBlock.space, FrameBlock.media_file_id)
        if space is not None:
            query = query.where(FrameBlock.space == space)
        return [_info(block) for block in session.execute(query).scalars()]

    def counts(self, session: Session) -> dict[str, int]:
        return dict(session.execute(select(FrameFile.space, FrameFile.frames)).all())

    def status(self, session: Session) -> dict[str, FrameSpaceStatus]:
        by_encoding: dict[str, dict[str, int]] = {}
        for space, encoding, count in session.execute(
            select(FrameBlock.space, FrameBlock.encoding, func.count()).group_by(
                FrameBlock.space, FrameBlock.encoding
            )
        ):
            by_encoding.setdefault(space, {})[encoding] = count
        result = {}
        for row in session.execute(select(FrameFile).order_by(FrameFile.space)).scalars():
            encodings = by_encoding.get(row.space, {})
            path = self.layout.block_file(row.space, row.generation)
            result[row.space] = FrameSpaceStatus(
                space=row.space,
                codes=row.codes,
                frames=row.frames,
                blocks=sum(encodings.values()),
                live_bytes=row.live_bytes,
                dead_bytes=row.tail - row.live_bytes,
                file_bytes=path.stat().st_size if path.exists() else 0,
                encodings=encodings,
            )
        return result

    # -- maintenance ------------------------------------------------------------------------------

    def due_for_compaction(self, session: Session, space: str) -> bool:
        return frame_compaction.due(session, space, self.policy.compact_share, self.policy.compact_min_bytes)

    def compact(
        self, session: Session, space: str, on_step: Callable[[str], None] | None = None
    ) -> str | None:
        """Copy the live blocks of `space` into a new file and switch to it; returns what it did
        (`on_step`: see `frame_compaction.compact`)."""
        return frame_compaction.compact(session, self.layout, space, self.block_file, self._forget, on_step)

    def remove_leftovers(self, session: Session) -> None:
        """Block files that are not a space's live generation (interrupted compactions, drops)."""
        frame_compaction.remove_leftovers(session, self.layout)

    def _forget(self, space: str, generation: int) -> None:
        with self._lock:
            handle = self._files.pop((space, generation), None)
        if handle is not None:
            handle.close()

    def drop_all(self, session: Session) -> None:
        """Forget every block (a rebuild); the files go once the caller has committed."""
        session.execute(delete(FrameBlock))
        session.execute(delete(FrameFile))

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


def _info(block: FrameBlock) -> FrameBlockInfo:
    return FrameBlockInfo(
        block.media_file_id,
        block.space,
        block.offset,
        block.nbytes,
        block.count,
        block.start_s,
        block.end_s,
        block.encoding,
    )
