"""Reciprocal rank fusion of the vector ranking and the full-text ranking. Pure arithmetic.

RRF (Cormack, Clarke and Buettcher, SIGIR 2009) scores a file by the sum over rankings of
1 / (RRF_K + rank). It needs no common scale between a model probability and a BM25 score, which
have none; a file near the top of either list comes out near the top, and one ranked well by both
beats one ranked well by only one. With no text match the fused order is the vector order, so
hybrid search never does worse than the model on queries whose words no file carries.
"""

from __future__ import annotations

from dataclasses import dataclass

RRF_K = 60  # the constant of the paper; it damps the difference between ranks 1 and 2


@dataclass(frozen=True)
class Fused:
    """One file's place in the fused ranking. Ranks are 1-based, None where a side missed it."""

    key: int  # media id
    score: float
    vector_rank: int | None
    text_rank: int | None


def reciprocal_rank_fusion(
    vector_ranking: list[int], text_ranking: list[int], rrf_k: int = RRF_K, text_weight: float = 1.0
) -> list[Fused]:
    """Fuse two rankings of media ids (best first, each id once); best fused first. Ties go to
    the file with the better single rank, then to the vector side's order."""
    vector_ranks = {key: rank for rank, key in enumerate(vector_ranking, start=1)}
    text_ranks = {key: rank for rank, key in enumerate(text_ranking, start=1)}
    fused = []
    for key in dict.fromkeys([*vector_ranking, *text_ranking]):
        v, t = vector_ranks.get(key), text_ranks.get(key)
        score = (1.0 / (rrf_k + v) if v else 0.0) + (text_weight / (rrf_k + t) if t else 0.0)
        fused.append(Fused(key, score, v, t))
    order = {key: i for i, key in enumerate(dict.fromkeys([*vector_ranking, *text_ranking]))}
    fused.sort(key=lambda f: (-f.score, min(f.vector_rank or 10**9, f.text_rank or 10**9), order[f.key]))
    return fused
