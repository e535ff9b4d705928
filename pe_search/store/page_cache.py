"""Reading a file into the page cache ahead of use, in the background; and how much of it is there.

A reading process maps its IVF-PQ lists (codes and ids: 1.4 GB at 10M vectors of one space).
Straight after open, each query that probes a list nobody has read yet waits for its pages from
disk, one fault after another, on top of the re-rank's own reads: measured at 10M vectors, the
first family of queries a fresh process answered had a p50 13 ms above the later ones. A reader
that stays up (a server) therefore asks for its whole lists file once, at start, from a thread:
the disk reads it in large requests, one at a time, so that the queries' own reads are not queued
behind all of it. The pages belong to the page cache, not to the process's RSS, until a query
touches them; a file larger than a share of the memory available is left to be read as probed.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from pathlib import Path

PREFETCH_MEMORY_SHARE = 0.25  # prefetch only files up to this share of the memory available
PREFETCH_REQUEST_BYTES = 8 << 20  # the kernel reads at most its read-ahead window per request


def available_memory() -> int:
    """Bytes the kernel could give without swapping (MemAvailable), or the free pages."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def prefetch(path: Path) -> threading.Thread | None:
    """Start reading all of `path` into the page cache from a daemon thread (None: not started,
    the file being too large for the memory available, or gone)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if not size or size > PREFETCH_MEMORY_SHARE * available_memory():
        return None
    thread = threading.Thread(target=_read_ahead, args=(path,), name=f"prefetch {path.name}", daemon=True)
    thread.start()
    return thread


def _read_ahead(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        size = os.fstat(fd).st_size
        for offset in range(0, size, PREFETCH_REQUEST_BYTES):  # one request reads one window at most
            length = min(PREFETCH_REQUEST_BYTES, size - offset)
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_WILLNEED)
            # wait for it (its last byte) before asking for the next: the whole file asked for at
            # once queues every query's own reads behind it (measured at 10M: first answer 2.1 s)
            os.pread(fd, 1, offset + length - 1)
    except OSError:
        pass  # a hint only: the queries read what they probe
    finally:
        os.close(fd)


def resident_share(path: Path) -> float:
    """The share of `path`'s pages now in the page cache (`mincore`; tests and benchmarks)."""
    size = path.stat().st_size
    if not size:
        return 1.0
    pages = -(-size // mmap.PAGESIZE)
    with open(path, "rb") as handle:
        region = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY)  # maps, touches nothing
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(region))
        flags = (ctypes.c_ubyte * pages)()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        if libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), flags) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed", str(path))
        return sum(flag & 1 for flag in flags) / pages
    finally:
        del address
        region.close()
