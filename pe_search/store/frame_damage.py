"""Damaged frame blocks: finding them, remembering them, and forgetting them so their files are
encoded again.

A block is damaged when its bytes are not what was written (its checksums or header do not
match), when it lies past the end of a block file cut short or in a deleted one, or when its
space lost its `frame_files` row. Readers leave damaged blocks out (`DamageRegistry`); a writer
deletes their rows and marks their files pending (`forget`), so the next index run encodes
exactly those files again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pe_search.store import checksums
from pe_search.store.errors import LibraryDamagedError
from pe_search.store.frame_blocks import BlockFile
from pe_search.store.frame_records import FrameDamage
from pe_search.store.layout import LibraryLayout
from pe_search.store.schema import FrameBlock, FrameFile, MediaFile

log = logging.getLogger(__name__)

# What reading a damaged block raises: the store's own check, a vanished file, a garbled header.
DAMAGE = (LibraryDamagedError, OSError, ValueError)

OpenFile = Callable[[str, int], BlockFile]  # the store's handle on (space, generation)


class DamageRegistry:
    """The damaged blocks one process knows of, by (space, media id); thread-safe."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, int], FrameDamage] = {}
        self._lock = threading.Lock()

    def mark(self, damage: FrameDamage) -> None:
        with self._lock:
            if (damage.space, damage.media_id) not in self._found:
                log.warning(
                    "frames of media %d (%s) left out: %s", damage.media_id, damage.space, damage.reason
                )
                self._found[(damage.space, damage.media_id)] = damage

    def has(self, space: str, media_id: int, generation: int | None) -> bool:
        """Whether the block was found damaged in this generation's file (damage found in a file
        a compaction has since replaced says nothing about the new one)."""
        found = self._found.get((space, media_id))
        return found is not None and found.generation == generation

    def all(self, generations: dict[str, int]) -> list[FrameDamage]:
        """The damage that still holds, given each space's live generation now."""
        with self._lock:
            found = [d for d in self._found.values() if d.generation == generations.get(d.space)]
        return sorted(found, key=lambda d: (d.space, d.media_id))

    def clear(self, damages: list[FrameDamage]) -> None:
        with self._lock:
            for damage in damages:
                self._found.pop((damage.space, damage.media_id), None)


def reason(error: Exception) -> str:
    """One line on what is wrong (the error's own wording, without its advice)."""
    what = getattr(error, "what", None) or str(error) or type(error).__name__
    return what.splitlines()[0]


def find(
    session: Session, layout: LibraryLayout, open_file: OpenFile, verify: Callable[[str, int], bool]
) -> list[FrameDamage]:
    """What is wrong with the blocks without reading them (a block file missing or cut short,
    blocks whose space has no `frame_files` row), and with those `verify(space, media_id)` picks,
    read whole and checked against their checksums (and their header)."""
    generations = dict(session.execute(select(FrameFile.space, FrameFile.generation)).all())
    found = []
    sizes: dict[str, int | None] = {}
    columns = (FrameBlock.media_file_id, FrameBlock.space, FrameBlock.offset, FrameBlock.nbytes)
    for media_id, space, offset, nbytes in session.execute(
        select(*columns).order_by(FrameBlock.space, FrameBlock.offset)
    ):  # plain rows, not objects: this runs on every open
        if space not in generations:
            found.append(FrameDamage(media_id, space, "its frame space's record is missing", None))
            continue
        generation = generations[space]
        path = layout.block_file(space, generation)
        if space not in sizes:
            sizes[space] = path.stat().st_size if path.exists() else None
        size = sizes[space]
        if size is None:
            found.append(FrameDamage(media_id, space, f"{path} is missing", generation))
        elif offset + nbytes > size:
            found.append(
                FrameDamage(
                    media_id,
                    space,
                    f"{path} was cut short ({size} bytes; the block ends at byte {offset + nbytes})",
                    generation,
                )
            )
        elif verify(space, media_id):
            crcs = session.scalar(
                select(FrameBlock.crcs).where(FrameBlock.media_file_id == media_id, FrameBlock.space == space)
            )
            handle = open_file(space, generation)
            try:
                handle.layout(offset, nbytes)
                handle.verify(offset, nbytes, checksums.unpack(crcs))
            except DAMAGE as error:
                found.append(FrameDamage(media_id, space, reason(error), generation))
    return found


def forget(session: Session, layout: LibraryLayout, damages: list[FrameDamage]) -> list[int]:
    """Delete damaged blocks' rows and mark their files pending (to be encoded again); a block
    file missing or cut short gets its tail back to what is there. Returns the media ids; the
    caller commits."""
    media_ids = sorted({d.media_id for d in damages})
    for damage in damages:
        block = session.get(FrameBlock, (damage.media_id, damage.space))
        if block is None:
            continue
        row = session.get(FrameFile, damage.space)
        if row is not None:
            row.live_bytes -= block.nbytes
            row.frames -= block.count
        session.delete(block)
    for row in session.scalars(select(FrameFile)):
        path = layout.block_file(row.space, row.generation)
        size = path.stat().st_size if path.exists() else 0
        if size < row.tail:
            row.tail = size
    for media_id in media_ids:
        media = session.get(MediaFile, media_id)
        if media is not None:
            media.status, media.error = "pending", None
    session.flush()
    return media_ids


def add_missing_checksums(session: Session, open_file: OpenFile, registry: DamageRegistry) -> int:
    """Checksums for blocks written before they were kept (each read once, its header checked);
    returns how many blocks got them. The caller commits."""
    generations = dict(session.execute(select(FrameFile.space, FrameFile.generation)).all())
    done = 0
    for block in session.scalars(select(FrameBlock).where(FrameBlock.crcs.is_(None))):
        generation = generations.get(block.space)
        if generation is None or registry.has(block.space, block.media_file_id, generation):
            continue
        handle = open_file(block.space, generation)
        try:
            handle.layout(block.offset, block.nbytes)
            block.crcs = checksums.piece_crcs(handle.raw(block.offset, block.nbytes))
            done += 1
        except DAMAGE as error:
            registry.mark(FrameDamage(block.media_file_id, block.space, reason(error), generation))
    return done


def units(session: Session) -> list[tuple[tuple[str, str, int], int]]:
    """Every block as a unit of checksummed data: (("frames", space, media id), bytes), in the
    order the open's scrub walks them."""
    return [
        (("frames", space, media_id), nbytes)
        for space, media_id, nbytes in session.execute(
            select(FrameBlock.space, FrameBlock.media_file_id, FrameBlock.nbytes).order_by(
                FrameBlock.space, FrameBlock.offset
            )
        )
    ]
