"""The on-disk form of one space's index: a small header, the masked ids, then the FAISS index.

    b"PESIDX1\\n" | u32 header length | header JSON | int64[masked] | faiss.write_index bytes

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
    header = IndexHeader(
        space=space,
        kind=index.kind,
        params=dict(index.params),
        dim=index.dim,
        generation=generation,
        count=index.count(),
        masked=int(masked.size),
    )

    def write(handle) -> None:
        raw = json.dumps(asdict(header), sort_keys=True).encode()
        handle.write(MAGIC + struct.pack("<I", len(raw)) + raw)
        handle.write(masked.astype("<i8").tobytes())
        index.save(handle)

    atomic_write(path, write, crash_at=crash_at)
    return header


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


def load_index(path: Path, source: VectorSource) -> tuple[IndexHeader, VectorIndex]:
    """Read an index file; raises FileNotFoundError or IndexFileError when it cannot be used."""
    with open(path, "rb") as handle:
        header, masked = read_header(handle)
        cls = INDEX_CLASSES.get(header.kind)
        if cls is None:
            raise IndexFileError(f"unknown index kind {header.kind!r}")
        try:
            index = cls.load(handle, header.dim, header.params, source, masked=masked)
        except RuntimeError as error:  # FAISS reports unreadable data as RuntimeError
            raise IndexFileError(f"unreadable FAISS data: {str(error).splitlines()[0]}") from error
    if index.count() != header.count:
        raise IndexFileError(f"holds {index.count()} vectors, its header says {header.count}")
    return header, index
