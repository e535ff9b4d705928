"""sq8 scans in two passes (issue 24, item 4): an integer pass over every code (FAISS's 8-bit
direct signed kernel with the query's weights rounded to int8) rules out the frames it proves
below the cut, and the sq8 kernel scores the rest. The answer must be the one a single sq8 pass
gives, frame for frame and bit for bit: the reference here is the sq8 kernel's score of every
frame (a scan with no cut, which has no integer pass) and the codes decoded by hand in float64."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from pe_search.store import frame_codes


@pytest.fixture(autouse=True)
def _integer_pass_on_small_slices(monkeypatch):
    """Two passes for these few hundred frames too (the store keeps sq8 alone for slices under
    COARSE_MIN_FRAMES), and top-k searches that grow (not whole small pieces at once)."""
    monkeypatch.setattr(frame_codes, "COARSE_MIN_FRAMES", 0)
    monkeypatch.setattr(frame_codes, "SCAN_WHOLE", 0)


def _frames(count: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, the event direction): i.i.d. noise of norm ~0.6, and an event (0.8 along one
    direction) on a few runs of frames, as bench_frames' frames are."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(dim)
    direction /= np.linalg.norm(direction)
    frames = rng.standard_normal((count, dim)) * (0.6 / np.sqrt(dim))
    for start in rng.integers(0, count - 40, 6):
        frames[start : start + int(rng.integers(5, 40))] += 0.8 * direction
    return frames.astype(np.float32), direction.astype(np.float32)


def _sq8_alone(coded: frame_codes.CodedFrames, query: np.ndarray) -> np.ndarray:
    """The sq8 kernel's score of every frame: a scan without a cut (no integer pass there)."""
    positions, scores = frame_codes.frames_above(
        "sq8", coded.code_size, coded.params, coded.codes, query, -np.inf
    )
    assert positions.tolist() == list(range(len(coded.codes)))
    return scores


def _by_hand(coded: frame_codes.CodedFrames, query: np.ndarray) -> np.ndarray:
    dim = coded.code_size
    vmin, vdiff = coded.params[:dim].astype(np.float64), coded.params[dim:].astype(np.float64)
    return (vmin + (coded.codes.astype(np.float64) + 0.5) / 255.0 * vdiff) @ query.astype(np.float64)


def _queries(direction: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    dominant = rng.standard_normal(len(direction)).astype(np.float32) * 0.01
    dominant[3] = 5.0  # one weight sets the integer step: every other weight rounds coarsely
    return [direction, -direction, rng.standard_normal(len(direction)).astype(np.float32), dominant]


@pytest.mark.parametrize("dim", [1024, 33, 16])
@pytest.mark.parametrize("piece, top", [(32_768, 512), (97, 4)])
def test_two_passes_find_what_one_sq8_pass_finds_with_its_very_scores(monkeypatch, dim, piece, top):
    monkeypatch.setattr(frame_codes, "SCAN_PIECE", piece)
    monkeypatch.setattr(frame_codes, "SCAN_TOP", top)
    frames, direction = _frames(700, dim, seed=dim)
    _same_as_one_sq8_pass(frame_codes.encode(frames, "sq8"), _queries(direction, seed=dim + 1), 3)


def test_two_passes_agree_where_sq8s_float32_rounding_outweighs_its_steps():
    """Components near 1,000 that differ by 1e-3: the sq8 kernel's float32 rounding (sums near
    16,000) moves scores far more than the integer pass's steps do, so the pass must leave room
    for that rounding too, or frames the sq8 kernel rounds up past a cut are lost."""
    rng = np.random.default_rng(33)
    frames = (1000.0 + rng.uniform(0, 1e-3, (400, 16))).astype(np.float32)
    queries = [rng.uniform(0.5, 1.0, 16).astype(np.float32) for _ in range(3)]
    _same_as_one_sq8_pass(frame_codes.encode(frames, "sq8"), queries, 40, tolerance=2e-2)


def _same_as_one_sq8_pass(
    coded: frame_codes.CodedFrames, queries: list[np.ndarray], frames_cut_at: int, tolerance: float = 1e-4
) -> None:
    """At cuts all over the scores, and on some frames' own sq8 scores and just below them: the
    very frames and scores of one sq8 pass, and the frames the hand-decoded scores put above the
    cut (those clear of float32's rounding at it, `tolerance`)."""
    dim = coded.code_size
    for query in queries:
        every = _sq8_alone(coded, query)
        by_hand = _by_hand(coded, query)
        order = np.sort(every)
        cuts = list(np.quantile(every, [0.05, 0.5, 0.9, 0.99]))
        for at in np.linspace(len(order) // 3, len(order) - 2, frames_cut_at).astype(int):
            cuts += [float(order[at]), float(np.nextafter(order[at], -np.inf))]
        for cut in cuts:
            positions, scores = frame_codes.frames_above("sq8", dim, coded.params, coded.codes, query, cut)
            expected = np.flatnonzero(every.astype(np.float64) > cut)
            np.testing.assert_array_equal(positions, expected)
            np.testing.assert_array_equal(scores, every[expected])
            clear = np.abs(by_hand - cut) > tolerance
            assert set(positions[clear[positions]].tolist()) == set(np.flatnonzero(clear & (by_hand > cut)))


def test_a_frame_at_the_integer_passs_worst_error_is_still_found():
    """Weights that round away from their integers, and a frame whose codes are 255 where the
    rounding lowered a weight and 0 where it raised one: the integer score is below the sq8 score
    by the whole of the pass's allowance (255 times the positive rounding errors), far more than
    one integer step. Cut just below the frame's sq8 score, the frame must still be found."""
    dim = 16
    params = np.concatenate([np.zeros(dim), np.full(dim, 255.0)]).astype(np.float32)  # weights = query
    query = (np.arange(1, dim + 1) * 0.37 + 0.013).astype(np.float32)
    query[0] = 127.0  # sets the step at 1.0: every other weight is off by its fraction
    error = query.astype(np.float64) - np.round(query.astype(np.float64))  # by hand, step 1
    assert 255.0 * error[error > 0].sum() > 100.0  # the allowance is many steps
    codes = np.zeros((50, dim), np.uint8)
    codes[7] = np.where(error > 0, 255, 0)
    codes[8] = np.where(error > 0, 0, 255)  # the other way: the integer score is above the true one
    coded = frame_codes.CodedFrames("sq8", params, codes)
    every = _sq8_alone(coded, query)
    for frame in (7, 8):
        cut = float(np.nextafter(every[frame], -np.inf))
        positions, scores = frame_codes.frames_above("sq8", dim, params, codes, query, cut)
        assert frame in positions.tolist()
        np.testing.assert_array_equal(positions, np.flatnonzero(every.astype(np.float64) > cut))
        np.testing.assert_array_equal(scores, every[positions])


def _kernel_calls(monkeypatch) -> list[tuple[str, int]]:
    """(which kernel, rows it scored) of each FAISS search a scan makes."""
    calls: list[tuple[str, int]] = []
    search = frame_codes._search

    def spy(index, query, cutoff, count):
        kind = "integer" if index.sq.qtype == faiss.ScalarQuantizer.QT_8bit_direct_signed else "sq8"
        calls.append((kind, count))
        return search(index, query, cutoff, count)

    monkeypatch.setattr(frame_codes, "_search", spy)
    return calls


def test_the_integer_pass_leaves_the_sq8_kernel_only_the_frames_near_or_above_the_cut(monkeypatch):
    frames, direction = _frames(20_000, 1024, seed=3)
    coded = frame_codes.encode(frames, "sq8")
    calls = _kernel_calls(monkeypatch)
    positions, _ = frame_codes.frames_above("sq8", 1024, coded.params, coded.codes, direction, 0.4)
    assert sum(n for kind, n in calls if kind == "integer") == len(frames)  # every frame, once
    scored = sum(n for kind, n in calls if kind == "sq8")
    assert len(positions) <= scored < len(positions) + 0.01 * len(frames)


def test_more_dimensions_than_the_integer_pass_takes_are_scanned_by_sq8_alone(monkeypatch):
    """Sums of (code - 128) * weight are exact in float32 up to 2**24: 1,032 dimensions."""
    assert frame_codes.COARSE_MAX_DIM == 1032 and 1032 * 128 * 127 < 2**24 <= 1033 * 128 * 127
    dim = 1040
    frames, direction = _frames(300, dim, seed=4)
    coded = frame_codes.encode(frames, "sq8")
    every = _sq8_alone(coded, direction)
    calls = _kernel_calls(monkeypatch)
    positions, scores = frame_codes.frames_above("sq8", dim, coded.params, coded.codes, direction, 0.4)
    assert {kind for kind, _ in calls} == {"sq8"}
    np.testing.assert_array_equal(positions, np.flatnonzero(every.astype(np.float64) > 0.4))
    np.testing.assert_array_equal(scores, every[positions])


@pytest.mark.parametrize("dim", [1032, 64, 5])
def test_faiss_direct_signed_kernel_is_an_exact_integer_dot_product(dim):
    """What the integer pass rests on: FAISS's QT_8bit_direct_signed inner product of codes c and
    an integer query n is sum (c - 128) * n exactly, at the extremes too (its SIMD kernels take
    the query as int8, so only integer weights in -127 .. 127 are given to it)."""
    rng = np.random.default_rng(dim)
    codes = rng.integers(0, 256, (40, dim), dtype=np.uint8)
    codes[0], codes[1] = 0, 255
    query = rng.integers(-127, 128, (1, dim)).astype(np.float32)
    query[0, : dim // 2] = -127
    index = faiss.IndexScalarQuantizer(
        dim, faiss.ScalarQuantizer.QT_8bit_direct_signed, faiss.METRIC_INNER_PRODUCT
    )
    index.is_trained = True
    index.add(codes.astype(np.float32) - 128.0)  # stored as the integers + 128: the codes themselves
    assert np.array_equal(faiss.vector_to_array(index.codes).reshape(40, dim), codes)
    scores, ids = index.search(query, 40)
    found = np.empty(40)
    found[ids[0]] = scores[0]
    np.testing.assert_array_equal(found, (codes.astype(np.int64) - 128) @ query[0].astype(np.int64))


def test_small_slices_and_bounded_runs_are_scored_by_sq8_alone(monkeypatch):
    """Library-wide locate's windows (750 frames each) and the runs piece bounds leave lie where
    the sound is: most of their frames pass, so one sq8 pass, not two."""
    monkeypatch.setattr(frame_codes, "COARSE_MIN_FRAMES", 4_096)
    frames, direction = _frames(5_000, 64, seed=5)
    coded = frame_codes.encode(frames, "sq8")
    every = _sq8_alone(coded, direction)
    calls = _kernel_calls(monkeypatch)
    monkeypatch.setattr(frame_codes, "SCAN_PIECE", 4_095)
    for codes, runs, integer in (
        (coded.codes[:4_095], None, False),  # under the threshold
        (coded.codes, [(0, 2_500), (2_600, 5_000)], False),  # runs piece bounds left: near the cut
        (coded.codes, None, True),
    ):
        calls.clear()
        positions, scores = frame_codes.frames_above(
            "sq8", 64, coded.params, codes, direction, 0.4, runs=runs
        )
        assert ("integer" in {kind for kind, _ in calls}) is integer
        wanted = np.zeros(len(frames), bool)
        wanted[: len(codes)] = runs is None
        for start, stop in runs or []:
            wanted[start:stop] = True
        np.testing.assert_array_equal(positions, np.flatnonzero(wanted & (every.astype(np.float64) > 0.4)))
        np.testing.assert_array_equal(scores, every[positions])
