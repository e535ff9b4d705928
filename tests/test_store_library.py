"""The library store's API: writing a file as one unit, lookups, moves, deletes, search with
filters, automatic index types, status, and which directory is the library."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import PurePosixPath

import numpy as np
import pytest
from test_store_support import (
    DIM,
    SMALL_POLICY,
    add_file,
    exact_top,
    file_vectors,
    make_identity,
)

from pe_search.store import (
    LibraryBusyError,
    LibraryLayout,
    LibraryNotFoundError,
    LibraryStore,
    MediaRecord,
    SearchFilter,
    SegmentRecord,
    resolve_library_dir,
)


@pytest.fixture
def library(tmp_path):
    return tmp_path / "library"


@pytest.fixture
def identity():
    return make_identity()


@pytest.fixture
def store(library, identity):
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        yield store


def _all_vectors(store, space="audio"):
    """Every stored vector and id of a space, straight from the vectors file."""
    with contextlib.closing(sqlite3.connect(store.layout.database)) as connection:
        rows = connection.execute("SELECT vector_id FROM vectors WHERE space = ? ORDER BY 1", (space,))
        ids = np.array([row[0] for row in rows])
    return ids, store.vectors(space, ids)


def test_resolve_library_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PE_SEARCH_LIBRARY", raising=False)
    assert resolve_library_dir(None) == tmp_path / "pe-library"
    monkeypatch.setenv("PE_SEARCH_LIBRARY", str(tmp_path / "from-env"))
    assert resolve_library_dir(None) == tmp_path / "from-env"
    assert resolve_library_dir("explicit") == tmp_path / "explicit"


def test_missing_library_is_not_created_unless_asked(library, identity):
    with pytest.raises(LibraryNotFoundError, match="no library at"):
        LibraryStore.open(library, identity, create=False)
    with pytest.raises(LibraryNotFoundError):
        LibraryStore.open(library, identity, readonly=True)
    assert not library.exists()


def test_write_search_and_join(store):
    media_id = add_file(store, 1, segments=3, spaces=("audio", "video"), has_video=True)
    add_file(store, 2, segments=2, spaces=("audio",))
    assert store.counts() == {"audio": 5, "video": 3}
    assert sorted(store.counts()) == ["audio", "video"]
    query = file_vectors(1, 3)[1] * 3  # closest to the second segment of file 1
    [hits] = store.search("audio", query, k=4)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    top = hits[0]
    assert (top.media_id, top.path, top.kind, top.start, top.end, top.level, top.space) == (
        media_id,
        "/media/video/0001.mp4",
        "video",
        2.0,
        4.0,
        "clip",
        "audio",
    )
    assert top.score == pytest.approx(float(query @ file_vectors(1, 3)[1]), rel=1e-5)
    ids, vectors = _all_vectors(store)
    assert [hit.vector_id for hit in hits] == exact_top(vectors, ids, query, 4)


def _ids_of(store, path, space="audio"):
    db = sqlite3.connect(store.layout.database)
    rows = db.execute(
        "SELECT v.vector_id FROM vectors v JOIN segments s ON v.segment_id = s.id "
        "JOIN media_files m ON s.media_file_id = m.id WHERE m.path = ? AND v.space = ? ORDER BY 1",
        (path, space),
    ).fetchall()
    db.close()
    return [row[0] for row in rows]


def test_vector_ids_are_stable_and_never_reused(store):
    add_file(store, 1, segments=3)
    add_file(store, 2, segments=3)
    assert _ids_of(store, "/media/audio/0002.wav") == [3, 4, 5]
    assert store.delete_media("/media/audio/0002.wav")
    add_file(store, 3, segments=3)
    assert _ids_of(store, "/media/audio/0003.wav") == [6, 7, 8], (
        "ids of deleted vectors are not handed out again"
    )
    assert _ids_of(store, "/media/audio/0001.wav") == [0, 1, 2]
    np.testing.assert_array_equal(store.vectors("audio", np.array([6, 7, 8])), file_vectors(3, 3))


def test_find_move_and_delete(store):
    first = add_file(store, 1, segments=2)
    assert store.find_media("/media/audio/0001.wav").id == first
    assert [m.id for m in store.find_media_by_hash(f"{1:064x}")] == [first]
    assert store.find_media("/nowhere") is None

    store.move_media("/media/audio/0001.wav", "/moved/0001.wav")
    assert store.find_media("/media/audio/0001.wav") is None
    moved = store.find_media("/moved/0001.wav")
    assert moved.id == first and moved.content_hash == f"{1:064x}"
    [[hit]] = store.search("audio", file_vectors(1, 2)[0], k=1)
    assert hit.path == "/moved/0001.wav" and hit.vector_id == 0, "vectors untouched by a move"

    add_file(store, 2, segments=2)
    with pytest.raises(ValueError, match="already in the library"):
        store.move_media("/moved/0001.wav", "/media/audio/0002.wav")

    assert store.delete_media("/moved/0001.wav")
    assert not store.delete_media("/moved/0001.wav")
    assert store.counts() == {"audio": 2}
    assert store.status().segments == 2
    hits = store.search("audio", file_vectors(1, 2)[0], k=10)[0]
    assert {hit.path for hit in hits} == {"/media/audio/0002.wav"}


def test_reindexing_a_file_replaces_its_segments(store):
    media_id = add_file(store, 1, segments=4)
    with store.write() as tx:
        same = tx.upsert_media(
            MediaRecord(path="/media/audio/0001.wav", size=5, mtime=9.0, has_audio=True, status="indexed")
        )
        assert same == media_id
        assert tx.delete_segments(media_id) == 4
        segment_ids = tx.add_segments(media_id, [SegmentRecord(0.0, 1.0)])
        tx.add_vectors("audio", segment_ids, np.ones((1, DIM), np.float32))
    assert store.counts() == {"audio": 1}
    assert store.find_media("/media/audio/0001.wav").size == 5
    [[hit]] = store.search("audio", np.ones(DIM, np.float32), k=5)
    assert hit.vector_id == 4 and hit.end == 1.0


def test_failed_transaction_leaves_nothing(store):
    add_file(store, 1, segments=2)
    with pytest.raises(RuntimeError, match="decoder died"), store.write() as tx:
        media_id = tx.upsert_media(MediaRecord(path="/half.wav", size=1, mtime=1.0))
        segment_ids = tx.add_segments(media_id, [SegmentRecord(0.0, 1.0), SegmentRecord(1.0, 2.0)])
        tx.add_vectors("audio", segment_ids, np.ones((2, DIM), np.float32))
        tx.add_vectors("new_space", segment_ids, np.ones((2, DIM), np.float32))
        raise RuntimeError("decoder died")
    assert store.find_media("/half.wav") is None
    assert store.counts() == {"audio": 2}
    assert store.search("audio", np.ones(DIM, np.float32), k=5)[0][0].path.endswith("0001.wav")
    add_file(store, 2, segments=2)  # the ids the failed transaction took were never live: reused
    assert _ids_of(store, "/media/audio/0002.wav") == [2, 3]
    np.testing.assert_array_equal(store.vectors("audio", np.array([2, 3])), file_vectors(2, 2))
    assert "new_space" not in store.counts()


def test_bad_input_is_refused(store):
    with store.write() as tx:
        media_id = tx.upsert_media(MediaRecord(path="/a.wav", size=1, mtime=1.0))
        segment_ids = tx.add_segments(media_id, [SegmentRecord(0.0, 1.0)])
        with pytest.raises(ValueError, match="shape"):
            tx.add_vectors("audio", segment_ids, np.ones((1, DIM + 1), np.float32))
        with pytest.raises(ValueError, match="1 segments"):
            tx.add_vectors("audio", segment_ids, np.ones((2, DIM), np.float32))
        with pytest.raises(ValueError, match="invalid space"):
            tx.add_vectors("../x", segment_ids, np.ones((1, DIM), np.float32))
        with pytest.raises(ValueError, match="level"):
            tx.add_segments(media_id, [SegmentRecord(0.0, 1.0, "scene")])
        with pytest.raises(ValueError, match="status"):
            tx.upsert_media(MediaRecord(path="/b.wav", size=1, mtime=1.0, status="done"))


def test_index_type_follows_size_and_is_recorded(store, library):
    seen = []
    number = 0
    while store.counts().get("audio", 0) <= SMALL_POLICY.hnsw_max + 10:
        add_file(store, number, segments=10)
        number += 1
        seen.append(store.status().spaces["audio"].index_type)
    assert seen[0] == "flat" and "hnsw" in seen and seen[-1] == "ivfpq"
    assert seen == sorted(seen, key=["flat", "hnsw", "ivfpq"].index), "switches only upwards while growing"
    assert any("switching from hnsw" in m for m in store.messages)
    # the choice and its parameters are recorded in SQLite (index_state) when saved
    db = sqlite3.connect(LibraryLayout(library).database)
    kind, params = db.execute(
        "SELECT index_type, index_params FROM index_state WHERE space = 'audio'"
    ).fetchone()
    db.close()
    assert kind == "ivfpq" and '"nlist"' in params and '"rerank"' in params
    # search stays right on the compressed index (re-rank on full vectors)
    ids, vectors = _all_vectors(store)
    query = vectors[17] * 2
    [hits] = store.search("audio", query, k=5)
    assert hits[0].vector_id == 17
    assert len({hit.vector_id for hit in hits} & set(exact_top(vectors, ids, query, 5))) >= 3
    exact_scores = [float(vectors[list(ids).index(hit.vector_id)] @ query) for hit in hits]
    np.testing.assert_allclose([hit.score for hit in hits], exact_scores, rtol=1e-5)


def test_deletes_on_hnsw_are_masked_then_rebuilt(library, identity):
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        for number in range(9):
            add_file(store, number, segments=10)
        assert store.status().spaces["audio"].index_type == "hnsw"
        store.delete_media("/media/audio/0000.wav")
        status = store.status().spaces["audio"]
        assert status.masked == 10 and status.count == 80
        hits = store.search("audio", file_vectors(0, 10)[0], k=20)[0]
        assert all(not hit.path.endswith("0000.wav") for hit in hits)
        for number in range(1, 5):  # masked share passes mask_rebuild_share (0.5)
            store.delete_media(f"/media/audio/{number:04d}.wav")
        status = store.status().spaces["audio"]
        assert status.masked == 0 and status.count == 40
        assert any("masked" in m for m in store.messages)


@pytest.mark.parametrize("files", [6, 20], ids=["exact-subset", "faiss-selector"])
def test_filtered_search(library, identity, files):
    """Few matches take the exact scan of the subset; many go through a FAISS id selector."""
    with LibraryStore.open(library, identity, policy=SMALL_POLICY) as store:
        for number in range(files):
            video = number % 2 == 0
            add_file(
                store,
                number,
                segments=3,
                has_video=video,
                duration=10.0 * number,
                mtime=1_000.0 + number,
                path=f"/lib/{'films' if video else 'songs'}/{number:03d}.{'mp4' if video else 'flac'}",
            )
        ids, vectors = _all_vectors(store)
        query = np.random.default_rng(3).standard_normal(DIM).astype(np.float32)

        def paths(filters, k=100):
            return [hit.path for hit in store.search("audio", query, k=k, filters=filters)[0]]

        videos = paths(SearchFilter(kinds=("video",)))
        assert videos and all(p.startswith("/lib/films/") for p in videos)
        assert len(videos) == 3 * len(range(0, files, 2))
        assert all(p.startswith("/lib/songs/") for p in paths(SearchFilter(path_prefix="/lib/songs/")))
        assert set(paths(SearchFilter(path_glob="*/00[0-3].*"))) == {
            f"/lib/{'films' if n % 2 == 0 else 'songs'}/{n:03d}.{'mp4' if n % 2 == 0 else 'flac'}"
            for n in range(4)
        }
        long = paths(SearchFilter(min_duration=30.0, max_duration=50.0))
        assert {int(PurePosixPath(p).stem) for p in long} == {3, 4, 5}
        recent = paths(SearchFilter(modified_after=1_000.0 + files - 2))
        assert len(recent) == 6
        assert paths(SearchFilter(kinds=("video",), path_prefix="/lib/songs/")) == []
        # the best filtered hit is the exact best among the filtered vectors
        [top] = store.search("audio", query, k=1, filters=SearchFilter(kinds=("audio",)))[0]
        audio_ids = np.array([i for i in ids if i // 3 % 2 == 1])
        assert top.vector_id == exact_top(vectors[audio_ids], audio_ids, query, 1)[0]


def test_writer_lock_is_exclusive(library, identity):
    with LibraryStore.open(library, identity) as store:
        with pytest.raises(LibraryBusyError, match="being written by another process"):
            LibraryStore.open(library, identity)
        reader = LibraryStore.open(library, identity, readonly=True)
        with pytest.raises(ValueError, match="read-only"), reader.write():
            pass
        reader.close()
        assert store.counts() == {}
    LibraryStore.open(library, identity).close()  # released on close


def test_status_reports_spaces_and_media(store):
    add_file(store, 1, segments=2, spaces=("audio", "audio_frame"))
    with store.write() as tx:
        tx.upsert_media(MediaRecord(path="/bad.mp4", size=1, mtime=1.0, status="failed", error="no streams"))
    status = store.status()
    assert status.media_by_status == {"indexed": 1, "failed": 1}
    assert set(status.spaces) == {"audio", "audio_frame"}
    assert status.spaces["audio_frame"].count == 2 and status.spaces["audio_frame"].index_type == "flat"
    assert status.identity.dim == DIM


def test_readers_map_the_database_and_the_writer_does_not(tmp_path):
    """Readers read SQLite's pages through a map (a million-file text query's scattered docsize
    lookups: docs/benchmarks.md); the writing process, whose memory indexing budgets, does not,
    on its read engine either (issue 24, item 6)."""
    from pe_search.store.database import open_engine

    with LibraryStore.open(tmp_path / "lib", make_identity()):
        pass
    database = tmp_path / "lib" / "library.db"

    def mapped(engine) -> int:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("PRAGMA mmap_size").scalar())

    reader, writer = open_engine(database, writer=False), open_engine(database, writer=True)
    try:
        assert mapped(reader) >= 512 * 2**20 > database.stat().st_size  # the whole file, and room to grow
        assert mapped(writer) == 0
    finally:
        reader.dispose()
        writer.dispose()
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        assert mapped(store._read_engine) == 0 and mapped(store._write_engine) == 0
    with LibraryStore.open(tmp_path / "lib", readonly=True) as store:
        assert mapped(store._read_engine) >= 512 * 2**20
