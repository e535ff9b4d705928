"""Checksums of the stored vectors, recorded as the bytes are written and checked piece by piece.

A library's vector files and frame block files grow to gigabytes, so no check may need the whole
file: each is cut into fixed pieces whose CRC-32 is recorded in SQLite as the bytes are written
(a running CRC per append: nothing is read back), and a check reads only the pieces it needs.

- Vector files (`SPACE.f32`): one CRC per CHUNK_BYTES of rows [0, next_vector_id), in
  `vector_chunks`; an append continues the CRC of the last, partial chunk and starts new ones.
- Frame blocks: one CRC per PIECE_BYTES of each block, relative to the block's start, in its
  `frame_blocks.crcs` (uint32, little endian); a block is written whole, so its pieces are known
  at once, and a compaction that copies it keeps them.

When they are checked (zlib's CRC-32 runs at about 1 GB/s on one core of the development machine,
so a check costs about 1 s per GB it reads, less from the page cache):
- every open: the vector files' lengths and the block files' sizes (nothing read), plus at most
  VERIFY_BYTES of checksummed data (vector chunks, then blocks), resuming where the last writer
  stopped (`scrub_state`): a library under VERIFY_BYTES is verified whole on every open, a larger
  one in turn, all of it every size / VERIFY_BYTES writer opens;
- every read of a frame slice: the pieces of its block that the slice touches (the header's
  included), once per process;
- a compaction: every block it copies.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

CHUNK_BYTES = 16 << 20  # bytes of a vector file per recorded CRC (4,096 rows of 1024 floats)
PIECE_BYTES = 1 << 20  # bytes of a frame block per recorded CRC
VERIFY_BYTES = 256 << 20  # checksummed bytes an open verifies at most (about 0.25 s)


def piece_crcs(data: bytes | memoryview | np.ndarray, piece: int | None = None) -> bytes:
    """The CRC-32 of each `piece`-byte piece of `data` (the last may be shorter), packed as
    little-endian uint32 (what `frame_blocks.crcs` holds)."""
    return parts_crcs([data], piece)


def parts_crcs(parts: Sequence[bytes | memoryview | np.ndarray], piece: int | None = None) -> bytes:
    """`piece_crcs` of the bytes of `parts` one after the other, without joining them."""
    piece = piece or PIECE_BYTES
    crcs, crc, filled = [], 0, 0
    for part in parts:
        view = memoryview(part).cast("B")
        at = 0
        while at < len(view):
            take = min(piece - filled, len(view) - at)
            crc = zlib.crc32(view[at : at + take], crc)
            filled, at = filled + take, at + take
            if filled == piece:
                crcs.append(crc)
                crc, filled = 0, 0
    if filled:
        crcs.append(crc)
    return np.asarray(crcs, dtype="<u4").tobytes()


def unpack(crcs: bytes | None) -> np.ndarray | None:
    return None if crcs is None else np.frombuffer(crcs, dtype="<u4")


def pieces_between(start: int, stop: int, nbytes: int, piece: int | None = None) -> range:
    """Indexes of the pieces of an `nbytes` block that bytes [start, stop) of it touch."""
    piece = piece or PIECE_BYTES
    stop = min(max(stop, start + 1), nbytes)
    return range(start // piece, (stop - 1) // piece + 1)


def extend_chunks(
    crcs: dict[int, int], position: int, data: bytes | memoryview, chunk: int | None = None
) -> None:
    """Continue the chunk CRCs in `crcs` ({chunk index: CRC of its bytes so far}) with `data`
    appended at byte `position` (where the recorded bytes end)."""
    chunk = chunk or CHUNK_BYTES
    view = memoryview(data).cast("B")
    while view:
        index, into = divmod(position, chunk)
        take = min(len(view), chunk - into)
        crcs[index] = zlib.crc32(view[:take], crcs.get(index, 0) if into else 0)
        view, position = view[take:], position + take


def crc_of(view: np.ndarray | memoryview, start: int, stop: int) -> int:
    """CRC-32 of bytes [start, stop) of a byte view (a memory map)."""
    return zlib.crc32(memoryview(np.ascontiguousarray(view[start:stop])).cast("B"))
