"""A library of N synthetic audio clip segments, built through the store's own write path.

bench_query and bench_http measure queries against it: clustered vectors from bench_vectors,
`per_file` 30 s segments every 15 s per file, so the index type is the one the library picks at
that size. Each caller names the model identity (its text tower must match the dimension) and
keeps its own transaction size, so its figures stay comparable with earlier runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench_vectors import data_chunk

from pe_search.models.identity import ModelIdentity
from pe_search.store import IndexPolicy, LibraryStore, MediaRecord, SegmentRecord


def build_segments_library(
    directory: Path,
    segments: int,
    identity: ModelIdentity,
    dim: int,
    per_file: int = 10,
    files_per_transaction: int = 500,
    policy: IndexPolicy | None = None,
) -> LibraryStore:
    """An open store holding `segments` audio clip segments (rounded down to whole files);
    `policy`: the store's index policy (default: the library's own)."""
    store = LibraryStore.open(directory, identity, policy=policy)
    files = segments // per_file
    vectors = data_chunk(dim, 0, 0, files * per_file)
    began = time.perf_counter()
    for first in range(0, files, files_per_transaction):
        with store.write() as tx:
            for index in range(first, min(files, first + files_per_transaction)):
                media = MediaRecord(
                    path=f"/bench/file{index:06d}.wav", size=1, mtime=0.0, content_hash=str(index),
                    duration=per_file * 15.0 + 15, has_audio=True, status="indexed",
                )  # fmt: skip
                media_id = tx.upsert_media(media)
                ids = tx.add_segments(
                    media_id, [SegmentRecord(i * 15.0, i * 15.0 + 30, "clip") for i in range(per_file)]
                )
                tx.add_vectors("audio", ids, vectors[index * per_file : (index + 1) * per_file])
    store.checkpoint()
    print(
        f"library: {files * per_file} segments in {files} files, built in {time.perf_counter() - began:.1f} s"
    )
    return store
