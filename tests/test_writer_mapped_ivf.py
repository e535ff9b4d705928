"""The writer maps its IVF-PQ lists as readers do and holds in memory only the codes added since
its last save; a save merges the mapped lists with those into a new data file (issue 24, item
6). Small: a few thousand vectors, the policy's thresholds lowered as test_store_ivf_disk does.

The expected answers come from FAISS itself: the trained index read whole into memory by
`faiss.read_index`, emptied, and given every vector by its own `add_with_ids`."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import numpy as np
import pytest
from test_disk_trouble import _fill, small_disk  # noqa: F401 (a fixture)
from test_store_ivf_disk import POLICY, add_files, every_vector, header_of, queries, vectors_of
from test_store_support import DIM, make_identity

from pe_search.store import IndexPolicy, LibraryStore
from pe_search.store.index_file import load_index
from pe_search.store.vectors import IVFPQIndex

ROOT = Path(__file__).resolve().parent.parent
# a save every 3 files of 100 vectors
SAVING = IndexPolicy(**{**POLICY.__dict__, "save_every": 300, "save_share": 0.0})
FIRST, LAST = 40, 52  # 40 files build the IVF-PQ index, then one file a commit


def in_memory_rows(index) -> int:
    """Codes the writer's index holds in memory, counted in FAISS's own lists: a mapped index
    holds them in the lists stacked behind the mapped ones, an unmapped one holds them all."""
    if index._mapped is None:
        return int(index._index.ntotal)
    memory = index._mapped[1]
    return sum(int(memory.list_size(i)) for i in range(memory.nlist))


def fresh_in_memory(library: Path, files: int) -> faiss.Index:
    """FAISS's own in-memory IVF-PQ with the saved index's training and the first `files` files."""
    data = library / "vectors" / header_of(library).extra["data"]
    index = faiss.read_index(str(data))  # read whole into memory, by FAISS
    index.reset()
    index.add_with_ids(every_vector(range(files)), np.arange(files * 100, dtype=np.int64))
    return index


@pytest.fixture
def grown(tmp_path) -> Path:
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity(), policy=SAVING) as store:
        add_files(store, range(FIRST))
        for number in range(FIRST, LAST):
            add_files(store, range(number, number + 1))
    return library


def test_the_writer_holds_in_memory_only_the_codes_added_since_its_last_save(tmp_path, monkeypatch):
    from pe_search.store import ivf_lists

    real_lists, memory_reads, file_reads = ivf_lists.FileLists.lists, [], []

    def plain_reads(self):
        file_reads.append(self.path.name)
        return real_lists(self)

    real_memory = ivf_lists.MemoryLists.lists

    def lists_faiss_holds(self):
        memory_reads.append(int(self.sizes().sum()))
        return real_memory(self)

    monkeypatch.setattr(ivf_lists.FileLists, "lists", plain_reads)
    monkeypatch.setattr(ivf_lists.MemoryLists, "lists", lists_faiss_holds)
    library = tmp_path / "lib"
    with LibraryStore.open(library, make_identity(), policy=SAVING) as store:
        add_files(store, range(FIRST))
        index = store._synced("audio").index
        assert index.kind == "ivfpq" and header_of(library).count == 4000
        assert in_memory_rows(index) == 0  # the build's codes are in the file, mapped
        saves = set()
        for number in range(FIRST, LAST):
            add_files(store, range(number, number + 1))
            index = store._synced("audio").index
            saved = header_of(library).count
            saves.add(saved)
            assert index.count() == (number + 1) * 100
            assert in_memory_rows(index) == index.count() - saved
            assert in_memory_rows(index) < 300
        assert saves == {4000, 4300, 4600, 4900, 5200}  # a save every 3 files, each merging the lists
    # each merge read the saved lists from the previous data file with plain reads, and from
    # FAISS's lists only the build's (its first save) and the 300 codes added since each save
    assert len(file_reads) == 4 and len(set(file_reads)) == 4
    assert memory_reads == [4000, 300, 300, 300, 300]


def test_a_grown_writer_answers_as_faiss_in_memory_index_and_a_reader(grown):
    nlist = header_of(grown).params["nlist"]
    with LibraryStore.open(grown, make_identity(), policy=SAVING) as writer:
        add_files(writer, range(LAST, LAST + 2))  # and two files not saved yet
        space = writer._synced("audio")
        index = space.index
        assert in_memory_rows(index) == 200
        expected = fresh_in_memory(grown, LAST + 2)
        # the lists: every code and id where FAISS's own add puts them (all lists probed)
        every_list = faiss.SearchParametersIVF(nprobe=nlist)
        got = index._index.search(queries(), 50, params=every_list)
        want = expected.search(queries(), 50, params=every_list)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])
        # the answers, re-ranked on the stored vectors
        answers = writer.search_ids("audio", queries(), k=10)
        fresh = IVFPQIndex(DIM, index.params, space.file, index=expected).search(queries(), 10)
        np.testing.assert_array_equal(answers[1], fresh[1])
        np.testing.assert_array_equal(answers[0], fresh[0])
        with LibraryStore.open(grown, readonly=True, policy=SAVING) as reader:
            read = reader.search_ids("audio", queries(), k=10)
            np.testing.assert_array_equal(read[1], answers[1])
            np.testing.assert_array_equal(read[0], answers[0])


CRASHING_SAVE = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_store_ivf_disk import add_files
from test_writer_mapped_ivf import SAVING, FIRST
from test_store_support import make_identity
from pe_search.store import LibraryStore
store = LibraryStore.open(Path({library!r}), make_identity(), policy=SAVING)
add_files(store, range(FIRST))  # built and saved: the first merge
for number in range(FIRST, FIRST + 6):
    add_files(store, range(number, number + 1))  # the save after 3 files is killed half way
print("not killed")
"""


def test_a_save_killed_half_way_through_the_merge_leaves_the_previous_index_usable(tmp_path):
    library = tmp_path / "lib"
    script = CRASHING_SAVE.format(tests=str(ROOT / "tests"), library=str(library))
    env = {**os.environ, "PE_SEARCH_CRASH_AT": "index-merge:2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    folder = library / "vectors"
    header = header_of(library)
    assert header.count == 4000  # the index file still names the build's data file ...
    assert [p.name for p in folder.glob("audio.index.*.ivf")] == [header.extra["data"]]
    assert len(list(folder.glob("audio.index.*.ivf.tmp"))) == 1  # ... beside the half-written one
    with LibraryStore.open(library, readonly=True, policy=SAVING) as reader:
        _, previous = load_index(folder / "audio.index", reader._synced("audio").file, mapped=True)
        assert previous.count() == 4000  # which maps whole
        # a reader catches up from the stored vectors (file 42 was committed before its save)
        read = reader.search_ids("audio", queries(), k=10)
    with LibraryStore.open(library, make_identity(), policy=SAVING) as writer:
        space = writer._synced("audio")
        assert space.index.count() == 4300
        expected = IVFPQIndex(DIM, space.index.params, space.file, index=fresh_in_memory(library, 43))
        answers = writer.search_ids("audio", queries(), k=10)
        np.testing.assert_array_equal(answers[1], expected.search(queries(), 10)[1])
        np.testing.assert_array_equal(read[1], answers[1])
    assert header_of(library).count == 4300  # saved at close: the stray half file is gone
    assert not list(folder.glob("audio.index.*.ivf.tmp"))


def test_a_disk_filling_during_a_merged_save_keeps_the_previous_index_and_the_codes_held(
    small_disk,  # noqa: F811
    monkeypatch,
):
    from pe_search.store import ivf_lists

    library = small_disk / "lib"
    with LibraryStore.open(library, make_identity(), policy=SAVING) as store:
        add_files(store, range(FIRST))
    before = header_of(library)
    real_lists, fillers = ivf_lists.FileLists.lists, []

    def filling_as_the_merge_starts(self):
        if not fillers:
            fillers.append(_fill(small_disk))  # a real ENOSPC for the rest of the new data file
        return real_lists(self)

    monkeypatch.setattr(ivf_lists.FileLists, "lists", filling_as_the_merge_starts)
    with LibraryStore.open(library, make_identity(), policy=SAVING) as store:
        with pytest.raises(OSError) as refused:
            add_files(store, range(FIRST, FIRST + 3))  # the third file's commit saves: the disk is full
        assert refused.value.errno == errno.ENOSPC and fillers
        del refused  # its traceback holds the writer's frames, and they the mapped file (unmount)
        folder = library / "vectors"
        assert header_of(library).extra == before.extra  # the previous data file is still named ...
        assert sorted(p.name for p in folder.glob("audio.index*")) == ["audio.index", before.extra["data"]]
        index = store._synced("audio").index
        assert index.count() == 4300 and in_memory_rows(index) == 300  # ... the commit's codes held
        expected = IVFPQIndex(
            DIM, index.params, store._synced("audio").file, index=fresh_in_memory(library, 43)
        )
        np.testing.assert_array_equal(
            store.search_ids("audio", queries(), k=10)[1], expected.search(queries(), 10)[1]
        )
        fillers[0].unlink()
        store.checkpoint()  # space again: the next save merges them
        assert header_of(library).count == 4300 and in_memory_rows(store._synced("audio").index) == 0
    del index, expected
    gc.collect()  # the traceback's frames are a cycle: let go of the map before the unmount


def test_deletions_stay_hidden_from_the_mapped_writer_and_after_its_save(grown):
    gone = np.arange(41 * 100, 42 * 100)
    probes = vectors_of(41)[:10]
    with LibraryStore.open(grown, make_identity(), policy=SAVING) as writer:
        assert np.isin(writer.search_ids("audio", probes, k=10)[1], gone).mean() > 0.5
        assert writer.delete_media("/media/00041.wav")
        index = writer._synced("audio").index
        assert index.count() == LAST * 100 - 100
        assert not np.isin(writer.search_ids("audio", probes, k=10)[1], gone).any()
        writer.checkpoint()
        assert in_memory_rows(writer._synced("audio").index) == 0
        assert not np.isin(writer.search_ids("audio", probes, k=10)[1], gone).any()
    with LibraryStore.open(grown, readonly=True, policy=SAVING) as reader:
        found = reader.search_ids("audio", probes, k=10)[1]
        assert not np.isin(found, gone).any() and (found >= 0).all()


@pytest.mark.parametrize("spread", [False, True], ids=["sparse-lists", "full-lists"])
def test_merging_a_faiss_written_file_with_new_codes_gives_faiss_own_file(tmp_path, spread):
    """A data file FAISS wrote itself (with few lists filled FAISS writes them `sprs`, else
    `full`) read by plain reads and merged with new codes reads back, in FAISS, as FAISS's own
    index given every vector."""
    from pe_search.store import ivf_lists

    rng = np.random.default_rng(3)
    train = rng.standard_normal((2_000, DIM)).astype(np.float32)
    quantizer = faiss.IndexFlatIP(DIM)
    trained = faiss.IndexIVFPQ(quantizer, DIM, 16, 4, 8, faiss.METRIC_INNER_PRODUCT)
    trained.train(train)
    first = train[:300] if spread else np.repeat(train[:1], 40, axis=0) + 0.01 * train[:40]
    later = rng.standard_normal((120, DIM)).astype(np.float32)
    saved = faiss.clone_index(trained)
    saved.add_with_ids(first, np.arange(len(first), dtype=np.int64))
    old = tmp_path / "old.ivf"
    faiss.write_index(saved, str(old))
    expected = faiss.clone_index(saved)
    new_ids = np.arange(1_000, 1_000 + len(later), dtype=np.int64)
    expected.add_with_ids(later, new_ids)

    added = faiss.clone_index(trained)  # the codes added since: in FAISS's lists
    added.add_with_ids(later, new_ids)
    header = ivf_lists.header_bytes(expected)
    from_file = ivf_lists.FileLists(old, len(header), 16, int(trained.code_size))
    filled = np.array([saved.invlists.list_size(i) for i in range(16)])
    assert np.array_equal(from_file.sizes(), filled)
    new = tmp_path / "new.ivf"
    with open(new, "wb") as handle:
        sources = [from_file, ivf_lists.MemoryLists(added.invlists, int(trained.code_size))]
        ivf_lists.write(handle, header, 16, int(trained.code_size), sources)
    merged = faiss.read_index(str(new))
    for mapped in (merged, faiss.read_index(str(new), faiss.IO_FLAG_MMAP)):
        for number in range(16):
            size = expected.invlists.list_size(number)
            assert mapped.invlists.list_size(number) == size
            want = faiss.rev_swig_ptr(expected.invlists.get_ids(number), size)
            assert np.array_equal(faiss.rev_swig_ptr(mapped.invlists.get_ids(number), size), want)
        got = mapped.search(later[:5], 10, params=faiss.SearchParametersIVF(nprobe=16))
        want = expected.search(later[:5], 10, params=faiss.SearchParametersIVF(nprobe=16))
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])
