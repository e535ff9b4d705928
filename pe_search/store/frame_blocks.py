"""Frame vectors of one (file, space) as one block in an append-only block file.

    DIR/frames/SPACE.GEN.blocks     blocks of one space, back to back (GEN grows with compaction)

A block: a 64-byte header, the frame times when they are not on a regular grid, the coding's
per-block parameters, then the frames' codes in time order.

    magic "PEFB" | version u16 | encoding u8 | flags u8 | count u32 | dim u32 | code_size u32 |
    params u32 (float32 values) | start f64 | step f64 | last_end f64 | (padding to 64)
    [starts f64[count], ends f64[count]]     when flags & EXPLICIT_TIMES
    params float32[params]
    codes uint8[count, code_size]
    [radii f32[pieces], centroids uint8[pieces, code_size]]   version 2, bound piece > 0

Version 2 (written since issue 24) adds `bound_piece u32` at byte 48 of the header and, for sq8
blocks, per-piece bounds after the codes (`frame_bounds`: a scan skips the pieces they rule
out). Version 1 blocks (no bounds) are read as before and scanned whole.

Regular frames (all the indexer writes today) are start + i * step; frame i ends where frame
i + 1 starts, the last one at `last_end`. SQLite (`frame_blocks`) holds one row per block with its
offset and size, so a block is found without reading the file and a slice of it (the frames of
one window) is read without touching the rest.

Blocks are written past the file's committed `tail` (recorded in `frame_files`) before the SQLite
commit that makes them live and fsynced with it, like rows of a vector file: a crash before the
commit leaves garbage past the tail that the next write overwrites. Freed blocks stay as dead
bytes until `compact` copies the live blocks into the next generation's file and switches to it
in one SQLite transaction.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pe_search.errors import Option
from pe_search.store import checksums, frame_bounds
from pe_search.store.append_file import AppendFile
from pe_search.store.errors import LibraryDamagedError
from pe_search.store.frame_bounds import BOUND_PIECE, PieceBounds
from pe_search.store.frame_codes import ENCODING_IDS, ENCODINGS, Codebook, CodedFrames
from pe_search.store.frame_slice import FrameSlice

MAGIC = b"PEFB"
VERSION = 2
VERSIONS = (1, 2)  # read both: version 1 blocks have no piece bounds
HEADER = struct.Struct("<4sHBBIIIIddd")
BOUND_PIECE_FIELD = struct.Struct("<I")  # version 2: frames per bounded piece (0: no bounds), at HEADER.size
HEADER_SIZE = 64
ALIGN = 64
EXPLICIT_TIMES = 1
REGULAR_TOLERANCE = 1e-6  # seconds a frame may sit off the grid and still count as regular
TIME_DECIMALS = 6  # grid times are given back to the microsecond (no float drift from start + i * step)


@dataclass(frozen=True)
class FrameTimes:
    """Where the frames of a block sit in time."""

    count: int
    start: float
    step: float
    last_end: float
    starts: np.ndarray | None = None  # explicit, when not regular
    ends: np.ndarray | None = None

    @classmethod
    def of(cls, starts: np.ndarray, ends: np.ndarray) -> FrameTimes:
        starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
        count = len(starts)
        if count == 0:
            return cls(0, 0.0, 0.0, 0.0)
        step = float((starts[-1] - starts[0]) / (count - 1)) if count > 1 else float(ends[0] - starts[0])
        grid = starts[0] + np.arange(count) * step
        regular = (
            np.all(np.abs(starts - grid) <= REGULAR_TOLERANCE)
            and np.all(np.abs(ends[:-1] - starts[1:]) <= REGULAR_TOLERANCE)
            and step > 0
        )
        if regular:
            return cls(count, float(starts[0]), step, float(ends[-1]))
        return cls(count, float(starts[0]), step, float(ends[-1]), starts.copy(), ends.copy())

    @property
    def explicit(self) -> bool:
        return self.starts is not None

    def slice(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) of frames first .. stop-1."""
        if self.explicit:
            return self.starts[first:stop].copy(), self.ends[first:stop].copy()
        grid = np.round(self.start + np.arange(first, stop + 1, dtype=np.float64) * self.step, TIME_DECIMALS)
        starts, ends = grid[:-1], grid[1:].copy()
        if stop == self.count and stop > first:
            ends[-1] = self.last_end
        return starts, ends

    def overlapping(self, start: float | None, end: float | None) -> tuple[int, int]:
        """Frames that overlap [start, end]: (first, stop)."""
        if self.count == 0:
            return 0, 0
        if self.explicit:
            first = 0 if start is None else int(np.searchsorted(self.ends, start, side="right"))
            stop = self.count if end is None else int(np.searchsorted(self.starts, end, side="left"))
            return first, max(first, stop)
        first = 0
        if start is not None:  # frame i ends at start + (i + 1) * step; keep those ending after start
            first = max(0, int(np.floor((start - self.start) / self.step + 1e-9)))
            while first < self.count and self.slice(first, first + 1)[1][0] <= start:
                first += 1
        stop = self.count
        if end is not None:  # frame i starts at start + i * step; keep those starting before end
            stop = min(self.count, max(0, int(np.ceil((end - self.start) / self.step - 1e-9))))
        return first, max(first, stop)


@dataclass(frozen=True)
class BlockLayout:
    """Where the parts of one block lie, relative to its offset."""

    encoding: str
    count: int
    dim: int
    code_size: int
    params: int
    times: FrameTimes
    bound_piece: int = 0  # frames per bounded piece; 0: no bounds (version 1, or not sq8)

    @property
    def params_offset(self) -> int:
        return HEADER_SIZE + (16 * self.count if self.times.explicit else 0)

    @property
    def codes_offset(self) -> int:
        return self.params_offset + 4 * self.params

    @property
    def bounds_offset(self) -> int:
        return self.codes_offset + self.count * self.code_size

    @property
    def bound_pieces(self) -> int:
        return frame_bounds.pieces_of(self.count, self.bound_piece)

    @property
    def nbytes(self) -> int:
        return self.bounds_offset + PieceBounds.nbytes_for(self.bound_pieces, self.code_size)


def pack_block(times: FrameTimes, coded: CodedFrames, dim: int, bound_piece: int = BOUND_PIECE) -> bytes:
    """The bytes of one block (padded to ALIGN), version 2: sq8 blocks carry piece bounds."""
    return b"".join(block_parts(times, coded, dim, bound_piece))


def block_parts(
    times: FrameTimes, coded: CodedFrames, dim: int, bound_piece: int = BOUND_PIECE
) -> list[bytes | memoryview]:
    """`pack_block`'s bytes as the parts they are made of, to be written one after the other:
    the codes stay a view of their array instead of being copied into one string (an hour of
    sq8 frames is 92 MB; issue 24, item 6)."""
    bounds = None
    if coded.encoding == "sq8" and bound_piece > 0 and len(coded.codes):
        bounds = frame_bounds.compute(coded.codes, coded.params, dim, bound_piece)
    flags = EXPLICIT_TIMES if times.explicit else 0
    header = HEADER.pack(
        MAGIC,
        VERSION,
        ENCODING_IDS[coded.encoding],
        flags,
        times.count,
        dim,
        coded.code_size,
        coded.params.size,
        times.start,
        times.step,
        times.last_end,
    ) + BOUND_PIECE_FIELD.pack(bound_piece if bounds is not None else 0)
    parts = [header.ljust(HEADER_SIZE, b"\0")]
    if times.explicit:
        parts += [times.starts.astype("<f8").tobytes(), times.ends.astype("<f8").tobytes()]
    # the codes as a buffer, not a copy: a 10-hour file's are 900 MB
    parts += [coded.params.astype("<f4").tobytes(), np.ascontiguousarray(coded.codes).data]
    if bounds is not None:
        parts.append(bounds.tobytes())
    parts.append(
        b"\0" * (-sum(len(part) if isinstance(part, bytes) else part.nbytes for part in parts) % ALIGN)
    )
    return parts


def parse_header(data: bytes | memoryview, where: str, times: np.ndarray | None = None) -> BlockLayout:
    """The layout of a block from its header; `times` are its explicit starts and ends, if any."""
    (magic, version, encoding, flags, count, dim, code_size, params, start, step, last_end) = HEADER.unpack(
        bytes(data[: HEADER.size])
    )
    if magic != MAGIC or version not in VERSIONS or encoding not in ENCODINGS:
        raise _damaged(
            f"{where}: not a frame block (magic {magic!r}, version {version}): the block file is damaged",
            where,
        )
    frame_times = FrameTimes(count, start, step, last_end)
    if flags & EXPLICIT_TIMES:
        if times is None:
            raise _NeedsTimes(count)
        frame_times = FrameTimes(count, start, step, last_end, times[:count].copy(), times[count:].copy())
    bound_piece = 0
    if version >= 2:
        (bound_piece,) = BOUND_PIECE_FIELD.unpack(
            bytes(data[HEADER.size : HEADER.size + BOUND_PIECE_FIELD.size])
        )
    return BlockLayout(ENCODINGS[encoding], count, dim, code_size, params, frame_times, bound_piece)


class _NeedsTimes(Exception):
    def __init__(self, count: int) -> None:
        self.count = count


class BlockFile:
    """One generation's block file of a space: an `AppendFile` of bytes (blocks back to back)."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self.writable = writable
        self._file = AppendFile(path, writable=writable)
        self._verified: set[tuple[int, int, int]] = set()  # (block offset, piece, its CRC) checked

    def write(self, offset: int, data: bytes | memoryview) -> None:
        self._file.write(offset, data)

    def sync(self) -> None:
        self._file.sync()

    def view(self, end: int) -> np.ndarray:
        """The file's bytes as a read-only uint8 map of at least `end` bytes."""
        return self._file.view(
            end,
            lambda size: _damaged(
                f"{self.path} holds {size} bytes but the library has a block up to byte {end}", self.path
            ),
        )

    def verify(
        self,
        offset: int,
        nbytes: int,
        crcs: np.ndarray | None,
        pieces: range | None = None,
        *,
        again: bool = False,
    ) -> None:
        """Check `pieces` (default: all) of the block at `offset` against their recorded CRCs
        (None: written before checksums, nothing to check); each piece once per handle unless
        `again`. Raises LibraryDamagedError naming what does not match."""
        if crcs is None:
            return
        data = self.view(offset + nbytes)
        piece = checksums.PIECE_BYTES
        if len(crcs) != -(-nbytes // piece):
            raise _damaged(
                f"{self.path}@{offset}: the block's checksum record does not fit its size", self.path
            )
        for index in pieces if pieces is not None else range(len(crcs)):
            key = (offset, index, int(crcs[index]))
            if key in self._verified and not again:
                continue
            start = offset + index * piece
            if checksums.crc_of(data, start, min(start + piece, offset + nbytes)) != crcs[index]:
                raise _damaged(
                    f"{self.path}@{offset}: the block does not hold what was written (checksum "
                    f"mismatch in bytes {index * piece}-{min((index + 1) * piece, nbytes)} of it)",
                    self.path,
                )
            self._verified.add(key)

    def layout(self, offset: int, nbytes: int, crcs: np.ndarray | None = None) -> BlockLayout:
        data = self.view(offset + nbytes)
        if crcs is not None and len(crcs):
            self.verify(offset, nbytes, crcs, range(1))  # the piece holding the header
        head = memoryview(np.ascontiguousarray(data[offset : offset + HEADER_SIZE]))
        where = f"{self.path}@{offset}"
        try:
            layout = parse_header(head, where)
        except _NeedsTimes as needs:
            at = offset + HEADER_SIZE
            times = np.frombuffer(data[at : at + 16 * needs.count].tobytes(), dtype="<f8")
            layout = parse_header(head, where, times)
        if layout.nbytes > nbytes:
            raise _damaged(f"{self.path}@{offset}: block larger than its record", self.path)
        return layout

    def read_slice(
        self,
        offset: int,
        nbytes: int,
        media_id: int,
        space: str,
        start: float | None = None,
        end: float | None = None,
        codebook: Codebook | None = None,
        crcs: np.ndarray | None = None,
    ) -> FrameSlice:
        """The frames of the block at `offset` that overlap [start, end]: only those codes are read
        (and checked against the block's `crcs`, with its header, times and parameters)."""
        layout = self.layout(offset, nbytes, crcs)
        first, stop = layout.times.overlapping(start, end)
        data = self.view(offset + nbytes)
        codes_from = layout.codes_offset + first * layout.code_size
        self.verify(offset, nbytes, crcs, checksums.pieces_between(0, layout.codes_offset, nbytes))
        if stop > first:
            codes_to = layout.codes_offset + stop * layout.code_size
            self.verify(offset, nbytes, crcs, checksums.pieces_between(codes_from, codes_to, nbytes))
        base = offset + layout.params_offset
        params = np.frombuffer(data, dtype="<f4", count=layout.params, offset=base) if layout.params else None
        codes_at = offset + layout.codes_offset + first * layout.code_size
        codes = np.asarray(data[codes_at : codes_at + (stop - first) * layout.code_size]).reshape(
            stop - first, layout.code_size
        )
        bounds = self._bounds(offset, nbytes, crcs, layout, first, stop, data)
        times = layout.times  # built per use: a 10-hour slice has 900,000 frames
        return FrameSlice(
            media_id,
            space,
            first,
            stop - first,
            lambda a, b: times.slice(first + a, first + b),
            layout.encoding,
            layout.dim,
            np.array(params) if params is not None else np.zeros(0, np.float32),
            codes,
            codebook if layout.encoding == "pq" else None,
            layout.count,
            bounds,
        )

    def _bounds(
        self,
        offset: int,
        nbytes: int,
        crcs: np.ndarray | None,
        layout: BlockLayout,
        first: int,
        stop: int,
        data: np.ndarray,
    ) -> PieceBounds | None:
        """The block's piece bounds (their bytes for the slice's pieces checked), if it has any."""
        if not layout.bound_pieces or stop <= first:
            return None
        pieces, piece = layout.bound_pieces, layout.bound_piece
        low, high = first // piece, frame_bounds.pieces_of(stop, piece)
        at = layout.bounds_offset
        radii_at, centroids_at = at + 4 * low, at + 4 * pieces + low * layout.code_size
        self.verify(offset, nbytes, crcs, checksums.pieces_between(radii_at, at + 4 * high, nbytes))
        centroids_to = at + 4 * pieces + high * layout.code_size
        self.verify(offset, nbytes, crcs, checksums.pieces_between(centroids_at, centroids_to, nbytes))
        region = data[offset + at : offset + at + PieceBounds.nbytes_for(pieces, layout.code_size)]
        return frame_bounds.from_bytes(region, pieces, layout.code_size, piece)

    def raw(self, offset: int, nbytes: int) -> bytes:
        return bytes(self.view(offset + nbytes)[offset : offset + nbytes])

    def close(self) -> None:
        self._file.close()


def _damaged(what: str, where: str | Path) -> LibraryDamagedError:
    """The block file does not hold what SQLite says it does."""
    return LibraryDamagedError(
        what,
        "run {0} on your folders: the files whose frames are lost are encoded again "
        "(or restore the library from a backup)",
        options=(Option("Library.index", flag="`pe-search index`"),),
        value=str(where),
    )
