"""The writer holds a file's audio frames once (issue 24, item 6): an hour of 40 ms frames is
90,000 x 1024 float32 (368 MB), and joining the chunks into one array beside them held it twice.

Measured by what is alive, not by time or RSS: weak references to the chunks' arrays say whether
they are still held when the block is coded. The block read back is compared with the frames
as written (numpy), and the piece checksums of a block written in parts with zlib's CRC of the
joined bytes.
"""

from __future__ import annotations

import weakref
import zlib

import numpy as np

from indexer.encode import EncodedChunk, EncodedWindow
from indexer.reader import FileJob
from indexer.write import EncodedFile, write_file
from pe_search.models.catalogue import CHUNK_FRAME_SPACE
from pe_search.models.identity import ModelIdentity
from pe_search.store import LibraryStore
from pe_search.store.checksums import parts_crcs

DIM = 16
FRAME_S = 0.04


def _encoded(rng: np.random.Generator) -> tuple[EncodedFile, list[np.ndarray]]:
    chunks = [rng.standard_normal((750, DIM)).astype(np.float32) for _ in range(4)]  # 4 x 30 s
    windows = [
        EncodedWindow("/m/a.wav", 0, 0.0, 30.0, {"audio": rng.standard_normal(DIM).astype(np.float32)})
    ]
    encoded = EncodedFile(
        job=FileJob("/m/a.wav", 1, 1.0, "00"),
        has_audio=True,
        has_video=False,
        duration=110.0,  # the last chunk runs past the end: frames from 110 s on are dropped
        windows=windows,
        chunks=[EncodedChunk("/m/a.wav", i * 30.0, c) for i, c in reversed(list(enumerate(chunks)))],
    )
    return encoded, chunks


def test_chunks_are_let_go_before_the_block_is_coded_and_the_block_holds_the_frames(tmp_path):
    encoded, chunks = _encoded(np.random.default_rng(1))
    expected = np.concatenate(chunks)[: round(110.0 / FRAME_S)]
    alive = [weakref.ref(chunk.vectors) for chunk in encoded.chunks]
    identity = ModelIdentity(("frames-once",), "config", "weights", DIM, {"text_audio": (10.0, -5.0)})
    with LibraryStore.open(tmp_path / "lib", identity) as store:
        held_when_coded = []
        write = store.frames.write

        def spy(*args, **kwargs):
            held_when_coded.append(sum(ref() is not None for ref in alive))
            return write(*args, **kwargs)

        store.frames.write = spy
        del chunks
        write_file(store, encoded, FRAME_S, "f32")
        assert held_when_coded == [0], "the chunks' arrays are still held beside the block's"
        ((info, read),) = store.frame_blocks(CHUNK_FRAME_SPACE)
        block = read()
        assert info.count == len(expected) == 2750
        np.testing.assert_array_equal(block.vectors(), expected)
        np.testing.assert_allclose(block.starts, np.arange(2750) * FRAME_S, atol=1e-6)


def test_piece_checksums_of_parts_equal_those_of_the_joined_bytes():
    rng = np.random.default_rng(2)
    parts = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in (3, 64, 1, 130, 0, 77)]
    parts.append(memoryview(rng.integers(0, 256, (10, 9), dtype=np.uint8)))
    joined = b"".join(bytes(p) for p in parts)
    piece = 50
    expected = [zlib.crc32(joined[at : at + piece]) for at in range(0, len(joined), piece)]
    assert np.frombuffer(parts_crcs(parts, piece), dtype="<u4").tolist() == expected
