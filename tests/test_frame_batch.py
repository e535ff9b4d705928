"""Library-wide locate scans every proposed window of a query together (issue 24, item 4): the
batched scan (`scan_slices`, `library_spans`) gives exactly what one scan per window gives
(`FrameSlice.scan`, `file_spans`), and the spans float32 gives.

The frames are generated here: several files, each with its own noise scale (so each block has
its own sq8 ranges), with events planted along the query's direction on known frames, ramped so
scores near their edges take many close values (the noise along the query is small: an event's
frames cross a cut inside its ramp once); some events cross a proposed window's edge, so spans
must widen the window, and no widened window reaches another event. The right spans come from numpy on the float32 frames: the runs of
frames whose probability passes the threshold that touch a proposed window.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_store_support import DIM, make_identity

from pe_search.models.spaces import Calibration
from pe_search.query.frames import Proposal, block_readers, file_spans, library_spans, runs_to_spans
from pe_search.query.spans import frames_to_spans
from pe_search.store import FrameSlice, LibraryStore, MediaRecord, scan_slices

SPACE = "audio_frame"
STEP = 0.04
COUNT = 3_000  # 120 s per file
QUERY = np.eye(DIM, dtype=np.float32)[0]
CALIBRATION = Calibration(10.0, -20.0)  # probability 0.5 at a score of 2
RAMP = 9
# per file: (noise scale, events as frame ranges [first, stop), proposed windows in seconds)
FILES = [
    (0.05, [(100, 180), (900, 1_400)], [(5.0, 10.0), (30.0, 40.0)]),  # the second runs past its window
    (0.2, [(0, 60), (2_950, COUNT)], [(0.0, 1.0), (115.0, 120.0)]),  # events at the file's two ends
    (
        0.5,
        [(1_000, 1_010), (1_500, 2_600)],
        [(39.0, 41.0), (70.0, 71.0), (70.5, 75.0)],
    ),  # overlapping windows
    (0.3, [(400, 430)], [(50.0, 60.0)]),  # no event in its window
    (0.1, [(200, 2_800)], [(60.0, 61.0)]),  # widened many times over
]


def file_frames(number: int) -> np.ndarray:
    scale, events, _ = FILES[number]
    rng = np.random.default_rng(number)
    vectors = rng.standard_normal((COUNT, DIM)) * scale
    vectors[:, 0] = rng.standard_normal(COUNT) * 0.01  # along the query: events cross the cut once
    for first, stop in events:
        rise = np.minimum(1.0, (np.arange(first, stop) - first + 1) / RAMP)
        fall = np.minimum(1.0, (stop - np.arange(first, stop)) / RAMP)
        vectors[first:stop, 0] += 4.0 * np.minimum(rise, fall)
    return vectors.astype(np.float32)


FRAMES = [file_frames(number) for number in range(len(FILES))]


def float32_spans(number: int, threshold: float) -> list[tuple[float, float]]:
    """Runs of frames whose float32 probability passes `threshold` and that touch a window."""
    scores = FRAMES[number].astype(np.float64) @ QUERY.astype(np.float64)
    above = CALIBRATION.probability(scores) > threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    found = []
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        start, end = first * STEP, stop * STEP
        if any(start < w_end and w_start < end for w_start, w_end in FILES[number][2]):
            found.append((round(start, 6), round(end, 6)))
    return found


def hardest_thresholds(count: int) -> list[float]:
    """Probabilities halfway (in score) between the closest float32 frame scores of all files."""
    scores = np.unique(np.concatenate([f.astype(np.float64) @ QUERY.astype(np.float64) for f in FRAMES]))
    middles, gaps = (scores[1:] + scores[:-1]) / 2, np.diff(scores)
    usable = np.flatnonzero((middles > 0.2) & (middles < 3.9) & (gaps > 1e-9))  # cuts inside the ramps
    chosen = usable[np.argsort(gaps[usable])[:count]]
    return [float(CALIBRATION.probability(middles[i])) for i in chosen] + [0.5, 0.01, 0.99]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = tmp_path_factory.mktemp("batch") / "lib"
    starts = np.arange(COUNT) * STEP
    with LibraryStore.open(path, make_identity()) as store:
        for number, frames in enumerate(FRAMES):
            with store.write() as tx:
                media_id = tx.upsert_media(
                    MediaRecord(
                        path=f"/m/{number}.wav",
                        size=1,
                        mtime=1.0,
                        content_hash=f"h{number}",
                        status="indexed",
                    )
                )
                tx.put_frames(media_id, SPACE, starts, starts + STEP, frames)
    return path


def open_library(path):
    store = LibraryStore.open(path, readonly=True)
    media = {m.path: m.id for m in store.iter_media()}
    candidates = [
        Proposal(media[f"/m/{n}.wav"], f"/m/{n}.wav", tuple(FILES[n][2])) for n in range(len(FILES))
    ]
    return store, candidates, block_readers(store, SPACE, [c.media_id for c in candidates])


def exact_of(candidates):
    """What re-encoding a file gives: its float32 frames."""
    number_of = {c.media_id: n for n, c in enumerate(candidates)}

    def exact(frames, positions):
        return FRAMES[number_of[frames.media_id]][frames.first + positions]

    return exact


def spans(found) -> list[tuple[float, float]]:
    return [(round(s.start, 6), round(s.end, 6)) for s in found]


def test_batched_spans_equal_per_window_spans_and_float32(library):
    store, candidates, readers = open_library(library)
    exact = exact_of(candidates)
    with store:
        for threshold in hardest_thresholds(10):
            batched = library_spans(readers, candidates, QUERY, CALIBRATION, threshold, exact=exact)
            for number, (candidate, (found, decided)) in enumerate(zip(candidates, batched, strict=True)):
                alone, alone_decided = file_spans(
                    readers[candidate.media_id], QUERY, CALIBRATION, threshold, 0.0, candidate.windows, exact
                )
                assert decided and alone_decided
                assert spans(found) == spans(alone) == float32_spans(number, threshold), (number, threshold)
                assert [s.probability for s in found] == [s.probability for s in alone]
            # the code alone (nothing re-encoded): the same answers, probabilities to the bit
            batched = library_spans(readers, candidates, QUERY, CALIBRATION, threshold)
            for candidate, (found, decided) in zip(candidates, batched, strict=True):
                alone, alone_decided = file_spans(
                    readers[candidate.media_id], QUERY, CALIBRATION, threshold, 0.0, candidate.windows
                )
                assert decided == alone_decided
                assert [(s.start, s.end, s.probability) for s in found] == [
                    (s.start, s.end, s.probability) for s in alone
                ]


def test_spans_that_run_past_windows_are_found_whole(library):
    """The events crossing window edges (files 0, 2 and 4) come back whole, not cut at the edge."""
    store, candidates, readers = open_library(library)
    with store:
        found = library_spans(readers, candidates, QUERY, CALIBRATION, 0.5, exact=exact_of(candidates))
    assert any(36.0 <= a < 36.5 and 55.5 < b <= 56.0 for a, b in spans(found[0][0]))
    assert len(found[4][0]) == 1 and found[4][0][0].start < 8.5 and found[4][0][0].end > 111.5
    assert found[3][0] == []


def test_scan_slices_equals_one_scan_per_slice(library):
    store, candidates, readers = open_library(library)
    rng = np.random.default_rng(9)
    with store:
        slices = [readers[c.media_id](start, end) for c in candidates for start, end in c.windows] + [
            readers[candidates[0].media_id]()
        ]
        assert len({s.params.tobytes() for s in slices}) == len(FILES)  # blocks with their own ranges
        for cutoff in (-1.0, 0.3, 1.9, 2.0, 3.5, 10.0):
            query = (QUERY + rng.standard_normal(DIM).astype(np.float32) * 0.05).astype(np.float32)
            together = scan_slices(slices, query, cutoff, 0.01)
            for frames, got in zip(slices, together, strict=True):
                want = frames.scan(query, cutoff, 0.01)
                assert np.array_equal(got.positions, want.positions)
                assert np.array_equal(got.scores, want.scores) and np.array_equal(got.unsure, want.unsure)
                assert got.bounded == want.bounded


def test_runs_become_the_spans_frames_to_spans_gives():
    """`runs_to_spans` (numpy over each run) merges frames as the reference loop does, gaps in the
    frame times included; the answer is checked against `frames_to_spans` on the same frames."""
    rng = np.random.default_rng(11)
    count = 400
    starts = np.cumsum(rng.choice([0.04, 0.04, 0.04, 0.05], count))  # some frames leave a gap
    ends = starts + 0.04
    ends[rng.choice(count, 20)] -= 0.001  # and some end early
    frames = FrameSlice(
        1, SPACE, 0, count, lambda a, b: (starts[a:b], ends[a:b]), "f32", DIM, np.zeros(0), None
    )
    positions = np.sort(rng.choice(count, 250, replace=False))
    probabilities = rng.uniform(0.3, 1.0, 250)
    for min_duration in (0.0, 0.08, 0.2):
        expected = []
        for run in np.split(np.arange(250), np.flatnonzero(np.diff(positions) != 1) + 1):
            at = positions[run]
            expected += frames_to_spans(starts[at], ends[at], probabilities[run], -1.0, min_duration)
        assert runs_to_spans(frames, positions, probabilities, min_duration) == expected


def test_a_widened_window_scans_only_the_frames_it_has_not_scanned(library, monkeypatch):
    """File 4's event is widened many times: each round reads the wider window but scores only its
    new frames, so no frame of any file is scanned twice, and the spans stay those above."""
    import pe_search.query.frames as query_frames

    scanned: list[tuple[int, int, int]] = []  # (file, first block position, stop)
    scan = query_frames.scan_slices

    def spy(slices, *args):
        scanned.extend((s.media_id, s.first, s.first + len(s)) for s in slices)
        return scan(slices, *args)

    monkeypatch.setattr(query_frames, "scan_slices", spy)
    store, candidates, readers = open_library(library)
    exact = exact_of(candidates)
    with store:
        for threshold in (0.5, 0.01):
            scanned.clear()
            found = library_spans(readers, candidates, QUERY, CALIBRATION, threshold, exact=exact)
            for number, (spans_found, decided) in enumerate(found):
                assert decided and spans(spans_found) == float32_spans(number, threshold)
            windows_of_file = {}
            for media_id, first, stop in scanned:
                windows_of_file.setdefault(media_id, []).append((first, stop))
            for candidate in candidates:
                counts = np.zeros(COUNT, int)
                for first, stop in windows_of_file.get(candidate.media_id, []):
                    counts[first:stop] += 1
                merged = len(query_frames.merge_windows(candidate.windows))
                assert counts.max() <= merged  # a frame twice only where two merged windows meet
            wide = candidates[4].media_id  # widened many times over: 2,600 frames of event
            assert sum(stop - first for media_id, first, stop in scanned if media_id == wide) < 2 * COUNT


def test_part_of_a_slice_is_its_frames_with_their_times_and_codes(library):
    store, candidates, readers = open_library(library)
    with store:
        frames = readers[candidates[0].media_id](10.0, 20.0)
        part = frames.part(5, 40)
        assert (part.first, len(part)) == (frames.first + 5, 35)
        assert np.array_equal(part.codes, frames.codes[5:40])
        assert np.array_equal(part.starts, frames.starts[5:40]) and np.array_equal(
            part.ends, frames.ends[5:40]
        )
        assert np.array_equal(part.times(3, 7)[0], frames.starts[8:12])
        assert len(frames.part(-3, 2)) == 2 and len(frames.part(len(frames) - 1, len(frames) + 9)) == 1
        assert len(frames.part(7, 3)) == 0
