"""The one positioned-write, memory-mapped file class behind clip vectors and frame blocks."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.store.append_file import AppendFile
from pe_search.store.vector_file import VectorFile


class Short(Exception):
    pass


def test_rows_written_at_positions_are_mapped_and_a_reader_sees_the_file_grow(tmp_path):
    path = tmp_path / "rows.f32"
    rows = np.arange(40, dtype=np.float32).reshape(10, 4)
    writer = AppendFile(path, writable=True, dtype=np.float32, width=4)
    reader = AppendFile(path, writable=False, dtype=np.float32, width=4)
    writer.write(0, rows[:3])
    writer.sync()
    first = reader.view(3, Short)
    np.testing.assert_array_equal(first[:3], rows[:3])
    writer.write(5, rows[5:])  # past a gap: rows 3 and 4 are whatever the file holds there
    writer.write(3, rows[3:5])
    writer.sync()
    assert reader.rows() == writer.rows() == 10
    np.testing.assert_array_equal(reader.view(10, Short), rows)  # mapped again, now longer
    assert reader.view(2, Short).shape == (10, 4)  # a shorter need keeps the current map
    writer.close()
    reader.close()


def test_a_file_shorter_than_needed_raises_what_the_owner_says(tmp_path):
    writer = AppendFile(tmp_path / "bytes", writable=True)
    writer.write(0, b"abcdef")
    with pytest.raises(Short) as raised:
        writer.view(7, lambda have: Short(have))
    assert raised.value.args == (6,)
    assert bytes(writer.view(6, Short)) == b"abcdef"
    writer.close()
    with pytest.raises(RuntimeError, match="read-only"):
        writer.write(6, b"g")  # a closed handle writes nothing
    with pytest.raises(RuntimeError, match="read-only"):
        AppendFile(tmp_path / "bytes", writable=False).write(0, b"x")


def test_a_vector_file_is_raw_little_endian_float32_rows(tmp_path):
    """The format existing libraries hold: row i at byte i * dim * 4, nothing else in the file."""
    vectors = np.random.default_rng(3).standard_normal((7, 5)).astype(np.float32)
    file = VectorFile(tmp_path / "audio.f32", 5, writable=True)
    file.write(2, vectors[2:])
    file.write(0, vectors[:2])
    file.sync()
    assert (tmp_path / "audio.f32").read_bytes() == vectors.astype("<f4").tobytes()
    np.testing.assert_array_equal(file.read(np.array([6, 0, 3])), vectors[[6, 0, 3]])
    file.close()


class RecordingRegion:
    """Stands for the file's map and records the read-ahead requests made of it."""

    def __init__(self, length: int) -> None:
        self.length, self.asked = length, []

    def __len__(self) -> int:
        return self.length

    def madvise(self, option: int, start: int, length: int) -> None:
        self.asked.append((option, start, length))


def test_will_need_asks_for_each_rows_pages_once_joining_rows_that_share_or_touch_pages(tmp_path):
    import mmap

    page = mmap.PAGESIZE
    file = AppendFile(tmp_path / "rows.f32", writable=True, dtype=np.float32, width=page // 4)  # a page a row
    file.write(0, np.zeros((40, page // 4), dtype=np.float32))
    file.view(40, Short)
    file._region = region = RecordingRegion(40 * page)
    file.will_need(np.array([7, 2, 3, 2, 20, 39]))  # unsorted, repeated
    # by hand: rows 2-3 are pages 2-3 (one run), 7, 20 and 39 one page each
    assert region.asked == [
        (mmap.MADV_WILLNEED, 2 * page, 2 * page),
        (mmap.MADV_WILLNEED, 7 * page, page),
        (mmap.MADV_WILLNEED, 20 * page, page),
        (mmap.MADV_WILLNEED, 39 * page, page),
    ]

    small = AppendFile(tmp_path / "small.f32", writable=True, dtype=np.float32, width=page // 16)  # 4 a page
    small.write(0, np.zeros((12, page // 16), dtype=np.float32))
    small.view(12, Short)
    small._region = region = RecordingRegion(3 * page)
    small.will_need(np.array([1, 2, 9]))  # rows 1-2 in page 0, row 9 in page 2
    assert region.asked == [(mmap.MADV_WILLNEED, 0, page), (mmap.MADV_WILLNEED, 2 * page, page)]


def test_a_vector_files_rows_read_at_random_and_in_a_run_are_the_rows_written(tmp_path):
    rows = np.random.default_rng(3).standard_normal((300, 16)).astype(np.float32)
    writer = VectorFile(tmp_path / "v.f32", 16, writable=True)
    writer.write(0, rows)
    writer.sync()
    reader = VectorFile(tmp_path / "v.f32", 16, writable=False)
    ids = np.array([299, 5, 6, 120, 5])
    np.testing.assert_array_equal(reader.read(ids), rows[ids])
    np.testing.assert_array_equal(reader.read(np.arange(40, 90)), rows[40:90])
    reader.will_need(np.array([-1, 3, 250]))  # -1 (no candidate) is left out
    with pytest.raises(Exception, match="holds 300 vectors"):
        reader.read(np.arange(295, 305))
