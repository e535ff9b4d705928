import numpy as np
import pytest

from pe_search.query.spans import frames_to_spans


def _frames(probabilities, step=0.04):
    starts = np.arange(len(probabilities)) * step
    return starts, starts + step, np.asarray(probabilities)


def test_frames_above_threshold_become_spans_with_edges_on_frame_boundaries():
    spans = frames_to_spans(*_frames([0.1, 0.5, 0.9, 0.2, 0.31, 0.4, 0.0]))
    assert [(round(s.start, 2), round(s.end, 2)) for s in spans] == [(0.04, 0.12), (0.16, 0.24)]
    assert spans[0].probability == pytest.approx(0.9)


def test_threshold_is_strict_and_min_duration_drops_short_spans():
    assert frames_to_spans(*_frames([0.3, 0.3])) == []
    spans = frames_to_spans(*_frames([0.9, 0.0, 0.9, 0.9, 0.9]), min_duration=0.1)
    assert [(round(s.start, 2), round(s.end, 2)) for s in spans] == [(0.08, 0.2)]


def test_gap_between_frames_splits_a_span():
    starts = np.array([0.0, 0.04, 1.0])
    spans = frames_to_spans(starts, starts + 0.04, np.array([0.9, 0.9, 0.9]))
    assert len(spans) == 2 and spans[1].start == 1.0


def test_span_running_to_the_last_frame_is_closed():
    spans = frames_to_spans(*_frames([0.0, 0.8, 0.8]))
    assert [(round(s.start, 2), round(s.end, 2)) for s in spans] == [(0.04, 0.12)]
