"""The IVF-PQ index of a large space (issue 24, items 1 and 7), on a few thousand vectors with the
policy's thresholds lowered: a reading process maps the index from disk and answers exactly as
the writer's in-memory index; the search settings are tuned to the policy's recall target and
recorded with the index; a build killed at a chunk resumes without adding those chunks again;
the writer's commits add to the lists without a rebuild; a disk that fills during a build leaves
the previous index in use and says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import numpy as np
import pytest
from test_disk_trouble import _fill, small_disk  # noqa: F401 (a fixture)
from test_store_support import DIM, make_identity

from pe_search.store import IndexPolicy, LibraryStore, MediaRecord, SegmentRecord
from pe_search.store.index_file import read_header
from pe_search.store.schema import IndexState

ROOT = Path(__file__).resolve().parent.parent
PER_FILE = 100
CHUNK = 500
# flat up to 60 vectors, HNSW up to 150, then IVF-PQ (nlist 32 on a 2,000-vector sample)
# (tuning may probe up to half the lists: 32 lists of ~125 vectors are coarse, where the default
# 1/16 is meant for 2,048 lists of thousands; no free bytes: at d = 16 every setting would be
# "free", and these tests check the cap and the cheapest settings reaching the target)
POLICY = IndexPolicy(
    flat_max=60, hnsw_max=150, train_size=2_000, save_every=10**9, build_chunk=CHUNK, tune_probes=40,
    tune_max_probe_share=0.5, tune_free_bytes=0,
)  # fmt: skip

# trained on 1,000 sampled vectors whatever the size, so a build grown by a file resumes
SAMPLED = IndexPolicy(**{**POLICY.__dict__, "train_size": 1_000})


def vectors_of(number: int, count: int = PER_FILE) -> np.ndarray:
    """File `number`'s vectors: points around one of 20 centres, so the lists differ in size."""
    rng = np.random.default_rng([number, 5])
    centres = np.random.default_rng(99).standard_normal((20, DIM)).astype(np.float32) * 3
    return (centres[number % 20] + rng.standard_normal((count, DIM))).astype(np.float32)


def add_files(store: LibraryStore, numbers: range) -> None:
    """Files with PER_FILE one-second segments each, all in one transaction."""
    with store.write() as tx:
        for number in numbers:
            media_id = tx.upsert_media(
                MediaRecord(
                    path=f"/media/{number:05d}.wav", size=number, mtime=1.7e9, content_hash=f"{number:064x}",
                    duration=float(PER_FILE), has_audio=True, status="indexed",
                )
            )  # fmt: skip
            ids = tx.add_segments(media_id, [SegmentRecord(float(i), i + 1.0) for i in range(PER_FILE)])
            tx.add_vectors("audio", ids, vectors_of(number))


def every_vector(numbers: range) -> np.ndarray:
    return np.concatenate([vectors_of(n) for n in numbers])


def queries(count: int = 30) -> np.ndarray:
    return np.random.default_rng(4).standard_normal((count, DIM)).astype(np.float32) * 2


def header_of(library: Path) -> dict:
    with open(library / "vectors" / "audio.index", "rb") as handle:
        header, _ = read_header(handle)
    return header


@pytest.fixture
def library(tmp_path) -> Path:
    """4,000 vectors in an IVF-PQ space, its index saved."""
    path = tmp_path / "lib"
    with LibraryStore.open(path, make_identity(), policy=POLICY) as store:
        add_files(store, range(40))
    return path


def test_a_reader_maps_the_index_and_answers_as_the_writer_does(library):
    with LibraryStore.open(library, make_identity(), policy=POLICY) as writer:
        assert writer._synced("audio").index.kind == "ivfpq"
        in_memory = writer.search_ids("audio", queries(), k=10)
        with LibraryStore.open(library, readonly=True, policy=POLICY) as reader:
            index = reader._synced("audio").index
            on_disk = faiss.downcast_InvertedLists(index._mapped[0])
            assert isinstance(on_disk, faiss.OnDiskInvertedLists)  # mapped, not read into memory
            assert on_disk.totsize > 0
            mapped = reader.search_ids("audio", queries(), k=10)
            np.testing.assert_array_equal(mapped[1], in_memory[1])
            np.testing.assert_array_equal(mapped[0], in_memory[0])
            # the writer commits more; the reader catches up in memory, stacked on the mapped lists
            add_files(writer, range(40, 43))
            caught_up = reader.search_ids("audio", queries(), k=10)
            np.testing.assert_array_equal(caught_up[1], writer.search_ids("audio", queries(), k=10)[1])
            assert reader._synced("audio").index.count() == 4300
    # and the answers are right: nearly every exact top 10 id (numpy, on the vectors written)
    exact = np.argsort(-(queries() @ every_vector(range(40)).T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(in_memory[1], exact, strict=True)])
    assert recall >= 0.9


def test_search_settings_are_tuned_to_the_target_and_recorded(library):
    header = header_of(library)
    params = header.params
    assert header.kind == "ivfpq" and header.extra["data"].endswith(".ivf")
    assert params["recall_target"] == 0.95 and params["tuned_recall"] >= 0.95
    assert params["tuned_on"] == 4000 and 1 <= params["nprobe"] <= params["nlist"] == 32
    with LibraryStore.open(library, readonly=True) as store:
        with store.read_connection() as connection:
            row = connection.execute(IndexState.__table__.select()).first()
        assert row.index_params == params  # index_state records the same settings
        # Probes the tuning never saw: stored vectors moved by noise. Their exact answers by numpy.
        rng = np.random.default_rng(8)
        data = every_vector(range(40))
        probes = data[rng.integers(0, len(data), 60)] + rng.standard_normal((60, DIM)).astype(np.float32)
        found = store.search_ids("audio", probes, k=10)[1]
    exact = np.argsort(-(probes @ data.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.9
    # a lower target is met by cheaper settings, which tuning finds
    cheap = IndexPolicy(**{**POLICY.__dict__, "recall_target": 0.5})
    with LibraryStore.open(library, make_identity(), policy=cheap) as store:
        assert store._synced("audio").index.params["recall_target"] == 0.5
    lowered = header_of(library).params
    assert (lowered["nprobe"], lowered["rerank"]) < (params["nprobe"], params["rerank"])
    assert lowered["tuned_recall"] >= 0.5


def test_a_budget_that_keeps_a_family_below_the_target_is_recorded_and_said(library):
    tight = IndexPolicy(**{**POLICY.__dict__, "tune_max_probe_share": 1 / 32, "recall_target": 0.999})
    with LibraryStore.open(library, make_identity(), policy=tight) as store:  # another budget: retuned
        said = [m for m in store.messages if "search settings tuned" in m]
    params = header_of(library).params
    assert params["tuned_max_nprobe"] == 1 and params["nprobe"] == 1  # never past the cap
    assert params["tuned_reached"] is False and params["tuned_recall"] < 0.999
    missed = sorted(name for name, fam in params["tuned_families"].items() if fam["reached_at"] is None)
    assert missed and len(said) == 1
    assert said[0].endswith(f"below the target within nprobe <= 1: {', '.join(missed)}")


CRASHING_BUILD = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_store_ivf_disk import POLICY, add_files
from test_store_support import make_identity
from pe_search.store import LibraryStore
store = LibraryStore.open(Path({library!r}), make_identity(), policy=POLICY)
add_files(store, range(40))  # the commit that switches to IVF-PQ builds it: killed at a chunk
print("not killed")
"""


def test_a_build_killed_at_a_chunk_resumes_without_adding_those_chunks_again(tmp_path, monkeypatch):
    library = tmp_path / "lib"
    script = CRASHING_BUILD.format(tests=str(ROOT / "tests"), library=str(library))
    env = {**os.environ, "PE_SEARCH_CRASH_AT": "index-build-chunk:3", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    folder = library / "vectors" / "audio.index.build"
    assert sorted(p.name for p in folder.glob("chunk-*.npz")) == [f"chunk-0000{i}.npz" for i in range(3)]

    from pe_search.store.vector_file import VectorFile

    real_read, real_rows, read = VectorFile.read, VectorFile.read_rows, []

    def counting_read(self, ids):
        read.append(np.asarray(ids, dtype=np.int64).copy())
        return real_read(self, ids)

    def counting_rows(self, start, stop):
        read.append(np.arange(start, stop))
        return real_rows(self, start, stop)

    monkeypatch.setattr(VectorFile, "read", counting_read)
    monkeypatch.setattr(VectorFile, "read_rows", counting_rows)
    with LibraryStore.open(library, make_identity(), policy=POLICY) as store:
        index = store._synced("audio").index
        report = index.build_report
        assert (report.chunks_reused, report.chunks_added, report.trained_now) == (3, 5, False)
        assert report.vectors_added == 4000 - 3 * CHUNK
        # what was read from the vectors file to build: only the chunks the kill left undone
        # (tuning reads candidates back afterwards; the build's reads are whole chunks)
        chunk_reads = [ids for ids in read if ids.size == CHUNK]
        assert np.array_equal(np.sort(np.concatenate(chunk_reads)), np.arange(3 * CHUNK, 4000))
        held = index.ids()
        assert np.array_equal(held, np.arange(4000))  # every vector once
    assert not folder.exists()  # the saved index holds the chunks: the build's folder is gone


def test_commits_add_to_the_lists_without_a_rebuild(library, monkeypatch):
    from pe_search.store import ivf_build

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(ivf_build, "build", no_build)
    before = header_of(library)
    with LibraryStore.open(library, make_identity(), policy=POLICY) as store:
        add_files(store, range(40, 50))
        index = store._synced("audio").index
        assert index.count() == 5000 and index.params["trained_on"] == 4000
        probes = vectors_of(45)[:20]
        found = store.search_ids("audio", probes, k=10)[1]
    exact = np.argsort(-(probes @ every_vector(range(50)).T), axis=1)[:, :10]
    assert (exact >= 4000).mean() > 0.2  # the new vectors are among the right answers ...
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.9  # ... and the index finds them
    after = header_of(library)
    assert after.count == 5000 and after.extra["data"] != before.extra["data"]
    assert after.params["nlist"] == before.params["nlist"]
    assert not list((library / "vectors").glob(f"{before.extra['data']}*"))  # the old data file went


def test_a_disk_filling_during_a_build_keeps_the_previous_index_and_says_so(small_disk, monkeypatch):  # noqa: F811
    from pe_search.store import ivf_build

    library = small_disk / "lib"
    with LibraryStore.open(library, make_identity(), policy=SAMPLED) as store:
        add_files(store, range(1))  # 100 vectors: HNSW
    real_write, fillers = ivf_build._write, []

    def filling_at_the_second_chunk(path: Path, data: bytes) -> None:
        if path.name == "chunk-00001.npz" and not fillers:
            fillers.append(_fill(small_disk))
        real_write(path, data)

    monkeypatch.setattr(ivf_build, "_write", filling_at_the_second_chunk)
    with LibraryStore.open(library, make_identity(), policy=SAMPLED) as store:
        add_files(store, range(1, 12))  # 1,200 vectors call for IVF-PQ: the build meets a full disk
        assert fillers, "the disk filled up during the build"
        said = [m for m in store.messages if "disk is full" in m]
        assert len(said) == 1 and "\n" not in said[0]
        assert "previous hnsw index is still used" in said[0]
        index = store._synced("audio").index
        assert index.kind == "hnsw" and index.count() == 1200  # the commit is in it
        found = store.search_ids("audio", queries(), k=1)[1][:, 0]
        exact = np.argmax(queries() @ every_vector(range(12)).T, axis=1)
        assert np.mean(found == exact) >= 0.9  # HNSW (ef 128) over 1,200 vectors: all but a few
        assert not list((library / "vectors" / "audio.index.build").glob("*.tmp"))  # no half chunk
        fillers[0].unlink()
        add_files(store, range(12, 13))  # space again: the next write resumes the build
        index = store._synced("audio").index
        assert index.kind == "ivfpq" and index.build_report.chunks_reused == 1
    assert header_of(library).kind == "ivfpq"


def test_an_index_far_behind_is_built_as_the_size_calls_for_not_caught_up_first(tmp_path):
    """An index file saved at 100 vectors (HNSW), a library at 4,000: opening builds IVF-PQ from
    the stored vectors directly; catching the old one up first would hold every vector in RAM."""
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity(), policy=POLICY) as store:
        add_files(store, range(1))
    unsaving = IndexPolicy(**{**POLICY.__dict__, "flat_max": 10**6, "hnsw_max": 10**6})
    store = LibraryStore.open(library, make_identity(), policy=unsaving)
    add_files(store, range(1, 40))  # the index follows in memory; its file stays at 100
    store.close(save=False)
    assert header_of(library).count == 100
    with LibraryStore.open(library, make_identity(), policy=POLICY) as store:
        assert not [m for m in store.messages if "brought up to date" in m], store.messages
        assert [m for m in store.messages if "built ivfpq" in m and "4000 stored vectors" in m]
        assert store._synced("audio").index.count() == 4000


def test_the_crash_point_is_known():
    from pe_search import crash_points

    assert "index-build-chunk" in crash_points.POINTS
    assert json.dumps(POLICY.spec("ivfpq", 4000, DIM).params)  # the spec is recorded as JSON
