"""Full-precision vectors of one space, kept durably so any index can be rebuilt from them.

A raw float32 file, row `i` = vector id `i`, written with `pwrite` and read through a memory map
(mapped for random access: `AppendFile`).
At 1M x 1024 this is the fast choice: a rebuild reads 4 GB sequentially at disk speed with no
parsing; a re-rank gathers ~100 rows per query from the page cache in microseconds; reader
processes share the same cached pages. SQLite blobs of 4 KB would overflow into page chains and
pay per-row Python costs on every read.

Rows are written before the SQLite commit that makes their ids live and fsynced with it; rows past
`index_state.next_vector_id` (left by a transaction that never committed) are garbage and the next
write overwrites them. Rows of deleted vectors stay as holes: ids are never reused.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from pe_search.store import checksums
from pe_search.store.append_file import AppendFile, page_runs
from pe_search.store.errors import LibraryDamagedError

ROW_DTYPE = np.float32
CHECKSUM_READ = 8 << 20  # bytes read at a time when checking a file's checksum


class VectorFile:
    """A space's clip vectors on disk: row `i` is vector id `i` (an `AppendFile` of float32 rows)."""

    def __init__(self, path: Path, dim: int, *, writable: bool) -> None:
        self.path = path
        self.dim = dim
        self.writable = writable
        self._file = AppendFile(path, writable=writable, dtype=ROW_DTYPE, width=dim, random_access=True)
        self._row_bytes = self._file.row_bytes

    def rows(self) -> int:
        """Rows physically in the file (committed or not)."""
        return self._file.rows()

    def problem(self, rows: int, crc32: int | None, verify_bytes: int) -> str | None:
        """What is wrong with the file, given that the library holds `rows` rows whose CRC-32 is
        `crc32` (None: not recorded): missing, shorter, or (when it is at most `verify_bytes`
        long) not what was written. None when it looks intact."""
        if rows == 0:
            return None
        if not self.path.exists():
            return f"is missing ({rows} vectors are in the library)"
        have = self.rows()
        if have < rows:
            return f"holds {have} of the library's {rows} vectors (it was cut short)"
        size = rows * self._row_bytes
        if crc32 is not None and size <= verify_bytes and self.checksum(rows) != crc32:
            return "does not hold what was written (checksum mismatch: overwritten or corrupt)"
        return None

    def chunk_problem(self, rows: int, crcs: dict[int, int]) -> str | None:
        """What is wrong with the chunks in `crcs` ({chunk: its recorded CRC-32}) of the file's
        rows [0, rows), or None when each holds what was written."""
        total = rows * self._row_bytes
        for chunk in sorted(crcs):
            start = chunk * checksums.CHUNK_BYTES
            stop = min(start + checksums.CHUNK_BYTES, total)
            if start < stop and self.crc(start, stop) != crcs[chunk]:
                return f"does not hold what was written (checksum mismatch in bytes {start}-{stop}: overwritten or corrupt)"
        return None

    def chunk_crcs(self, rows: int) -> dict[int, int]:
        """{chunk: CRC-32} of the file's rows [0, rows) as they are on disk."""
        total = rows * self._row_bytes
        return {
            chunk: self.crc(start, min(start + checksums.CHUNK_BYTES, total))
            for chunk, start in enumerate(range(0, total, checksums.CHUNK_BYTES))
        }

    def checksum(self, rows: int) -> int:
        """CRC-32 of rows [0, rows) as they are on disk."""
        return self.crc(0, rows * self._row_bytes)

    def crc(self, start: int, stop: int) -> int:
        """CRC-32 of bytes [start, stop) as they are on disk."""
        crc, left = 0, stop - start
        with open(self.path, "rb") as handle:
            handle.seek(start)
            while left:
                block = handle.read(min(left, CHECKSUM_READ))
                if not block:
                    break
                crc, left = zlib.crc32(block, crc), left - len(block)
        return crc

    def write(self, start: int, vectors: np.ndarray) -> None:
        """Put `vectors` at ids start, start+1, ...; durable after `sync()`."""
        if not self.writable:
            raise RuntimeError(f"{self.path} is open read-only")
        data = np.ascontiguousarray(vectors, dtype=ROW_DTYPE)
        if data.ndim != 2 or data.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {data.shape}")
        self._file.write(start, data)

    def sync(self) -> None:
        self._file.sync()

    def view(self, rows: int) -> np.ndarray:
        """A read-only memory map of at least `rows` rows (remapped when the file has grown)."""
        return self._file.view(rows, lambda have: self._short(have, rows))

    def _short(self, have: int, rows: int) -> LibraryDamagedError:
        return LibraryDamagedError(
            f"{self.path} holds {have} vectors but vector id {rows - 1} is in the library",
            "restore the file from a backup, or delete the library and index again",
            value=str(self.path),
        )

    def read(self, ids: np.ndarray) -> np.ndarray:
        """The vectors with these ids, in this order (a copy)."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return np.empty((0, self.dim), dtype=ROW_DTYPE)
        if ids.size > 1 and ids[-1] - ids[0] == ids.size - 1 and np.all(np.diff(ids) == 1):
            return self.read_rows(int(ids[0]), int(ids[-1]) + 1)  # one sequential read
        view = self.view(int(ids.max()) + 1)
        self._file.will_need(ids)
        return view[ids]

    def will_need(self, ids: np.ndarray) -> None:
        """Start reading the rows of these ids (>= 0; -1 means none) from disk, all together: a
        re-rank's candidates then cost one round of parallel reads, not a page fault each."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self._file.will_need(ids[ids >= 0])

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) by plain reads, not through the map: a pass over a file larger than
        memory (an index build) then leaves nothing mapped in the process (its RSS stays small)."""
        count = stop - start
        try:
            data = np.fromfile(
                self.path, dtype=ROW_DTYPE, count=count * self.dim, offset=start * self._row_bytes
            )
        except FileNotFoundError:
            raise self._short(0, stop) from None
        if data.size != count * self.dim:
            raise self._short(data.size // self.dim + start, stop)
        return data.reshape(count, self.dim)

    def read_scattered(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of sorted `ids` by plain reads, one row at a time, not through the map:
        a sample of 100,000 rows spread over a file of millions then leaves no mapped pages in
        the process (what `read` touches stays in its RSS until the map is let go)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((ids.size, self.dim), dtype=ROW_DTYPE)
        if not ids.size:
            return out
        if int(ids.max()) >= self.rows():
            raise self._short(self.rows(), int(ids.max()) + 1)
        rows = memoryview(out).cast("B")
        size = self._row_bytes
        with open(self.path, "rb", buffering=0) as handle:
            # no read-ahead around each row, and every row asked for at once (parallel reads)
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
            for begin, end in page_runs(ids, size, self.rows() * size):
                os.posix_fadvise(handle.fileno(), begin, end - begin, os.POSIX_FADV_WILLNEED)
            for at, row in enumerate(ids.tolist()):
                handle.seek(row * size)
                handle.readinto(rows[at * size : (at + 1) * size])
        return out

    def release(self) -> None:
        """Drop the memory map (see `AppendFile.release`): after an index build or tuning."""
        self._file.release()

    def close(self) -> None:
        self._file.close()
