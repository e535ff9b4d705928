"""The frame codes beyond sq8's bound (issue 27, item 4; mutation run over the whole of
`store/frame_codes.py`): pq scans and scores, the codebook's sample and its silence, inputs in
float64, the strict cut, a block of exactly two scan pieces, and what empty blocks give back.
Expected answers come from the codes decoded by hand (a pq code is its centroids side by side),
from integer frames whose scores are exact, or from FAISS's own ProductQuantizer."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from pe_search.store import frame_codes

DIM = 32
M = 4


def _vectors(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)


def _pq_by_hand(codebook: frame_codes.Codebook, codes: np.ndarray) -> np.ndarray:
    """float64 [n, DIM]: each sub-code's centroid, side by side."""
    centroids = codebook.centroids().reshape(codebook.m, 1 << codebook.nbits, DIM // codebook.m)
    return np.concatenate([centroids[j, codes[:, j]] for j in range(codebook.m)], axis=1).astype(np.float64)


def _clear_above(expected: np.ndarray, cut: float) -> tuple[np.ndarray, np.ndarray]:
    """(frames clear of float32's rounding at the cut, those of them above it)."""
    clear = np.abs(expected - cut) > 1e-4
    return clear, np.flatnonzero(clear & (expected > cut))


def test_a_pq_scan_returns_the_frames_whose_centroids_score_above_the_cut():
    codebook = frame_codes.Codebook.train(_vectors(600, 40), m=M)
    coded = frame_codes.encode(_vectors(400, 41), "pq", codebook)
    query = np.random.default_rng(42).standard_normal(DIM).astype(np.float32)
    expected = _pq_by_hand(codebook, coded.codes) @ query.astype(np.float64)
    np.testing.assert_allclose(
        frame_codes.scores("pq", DIM, coded.params, coded.codes, query, codebook), expected, atol=1e-4
    )
    for cut in np.quantile(expected, [0.2, 0.9]):
        positions, scores = frame_codes.frames_above(
            "pq", DIM, coded.params, coded.codes, query, cut, codebook
        )
        clear, above = _clear_above(expected, cut)
        assert set(positions[clear[positions]].tolist()) == set(above.tolist())
        np.testing.assert_allclose(scores, expected[positions], atol=1e-4)


def test_scans_with_two_codebooks_in_turn_each_use_their_own_centroids():
    """The per-thread index is reused: the second codebook's centroids must replace the first's."""
    query = np.random.default_rng(43).standard_normal(DIM).astype(np.float32)
    frames = _vectors(300, 44)
    for seed in (45, 46, 45):
        codebook = frame_codes.Codebook.train(_vectors(600, seed), m=M)
        coded = frame_codes.encode(frames, "pq", codebook)
        expected = _pq_by_hand(codebook, coded.codes) @ query.astype(np.float64)
        _, scores = frame_codes.frames_above("pq", DIM, coded.params, coded.codes, query, -np.inf, codebook)
        np.testing.assert_allclose(scores, expected, atol=1e-4)


def test_the_per_thread_scan_index_is_reused():
    params = np.zeros(0, np.float32)
    first = frame_codes._flat_codes_index("f32", DIM, params, None)
    assert frame_codes._flat_codes_index("f32", DIM, params, None) is first
    assert frame_codes._flat_codes_index("f32", DIM + 4, params, None) is not first


def test_an_unknown_encoding_is_refused_by_the_scan():
    with pytest.raises(ValueError, match="unknown frame encoding 'zz'"):
        frame_codes.frames_above(
            "zz", DIM, np.zeros(0, np.float32), np.zeros((3, 8), np.uint8), np.ones(DIM), 0.0
        )


@pytest.mark.parametrize("top", [512, 1])  # the top-k path, and the range search past it
def test_a_frame_scoring_exactly_the_cut_is_not_above_it(monkeypatch, top):
    """Integer frames and a one-hot query score exactly in float32: 3, 2, 2, 1, 0 against a cut of
    2 keeps only the 3."""
    monkeypatch.setattr(frame_codes, "SCAN_TOP", top)
    monkeypatch.setattr(frame_codes, "SCAN_WHOLE", 0)  # top-k searches, not the whole piece at once
    vectors = np.zeros((5, DIM), np.float32)
    vectors[:, 0] = [3, 2, 2, 1, 0]
    coded = frame_codes.encode(vectors, "f32")
    query = np.zeros(DIM, np.float32)
    query[0] = 1.0
    positions, scores = frame_codes.frames_above("f32", DIM, coded.params, coded.codes, query, 2.0)
    assert positions.tolist() == [0] and scores.tolist() == [3.0]


def test_a_block_of_exactly_two_pieces_scans_both(monkeypatch):
    monkeypatch.setattr(frame_codes, "SCAN_PIECE", 150)
    vectors = _vectors(300, 47)
    coded = frame_codes.encode(vectors, "f32")
    query = np.random.default_rng(48).standard_normal(DIM).astype(np.float32)
    expected = vectors.astype(np.float64) @ query.astype(np.float64)
    cut = float(np.median(expected))
    positions, scores = frame_codes.frames_above("f32", DIM, coded.params, coded.codes, query, cut)
    clear, above = _clear_above(expected, cut)
    assert set(positions[clear[positions]].tolist()) == set(above.tolist())
    assert positions.max() >= 150  # the second piece's frames are there


def test_float64_inputs_code_and_scan_as_their_float32_values():
    vectors = _vectors(200, 49)
    query = np.random.default_rng(50).standard_normal(DIM).astype(np.float32)
    for encoding in ("f32", "sq8"):
        coded = frame_codes.encode(vectors.astype(np.float64), encoding)
        reference = frame_codes.encode(vectors, encoding)
        np.testing.assert_array_equal(coded.codes, reference.codes)
        np.testing.assert_array_equal(coded.params, reference.params)
        expected = frame_codes.frames_above(encoding, DIM, reference.params, reference.codes, query, 0.0)
        found = frame_codes.frames_above(
            encoding, DIM, coded.params.astype(np.float64), coded.codes, query.astype(np.float64), 0.0
        )
        np.testing.assert_array_equal(found[0], expected[0])
        np.testing.assert_allclose(found[1], expected[1], atol=1e-5)
        scores = frame_codes.scores(encoding, DIM, coded.params, coded.codes, query.astype(np.float64))
        assert scores.dtype == np.float32


def test_a_codebook_from_float64_is_the_one_from_float32():
    training = _vectors(600, 51)
    reference = frame_codes.Codebook.train(training, m=M)
    np.testing.assert_array_equal(
        frame_codes.Codebook.train(training.astype(np.float64), m=M).centroids(), reference.centroids()
    )
    rebuilt = frame_codes.Codebook(DIM, reference.centroids().astype(np.float64), m=M)
    np.testing.assert_array_equal(rebuilt.centroids(), reference.centroids())


def test_a_codebook_trains_on_its_seeded_sample_of_a_large_library():
    """Past PQ_TRAIN_SAMPLE frames the codebook is fitted on a reproducible sample: the sorted
    choice of PQ_SEED's generator, which FAISS's own quantiser, trained on it alone, agrees with."""
    training = (
        np.random.default_rng(52).standard_normal((frame_codes.PQ_TRAIN_SAMPLE + 904, 8)).astype(np.float32)
    )
    codebook = frame_codes.Codebook.train(training, m=2)
    rng = np.random.default_rng(frame_codes.PQ_SEED)
    sample = training[np.sort(rng.choice(len(training), frame_codes.PQ_TRAIN_SAMPLE, replace=False))]
    oracle = faiss.ProductQuantizer(8, 2, 8)
    oracle.verbose = False
    oracle.cp.seed = frame_codes.PQ_SEED
    oracle.cp.niter = frame_codes.PQ_TRAIN_ROUNDS
    oracle.cp.min_points_per_centroid = 1
    oracle.train(sample)
    np.testing.assert_array_equal(codebook.centroids(), faiss.vector_to_array(oracle.centroids))


def test_training_a_small_codebook_prints_nothing(capfd):
    """Training writes nothing to stdout or stderr (`--json` output stays clean), even on fewer than
    two frames per centroid, which FAISS would warn about unless told otherwise."""
    capfd.readouterr()
    frame_codes.Codebook.train(_vectors(300, 53), m=M)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


def test_a_codebook_keeps_its_bits_per_code():
    codebook = frame_codes.Codebook.train(_vectors(300, 54), m=M, nbits=6)
    assert codebook.params() == {"m": M, "nbits": 6, "dim": DIM}
    assert codebook.centroids().size == M * 64 * (DIM // M)
    coded = frame_codes.encode(_vectors(20, 55), "pq", codebook)
    assert coded.codes.shape == (20, 3)  # 4 codes of 6 bits in 3 bytes
    decoded = frame_codes.decode("pq", DIM, coded.params, coded.codes, codebook)
    oracle = faiss.ProductQuantizer(DIM, M, 6)
    faiss.copy_array_to_vector(codebook.centroids(), oracle.centroids)
    np.testing.assert_array_equal(decoded, oracle.decode(coded.codes))


def test_params_are_empty_float32_where_the_codes_carry_none():
    codebook = frame_codes.Codebook.train(_vectors(300, 56), m=M)
    for coded in (
        frame_codes.encode(_vectors(5, 57), "f32"),
        frame_codes.encode(_vectors(5, 57), "pq", codebook),
    ):
        assert coded.params.dtype == np.float32 and coded.params.size == 0


def test_pq_without_a_codebook_is_refused():
    with pytest.raises(ValueError) as raised:
        frame_codes.encode(_vectors(5, 58), "pq")
    assert str(raised.value) == "pq frames need the space's codebook"


def test_an_empty_block_gives_positions_and_scores_of_the_usual_types():
    positions, scores = frame_codes.frames_above(
        "sq8", DIM, np.zeros(2 * DIM, np.float32), np.zeros((0, DIM), np.uint8), np.ones(DIM), 0.0
    )
    assert positions.dtype == np.int64 and scores.dtype == np.float32
