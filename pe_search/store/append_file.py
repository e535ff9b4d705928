"""One growing file of fixed-size rows, written with `pwrite` and read through a memory map.

Both families of stored vectors keep their data this way: a space's clip vectors (`VectorFile`,
one float32 row per vector id) and a frame space's blocks (`BlockFile`, rows of one byte, blocks
back to back). Writes go to a position (past what SQLite has made live), are made durable with
`fdatasync` before the SQLite commit that refers to them, and are never read back through the
file descriptor: readers share one read-only memory map of the file, mapped again only when the
file has grown past what it covers.

A file read at random rows (the clip vectors' exact re-rank: a few thousand rows of a file that
at 10M vectors is 41 GB and mostly not in memory) is mapped with `random_access`: the kernel then
reads only the pages a query touches instead of its read-around window (`read_ahead_kb`, 8 MB on
some disks: measured at 10M vectors, 2.2 s a query), and `will_need` asks for a query's rows all
at once, so the disk serves them in parallel rather than one page fault after another.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np


class AppendFile:
    """Rows of `dtype` (each `width` values wide, or scalars when `width` is None) at `path`.

    `writable` opens (and creates) the file for `write`; read-only handles only map it."""

    def __init__(
        self,
        path: Path,
        *,
        writable: bool,
        dtype: np.dtype | type = np.uint8,
        width: int | None = None,
        random_access: bool = False,
    ):
        self.path = path
        self.random_access = random_access
        self.writable = writable
        self.dtype = np.dtype(dtype)
        self.width = width
        self.row_bytes = self.dtype.itemsize * (width or 1)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if writable else None
        self._map: np.ndarray | None = None
        self._region: mmap.mmap | None = None  # what `_map` views
        self._lock = threading.Lock()

    def rows(self) -> int:
        """Whole rows physically in the file (committed or not); 0 when it does not exist."""
        try:
            return os.stat(self.path).st_size // self.row_bytes
        except FileNotFoundError:
            return 0

    def write(self, row: int, data: np.ndarray | bytes) -> None:
        """Put `data` (whole rows, as bytes or a contiguous array) from row `row` on; durable
        after `sync()`."""
        if self._fd is None:
            raise RuntimeError(f"{self.path} is open read-only")
        view = memoryview(data).cast("B")
        offset = row * self.row_bytes
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written

    def sync(self) -> None:
        if self._fd is not None:
            os.fdatasync(self._fd)

    def view(self, rows: int, short: Callable[[int], Exception]) -> np.ndarray:
        """A read-only memory map of at least `rows` rows (mapped again when the file has grown);
        a file holding fewer raises `short(rows it holds)`."""
        with self._lock:
            if self._map is None or self._map.shape[0] < rows:
                have = self.rows()
                if have < rows:
                    raise short(have)
                shape = (have,) if self.width is None else (have, self.width)
                with open(self.path, "rb") as handle:
                    region = mmap.mmap(handle.fileno(), have * self.row_bytes, access=mmap.ACCESS_READ)
                if self.random_access:
                    region.madvise(mmap.MADV_RANDOM)
                self._region = region
                self._map = np.frombuffer(region, dtype=self.dtype).reshape(shape)
            return self._map

    def will_need(self, rows: np.ndarray) -> None:
        """Start reading these rows (of the current map) from disk now, together."""
        region = self._region
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if region is None or not rows.size:
            return
        for begin, end in page_runs(rows, self.row_bytes, len(region)):
            region.madvise(mmap.MADV_WILLNEED, begin, end - begin)

    def release(self) -> None:
        """Let go of the memory map (mapped again on the next read): the pages a pass touched
        through it leave the process's RSS; they stay in the page cache."""
        with self._lock:
            self._map = self._region = None

    def close(self) -> None:
        with self._lock:
            self._map = self._region = None  # unmapped once no array still views it
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def page_runs(rows: np.ndarray, row_bytes: int, size: int) -> list[tuple[int, int]]:
    """The byte ranges [begin, end) of whole pages that hold these rows, below `size`: rows whose
    pages touch or overlap make one range, so a read-ahead request covers each page once."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if not rows.size:
        return []
    page = mmap.PAGESIZE
    starts = np.unique(rows) * row_bytes
    first = starts // page * page
    last = np.minimum(-(-(starts + row_bytes) // page) * page, size)
    breaks = np.flatnonzero(first[1:] > last[:-1]) + 1
    runs = zip(first[np.r_[0, breaks]].tolist(), last[np.r_[breaks - 1, last.size - 1]].tolist(), strict=True)
    return [(begin, end) for begin, end in runs if begin < end]
