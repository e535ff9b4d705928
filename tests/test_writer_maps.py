"""The writer's passes over a vectors file leave no mapped pages behind (issue 24, item 6): pages
read through the memory map count in the process's RSS until it is unmapped, so a tuning's pass
over 2M x 4 KB rows kept gigabytes "resident". Checked by what the file was asked for and
whether a map is held, not by RSS; exact answers from numpy."""

from __future__ import annotations

import numpy as np

from pe_search.models.identity import ModelIdentity
from pe_search.store import IndexPolicy, LibraryStore, MediaRecord, SegmentRecord
from pe_search.store.ivf_tuning import READ_ROWS, exact_top
from pe_search.store.vector_file import VectorFile
from pe_search.store.vectors import create_index

DIM = 8


class Counting:
    """A vectors file that counts how its rows were read."""

    def __init__(self, file: VectorFile) -> None:
        self.file, self.mapped, self.plain = file, 0, 0

    def read(self, ids):
        self.mapped += len(ids)
        return self.file.read(ids)

    def read_rows(self, start, stop):
        self.plain += stop - start
        self.largest = max(getattr(self, "largest", 0), stop - start)
        return self.file.read_rows(start, stop)

    def read_scattered(self, ids):
        self.plain += len(ids)
        self.largest = max(getattr(self, "largest", 0), len(ids))
        return self.file.read_scattered(ids)

    def view(self, rows):
        return self.file.view(rows)


def test_exact_top_reads_consecutive_ids_without_the_map(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((500, DIM)).astype(np.float32)
    file = VectorFile(tmp_path / "v.f32", DIM, writable=True)
    file.write(0, vectors)
    source = Counting(file)
    queries = rng.standard_normal((4, DIM)).astype(np.float32)
    top = exact_top(queries, source, np.arange(500), 10, chunk=128)
    np.testing.assert_array_equal(top, np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10])
    assert (source.plain, source.mapped) == (500, 0)
    file.close()


def test_the_map_is_let_go_after_the_index_switches(tmp_path):
    identity = ModelIdentity(("maps",), "config", "weights", DIM, {"text_audio": (10.0, -5.0)})
    policy = IndexPolicy(flat_max=100, hnsw_max=0, tune_probes=5, train_size=500, ivf_lists_per_sqrt_n=0.1)
    rng = np.random.default_rng(4)
    with LibraryStore.open(tmp_path / "lib", identity, policy=policy) as store:
        for index in range(2):  # 60 vectors (flat), then 120: past flat_max, the switch
            space = store._spaces.get("audio")
            if space is not None:
                assert space.index.kind == "flat"
                space.file.view(space.file.rows())  # mapped, as a search maps it
                assert space.file._file._map is not None
            with store.write() as tx:
                media = MediaRecord(
                    path=f"/m/{index}", size=1, mtime=1.0, content_hash=str(index), duration=1.0
                )
                ids = tx.add_segments(tx.upsert_media(media), [SegmentRecord(0.0, 1.0, "clip")] * 60)
                tx.add_vectors("audio", ids, rng.standard_normal((60, DIM)).astype(np.float32))
        space = store._spaces["audio"]
        assert space.index.kind == "ivfpq"
        assert any("switching" in m for m in store.messages)
        assert space.file._file._map is None  # the build and its tuning's map is gone


def test_scattered_rows_are_read_plainly(tmp_path):
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((300, DIM)).astype(np.float32)
    file = VectorFile(tmp_path / "v.f32", DIM, writable=True)
    file.write(0, vectors)
    ids = np.array([0, 7, 8, 150, 299])
    np.testing.assert_array_equal(file.read_scattered(ids), vectors[ids])
    assert file._file._map is None
    file.close()


def test_a_retune_reads_no_rows_through_the_map_and_few_at_a_time(tmp_path):
    rng = np.random.default_rng(6)
    n = 2 * READ_ROWS + 100
    file = VectorFile(tmp_path / "v.f32", DIM, writable=True)
    file.write(0, rng.standard_normal((n, DIM)).astype(np.float32))
    source = Counting(file)
    spec = IndexPolicy(train_size=2_000, tune_probes=5, tune_max_probe_share=1.0).spec("ivfpq", n, DIM)
    index = create_index(spec, DIM, source)
    index.index(np.arange(n))
    source.mapped = source.plain = source.largest = 0
    index.retune(np.arange(n))
    assert source.mapped == 0
    assert source.plain >= n  # the exact pass read every vector once ...
    assert source.largest <= READ_ROWS  # ... at most READ_ROWS of them at a time
    file.close()
