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
