"""The sq8 frame codes' error bound and scan (issue 27, item 4). FAISS's 8-bit scalar quantiser
codes a component as floor(255 * (x - vmin) / vdiff) and decodes it to the middle of that step,
so a component sitting on a step's lower edge (the block's minimum, for one) comes back exactly
half a step, vdiff / 510, too high. A frame at the block's minimum in every dimension, scored with
a query of positive components, is then off by the whole quantisation term: the bound must hold
there and must not be much looser (a bound twice as loose fails here), and the scan must return
what the codes decoded by hand give, piece by piece."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.store import frame_codes

DIM = 32


def _block(count: int = 300, seed: int = 5) -> np.ndarray:
    vectors = np.random.default_rng(seed).uniform(-1.0, 1.0, (count, DIM)).astype(np.float32)
    vectors[7] = vectors.min(axis=0)  # on every dimension's lowest step edge
    return vectors


def _decoded_by_hand(coded: frame_codes.CodedFrames) -> np.ndarray:
    vmin, vdiff = coded.params[:DIM].astype(np.float64), coded.params[DIM:].astype(np.float64)
    return vmin + (coded.codes.astype(np.float64) + 0.5) / 255.0 * vdiff


def _coded_scores(coded: frame_codes.CodedFrames, query: np.ndarray) -> np.ndarray:
    """Every frame's score as the scan computes it (FAISS over the codes)."""
    positions, scores = frame_codes.frames_above("sq8", DIM, coded.params, coded.codes, query, -np.inf)
    assert positions.tolist() == list(range(len(coded.codes)))
    return scores.astype(np.float64)


def test_the_params_are_the_blocks_ranges_and_decoding_is_the_step_middle():
    vectors = _block()
    coded = frame_codes.encode(vectors, "sq8")
    assert coded.encoding == "sq8" and coded.codes.shape == (len(vectors), DIM) and coded.code_size == DIM
    np.testing.assert_array_equal(coded.params[:DIM], vectors.min(axis=0))
    np.testing.assert_allclose(coded.params[DIM:], vectors.max(axis=0) - vectors.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(
        frame_codes.decode("sq8", DIM, coded.params, coded.codes), _decoded_by_hand(coded), atol=1e-6
    )
    assert np.all(coded.codes[7] == 0)


def test_the_sq8_bound_holds_and_is_reached_by_a_frame_on_the_step_edges():
    vectors = _block()
    coded = frame_codes.encode(vectors, "sq8")
    query = np.random.default_rng(6).uniform(0.1, 1.0, DIM).astype(np.float32)
    bound = frame_codes.score_error("sq8", DIM, coded.params, query)
    errors = np.abs(_coded_scores(coded, query) - vectors.astype(np.float64) @ query.astype(np.float64))
    worst = float(errors.max())
    by_hand = float(query.astype(np.float64) @ coded.params[DIM:].astype(np.float64)) / 510.0
    assert worst == pytest.approx(by_hand, rel=1e-4)  # frame 7 is off by the whole term
    assert int(errors.argmax()) == 7
    assert worst <= bound  # it holds ...
    assert bound <= 1.01 * worst  # ... and is tight: a bound even 1 % looser fails here


def test_the_sq8_bound_holds_for_every_frame_and_query():
    vectors = _block(count=400, seed=8) * 3.0
    coded = frame_codes.encode(vectors, "sq8")
    for seed in range(20):
        query = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        bound = frame_codes.score_error("sq8", DIM, coded.params, query)
        exact = vectors.astype(np.float64) @ query.astype(np.float64)
        assert np.abs(_coded_scores(coded, query) - exact).max() <= bound


def test_f32_has_no_error_and_pq_no_bound():
    params = np.zeros(2 * DIM, np.float32)
    assert frame_codes.score_error("f32", DIM, params, np.ones(DIM)) == 0.0
    assert frame_codes.score_error("pq", DIM, params, np.ones(DIM)) is None


@pytest.mark.parametrize("piece, top", [(64, 8), (1000, 512), (64, 512), (1000, 4)])
def test_a_scan_in_pieces_returns_exactly_the_frames_above_the_cut(monkeypatch, piece, top):
    """Pieces of the block (and a top-k too small for what passes) change nothing in the answer."""
    monkeypatch.setattr(frame_codes, "SCAN_PIECE", piece)
    monkeypatch.setattr(frame_codes, "SCAN_TOP", top)
    monkeypatch.setattr(frame_codes, "SCAN_WHOLE", 0)  # top-k searches, not whole small pieces
    vectors = _block(count=300, seed=9)
    coded = frame_codes.encode(vectors, "sq8")
    query = np.random.default_rng(10).standard_normal(DIM).astype(np.float32)
    expected = _decoded_by_hand(coded) @ query.astype(np.float64)
    for cut in np.quantile(expected, [0.1, 0.5, 0.97]):
        positions, scores = frame_codes.frames_above("sq8", DIM, coded.params, coded.codes, query, cut)
        clear = np.abs(expected - cut) > 1e-4  # leave float32's rounding at the cut out of it
        assert set(positions[clear[positions]].tolist()) == set(
            np.flatnonzero(clear & (expected > cut)).tolist()
        )
        assert np.all(np.diff(positions) > 0)
        np.testing.assert_allclose(scores, expected[positions], atol=1e-4)


def test_an_empty_block_scans_to_nothing():
    positions, scores = frame_codes.frames_above(
        "sq8", DIM, np.zeros(2 * DIM, np.float32), np.zeros((0, DIM), np.uint8), np.ones(DIM), 0.0
    )
    assert positions.size == scores.size == 0
    assert frame_codes.decode(
        "sq8", DIM, np.zeros(2 * DIM, np.float32), np.zeros((0, DIM), np.uint8)
    ).shape == (0, DIM)


def test_the_float_rounding_allowance_covers_large_vectors_with_a_tiny_spread():
    """Components near 1000 that differ by 1e-4: the quantisation term is tiny and float32's
    rounding of the sum is what the bound must cover."""
    rng = np.random.default_rng(30)
    vectors = (1000.0 + rng.uniform(0, 1e-4, (200, DIM))).astype(np.float32)
    coded = frame_codes.encode(vectors, "sq8")
    query = rng.uniform(0.5, 1.0, DIM).astype(np.float32)
    bound = frame_codes.score_error("sq8", DIM, coded.params, query)
    quantisation = float(query.astype(np.float64) @ coded.params[DIM:].astype(np.float64)) / 510.0
    errors = np.abs(_coded_scores(coded, query) - vectors.astype(np.float64) @ query.astype(np.float64))
    assert errors.max() > 10 * quantisation  # rounding, not the codes, is the error here
    assert errors.max() <= bound


def test_an_empty_block_decodes_to_no_float32_frames():
    empty = frame_codes.decode("sq8", DIM, np.zeros(2 * DIM, np.float32), np.zeros((0, DIM), np.uint8))
    assert empty.shape == (0, DIM) and empty.dtype == np.float32


def test_sq8_decodes_with_ranges_given_in_float64():
    coded = frame_codes.encode(_block(), "sq8")
    decoded = frame_codes.decode("sq8", DIM, coded.params.astype(np.float64), coded.codes)
    np.testing.assert_allclose(decoded, _decoded_by_hand(coded), atol=1e-5)


def test_pq_decodes_each_code_to_its_centroids():
    vectors = np.random.default_rng(31).standard_normal((600, DIM)).astype(np.float32)
    codebook = frame_codes.Codebook.train(vectors, m=4, nbits=8)
    coded = frame_codes.encode(vectors[:50], "pq", codebook)
    assert coded.encoding == "pq" and coded.codes.shape == (50, 4)
    centroids = codebook.centroids().reshape(4, 256, DIM // 4)
    by_hand = np.concatenate([centroids[j, coded.codes[:, j]] for j in range(4)], axis=1)
    np.testing.assert_array_equal(frame_codes.decode("pq", DIM, coded.params, coded.codes, codebook), by_hand)
    assert frame_codes.score_error("pq", DIM, coded.params, np.ones(DIM)) is None


def test_f32_round_trips_and_unknown_codes_are_refused():
    vectors = _block(count=20)
    coded = frame_codes.encode(vectors, "f32")
    np.testing.assert_array_equal(frame_codes.decode("f32", DIM, coded.params, coded.codes), vectors)
    with pytest.raises(ValueError, match="unknown frame encoding 'zz'"):
        frame_codes.decode("zz", DIM, coded.params, coded.codes)
    with pytest.raises(ValueError, match="unknown frame encoding 'zz'"):
        frame_codes.encode(vectors, "zz")


def test_in_few_dimensions_the_bound_is_the_half_step_itself():
    """With 4 dimensions the float32 allowance is negligible next to the half step, so a bound
    even 0.1 % short of vdiff / 510 per dimension fails on the frame at the block's minimum."""
    dim = 4
    vectors = np.random.default_rng(32).uniform(-1.0, 1.0, (100, dim)).astype(np.float32)
    vectors[3] = vectors.min(axis=0)
    coded = frame_codes.encode(vectors, "sq8")
    query = np.array([0.9, 0.7, 0.8, 1.0], np.float32)
    bound = frame_codes.score_error("sq8", dim, coded.params, query)
    positions, scores = frame_codes.frames_above("sq8", dim, coded.params, coded.codes, query, -np.inf)
    errors = np.abs(scores.astype(np.float64) - vectors.astype(np.float64) @ query.astype(np.float64))
    half_steps = float(query.astype(np.float64) @ coded.params[dim:].astype(np.float64)) / 510.0
    assert errors.max() == pytest.approx(half_steps, rel=1e-4)  # up to float32 rounding
    assert errors.max() <= bound <= 1.002 * errors.max()
