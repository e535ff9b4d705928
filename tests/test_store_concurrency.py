"""One writer, many readers: a reader (another process, or a thread) searching while the writer
commits never sees part of a file, and follows the writer's new generations and index files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_store_support import DIM, SMALL_POLICY, add_file, make_identity

from pe_search.store import LibraryStore

# Exact indexes, so that a search for k = everything returns every live vector; save after every
# commit, so readers keep reloading index files that the writer keeps replacing.
POLICY = replace(SMALL_POLICY, flat_max=10_000, save_every=1, save_share=0.0)
SEGMENTS = 4

READER = textwrap.dedent(
    """
    import json, sys, time
    from collections import Counter
    import numpy as np
    from pe_search.store import LibraryStore
    store = LibraryStore.open({library!r}, readonly=True)
    query = np.ones((1, {dim}), np.float32)
    seen, problems, rounds = set(), [], 0
    end = time.monotonic() + {seconds}
    while time.monotonic() < end:
        status = store.status()
        indexed = status.media_by_status.get("indexed", 0)
        count = status.spaces["audio"].count if "audio" in status.spaces else 0
        if status.segments != {segments} * indexed or count != {segments} * indexed:
            problems.append(["snapshot", indexed, status.segments, count])
        per_file = Counter(hit.media_id for hit in store.search("audio", query, k=100_000)[0])
        if any(n != {segments} for n in per_file.values()):
            problems.append(["partial file in results", dict(per_file)])
        seen.add(len(per_file))
        rounds += 1
    print(json.dumps({{"rounds": rounds, "sizes": sorted(seen), "problems": problems[:5]}}))
    """
)


@pytest.fixture
def library(tmp_path):
    return tmp_path / "library"


@pytest.fixture
def identity():
    return make_identity()


def _write_files(store: LibraryStore, count: int, stop: threading.Event | None = None) -> None:
    for number in range(count):
        if stop is not None and stop.is_set():
            return
        add_file(store, number, segments=SEGMENTS)
        if number % 4 == 3:
            store.delete_media(f"/media/audio/{number - 1:04d}.wav")


def test_reader_process_never_sees_partial_state(library, identity):
    with LibraryStore.open(library, identity, policy=POLICY) as store:
        add_file(store, 10_000, segments=SEGMENTS)  # the reader needs a library to open
        script = READER.format(library=str(library), dim=DIM, segments=SEGMENTS, seconds=4.0)
        reader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        stop = threading.Event()
        writer = threading.Thread(target=_write_files, args=(store, 100_000, stop))
        writer.start()
        out, _ = reader.communicate(timeout=60)
        stop.set()
        writer.join()
    report = json.loads(out)
    assert report["problems"] == []
    assert report["rounds"] >= 10
    assert len(report["sizes"]) >= 3, "the reader saw the library grow while it searched"


def test_reader_thread_in_the_writer_process(library, identity):
    with LibraryStore.open(library, identity, policy=POLICY) as store:
        stop = threading.Event()
        problems: list = []
        sizes: set[int] = set()

        def read() -> None:
            query = np.ones((1, DIM), np.float32)
            while not stop.is_set():
                per_file = Counter(hit.media_id for hit in store.search("audio", query, k=100_000)[0])
                if any(n != SEGMENTS for n in per_file.values()):
                    problems.append(dict(per_file))
                sizes.add(len(per_file))

        readers = [threading.Thread(target=read) for _ in range(2)]
        for thread in readers:
            thread.start()
        _write_files(store, 60)
        stop.set()
        for thread in readers:
            thread.join()
        assert problems == []
        assert len(sizes) >= 3
        assert store.status().spaces["audio"].index_count == store.counts()["audio"] == 45 * SEGMENTS


def test_reader_follows_a_type_switch(library, identity):
    """A reader opened on a flat index picks up the writer's HNSW file when it searches again."""
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        add_file(store, 0, segments=10)
        reader = LibraryStore.open(library, readonly=True, policy=SMALL_POLICY)
        assert reader.status().spaces["audio"].index_type == "flat"
        for number in range(1, 8):
            add_file(store, number, segments=10)
        assert store.status().spaces["audio"].index_type == "hnsw"
        hits = reader.search("audio", np.ones(DIM, np.float32), k=5)[0]
        assert len(hits) == 5
        status = reader.status().spaces["audio"]
        assert status.index_type == "hnsw" and status.index_count == status.count == 80
        reader.close()
    assert Path(library).exists()
