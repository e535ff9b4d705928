"""Crash safety: atomic index saves, repair of missing/stale/corrupt indexes from the stored
vectors, a writer killed with SIGKILL at random moments, and refusal of another model."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from test_store_support import SMALL_POLICY, add_file, file_vectors, make_identity

from pe_search.store import LibraryLayout, LibraryStore, ModelMismatchError
from pe_search.store.atomic import SimulatedCrash
from pe_search.store.index_file import load_index


@pytest.fixture
def library(tmp_path):
    return tmp_path / "library"


@pytest.fixture
def identity():
    return make_identity()


def _index_header(library: Path, space: str = "audio"):
    with open(LibraryLayout(library).index_file(space), "rb") as handle:
        from pe_search.store.index_file import read_header

        return read_header(handle)[0]


def _check_consistent(store: LibraryStore, segments: int = 4) -> int:
    """Every file whole, every stored vector the one written for it, indexes equal to SQLite."""
    db = sqlite3.connect(store.layout.database)
    files = db.execute("SELECT id, path FROM media_files").fetchall()
    for media_id, path in files:
        number = int(Path(path).stem)
        rows = db.execute(
            "SELECT v.space, v.vector_id, s.start_s FROM vectors v JOIN segments s ON v.segment_id = s.id "
            "WHERE s.media_file_id = ? ORDER BY v.space, s.start_s",
            (media_id,),
        ).fetchall()
        assert len(rows) == segments, f"{path}: {len(rows)} vectors, a partial file"
        ids = np.array([vector_id for _, vector_id, _ in rows])
        np.testing.assert_array_equal(store.vectors("audio", ids), file_vectors(number, segments))
    db.close()
    status = store.status()
    for space in status.spaces.values():
        assert space.count == space.index_count == len(files) * segments
    return len(files)


def test_crash_before_rename_leaves_old_index_readable(library, identity):
    store = LibraryStore.open(library, identity, policy=SMALL_POLICY)
    add_file(store, 1)
    store.checkpoint()
    saved = _index_header(library)
    add_file(store, 2)
    for step in ("written", "synced"):
        with pytest.raises(SimulatedCrash):
            store.checkpoint(crash_at=step)
        assert LibraryLayout(library).index_file("audio").with_suffix(".index.tmp").exists()
        header, index = load_index(
            LibraryLayout(library).index_file("audio"), store.space_index("audio").file
        )
        assert (header.generation, header.count, index.count()) == (saved.generation, 4, 4)
    store.close(save=False)  # the process "dies" here

    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as reopened:
        assert not LibraryLayout(library).index_file("audio").with_suffix(".index.tmp").exists()
        assert any("brought up to date" in m and "(+4 -0)" in m for m in reopened.messages)
        assert _check_consistent(reopened) == 2
    assert _index_header(library).count == 8, "the repaired index was saved"


def test_failing_rename_keeps_old_index(library, identity, monkeypatch):
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        add_file(store, 1)
        store.checkpoint()
        add_file(store, 2)

        def broken_replace(src, dst):
            raise OSError("disk full")

        monkeypatch.setattr(os, "replace", broken_replace)
        with pytest.raises(OSError, match="disk full"):
            store.checkpoint()
        monkeypatch.undo()
        assert _index_header(library).count == 4
        assert store.counts() == {"audio": 8}  # committed data is unaffected
        store.checkpoint()
    assert _index_header(library).count == 8


def test_missing_index_is_rebuilt_from_stored_vectors(library, identity):
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        for number in range(20):  # 80 vectors: an HNSW index with SMALL_POLICY
            add_file(store, number)
    LibraryLayout(library).index_file("audio").unlink()
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        assert any("index file missing" in m and "built hnsw" in m for m in store.messages)
        assert _check_consistent(store) == 20
        [[hit]] = store.search("audio", file_vectors(7, 4)[2] * 3, k=1)
        assert hit.path.endswith("0007.wav") and hit.start == 4.0
    assert LibraryLayout(library).index_file("audio").exists()


def test_corrupt_index_is_rebuilt(library, identity):
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        add_file(store, 1)
    path = LibraryLayout(library).index_file("audio")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        assert any("unreadable" in m for m in store.messages)
        assert _check_consistent(store) == 1


def test_stale_index_is_brought_up_to_date(library, identity):
    """An index file from an older generation (the writer died before saving again)."""
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        for number in range(3):
            add_file(store, number)
    old = library / "old.index"
    shutil.copy(LibraryLayout(library).index_file("audio"), old)
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        store.delete_media("/media/audio/0001.wav")
        add_file(store, 3)
        add_file(store, 4)
    shutil.copy(old, LibraryLayout(library).index_file("audio"))
    assert _index_header(library).count == 12
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        [message] = [m for m in store.messages if m.startswith("audio:")]
        assert "generation 3 (12 vectors)" in message and "(+8 -4)" in message
        assert _check_consistent(store) == 4
        hits = store.search("audio", file_vectors(1, 4)[0] * 3, k=16)[0]
        assert all(not hit.path.endswith("0001.wav") for hit in hits)


def test_other_model_is_refused_or_rebuilt(library, identity):
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        add_file(store, 1, spaces=("audio", "video"))
    other = make_identity(weights="w2")
    with pytest.raises(ModelMismatchError, match="built with another model") as refused:
        LibraryStore.open(library, other)
    assert "--rebuild" in str(refused.value) and "weights" in str(refused.value)
    with pytest.raises(ModelMismatchError):
        LibraryStore.open(library, make_identity(dim=32), readonly=True)
    with LibraryStore.open(library, identity) as same:  # the same model opens fine
        assert same.counts() == {"audio": 4, "video": 4}

    with LibraryStore.open(library, other, rebuild=True) as rebuilt:
        assert any("model changed" in m and "dropped 8 vectors" in m for m in rebuilt.messages)
        assert rebuilt.counts() == {}
        assert rebuilt.find_media("/media/audio/0001.wav").status == "pending"
        assert rebuilt.identity.weights_hash == other.weights_hash
        assert not any(LibraryLayout(library).vectors_dir.iterdir())
        add_file(rebuilt, 1)
        assert rebuilt.counts() == {"audio": 4}
    with pytest.raises(ModelMismatchError):
        LibraryStore.open(library, identity)


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_store_support import SMALL_POLICY, add_file, make_identity
    from pe_search.store import LibraryStore
    store = LibraryStore.open({library!r}, make_identity(), policy=SMALL_POLICY)
    number = {start}
    while True:
        add_file(store, number)
        if number % 5 == 4:
            store.delete_media(f"/media/audio/{{number - 2:04d}}.wav")
        print(number, flush=True)
        number += 1
    """
)


def test_kill_9_at_random_moments_leaves_a_consistent_library(library, identity):
    rng = np.random.default_rng(11)
    start = 0
    for _round in range(3):
        script = WRITER.format(tests=str(Path(__file__).parent), library=str(library), start=start)
        writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        last = None
        while True:  # no deadline: under load the writer is slower, never less far along
            line = writer.stdout.readline()
            if not line:
                break
            last = int(line)
            if last >= start + 12:
                break
        time.sleep(float(rng.uniform(0.0, 0.05)))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert last is not None, "the writer did not get going"
        with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
            files = _check_consistent(store)
            assert files >= 10
            start = max(int(Path(m.path).stem) for m in store.iter_media()) + 1
    assert start >= 36
