"""Hybrid search: the text side rescues a file the vectors rank low, timed cues land at their time,
filters apply to both sides, and every hit says why it matched.

The vectors are made by hand so the vector side's ranking is known before searching: the query is
the unit vector e0 and each file's score is the e0 component it was given. Probabilities expected
here are computed from the identity's calibration (sigmoid(10 * score - 5)), not by the code
under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.query import hybrid
from pe_search.query.engine import QueryEngine, QueryVectors
from pe_search.query.fusion import RRF_K, reciprocal_rank_fusion
from pe_search.query.routes import QueryError
from pe_search.store import (
    LibraryStore,
    MediaRecord,
    SearchFilter,
    SegmentRecord,
    TextEntryRecord,
    path_entries,
)

FX = 10  # files the model likes for the query
DOOR = "/m/sfx/door_slam_03.wav"
HARBOUR = "/m/video/harbour.mp4"
CUE = TextEntryRecord("subtitle", "Somewhere a door slams shut", key="harbour.srt", start=61.5, end=63.0)


def _unit(i: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    return v


def probability(score: float) -> float:
    return 1 / (1 + math.exp(-(10.0 * score - 5.0)))


def _add(store, path, kind, clips, entries=()):
    """clips: [(start, end, e0 score)]"""
    with store.write() as tx:
        media_id = tx.upsert_media(
            MediaRecord(
                path=path, size=1, mtime=1.0, duration=clips[-1][1], has_audio=True,
                has_video=kind == "video", status="indexed",
            )
        )  # fmt: skip
        ids = tx.add_segments(media_id, [SegmentRecord(s, e, "clip") for s, e, _ in clips])
        vectors = np.stack(
            [score * _unit(0) + 0.1 * _unit(3 + i % 5) for i, (_, _, score) in enumerate(clips)]
        )
        tx.add_vectors("audio", ids, vectors)
        tx.set_text(media_id, path_entries(path) + list(entries), "sig")


@pytest.fixture
def engine(tmp_path):
    store = LibraryStore.open(tmp_path / "lib", make_identity())
    for i in range(FX):
        _add(store, f"/m/sfx/fx_{i}.wav", "audio", [(0.0, 5.0, 0.9 - 0.05 * i)])
    _add(store, DOOR, "audio", [(0.0, 4.0, -0.5)])  # the model ranks it last
    _add(store, HARBOUR, "video", [(0.0, 60.0, -0.45), (60.0, 120.0, -0.4)], [CUE])
    yield QueryEngine(store)
    store.close()


def _search(engine, text, mode="hybrid", **options):
    vectors = QueryVectors(lambda embedding: _unit(0), frozenset({"text"}), frozenset({"text_audio"}))
    return hybrid.search(engine, "text", vectors, text, mode, ("audio",), **options)


def test_rrf_is_the_sum_of_reciprocal_ranks():
    fused = reciprocal_rank_fusion([1, 2, 3], [3, 9])
    assert [f.key for f in fused] == [3, 1, 2, 9]
    assert fused[0].score == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert (fused[0].vector_rank, fused[0].text_rank) == (3, 1)
    assert (fused[-1].vector_rank, fused[-1].text_rank) == (None, 2)
    assert [f.key for f in reciprocal_rank_fusion([5, 4, 6], [])] == [5, 4, 6]  # no text: vector order


def test_text_rescues_a_file_the_model_ranks_low(engine):
    vector = _search(engine, "door slam", mode="vector", k=FX + 2)
    assert [h.path for h in vector][-1] == DOOR  # the model's last pick ...
    assert DOOR not in [h.path for h in _search(engine, "door slam", mode="vector", k=3)]
    hits = _search(engine, "door slam", k=3)
    assert hits[0].path == DOOR  # ... is the first hybrid hit: both words in its name
    why = hits[0].why
    assert (why.mode, why.text_field, why.matched_words, why.text_rank) == (
        "hybrid",
        "name",
        ("door", "slam"),
        1,
    )
    assert why.vector_rank == FX + 2
    assert why.vector_probability == pytest.approx(probability(-0.5), rel=1e-4)
    assert hits[0].probability == pytest.approx(probability(-0.5), rel=1e-4)
    assert why.fused_score == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + FX + 2))
    # the model's favourite keeps its place right after the files the words found
    assert [h.path for h in hits[1:]] == [HARBOUR, "/m/sfx/fx_0.wav"]
    assert hits[2].why.text_field is None and hits[2].why.vector_rank == 1


def test_a_subtitle_hit_lands_at_its_cue(engine):
    (hit,) = [h for h in _search(engine, "door slam", k=5) if h.path == HARBOUR]
    assert (hit.start, hit.end, hit.level) == (61.5, 63.0, "subtitle")
    assert (hit.why.text_field, hit.why.text_key) == ("subtitle", "harbour.srt")
    assert hit.why.matched_words == ("door", "slams")
    assert hit.why.text_snippet == "Somewhere a [door] [slams] shut"
    (only,) = _search(engine, "shut", mode="text", k=5)
    assert (only.path, only.start, only.end) == (HARBOUR, 61.5, 63.0)
    # the model's view of that stretch: the clip overlapping the cue (60-120 s, score -0.4)
    assert only.why.vector_probability == pytest.approx(probability(-0.4), rel=1e-4)


def test_text_mode_finds_only_what_the_words_match(engine):
    hits = _search(engine, "door slam", mode="text", k=10)
    assert [h.path for h in hits] == [DOOR, HARBOUR]
    assert hits[0].level == "file" and (hits[0].start, hits[0].end) == (0.0, 4.0)
    assert hits[0].why.vector_rank is None and hits[0].why.mode == "text"
    assert hits[0].why.vector_probability == pytest.approx(probability(-0.5), rel=1e-4)


def test_filters_apply_to_both_sides(engine):
    audio_only = _search(engine, "door slam", k=20, filters=SearchFilter(kinds=("audio",)))
    assert HARBOUR not in [h.path for h in audio_only] and audio_only[0].path == DOOR
    under_video = _search(engine, "door slam", k=20, filters=SearchFilter(path_prefix="/m/video/"))
    assert [h.path for h in under_video] == [HARBOUR]  # neither the vector nor the text side leaks
    short = _search(engine, "door slam", k=20, filters=SearchFilter(max_duration=4.5))
    assert [h.path for h in short] == [DOOR]


def test_no_matching_words_leaves_the_vector_ranking(engine):
    vector = [h.path for h in _search(engine, "zebra crossing", mode="vector", k=5)]
    assert [h.path for h in _search(engine, "zebra crossing", k=5)] == vector


def test_pagination_and_mode_errors(engine):
    first = [h.path for h in _search(engine, "door slam", k=4)]
    assert [h.path for h in _search(engine, "door slam", k=2, offset=2)] == first[2:]
    with pytest.raises(QueryError, match="--mode must be one of vector, text, hybrid"):
        _search(engine, "door", mode="fuzzy")
    with pytest.raises(QueryError, match="--mode text needs TEXT"):
        hybrid.check_mode("text", None)


def test_text_only_hits_are_scored_on_their_own_stretch_in_one_read(engine, monkeypatch):
    """A cue is scored against the clips overlapping it, not the file's best clip; the page's
    text-only files are read together (issue 24), not one read per file."""
    _add(engine.store, "/m/video/pier.mp4", "video", [(0.0, 60.0, -0.3), (60.0, 120.0, 0.2)],
         [TextEntryRecord("subtitle", "a gull cries", key="pier.srt", start=10.0, end=12.0)])  # fmt: skip
    engine.refresh()
    per_file = []
    original = engine.store.segment_vectors
    monkeypatch.setattr(
        engine.store, "segment_vectors", lambda *a, **k: per_file.append(a) or original(*a, **k)
    )
    (cue,) = _search(engine, "gull", mode="text", k=5)
    assert (cue.start, cue.end) == (10.0, 12.0)
    assert cue.why.vector_probability == pytest.approx(probability(-0.3), rel=1e-4)  # not 0.2's
    hits = _search(engine, "sfx", mode="text", k=20)  # every fx file and the door, by folder
    assert len(hits) == FX + 1
    assert {h.path: h.why.vector_probability for h in hits}[DOOR] == pytest.approx(
        probability(-0.5), rel=1e-4
    )
    assert per_file == []
