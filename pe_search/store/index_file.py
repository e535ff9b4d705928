"""The on-disk form of one space's index: a small header, the masked ids, then the FAISS index.

    b"PESIDX1\\n" | u32 header length | header JSON | int64[masked] | faiss.write_index bytes

An IVF-PQ index is written to a data file of its own beside it instead (`SPACE.index.TOKEN.ivf`,
named in the header's `extra["data"]`), so that a reader can map it: the data file is written
first, then the index file that names it replaces the old one, then the old data file goes.

The header records the space, kind, parameters, dimension and the (generation, count) of the
library the index reflects, which is what opening a library compares with SQLite. Files are
replaced with `atomic_write`, so a reader sees the previous index or the next, never a mix.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pe_search.store.atomic import atomic_write
from pe_search.store.vectors import INDEX_CLASSES, IndexSpec, VectorIndex, VectorSource

MAGIC = b"PESIDX1\n"


class IndexFileError(Exception):
    """The index file is missing a part or is not an index file: rebuild it from the vectors."""


@dataclass(frozen=True)
class IndexHeader:
    space: str
    kind: str
    params: dict[str, Any]
    dim: int
    generation: int
    count: int
    masked: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> IndexSpec:
        return IndexSpec(self.kind, self.params)


def save_index(
    path: Path, space: str, index: VectorIndex, generation: int, crash_at: str | None = None
) -> IndexHeader:
    masked = index.masked()
    save_data = getattr(index, "save_data", None)
    data = save_data(path) if save_data is not None else None
    header = IndexHeader(
        space=space,
        kind=index.kind,
        params=dict(index.params),
        dim=index.dim,
        generation=generation,
        count=index.count(),
        masked=int(masked.size),
        extra={"data": data} if data else {},
    )

    def write(handle) -> None:
        raw = json.dumps(asdict(header), sort_keys=True).encode()
        handle.write(MAGIC + struct.pack("<I", len(raw)) + raw)
        handle.write(masked.astype("<i8").tobytes())
        if data is None:
            index.save(handle)

    try:
        atomic_write(path, write, crash_at=crash_at)
    except BaseException:
        if data is not None:
            path.with_name(data).unlink(missing_ok=True)  # the index file still names the old one
        raise
    forget_data(path, keep=data)
    return header


def data_files(path: Path) -> list[Path]:
    """The FAISS data files beside index file `path` (one is current; others are left over)."""
    return sorted(path.parent.glob(f"{path.name}.*.ivf"))


def forget_data(path: Path, keep: str | None) -> None:
    """Delete the data files `path` no longer names (a reader mapping one keeps it until it lets
    go), and the temporary ones a save killed half way left."""
    for other in data_files(path):
        if other.name != keep:
            other.unlink(missing_ok=True)
    for stray in path.parent.glob(f"{path.name}.*.ivf.tmp"):
        stray.unlink(missing_ok=True)


def read_header(handle) -> tuple[IndexHeader, np.ndarray]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise IndexFileError("not a pe-search index file")
    try:
        (size,) = struct.unpack("<I", handle.read(4))
        header = IndexHeader(**json.loads(handle.read(size)))
    except (struct.error, ValueError, TypeError) as error:
        raise IndexFileError(f"bad header: {error}") from error
    masked = np.frombuffer(handle.read(8 * header.masked), dtype="<i8").astype(np.int64)
    if masked.size != header.masked:
        raise IndexFileError("truncated")
    return header, masked


def load_index(path: Path, source: VectorSource, mapped: bool = False) -> tuple[IndexHeader, VectorIndex]:
    """Read an index file; raises FileNotFoundError or IndexFileError when it cannot be used.

    An index kept in its own data file (IVF-PQ) is memory-mapped when `mapped` (a reader)."""
    with open(path, "rb") as handle:
        header, masked = read_header(handle)
        cls = INDEX_CLASSES.get(header.kind)
        if cls is None:
            raise IndexFileError(f"unknown index kind {header.kind!r}")
        data = header.extra.get("data")
        try:
            if data:
                index = cls.load_data(
                    path.with_name(data), header.dim, header.params, source, masked=masked, mapped=mapped
                )
            else:
                index = cls.load(handle, header.dim, header.params, source, masked=masked)
        except FileNotFoundError as error:
            raise IndexFileError(f"its data file {data} is missing") from error
        except RuntimeError as error:  # FAISS reports unreadable data as RuntimeError
            raise IndexFileError(f"unreadable FAISS data: {str(error).splitlines()[0]}") from error
    if index.count() != header.count:
        raise IndexFileError(f"holds {index.count()} vectors, its header says {header.count}")
    return header, index
