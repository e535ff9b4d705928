"""What `frames_to_spans` promises beyond the basics of tests/test_spans.py (issue 27, item 4):
a span's probability is the highest of its frames wherever that frame sits, adjacency is measured
from the previous frame's end at any time in the file, `max_gap` and `min_duration` are inclusive
bounds, and frame arrays of different lengths are refused rather than cut short."""

from __future__ import annotations

import numpy as np
import pytest

from pe_search.query.spans import frames_to_spans


def _frames(probabilities, step=0.5, at=0.0):
    """Frames of `step` seconds from `at` (steps of 0.5 s keep every edge exact in binary)."""
    starts = at + np.arange(len(probabilities)) * step
    return starts, starts + step, np.asarray(probabilities, dtype=np.float64)


@pytest.mark.parametrize(
    "probabilities, highest",
    [
        ([0.9, 0.4, 0.5], 0.9),  # first frame highest
        ([0.4, 0.95, 0.5], 0.95),  # middle
        ([0.4, 0.5, 0.8], 0.8),  # last
        ([0.6, 0.31, 0.7, 0.65], 0.7),  # rises, dips, rises again
    ],
)
def test_a_spans_probability_is_the_highest_of_its_frames(probabilities, highest):
    [span] = frames_to_spans(*_frames(probabilities))
    assert span.probability == highest
    assert (span.start, span.end) == (0.0, 0.5 * len(probabilities))


def test_each_span_keeps_its_own_highest_frame():
    spans = frames_to_spans(*_frames([0.5, 0.7, 0.0, 0.9, 0.4, 0.0, 0.35]))
    assert [(s.start, s.end, s.probability) for s in spans] == [
        (0.0, 1.0, 0.7),
        (1.5, 2.5, 0.9),
        (3.0, 3.5, 0.35),
    ]


def test_adjacent_frames_late_in_a_file_still_merge():
    """Adjacency compares a frame's start with the previous frame's end, at any time in the file."""
    spans = frames_to_spans(*_frames([0.9, 0.8, 0.7], at=3600.0))
    assert [(s.start, s.end) for s in spans] == [(3600.0, 3601.5)]


def test_max_gap_is_inclusive():
    starts = np.array([0.0, 1.5, 3.25])  # gaps after the 1 s frames: 0.5 s, then 0.75 s
    ends = starts + 1.0
    spans = frames_to_spans(starts, ends, np.full(3, 0.9), max_gap=0.5)
    assert [(s.start, s.end) for s in spans] == [(0.0, 2.5), (3.25, 4.25)]


def test_min_duration_is_inclusive_and_forgives_float_noise():
    starts, ends, probabilities = _frames([0.9, 0.9])  # one span of exactly 1.0 s
    assert [s.duration for s in frames_to_spans(starts, ends, probabilities, min_duration=1.0)] == [1.0]
    # a span short of the minimum by float noise only (here exactly 1e-9 in binary) is kept
    noisy = 1.0 + 1e-9
    assert noisy - 1e-9 == 1.0
    assert len(frames_to_spans(starts, ends, probabilities, min_duration=noisy)) == 1
    assert frames_to_spans(starts, ends, probabilities, min_duration=1.0 + 1e-6) == []


def test_frame_arrays_of_different_lengths_are_refused():
    starts, ends, probabilities = _frames([0.9, 0.9, 0.9])
    with pytest.raises(ValueError):
        frames_to_spans(starts, ends, probabilities[:2])
    with pytest.raises(ValueError):
        frames_to_spans(starts[:2], ends, probabilities)


def test_float32_probabilities_are_compared_by_their_true_value():
    """float32(0.3) is 0.300000011920929: above a threshold of 0.3, so its frame is in the event
    (a comparison done in float32 would round the threshold up to the same value and drop it)."""
    probability = np.float32(0.3)
    assert float(probability) > 0.3
    starts = np.array([0.0, 0.5], dtype=np.float32)
    spans = frames_to_spans(starts, starts + np.float32(0.5), np.array([probability, 0.0], dtype=np.float32))
    assert [(s.start, s.end) for s in spans] == [(0.0, 0.5)]
    assert spans[0].probability == float(probability)
