"""A long-lived reader reads its IVF-PQ lists ahead (issue 24, item 1): after the library's files
are dropped from the page cache, a reader's `warm_up` (what the server and the MCP server call at
start) brings the whole lists file back in without a query having probed it, and does so again
for the file a writer saves later; a reader that only answers a query (one CLI search) reads
nothing ahead; a file too large for the memory available is left alone. Residency is read from
the kernel (`mincore`), the eviction done with `POSIX_FADV_DONTNEED`."""

from __future__ import annotations

import os
from pathlib import Path

from test_store_ivf_disk import POLICY, add_files, library, queries  # noqa: F401 (a fixture)
from test_store_support import make_identity

from pe_search.store import LibraryStore, page_cache


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def lists_file(folder: Path) -> Path:
    (found,) = (folder / "vectors").glob("audio.index.*.ivf")
    return found


def test_a_warm_reader_reads_its_lists_file_ahead(library):  # noqa: F811
    data = lists_file(library)
    evict(data)
    assert page_cache.resident_share(data) < 0.5  # the precondition: it is really out
    with LibraryStore.open(library, readonly=True, policy=POLICY) as reader:
        reader.warm_up()
        index = reader._synced("audio").index
        assert index.prefetching is not None
        index.prefetching.join()
        assert page_cache.resident_share(data) == 1.0
        assert reader.search_ids("audio", queries(3), k=10)[1].shape == (3, 10)

        # a writer saves a new lists file; the warm reader maps it at its next query, and reads it ahead
        with LibraryStore.open(library, make_identity(), policy=POLICY) as writer:
            add_files(writer, range(40, 45))
        saved = lists_file(library)
        assert saved != data
        evict(saved)
        assert page_cache.resident_share(saved) < 0.5
        reader.search_ids("audio", queries(3), k=10)
        index = reader._synced("audio").index
        assert index.data_path == saved and index.prefetching is not None
        index.prefetching.join()
        assert page_cache.resident_share(saved) == 1.0


def test_a_reader_answering_a_query_reads_nothing_ahead(library, monkeypatch):  # noqa: F811
    asked = []
    monkeypatch.setattr(page_cache, "_read_ahead", asked.append)
    with LibraryStore.open(library, readonly=True, policy=POLICY) as reader:
        reader.search_ids("audio", queries(1), k=10)
        assert reader._synced("audio").index.prefetching is None
        assert asked == []
        reader.warm_up()  # the same reader warmed: the one file asked for
        reader._synced("audio").index.prefetching.join()
        assert asked == [lists_file(library)]


def test_a_file_larger_than_its_share_of_memory_is_not_read_ahead(tmp_path, monkeypatch):
    big = tmp_path / "lists.ivf"
    big.write_bytes(os.urandom(1 << 20))
    monkeypatch.setattr(page_cache, "available_memory", lambda: 4 << 20)  # a quarter is 1 MiB
    assert page_cache.prefetch(big) is not None
    monkeypatch.setattr(page_cache, "available_memory", lambda: (4 << 20) - 4)
    assert page_cache.prefetch(big) is None


def test_resident_share_counts_the_pages_in_the_page_cache(tmp_path):
    path = tmp_path / "pages.bin"
    with open(path, "wb") as handle:
        handle.write(os.urandom(64 * 4096))
        handle.flush()
        os.fsync(handle.fileno())
    evict(path)
    assert page_cache.resident_share(path) == 0.0
    with open(path, "rb") as handle:
        handle.seek(32 * 4096)
        handle.read()  # the second half read
    assert page_cache.resident_share(path) >= 0.5
    with open(path, "rb") as handle:
        handle.read()
    assert page_cache.resident_share(path) == 1.0
