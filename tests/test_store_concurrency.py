"""One writer, many readers: a reader (another process, or a thread) searching while the writer
commits never sees part of a file, and follows the writer's new generations and index files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
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
    import json, sys
    from collections import Counter
    import numpy as np
    from pe_search.store import LibraryStore
    store = LibraryStore.open({library!r}, readonly=True)
    query = np.ones((1, {dim}), np.float32)
    seen, problems, rounds = set(), [], 0
    while rounds < 10 or len(seen) < 3:  # no clock: until it has watched the library grow
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


def _write_files(
    store: LibraryStore,
    count: int,
    stop: threading.Event | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    for number in range(count):
        if stop is not None and stop.is_set():
            return
        add_file(store, number, segments=SEGMENTS)
        if number % 4 == 3:
            store.delete_media(f"/media/audio/{number - 1:04d}.wav")
        if after is not None:
            after()


def test_reader_process_never_sees_partial_state(library, identity):
    with LibraryStore.open(library, identity, policy=POLICY) as store:
        add_file(store, 10_000, segments=SEGMENTS)  # the reader needs a library to open
        script = READER.format(library=str(library), dim=DIM, segments=SEGMENTS)
        reader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        stop = threading.Event()
        writer = threading.Thread(target=_write_files, args=(store, 100_000, stop))
        writer.start()
        out, _ = reader.communicate(timeout=300)  # a hang fails instead of stalling CI
        stop.set()
        writer.join()
    report = json.loads(out)
    assert report["problems"] == []
    assert report["rounds"] >= 10
    assert len(report["sizes"]) >= 3, "the reader saw the library grow while it searched"


def test_reader_thread_in_the_writer_process(library, identity):
    """Two reader threads search between and during the writer's commits; after each commit the
    writer waits until both have finished a search begun after it, so they see the library grow
    however the threads are scheduled."""
    with LibraryStore.open(library, identity, policy=POLICY) as store:
        stop = threading.Event()
        problems: list = []
        sizes: set[int] = set()
        rounds = [0, 0]
        progress = threading.Condition()

        def read(reader: int) -> None:
            query = np.ones((1, DIM), np.float32)
            try:
                while not stop.is_set():
                    per_file = Counter(hit.media_id for hit in store.search("audio", query, k=100_000)[0])
                    if any(n != SEGMENTS for n in per_file.values()):
                        problems.append(dict(per_file))
                    sizes.add(len(per_file))
                    with progress:
                        rounds[reader] += 1
                        progress.notify_all()
            finally:
                with progress:
                    rounds[reader] = 1 << 60  # a reader that died never holds the writer up
                    progress.notify_all()

        def after_commit() -> None:
            with progress:
                wanted = [n + 2 for n in rounds]  # the next round may have begun before the commit
                progress.wait_for(lambda: all(n >= w for n, w in zip(rounds, wanted)))

        readers = [threading.Thread(target=read, args=(n,)) for n in range(2)]
        for thread in readers:
            thread.start()
        _write_files(store, 60, after=after_commit)
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


class _WatchedLock:
    """A space's lock that says when a thread had to queue for it (sets `queued`)."""

    def __init__(self, queued: threading.Event) -> None:
        self.real, self.queued = threading.RLock(), queued

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.real.acquire(blocking=False):
            return True
        self.queued.set()
        return self.real.acquire(blocking, timeout)

    def release(self) -> None:
        self.real.release()

    __enter__ = acquire

    def __exit__(self, *_) -> None:
        self.release()


def test_a_search_inside_the_commit_window_waits_for_the_index(library, identity, monkeypatch):
    """Forced, not hoped for: the writer is held between SQLite's commit and the in-memory index
    following it (the window the space's lock covers) until a reader thread in the same process
    has searched there or queued on the lock. Without the lock the reader catches the index up
    from the stored vectors and the writer then adds them again: every file counted twice."""
    from pe_search.store import space_index, transaction

    go, window = threading.Event(), threading.Event()
    held = {"armed": False}
    real_init, real_finish = space_index.SpaceIndex.__init__, transaction.WriteTransaction.finish

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.lock = _WatchedLock(go)

    def finish(self):
        committed = real_finish(self)  # SQLite has the file; the index has not followed yet
        if held["armed"]:
            held["armed"] = False
            go.clear()
            window.set()
            go.wait()  # until the reader searched in the window or queued on the lock
        return committed

    monkeypatch.setattr(space_index.SpaceIndex, "__init__", init)
    monkeypatch.setattr(transaction.WriteTransaction, "finish", finish)
    seen: list[Counter] = []
    query = np.ones((1, DIM), np.float32)

    def count() -> Counter:
        return Counter(hit.media_id for hit in store.search("audio", query, k=100_000)[0])

    def read() -> None:
        window.wait()
        try:
            seen.append(count())
        finally:
            go.set()

    with LibraryStore.open(library, identity, policy=POLICY) as store:
        for number in range(3):
            add_file(store, number, segments=SEGMENTS)
        count()  # the index is in memory, at the last commit
        reader = threading.Thread(target=read)
        reader.start()
        held["armed"] = True
        add_file(store, 3, segments=SEGMENTS)
        reader.join()
        seen.append(count())
    assert seen and all(set(per_file.values()) == {SEGMENTS} for per_file in seen), seen
    assert len(seen[-1]) == 4
