"""`min_prob` strictly between 0 and 1, `all_segments`, and a text-only hit under a cutoff
(issue 27, item 4), over the hand-made library of tests/test_hybrid.py: the query is e0 and a
clip's score is the e0 component it was given, so which hits pass a cutoff is known beforehand
(probabilities from the calibration, sigmoid(10 * score - 5), computed here).

In hybrid mode a text-only hit (found by its words, with a low probability from the model) is held
to the cutoff like every other hit (pe_search/query/hybrid.py, docs/hybrid-search.md); text mode
ranks by the words alone and does not apply it."""

from __future__ import annotations

import pytest
import test_hybrid
from test_hybrid import DOOR, FX, HARBOUR, _search, probability

engine = test_hybrid.engine  # the hand-made library, as a fixture of this module too

SCORES = {f"/m/sfx/fx_{i}.wav": 0.9 - 0.05 * i for i in range(FX)} | {DOOR: -0.5, HARBOUR: -0.4}


@pytest.mark.parametrize("cut", [0.675, 0.125, -0.42])
def test_a_cutoff_between_0_and_1_keeps_exactly_the_hits_above_it(engine, cut):
    min_prob = probability(cut)
    assert 0 < min_prob < 1
    hits = _search(engine, "zebra", mode="vector", k=50, min_prob=min_prob)
    assert {h.path for h in hits} == {path for path, score in SCORES.items() if score > cut}
    assert all(h.probability >= min_prob for h in hits)
    assert [h.probability for h in hits] == sorted((h.probability for h in hits), reverse=True)


def test_hybrid_holds_a_text_only_hit_to_the_cutoff(engine):
    # Without a cutoff the door (named "door_slam_03", the model's last pick) comes first.
    assert _search(engine, "door slam", k=3)[0].path == DOOR
    cut = probability(0.675)  # the door's probability, sigmoid(-10), is far under it
    hits = _search(engine, "door slam", k=20, min_prob=cut)
    assert DOOR not in [h.path for h in hits] and HARBOUR not in [h.path for h in hits]
    assert {h.path for h in hits} == {p for p, s in SCORES.items() if s > 0.675}
    # a cutoff under the door's probability keeps it, found by its words alone
    low = _search(engine, "door slam", k=20, min_prob=probability(-0.55))
    door = next(h for h in low if h.path == DOOR)
    assert door.why.text_rank == 1 and door.probability == pytest.approx(probability(-0.5), rel=1e-4)
    # text mode ranks by the words alone: the cutoff is not applied there
    assert [h.path for h in _search(engine, "door slam", mode="text", k=5, min_prob=cut)] == [DOOR, HARBOUR]


def test_all_segments_gives_every_clip_and_the_default_one_per_file(engine):
    per_file = _search(engine, "zebra", mode="vector", k=50)
    assert len(per_file) == len(SCORES) and len({h.path for h in per_file}) == len(SCORES)
    (harbour,) = [h for h in per_file if h.path == HARBOUR]
    assert (harbour.start, harbour.end) == (60.0, 120.0)  # the file's best clip (-0.4 beats -0.45)
    every = _search(engine, "zebra", mode="vector", k=50, all_segments=True)
    assert len(every) == len(SCORES) + 1
    assert sorted((h.start, h.end) for h in every if h.path == HARBOUR) == [(0.0, 60.0), (60.0, 120.0)]
    assert [h.probability for h in every] == sorted((h.probability for h in every), reverse=True)
    # the harbour's two clips (-0.4, -0.45) come before the door (-0.5), each in its own place
    assert [(h.path, h.start) for h in every][-3:] == [(HARBOUR, 60.0), (HARBOUR, 0.0), (DOOR, 0.0)]
