"""One growing file of fixed-size rows, written with `pwrite` and read through a memory map.

Both families of stored vectors keep their data this way: a space's clip vectors (`VectorFile`,
one float32 row per vector id) and a frame space's blocks (`BlockFile`, rows of one byte, blocks
back to back). Writes go to a position (past what SQLite has made live), are made durable with
`fdatasync` before the SQLite commit that refers to them, and are never read back through the
file descriptor: readers share one read-only memory map of the file, mapped again only when the
file has grown past what it covers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np


class AppendFile:
    """Rows of `dtype` (each `width` values wide, or scalars when `width` is None) at `path`.

    `writable` opens (and creates) the file for `write`; read-only handles only map it."""

    def __init__(
        self, path: Path, *, writable: bool, dtype: np.dtype | type = np.uint8, width: int | None = None
    ):
        self.path = path
        self.writable = writable
        self.dtype = np.dtype(dtype)
        self.width = width
        self.row_bytes = self.dtype.itemsize * (width or 1)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if writable else None
        self._map: np.ndarray | None = None
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
                self._map = np.memmap(self.path, dtype=self.dtype, mode="r", shape=shape)
            return self._map

    def release(self) -> None:
        """Let go of the memory map (mapped again on the next read): the pages a pass touched
        through it leave the process's RSS; they stay in the page cache."""
        with self._lock:
            self._map = None

    def close(self) -> None:
        with self._lock:
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
