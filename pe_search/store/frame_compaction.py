"""Reclaiming the dead bytes of a frame space's block file, and the leftovers of interrupted runs.

Compaction copies the live blocks of a space into the next generation's file, fsyncs it, then
switches `frame_files.generation` and every block's offset in one SQLite transaction, and only
then deletes the old file. Killed before that commit, the old file is still the live one and the
new one is a leftover; killed after, the old one is. Opening for writing removes leftovers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pe_search.store import checksums
from pe_search.store.atomic import fsync_dir
from pe_search.store.errors import LibraryDamagedError
from pe_search.store.frame_blocks import BlockFile
from pe_search.store.layout import LibraryLayout
from pe_search.store.schema import FrameBlock, FrameFile, MediaFile

log = logging.getLogger(__name__)

COMPACT_STEPS = ("copied", "synced", "committed")

OpenFile = Callable[[str, int], BlockFile]  # the store's handle on (space, generation)
ForgetFile = Callable[[str, int], None]  # the store lets go of its handle on (space, generation)


def due(session: Session, space: str, share: float, min_bytes: int) -> bool:
    """Whether `space` has at least `min_bytes` dead bytes, and more than `share` of its file."""
    row = session.execute(select(FrameFile).where(FrameFile.space == space)).scalar_one_or_none()
    if row is None or row.tail == 0:
        return False
    dead = row.tail - row.live_bytes
    return dead >= min_bytes and dead > share * row.tail


def compact(
    session: Session,
    layout: LibraryLayout,
    space: str,
    open_file: OpenFile,
    forget: ForgetFile,
    on_step: Callable[[str], None] | None = None,
) -> str | None:
    """Copy the live blocks of `space` into a new file and switch to it; returns what it did.

    `on_step(step)` (tests) is called after each of COMPACT_STEPS, e.g. to kill the process.
    """
    row = session.get(FrameFile, space)
    if row is None or row.tail == row.live_bytes:
        return None
    blocks = session.scalars(
        select(FrameBlock).where(FrameBlock.space == space).order_by(FrameBlock.offset)
    ).all()
    old_generation, before = row.generation, row.tail
    old = open_file(space, old_generation)
    path = layout.block_file(space, old_generation + 1)
    path.unlink(missing_ok=True)  # a leftover of an interrupted compaction
    new = BlockFile(path, writable=True)
    lost = []
    try:
        offset = 0
        for block in blocks:
            try:  # a damaged block is not copied: its file is encoded again instead
                old.verify(block.offset, block.nbytes, checksums.unpack(block.crcs), again=True)
            except LibraryDamagedError as error:
                lost.append(f"{block.space} frames of media {block.media_file_id} are lost ({error.what})")
                _forget_block(session, row, block)
                continue
            new.write(offset, old.raw(block.offset, block.nbytes))
            block.offset, offset = offset, offset + block.nbytes
        _step(on_step, "copied")
        new.sync()
        fsync_dir(path.parent)
        _step(on_step, "synced")
    finally:
        new.close()
    row.generation = old_generation + 1
    row.tail = row.live_bytes = offset
    session.commit()
    _step(on_step, "committed")
    forget(space, old_generation)
    layout.block_file(space, old_generation).unlink(missing_ok=True)
    fsync_dir(path.parent)
    done = f"{space}: compacted frame blocks from {_mb(before)} to {_mb(offset)} ({len(blocks) - len(lost)} blocks)"
    return "; ".join([done, *(f"{what}; the file is pending, to be encoded again" for what in lost)])


def _forget_block(session: Session, row: FrameFile, block: FrameBlock) -> None:
    row.frames -= block.count
    media = session.get(MediaFile, block.media_file_id)
    if media is not None:
        media.status, media.error = "pending", None
    session.delete(block)


def remove_leftovers(session: Session, layout: LibraryLayout) -> None:
    """Block files that are not a space's live generation (interrupted compactions, drops)."""
    if not layout.frames_dir.is_dir():
        return
    live = {layout.block_file(space, generation).name for space, generation in session.execute(
        select(FrameFile.space, FrameFile.generation)
    )}  # fmt: skip
    for path in sorted(layout.frames_dir.iterdir()):
        if path.name not in live:
            log.info("removing leftover %s", path)
            path.unlink()


def _step(on_step: Callable[[str], None] | None, step: str) -> None:
    if on_step is not None:
        on_step(step)


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"
