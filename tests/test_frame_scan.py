"""The frame family's scoring: a slice's `scan(query, cutoff)` against float32 scores computed
here from the vectors that were written, and the structured error of a write with other codes."""

from __future__ import annotations

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.errors import api_spelling
from pe_search.store import LibraryStore, MediaRecord

STEP = 0.04
COUNT = 3_000


def store_frames(store: LibraryStore, codes: str) -> tuple[int, np.ndarray]:
    vectors = np.random.default_rng(11).standard_normal((COUNT, DIM)).astype(np.float32)
    starts = np.arange(COUNT) * STEP
    with store.write() as tx:
        media_id = tx.upsert_media(MediaRecord(path="/m/a.wav", size=1, mtime=1.0, status="indexed"))
        tx.put_frames(media_id, "audio_frame", starts, starts + STEP, vectors, codes)
    return media_id, vectors


def query_and_cut(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A query, the frames' float32 scores, and a cut halfway between two of them (no ties)."""
    query = np.random.default_rng(12).standard_normal(DIM).astype(np.float32)
    exact = vectors.astype(np.float64) @ query.astype(np.float64)
    ranked = np.sort(exact)
    at = int(0.9 * COUNT)
    return query, exact, float((ranked[at] + ranked[at + 1]) / 2)


def test_sq8_scan_misses_no_frame_above_the_cut_and_marks_every_frame_it_cannot_decide(tmp_path):
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        media_id, vectors = store_frames(store, "sq8")
        frames = store.frame_slice(media_id, "audio_frame")
        query, exact, cut = query_and_cut(vectors)
        margin = 0.25  # wide enough that frames fall within it on both sides of the cut
        found = frames.scan(query, cut, margin)
    assert found.bounded
    assert set(np.flatnonzero(exact > cut - margin)) <= set(found.positions.tolist())
    assert np.all(np.diff(found.positions) > 0)  # time order
    sure = np.setdiff1d(np.arange(found.positions.size), found.unsure)
    assert np.all(exact[found.positions[sure]] > cut + margin)  # decided by the code, rightly
    assert np.all(exact[np.setdiff1d(np.arange(COUNT), found.positions)] <= cut - margin)
    assert 0 < found.unsure.size < found.positions.size  # some frames are near the cut, not all
    np.testing.assert_allclose(found.scores, frames.scores(query)[found.positions], atol=1e-4)


def test_f32_scan_is_exact_and_leaves_nothing_unsure(tmp_path):
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        media_id, vectors = store_frames(store, "f32")
        frames = store.frame_slice(media_id, "audio_frame")
        query, exact, cut = query_and_cut(vectors)
        found = frames.scan(query, cut)
    assert found.bounded and found.unsure.size == 0
    np.testing.assert_array_equal(found.positions, np.flatnonzero(exact > cut))
    np.testing.assert_allclose(found.scores, exact[found.positions], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(frames.scores(query), exact, rtol=1e-5, atol=1e-5)


def test_a_write_with_other_codes_names_the_options_not_the_flags(tmp_path):
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        store_frames(store, "sq8")
        with pytest.raises(ValueError) as raised, store.write() as tx:
            media_id = tx.upsert_media(MediaRecord(path="/m/b.wav", size=1, mtime=1.0, status="indexed"))
            tx.put_frames(
                media_id, "audio_frame", np.arange(3.0), np.arange(1.0, 4.0), np.ones((3, DIM)), "pq"
            )
    error = raised.value
    assert error.value == "pq"
    assert "coded sq8, not pq" in error.what and "--" not in error.what + error.fix
    assert "frame_codes=sq8" in error.worded(api_spelling) and "rebuild=True" in error.worded(api_spelling)
    assert "--frame-codes sq8" in str(error) and "--rebuild" in str(error)


def test_frame_store_speaks_the_frame_family_verbs():
    """The rest of the store reaches frames only through FrameFamily's verbs: FrameStore must keep
    every one of them, with the same parameters (a rename or a dropped argument fails here)."""
    import inspect

    from pe_search.store.frame_records import FrameFamily
    from pe_search.store.frame_store import FrameStore

    verbs = [
        name
        for name in vars(FrameFamily)
        if not name.startswith("_") and callable(getattr(FrameFamily, name))
    ]
    assert set(verbs) == {"write", "remove", "read", "read_many", "counts", "status"}
    for verb in verbs:
        declared = list(inspect.signature(getattr(FrameFamily, verb)).parameters)
        implemented = list(inspect.signature(getattr(FrameStore, verb)).parameters)
        assert implemented == declared, verb
