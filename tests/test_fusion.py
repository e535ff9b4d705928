"""Reciprocal rank fusion's arithmetic and its tie rule (issue 27, item 4): scores are worked out
by hand from the formula of Cormack et al. (sum of weight / (k + rank)); equal scores go to the
file with the better single rank, then to the vector side's order."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pe_search.query.fusion import RRF_K, reciprocal_rank_fusion


def _by_hand(vector, text, k=RRF_K, weight=1):
    """Exact fused scores from the formula, in fractions."""
    scores = {}
    for rank, key in enumerate(vector, start=1):
        scores[key] = scores.get(key, 0) + Fraction(1, k + rank)
    for rank, key in enumerate(text, start=1):
        scores[key] = scores.get(key, 0) + Fraction(weight) / (k + rank)
    return scores


def test_scores_and_ranks_are_the_formulas():
    vector, text = [10, 20, 30, 40], [40, 50, 10]
    fused = reciprocal_rank_fusion(vector, text)
    expected = _by_hand(vector, text)
    assert {f.key: f.score for f in fused} == pytest.approx(
        {k: float(v) for k, v in expected.items()}, rel=1e-12
    )
    ranks = {f.key: (f.vector_rank, f.text_rank) for f in fused}
    assert ranks == {10: (1, 3), 20: (2, None), 30: (3, None), 40: (4, 1), 50: (None, 2)}
    # 10 (1/61 + 1/63) > 40 (1/64 + 1/61) > 20 = 50 (1/62 each: the vector side's first) > 30 (1/63)
    assert [f.key for f in fused] == [10, 40, 20, 50, 30]


def test_a_weighted_text_side_and_another_k():
    vector, text = [1, 2], [2, 3]
    fused = reciprocal_rank_fusion(vector, text, rrf_k=5, text_weight=0.5)
    expected = _by_hand(vector, text, k=5, weight=Fraction(1, 2))
    assert {f.key: f.score for f in fused} == pytest.approx(
        {k: float(v) for k, v in expected.items()}, rel=1e-12
    )
    assert [f.key for f in fused] == [2, 1, 3]  # 1/7 + 1/12 > 1/6 > 1/14


def test_equal_scores_go_to_the_better_single_rank_then_to_the_vector_order():
    # With k = 0 a score is a sum of 1/rank, exact in binary: every file below scores 1.
    # z: vector rank 1; y: rank 2 on both sides (1/2 + 1/2); x: text rank 1.
    fused = reciprocal_rank_fusion(["z", "y"], ["x", "y"], rrf_k=0)
    assert [f.score for f in fused] == [1.0, 1.0, 1.0]
    # z and x have a rank 1, y only 2s: y goes last although it comes before x in the vector list;
    # z before x: the vector side's order.
    assert [f.key for f in fused] == ["z", "x", "y"]


def test_a_tie_between_sides_keeps_the_vector_sides_order():
    # a only on the text side at rank 1, b only on the vector side at rank 1: the same score.
    fused = reciprocal_rank_fusion(["b"], ["a"])
    assert fused[0].score == fused[1].score == 1 / (RRF_K + 1)
    assert [f.key for f in fused] == ["b", "a"]
    # mirrored: each file at the other rank on each side
    assert [f.key for f in reciprocal_rank_fusion(["p", "q"], ["q", "p"])] == ["p", "q"]
    assert [f.key for f in reciprocal_rank_fusion(["q", "p"], ["p", "q"])] == ["q", "p"]


def test_one_empty_side_leaves_the_other_sides_order_and_scores():
    fused = reciprocal_rank_fusion([], [7, 8, 9])
    assert [(f.key, f.vector_rank, f.text_rank) for f in fused] == [(7, None, 1), (8, None, 2), (9, None, 3)]
    assert [f.score for f in fused] == pytest.approx([1 / (RRF_K + r) for r in (1, 2, 3)], rel=1e-12)
    assert reciprocal_rank_fusion([], []) == []


def test_the_better_single_rank_decides_far_down_the_lists():
    """Ties between a file only one side found and one only the other side found, at ranks past
    a hundred: the better rank wins whichever side it is on (with k = 0 and a text weight, the
    scores are equal exactly: 1/100 = 2/200 and 0.5/100 = 1/200)."""
    vector = [f"v{i}" for i in range(99)] + ["a"]  # a: vector rank 100
    text = [f"t{i}" for i in range(199)] + ["b"]  # b: text rank 200
    fused = reciprocal_rank_fusion(vector, text, rrf_k=0, text_weight=2.0)
    place = {f.key: i for i, f in enumerate(fused)}
    assert fused[place["a"]].score == fused[place["b"]].score == 0.01
    assert place["a"] < place["b"]  # rank 100 beats rank 200

    vector = [f"v{i}" for i in range(199)] + ["a"]  # a: vector rank 200
    text = [f"t{i}" for i in range(99)] + ["b"]  # b: text rank 100
    fused = reciprocal_rank_fusion(vector, text, rrf_k=0, text_weight=0.5)
    place = {f.key: i for i, f in enumerate(fused)}
    assert fused[place["a"]].score == fused[place["b"]].score == 0.005
    assert place["b"] < place["a"]  # rank 100 beats rank 200, though a is on the vector side
