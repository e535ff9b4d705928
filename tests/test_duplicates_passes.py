"""Duplicates at a million files (issue 24 item 3): a run reads fingerprints in passes and keeps
only the short files' codes, sorts postings without a whole-array argsort, and keeps what it
learnt a chunk per transaction (staged until its last one). Each is checked against an
independent answer: numpy's stable argsort, the per-file key sampling of matching.py, the pairs
matching.find_matches finds over every fingerprint at once, and the arrays given to the store."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from pe_search.duplicates import incremental
from pe_search.duplicates.audio_fingerprint import QUIET
from pe_search.duplicates.groups import find_duplicates
from pe_search.duplicates.incremental import _merge, _read, match_kind
from pe_search.duplicates.matching import MatchSettings, keys_of, share_bits_of
from pe_search.models.identity import ModelIdentity
from pe_search.store import DuplicateUpdate, LibraryStore, Postings, SlotRows, duplicate_books
from tests.test_duplicates_incremental import Library, _drifting, _from_scratch, _grouped_pairs, _incremental


def _parts(rng: np.random.Generator, masks: bool) -> list[Postings]:
    parts = []
    for size in (0, 7, 300, 1, 2000):
        parts.append(
            Postings(
                rng.integers(0, 50, size, dtype=np.uint32),  # many ties
                rng.integers(0, 2**32, size, dtype=np.uint32),
                rng.integers(0, 2**16, size, dtype=np.uint16),
                rng.integers(0, 2**32, size, dtype=np.uint32) if masks else None,
            )
        )
    return parts


@pytest.mark.parametrize("masks", [False, True])
def test_merge_sorts_like_a_stable_argsort_and_lets_go_of_the_parts(monkeypatch, masks):
    monkeypatch.setattr(incremental, "_BLOCK", 64)  # several blocks per array
    parts = _parts(np.random.default_rng(1), masks)
    values = np.concatenate([p.values for p in parts])
    order = np.argsort(values, kind="stable")
    expected = [values[order], np.concatenate([p.slots for p in parts])[order]]
    expected.append(np.concatenate([p.positions for p in parts])[order])
    given = parts
    merged = _merge(given)
    assert given == []  # taken out as copied: the caller holds no second copy
    for got, want in zip((merged.values, merged.slots, merged.positions), expected, strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    if masks:
        assert np.array_equal(
            merged.masks, np.concatenate([p.masks for p in _parts(np.random.default_rng(1), True)])[order]
        )
    else:
        assert merged.masks is None


def test_read_keeps_every_files_keys_and_only_short_files_codes(monkeypatch):
    monkeypatch.setattr(incremental, "FILES_PER_PASS", 3)
    rng = np.random.default_rng(2)
    settings = MatchSettings()
    stored = {
        m: _drifting(rng, int(n)) for m, n in zip(range(10, 21), rng.integers(30, 1200, 11), strict=True)
    }
    stored[12][5:40] = QUIET
    calls: list[list[int]] = []

    def read_codes(ids: list[int]) -> dict[int, np.ndarray]:
        calls.append(list(ids))
        return {m: stored[m] for m in ids if m in stored}

    wanted = [10, 11, 99, 12, 13, 14, 15, 16, 17, 18, 19, 20]  # 99 went since it was listed
    read = _read(read_codes, wanted, settings)
    assert all(len(c) <= 3 for c in calls) and sum(calls, []) == wanted
    assert read.ids == [m for m in wanted if m != 99]
    slots = np.concatenate([p.slots for p in read.keys])
    positions = np.concatenate([p.positions for p in read.keys])
    values = np.concatenate([p.values for p in read.keys])
    for index, media_id in enumerate(read.ids):
        codes = stored[media_id]
        loud = int(np.count_nonzero(codes != QUIET))
        assert read.loud[index] == loud
        picked = keys_of(codes, share_bits_of(loud, settings))  # matching.py's per-file sampling
        mine = slots == index
        assert np.array_equal(positions[mine], picked) and np.array_equal(values[mine], codes[picked])
    short = {i for i, m in enumerate(read.ids) if np.count_nonzero(stored[m] != QUIET) < settings.probe_below}
    assert 0 < len(short) < len(read.ids) and set(read.short) == short
    for index in short:
        assert np.array_equal(read.short[index], stored[read.ids[index]])


def test_a_run_in_small_passes_and_chunks_finds_what_a_run_from_scratch_finds(tmp_path, monkeypatch):
    """Every pass, block and chunk bound small: reading codes, joining key parts, writing slots and
    staging postings all cross their bounds, and two rounds still give find_matches' pairs."""
    monkeypatch.setattr(incremental, "FILES_PER_PASS", 4)
    monkeypatch.setattr(incremental, "_BLOCK", 32)
    monkeypatch.setattr(duplicate_books, "CHUNK", 40)
    monkeypatch.setattr(duplicate_books, "SLOTS_PER_INSERT", 7)
    library = Library(tmp_path / "lib", seed=21)
    settings = MatchSettings()
    calls: list[int] = []
    read = library.store.fingerprint_codes
    monkeypatch.setattr(
        library.store, "fingerprint_codes", lambda ids: calls.append(len(list(ids))) or read(ids)
    )
    kinds = ("exact", "reencode", "trim", "trim_reencode")
    originals: list[str] = []
    for step in range(2):
        for _ in range(14):
            originals.append(library.original(short=bool(library.rng.random() < 0.5)))
        for i in range(8):
            library.copy(originals[int(library.rng.integers(0, len(originals)))], kinds[i % 4])
        calls.clear()
        pairs, matched = _incremental(library, settings)
        # the new files' codes a pass at a time; one last read of the candidates to verify
        assert matched == 22 and max(calls[:-1]) <= 4 and len(calls) >= 22 // 4 + 1
        assert pairs == _from_scratch(library, settings) and len(pairs) >= 8
        saved = library.store.saved_duplicates("audio")
        assert saved.slots.slots.size == len(library.truth)
        chunks = sqlite3.connect(tmp_path / "lib" / "library.db").execute(
            "SELECT count(*) FROM duplicate_postings WHERE book = 'keys'"
        )
        assert chunks.fetchone()[0] > 2 * (step + 1)  # more than one chunk a segment


def _synthetic(postings: Postings) -> DuplicateUpdate:
    none = np.zeros(0, dtype=np.int64)
    return DuplicateUpdate(
        kind="audio", settings="s", next_slot=0, reset=True, removed_slots=none,
        added=SlotRows(none, none, [], none, none, none), segments={"keys": postings},
        dropped_media=none, pairs=[],
    )  # fmt: skip


def test_keeping_a_book_holds_a_chunk_not_the_book_in_the_write_ahead_log(tmp_path, monkeypatch):
    """A 16 MB book written in 1.6 MB chunks: the log, which SQLite reuses after each automatic
    checkpoint (every 1,000 pages), stays far under the book, and the book reads back whole."""
    monkeypatch.setattr(duplicate_books, "CHUNK", 160_000)
    rng = np.random.default_rng(3)
    count = 1_600_000
    book = Postings(
        np.sort(rng.integers(0, 2**32, count, dtype=np.uint32)),
        rng.integers(0, 2**32, count, dtype=np.uint32),
        rng.integers(0, 2**16, count, dtype=np.uint16),
    )
    with LibraryStore.open(tmp_path / "lib", ModelIdentity(("t",), "c", "w", 8, {})) as store:
        store.keep_duplicates(_synthetic(book))
        wal = (tmp_path / "lib" / "library.db-wal").stat().st_size
        (kept,) = store.duplicate_segments("audio", "keys")
    assert wal < 8_000_000 < count * 10
    for got, want in zip(
        (kept.values, kept.slots, kept.positions), (book.values, book.slots, book.positions), strict=True
    ):
        assert np.array_equal(got, want)


def test_a_run_killed_before_its_last_transaction_changes_nothing_a_reader_sees(tmp_path, monkeypatch):
    monkeypatch.setattr(duplicate_books, "CHUNK", 50)
    library = Library(tmp_path / "lib", seed=23)
    settings = MatchSettings()
    for _ in range(6):
        library.copy(library.original(short=bool(library.rng.random() < 0.5)), "reencode")
    _incremental(library, settings)
    before = library.store.saved_duplicates("audio")
    books = {b: library.store.duplicate_segments("audio", b) for b in ("keys", "codes")}
    for _ in range(4):
        library.copy(library.original(short=False), "trim")
    matched = match_kind(library.store, "audio", settings)
    with pytest.raises(RuntimeError):
        library.store.keep_duplicates(matched.update, crash_at="staged")
    database = sqlite3.connect(tmp_path / "lib" / "library.db")
    staged = "SELECT count(*) FROM duplicate_postings WHERE book IN ('KEYS', 'CODES')"
    assert database.execute(staged).fetchone()[0] > 0
    after = library.store.saved_duplicates("audio")
    assert np.array_equal(after.slots.slots, before.slots.slots) and np.array_equal(after.pairs, before.pairs)
    for book, segments in books.items():
        again = library.store.duplicate_segments("audio", book)
        assert [s.values.tolist() for s in again] == [s.values.tolist() for s in segments]
    pairs, matched_files = _incremental(library, settings)  # the next run: the 8 new files again
    assert matched_files == 8 and pairs == _from_scratch(library, settings)
    assert database.execute(staged).fetchone()[0] == 0
    groups = find_duplicates(library.store, "audio")
    assert len(groups) == 10 and all(len(g.files) == 2 for g in groups)


def test_the_bitmap_holds_exactly_the_values_of_its_sorted_arrays(monkeypatch):
    monkeypatch.setattr(incremental, "_BLOCK", 100)  # a byte's run of values split across blocks
    rng = np.random.default_rng(4)
    first = np.sort(rng.integers(0, 5_000, 3_000, dtype=np.uint32))  # dense: bytes with many bits
    second = np.sort(rng.integers(0, 2**32, 3_000, dtype=np.uint32))
    bitmap = incremental._Bitmap(first, second, np.zeros(0, np.uint32))
    probe = np.concatenate([np.arange(0, 6_000, dtype=np.uint32), second, second + 1, second - 1])
    assert np.array_equal(bitmap.has(probe), np.isin(probe, np.concatenate([first, second])))


def test_grouping_lists_only_the_files_a_group_can_hold(tmp_path):
    """Files sharing a content hash and the matched files, by path: the groups are those of every
    file listed (at a million files, most are in no group)."""
    library = Library(tmp_path / "lib", seed=25)
    first = library.original(short=False)
    exact = library.copy(first, "exact")
    second = library.original(short=True)
    reencoded = library.copy(second, "reencode")
    for _ in range(3):
        library.original(short=False)
    ids = {path: library.store.find_media(path).id for path in library.truth}
    paired = {ids[second], ids[reencoded], ids[first]}  # a file both paired and sharing a hash
    listed = library.store.grouped_media(("audio",), paired=paired)
    assert listed.paths == sorted([first, exact, second, reencoded])
    assert listed.ids == [ids[p] for p in listed.paths]
    assert library.store.grouped_media(("audio",)).paths == sorted(library.truth)
    groups = find_duplicates(library.store, "audio")
    assert _grouped_pairs(groups) == {tuple(sorted((first, exact))), tuple(sorted((second, reencoded)))}
