"""Many labels scored at once (`FrameSlice.scan_many`, `passing_frames_many`): each label's answer is
the one float64 arithmetic on the written vectors gives, with the exactness rule of `locate`'s scan:
sq8 decides the frames far from the cut and marks the rest, which exact vectors then decide."""

from __future__ import annotations

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.models.spaces import Calibration
from pe_search.query.frames import passing_frames, passing_frames_many
from pe_search.store import LibraryStore, MediaRecord, frame_codes

STEP = 0.04
COUNT = 20_000  # more than one piece of the matrix product (8,192 frames)
LABELS = 12


def stored(store: LibraryStore, codes: str) -> tuple[int, np.ndarray]:
    vectors = np.random.default_rng(21).standard_normal((COUNT, DIM)).astype(np.float32)
    starts = np.arange(COUNT) * STEP
    with store.write() as tx:
        media_id = tx.upsert_media(MediaRecord(path="/m/a.wav", size=1, mtime=1.0, status="indexed"))
        tx.put_frames(media_id, "audio_frame", starts, starts + STEP, vectors, codes)
    return media_id, vectors


def labels_and_cut(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Label vectors scaled so that each label has its own share of frames above one cut."""
    queries = np.random.default_rng(22).standard_normal((LABELS, DIM)).astype(np.float32)
    queries *= np.linspace(0.6, 1.4, LABELS, dtype=np.float32)[:, None]
    exact = vectors.astype(np.float64) @ queries.astype(np.float64).T
    return queries, exact, float(np.quantile(exact[:, LABELS // 2], 0.9))


@pytest.mark.parametrize("codes", ["sq8", "f32"])
def test_scan_many_keeps_every_frame_above_the_cut_and_marks_the_undecided(tmp_path, codes):
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        media_id, vectors = stored(store, codes)
        frames = store.frame_slice(media_id, "audio_frame")
        queries, exact, cut = labels_and_cut(vectors)
        margin = 0.25
        scans = frames.scan_many(queries, cut, margin)
        coded_scores = [frames.scores(query) for query in queries]  # the code's, one label at a time
    assert len(scans) == LABELS
    for label, found in enumerate(scans):
        truth = exact[:, label]
        assert found.bounded
        assert np.all(np.diff(found.positions) > 0)  # time order
        assert set(np.flatnonzero(truth > cut - margin)) <= set(found.positions.tolist())
        if codes == "sq8":  # what the code decides alone, it decides rightly
            sure = np.setdiff1d(np.arange(found.positions.size), found.unsure)
            assert np.all(truth[found.positions[sure]] > cut + margin)
        np.testing.assert_allclose(found.scores, coded_scores[label][found.positions], rtol=1e-5, atol=1e-4)
        if codes == "f32":
            assert found.unsure.size == 0
            np.testing.assert_array_equal(found.positions, np.flatnonzero(truth > cut - margin))
    if codes == "sq8":
        assert sum(found.unsure.size for found in scans) > 0  # the rule is exercised


@pytest.mark.parametrize("codes", ["sq8", "f32"])
def test_passing_frames_many_equals_float64_per_label(tmp_path, codes):
    threshold = 0.3
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        media_id, vectors = stored(store, codes)
        frames = store.frame_slice(media_id, "audio_frame")
        queries, exact, cut = labels_and_cut(vectors)
        # the threshold's logit, by hand, falls at `cut` for a scale of 2
        bias = float(np.log(threshold / (1 - threshold))) - 2.0 * cut
        calibration = Calibration(scale=2.0, bias=bias)
        calls: dict[str, list] = {"many": [], "single": []}

        def exact_frames(into):
            def give(slice_, positions):
                calls[into].append(positions)
                return vectors[slice_.first + positions]

            return give

        passing, decided = passing_frames_many(frames, queries, calibration, threshold, exact_frames("many"))
        single = [passing_frames(frames, q, calibration, threshold, exact_frames("single")) for q in queries]
        _, coded_decided = passing_frames_many(frames, queries, calibration, threshold)
    assert decided
    total = 0
    for label, (positions, probabilities) in enumerate(passing):
        logits = exact[:, label] * 2.0 + bias
        probability = 1 / (1 + np.exp(-logits))
        np.testing.assert_array_equal(positions, np.flatnonzero(probability > threshold))
        # which frames pass is exact; a frame the code decides keeps the code's probability, as in locate
        np.testing.assert_allclose(
            probabilities, probability[positions], atol=0.1 if codes == "sq8" else 1e-5
        )
        np.testing.assert_array_equal(positions, single[label][0])  # as locate's scan finds them
        np.testing.assert_allclose(probabilities, single[label][1], rtol=1e-5)
        total += positions.size
    assert total > 1000
    if codes == "sq8":
        assert len(calls["many"]) == 1 and len(calls["single"]) > 1  # one re-encoding for all labels
        assert not coded_decided  # without exact vectors the code decides, and says so
    else:
        assert coded_decided and not calls["many"]


def test_a_constant_calibration_passes_all_frames_or_none(tmp_path):
    with LibraryStore.open(tmp_path / "lib", make_identity()) as store:
        media_id, vectors = stored(store, "sq8")
        frames = store.frame_slice(media_id, "audio_frame")
        queries = vectors[:3]
        every, decided = passing_frames_many(frames, queries, Calibration(0.0, 2.0), 0.5)
        none, _ = passing_frames_many(frames, queries, Calibration(0.0, -2.0), 0.5)
    assert decided and all(p.size == COUNT for p, _ in every) and all(p.size == 0 for p, _ in none)


def test_sq8_scored_from_its_codes_equals_the_decoded_product():
    """Cut at each label's median coded score, where pairs crowd it: the pairs scored from the codes
    as they are (no decoding) are the pairs the decoded float32 product finds (a pair within
    float32 rounding of the cut may go either way), with its scores."""
    rng = np.random.default_rng(31)
    dim = 256
    vectors = (rng.standard_normal((20_000, dim)) * rng.uniform(0.2, 3.0, dim)).astype(np.float32)
    coded = frame_codes.encode(vectors, "sq8")
    queries = rng.standard_normal((40, dim)).astype(np.float32)
    decoded = frame_codes.decode("sq8", dim, coded.params, coded.codes) @ queries.T
    cutoffs = np.median(decoded, axis=0)
    rows, positions, scores = frame_codes.frames_above_many(
        "sq8", dim, coded.params, coded.codes, queries, cutoffs
    )
    found = set(zip(rows.tolist(), positions.tolist(), strict=True))
    expected = set(zip(*np.nonzero((decoded > cutoffs).T), strict=True))
    differ = found ^ {(int(r), int(p)) for r, p in expected}
    assert all(abs(decoded[p, r] - cutoffs[r]) < 1e-4 * (1 + abs(cutoffs[r])) for r, p in differ)
    assert len(found) > 350_000 and len(differ) < 10
    np.testing.assert_allclose(scores, decoded[positions, rows], rtol=1e-5, atol=1e-3)
