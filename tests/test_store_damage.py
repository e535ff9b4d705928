"""Damaged and read-only libraries: a broken library.db or vector file is named in one line that
says how to recover; a writer repairs what it can (files whose vectors are lost become pending and
are encoded again); a library on a read-only disk is searched without writing anything."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_store_support import add_file, file_vectors, make_identity

from pe_search.cli.main import cli
from pe_search.store import LibraryDamagedError, LibraryLayout, LibraryStore


@pytest.fixture
def library(tmp_path) -> Path:
    path = tmp_path / "library"
    with LibraryStore.open(path, make_identity()) as store:
        for number in range(3):
            add_file(store, number, spaces=("audio", "video"))
    return path


def _status_line(library: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", "--library", str(library)])
    return result.exit_code, result.output


def _assert_one_line_error(library: Path, *phrases: str) -> None:
    code, output = _status_line(library)
    assert code == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


# -- library.db ----------------------------------------------------------------------------------


def test_garbage_database_is_named_in_one_line(library):
    database = LibraryLayout(library).database
    database.write_bytes(np.random.default_rng(0).integers(0, 256, 8192, np.uint8).tobytes())
    with pytest.raises(LibraryDamagedError, match="is damaged"):
        LibraryStore.open(library, readonly=True)
    with pytest.raises(LibraryDamagedError, match="is damaged"):
        LibraryStore.open(library, make_identity())
    _assert_one_line_error(library, "library.db is damaged", "restore it from a backup")


def test_truncated_database_is_named_in_one_line(library):
    database = LibraryLayout(library).database
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 3])
    with pytest.raises(LibraryDamagedError), LibraryStore.open(library, readonly=True) as store:
        list(store.iter_media())
        store.status()
    _assert_one_line_error(library, "library.db", "restore it from a backup")


def test_emptied_database_says_what_to_do(library):
    LibraryLayout(library).database.write_bytes(b"")
    with pytest.raises(LibraryDamagedError, match=r"is empty \(0 bytes\).*index your folders"):
        LibraryStore.open(library, readonly=True)
    _assert_one_line_error(library, "is empty (0 bytes)")
    with LibraryStore.open(library, make_identity()) as store:  # the next index run rebuilds it
        add_file(store, 7)
    assert LibraryStore.open(library, readonly=True).counts()["audio"] == 4


# -- vector files --------------------------------------------------------------------------------


def _query_top(store: LibraryStore) -> float:
    hits = store.search("audio", file_vectors(1, 4)[:1], k=3)[0]
    return max(hit.score for hit in hits)


@pytest.mark.parametrize("also_drop_index", [False, True])
def test_garbage_vector_file_is_refused_not_scored(library, also_drop_index):
    layout = LibraryLayout(library)
    path = layout.vector_file("audio")
    path.write_bytes(np.random.default_rng(1).integers(0, 256, path.stat().st_size, np.uint8).tobytes())
    if also_drop_index:
        layout.index_file("audio").unlink()
    with pytest.raises(LibraryDamagedError, match="checksum mismatch"):
        LibraryStore.open(library, readonly=True)
    _assert_one_line_error(library, "audio.f32", "checksum mismatch", "pe-search index")


def test_truncated_vector_file_is_repaired_by_the_next_writer(library):
    path = LibraryLayout(library).vector_file("audio")
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(LibraryDamagedError, match="cut short"):
        LibraryStore.open(library, readonly=True)
    with LibraryStore.open(library, make_identity()) as store:
        assert any("cut short" in m and "3 files are pending" in m for m in store.messages), store.messages
        assert {m.status for m in store.iter_media()} == {"pending"}
        assert store.counts().get("video", 0) == 0  # their other vectors went with their segments
        for number in range(3):  # what the next index run does: encode them again
            add_file(store, number, spaces=("audio", "video"))
    with LibraryStore.open(library, readonly=True) as store:
        assert store.counts() == {"audio": 12, "video": 12}
        assert abs(_query_top(store) - float(file_vectors(1, 4)[0] @ file_vectors(1, 4)[0])) < 1e-3


def test_deleted_vector_file_is_noticed(library):
    LibraryLayout(library).vector_file("video").unlink()
    with pytest.raises(LibraryDamagedError, match="video.f32 is missing"):
        LibraryStore.open(library, readonly=True)
    _assert_one_line_error(library, "video.f32 is missing")


def test_deleted_index_file_is_rebuilt_from_intact_vectors(library):
    LibraryLayout(library).index_file("audio").unlink()
    with LibraryStore.open(library, readonly=True) as store:
        assert any("index file missing" in m for m in store.messages)
        assert store.counts()["audio"] == 12


# -- read-only ----------------------------------------------------------------------------------


def test_reader_opens_the_database_read_only(library):
    """Proof by SQLite itself: the reader's connection cannot write."""
    with (
        LibraryStore.open(library, readonly=True) as store,
        store.read_connection() as connection,
        pytest.raises(Exception, match="readonly database"),
    ):
        connection.exec_driver_sql("UPDATE media_files SET size = 0")


def _read_only_mount(source: Path, target: Path) -> bool:
    target.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if mounted.returncode:
        return False
    subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
    return True


def test_library_on_a_read_only_file_system_is_searchable(library, tmp_path, monkeypatch):
    mount = tmp_path / "ro"
    if _read_only_mount(library, mount):
        try:
            assert subprocess.run(["touch", str(mount / "x")], capture_output=True).returncode != 0
            _search_read_only(mount)
        finally:
            subprocess.run(["umount", str(mount)], check=True)
    else:  # no mount privilege: the folder reports itself unwritable, as a read-only mount does
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode == os.W_OK else real(p, mode))
        (library / "library.db-shm").unlink(missing_ok=True)
        _search_read_only(library)


def _search_read_only(library: Path) -> None:
    with LibraryStore.open(library, readonly=True) as store:
        assert store.counts() == {"audio": 12, "video": 12}
        query = file_vectors(2, 4)[:1]
        top = store.search("audio", query, k=1)[0][0]
        assert top.score == pytest.approx(float(query[0] @ query[0]), rel=1e-4)
    code, output = _status_line(library)
    assert code == 0, output


def test_sqlite_proof_of_untouched_files(library, tmp_path):
    """Reading changes no byte of the library (no PRAGMA or journal write)."""
    before = {p.name: p.read_bytes() for p in library.rglob("*") if p.is_file()}
    with LibraryStore.open(library, readonly=True) as store:
        store.status()
    after = {p.name: p.read_bytes() for p in library.rglob("*") if p.is_file() and p.name in before}
    assert after == before


# -- checksums of files of any size (issue 27, defect 5) -------------------------------------------


def test_chunk_checksums_are_kept_as_vectors_are_written(tmp_path, monkeypatch):
    from pe_search.store import checksums

    monkeypatch.setattr(checksums, "CHUNK_BYTES", 1000)  # rows of 64 bytes straddle the chunks
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity()) as store:
        for number in range(30):  # 30 commits of 3 rows each: most continue a partial chunk
            add_file(store, number, segments=3)
    committed = LibraryLayout(library).vector_file("audio").read_bytes()[: 90 * 64]
    expected = {
        i: zlib.crc32(committed[at : at + 1000]) for i, at in enumerate(range(0, len(committed), 1000))
    }
    with sqlite3.connect(LibraryLayout(library).database) as db:
        recorded = dict(db.execute("SELECT chunk, crc32 FROM vector_chunks WHERE space = 'audio'"))
    assert recorded == expected


def test_damage_past_the_verify_budget_is_found_in_turn_reading_little_per_open(tmp_path, monkeypatch):
    from pe_search.store import checksums, repair
    from pe_search.store.vector_file import VectorFile

    monkeypatch.setattr(checksums, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(repair, "VERIFY_VECTORS_BYTES", 2048)  # the file holds 10 chunks: 5 opens' worth
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity()) as store:
        for number in range(40):
            add_file(store, number)  # 160 rows of 64 bytes
    path = LibraryLayout(library).vector_file("audio")
    assert path.stat().st_size == 10 * 1024
    with open(path, "r+b") as handle:  # garbage early in the file, far from the last write
        handle.seek(300)
        handle.write(b"\x7f" * 8)
    read = []
    real_crc = getattr(VectorFile, "crc", None)
    monkeypatch.setattr(
        VectorFile, "crc", lambda self, a, b: read.append(b - a) or real_crc(self, a, b), raising=False
    )
    for _open in range(5):
        read.clear()
        with LibraryStore.open(library, make_identity()) as store:
            assert sum(read) <= 2048  # an open checks at most the budget
            if any("checksum mismatch" in m for m in store.messages):
                assert {m.status for m in store.iter_media()} == {"pending"}
                break
    else:
        raise AssertionError("five writer opens never checked the damaged chunk")


def test_each_open_verifies_the_next_units_within_the_budget():
    from pe_search.store.scrub import plan

    units = [("a", 10), ("b", 10), ("c", 10), ("d", 10)]  # ends at 10, 20, 30, 40
    assert plan(units, 0, 40) == plan(units, 17, 40)  # all fit: all, every time
    assert plan(units, 17, 40).keys == {"a", "b", "c", "d"} and plan(units, 17, 40).next_position == 0
    first = plan(units, 0, 25)  # a + b = 20; c would make 30
    assert first.keys == {"a", "b"} and first.next_position == 20
    second = plan(units, first.next_position, 25)
    assert second.keys == {"c", "d"} and second.next_position == 0  # wrapped: the next open starts again
    assert plan(units, 35, 25).keys == {"d", "a"} and plan(units, 35, 25).next_position == 10
    assert plan(units, 75, 25).keys == {"d", "a"}  # a position past the end wraps (the library shrank)
    assert plan(units, 12, 5).keys == {"b"}  # a unit larger than the budget is still verified
    assert plan([], 3, 5).keys == frozenset()
