"""bench/scale_vectors.py's query distributions (issue 24, item 1): `offset` is what the issue
names, text-like queries of the library's own model with a modality gap twice as long; the
queries of another model (`foreign`) are kept apart. Checked by linear algebra on the model's
parts, not by the code that draws them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from bench_vectors import _model  # noqa: E402
from scale_vectors import Data, query_sets  # noqa: E402

DIM = 256


def off_model_share(queries: np.ndarray, gaps: int) -> float:
    """The share of (queries - gaps x the model's gap) outside the span of its query projection."""
    _, _, projection, gap = _model(DIM, 0)
    rest = (queries - gaps * gap).T
    coefficients, *_ = np.linalg.lstsq(projection.T, rest, rcond=None)
    return float(np.linalg.norm(rest - projection.T @ coefficients) / np.linalg.norm(rest))


def test_offset_is_the_library_models_text_like_queries_with_twice_the_gap():
    sets = query_sets(Data(DIM))
    # what is left is the queries' own isotropic noise (0.3 per dimension): small
    baseline = off_model_share(sets["text_like"], 1)
    assert baseline < 0.3
    assert off_model_share(sets["offset"], 2) < 0.3
    assert not np.allclose(sets["offset"] - sets["text_like"], sets["offset"][0] - sets["text_like"][0])
    # the other model's queries are mostly outside this model's span (sc-ivf's `offset`)
    assert off_model_share(sets["foreign"], 2) > 0.6
