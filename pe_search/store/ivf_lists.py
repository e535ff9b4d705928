"""Write an IVF index's FAISS file list by list, merging the lists of several sources, so that the
writer never holds all its codes in memory (issue 24, item 6).

The writer maps its saved lists as readers do and keeps in memory only the codes added since
(`IVFPQIndex._stack`). FAISS's `write_index` cannot write such stacked lists, and reading them
all into memory to write them is what the mapping avoids. So a save writes the file FAISS would:
the index's own header (coarse quantizer, codebooks; FAISS writes it, with empty lists in
place) and then FAISS's array-lists section (`ilar`, the layout `IO_FLAG_MMAP` maps), built here
list by list: list i's codes from every source, then its ids. The saved lists come from the
previous data file by plain sequential reads (`FileLists`), so the merge leaves no mapped pages
in the writer's RSS; the in-memory lists are read where they are.

The `ilar` section (faiss/impl/index_write.cpp): b"ilar", u64 nlist, u64 code_size, then b"full"
and a u64-counted vector of nlist u64 sizes (or b"sprs" and (list, size) pairs), then for each
non-empty list its codes (size * code_size bytes) and its ids (size int64).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from pe_search import crash_points
from pe_search.store.lazy_faiss import faiss

LISTS = b"ilar"
FULL = b"full"
SPARSE = b"sprs"


class ListSource(Protocol):
    """Some of an index's inverted lists, visited in list order."""

    def sizes(self) -> np.ndarray:
        """uint64 [nlist]: how many entries each list holds here."""

    def lists(self) -> Iterator[tuple[bytes | memoryview, bytes | memoryview]]:
        """(codes, ids) of list 0, 1, ... in turn."""


class MemoryLists:
    """Lists FAISS holds (`ArrayInvertedLists`, or any whose codes stay put while read)."""

    def __init__(self, lists, code_size: int) -> None:
        self._lists = lists
        self._code_size = code_size

    def sizes(self) -> np.ndarray:
        return np.array([self._lists.list_size(i) for i in range(self._lists.nlist)], dtype=np.uint64)

    def lists(self) -> Iterator[tuple[bytes | memoryview, bytes | memoryview]]:
        for i in range(self._lists.nlist):
            n = self._lists.list_size(i)
            if not n:
                yield b"", b""
                continue
            codes = faiss.rev_swig_ptr(self._lists.get_codes(i), n * self._code_size)
            ids = faiss.rev_swig_ptr(self._lists.get_ids(i), n)
            yield memoryview(codes), memoryview(ids).cast("B")


class FileLists:
    """The lists of a saved data file, read with plain sequential reads (no map, no RSS)."""

    def __init__(self, path: Path, offset: int, nlist: int, code_size: int) -> None:
        self.path = path
        self._code_size = code_size
        with open(path, "rb") as handle:
            handle.seek(offset)
            head = handle.read(4 + 8 + 8 + 4)
            if len(head) != 24 or head[:4] != LISTS:
                raise ValueError(f"{path.name}: no array lists at byte {offset}")
            have_nlist, have_code, kind = struct.unpack("<QQ4s", head[4:])
            if (have_nlist, have_code) != (nlist, code_size):
                raise ValueError(
                    f"{path.name}: lists of {have_nlist} x {have_code} B, index {nlist} x {code_size}"
                )
            (count,) = struct.unpack("<Q", handle.read(8))
            raw = np.frombuffer(handle.read(8 * count), dtype="<u8")
            if raw.size != count:
                raise ValueError(f"{path.name}: truncated list sizes")
            if kind == FULL and count == nlist:
                self._sizes = raw.astype(np.uint64)
            elif kind == SPARSE and count % 2 == 0:
                self._sizes = np.zeros(nlist, dtype=np.uint64)
                self._sizes[raw[0::2].astype(np.int64)] = raw[1::2]
            else:
                raise ValueError(f"{path.name}: unknown list layout {kind!r}")
            self._data = handle.tell()

    def sizes(self) -> np.ndarray:
        return self._sizes

    def lists(self) -> Iterator[tuple[bytes | memoryview, bytes | memoryview]]:
        with open(self.path, "rb", buffering=1 << 20) as handle:
            handle.seek(self._data)
            for n in self._sizes.tolist():
                if not n:
                    yield b"", b""
                    continue
                codes, ids = handle.read(n * self._code_size), handle.read(8 * n)
                if len(codes) != n * self._code_size or len(ids) != 8 * n:
                    raise ValueError(f"{self.path.name}: truncated lists")
                yield codes, ids


def empty_lists_tail(nlist: int, code_size: int) -> bytes:
    """What FAISS writes for empty array lists: the end of `header_bytes`' output."""
    return LISTS + struct.pack("<QQ", nlist, code_size) + SPARSE + struct.pack("<Q", 0)


def header_bytes(index) -> bytes:
    """The FAISS file of IVF `index` up to its lists: FAISS writes it with empty lists in place
    (an IVF-PQ file ends with its lists), and the empty section is cut off."""
    nlist, code_size = int(index.nlist), int(index.code_size)
    held, owned = index.invlists, index.own_invlists
    empty = faiss.ArrayInvertedLists(nlist, code_size)
    index.own_invlists = False  # keep the lists it holds while the empty ones stand in
    index.replace_invlists(empty, False)
    try:
        raw = faiss.serialize_index(index).tobytes()
    finally:
        index.replace_invlists(held, owned)
    tail = empty_lists_tail(nlist, code_size)
    if not raw.endswith(tail):
        raise RuntimeError("FAISS wrote this index's lists in a layout this writer does not know")
    return raw[: -len(tail)]


def write(handle: BinaryIO, header: bytes, nlist: int, code_size: int, sources: Sequence[ListSource]) -> int:
    """Write `header` and the merged lists of `sources` (list i: every source's entries in turn);
    returns the bytes written. The crash point `index-merge` is half way through the lists."""
    sizes = np.zeros(nlist, dtype=np.uint64)
    for source in sources:
        sizes += source.sizes()
    handle.write(header)
    handle.write(LISTS + struct.pack("<QQ", nlist, code_size) + FULL + struct.pack("<Q", nlist))
    handle.write(sizes.astype("<u8").tobytes())
    written = len(header) + 28 + 8 * nlist
    readers = [source.lists() for source in sources]
    for number in range(nlist):
        parts = [next(reader) for reader in readers]
        for codes, _ in parts:
            handle.write(codes)
            written += len(codes)
        for _, ids in parts:
            handle.write(ids)
            written += len(ids)
        if number == nlist // 2:
            crash_points.reached("index-merge")
    return written
