"""The writer gives back the heap pages an in-memory IVF index's lists held once a save lets
them go (issue 24, item 6). Checked on FAISS's own lists, sized as at 1.4M vectors a list
(~90 KB each) with small live allocations between them, as an index build leaves the heap."""

from __future__ import annotations

from pathlib import Path

import faiss

from pe_search.store import heap


def anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon")


def test_the_pages_of_freed_lists_go_back_to_the_system():
    lists = faiss.ArrayInvertedLists(2_048, 128)
    keep = []
    for number in range(lists.nlist):
        lists.resize(number, 690)  # ~88 KB of codes: served from glibc's heap, not a map
        # a live allocation between lists, too large for glibc's per-size caches (4 KB codes
        # and ids): taken from the heap's top right after the list, so the lists' free space
        # is never one block at the top that free() would return by itself
        kept = faiss.ArrayInvertedLists(1, 8)
        kept.resize(0, 512)
        keep.append(kept)
    before = anon_mb()
    del lists
    freed = anon_mb()
    assert freed > before - 60  # the freed lists' pages stay in the process ...
    assert heap.give_back()
    assert anon_mb() < before - 120  # ... until the heap is trimmed (~180 MB of lists)
    del keep
