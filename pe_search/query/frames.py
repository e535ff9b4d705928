"""Fine search in frame blocks: spans where a frame model's probability passes a threshold, and
the best frames, scored exactly on the candidates' blocks (coarse-to-fine; no index of frames).

The coarse step is the caller's: clip-level search proposes files and windows (`propose`), or a
single file is named. Here only the slices of the candidates' blocks are read, and each slice's
`scan` (the store's frame scoring: a range search over the codes, nothing decoded) returns the
frames above the score that corresponds to the threshold. What is left here is arithmetic: the
cut for a threshold, re-scoring the frames the code cannot decide, and frames into spans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pe_search.models.spaces import Calibration
from pe_search.query.spans import Span
from pe_search.store import FrameScan, FrameSlice, LibraryStore, SearchFilter, scan_slices

# The frames of one block overlapping [start, end] (both None: all of them), from one snapshot.
SliceReader = Callable[..., FrameSlice | None]
# Exact float32 vectors of some frames of a slice (positions in it), or None when they cannot be had.
ExactFrames = Callable[[FrameSlice, np.ndarray], "np.ndarray | None"]

APPROXIMATE_NOTE = "edges approximate: frames at the threshold decided on compact codes, not re-encoded"
CUTOFF_MARGIN = 1e-3  # search a little below the cutoff; the probabilities then decide exactly
MAX_WIDENINGS = 64  # a span running past a proposed window widens it, at most this often
MAX_LISTED_FILES = 512  # more files than this are read as all blocks, not as an SQL IN list
MAX_GAP = 1e-6  # seconds between one frame's end and the next one's start that still join them (as spans.py)


@dataclass(frozen=True)
class Proposal:
    """A file and the windows of it that clip-level search found."""

    media_id: int
    path: str
    windows: tuple[tuple[float, float], ...]  # empty: the whole file


def propose(
    store: LibraryStore,
    clip_space: str,
    clip_query: np.ndarray,
    count: int,
    filters: SearchFilter | None = None,
) -> list[Proposal]:
    """Files and windows from clip-level search, best first (the coarse step)."""
    found = store.search(clip_space, clip_query[None], count, filters)[0]
    windows: dict[int, list[tuple[float, float]]] = defaultdict(list)
    paths: dict[int, str] = {}
    for hit in found:
        paths.setdefault(hit.media_id, hit.path)
        windows[hit.media_id].append((hit.start, hit.end))
    return [Proposal(media_id, path, tuple(windows[media_id])) for media_id, path in paths.items()]


def block_readers(store: LibraryStore, space: str, media_ids: list[int] | None) -> dict[int, SliceReader]:
    """{media id: its block's reader} for these files (None: all), in one SQLite read."""
    if media_ids is not None and len(media_ids) > MAX_LISTED_FILES:
        wanted = set(media_ids)
        return {info.media_id: read for info, read in store.frame_blocks(space) if info.media_id in wanted}
    return {info.media_id: read for info, read in store.frame_blocks(space, media_ids)}


def merge_windows(windows: tuple[tuple[float, float], ...]) -> list[tuple[float | None, float | None]]:
    """Overlapping or touching windows as one; no windows: the whole file."""
    if not windows:
        return [(None, None)]
    merged: list[list[float]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def passing_frames(
    frames: FrameSlice,
    query: np.ndarray,
    calibration: Calibration,
    threshold: float,
    exact: ExactFrames | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(positions in the slice, probabilities, decided exactly) of the frames whose probability
    exceeds `threshold`.

    A frame whose coded score lies further from the cut than the code's error bound is decided by
    its code; the few within it are scored on their exact vectors from `exact` (the file's chunk
    encoded again), so sq8 gives the spans float32 gives. Without them (pq has no bound, or the
    file is gone or changed) the code decides, and the answer says it is approximate."""
    if calibration.scale == 0:
        return _constant(frames, calibration, threshold)
    return passing_frames_of([frames], query, calibration, threshold, exact)[0]


def passing_frames_of(
    slices: list[FrameSlice],
    query: np.ndarray,
    calibration: Calibration,
    threshold: float,
    exact: ExactFrames | None = None,
) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """`passing_frames` for each of `slices` (of any files), their codes scanned together
    (`scan_slices`: one hand-off to the scan threads for all of them)."""
    if calibration.scale == 0:
        return [_constant(frames, calibration, threshold) for frames in slices]
    sign, cutoff, slack = _cut(calibration, threshold)
    query = sign * np.asarray(query, dtype=np.float32)
    passing = []
    for frames, found in zip(slices, scan_slices(slices, query, cutoff, slack), strict=True):
        unsure_vectors = None
        if found.unsure.size and exact is not None:
            unsure_vectors = exact(frames, found.positions[found.unsure])
        passing.append(_decided(found, query, sign, calibration, threshold, unsure_vectors))
    return passing


def passing_frames_many(
    frames: FrameSlice,
    queries: np.ndarray,
    calibration: Calibration,
    threshold: float,
    exact: ExactFrames | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    """`passing_frames` for each row of `queries` (labels of one calibration) at once: one matrix
    product over the slice (`FrameSlice.scan_many`), the same cut and the same exactness rule,
    with every frame some label cannot decide re-scored from one call of `exact`."""
    if calibration.scale == 0:
        positions, probabilities, _ = _constant(frames, calibration, threshold)
        return [(positions, probabilities)] * len(queries), True
    sign, cutoff, slack = _cut(calibration, threshold)
    queries = sign * np.asarray(queries, dtype=np.float32)
    scans = frames.scan_many(queries, cutoff, slack)
    undecided = [found.positions[found.unsure] for found in scans if found.unsure.size]
    wanted = np.unique(np.concatenate(undecided)) if undecided else np.zeros(0, np.int64)
    vectors = exact(frames, wanted) if wanted.size and exact is not None else None
    passing, all_decided = [], True
    for query, found in zip(queries, scans, strict=True):
        unsure_vectors = None
        if vectors is not None and found.unsure.size:
            unsure_vectors = vectors[np.searchsorted(wanted, found.positions[found.unsure])]
        positions, probabilities, decided = _decided(
            found, query, sign, calibration, threshold, unsure_vectors
        )
        passing.append((positions, probabilities))
        all_decided &= decided
    return passing, all_decided


def _constant(
    frames: FrameSlice, calibration: Calibration, threshold: float
) -> tuple[np.ndarray, np.ndarray, bool]:
    """A calibration of scale 0 gives every frame the same probability: all pass, or none."""
    probability = float(calibration.probability(0.0))
    if probability <= threshold:
        return np.zeros(0, np.int64), np.zeros(0), True
    return np.arange(len(frames)), np.full(len(frames), probability), True


def _cut(calibration: Calibration, threshold: float) -> tuple[float, float, float]:
    """(sign, cutoff, slack): the score a threshold corresponds to, searched as `sign * score >
    cutoff`, and the margin for the cut's own rounding."""
    sign = 1.0 if calibration.scale > 0 else -1.0  # a negative scale: lower scores are likelier
    cutoff = sign * calibration.score_for_probability(threshold)
    return sign, cutoff, CUTOFF_MARGIN * max(1.0, abs(cutoff))  # the probabilities then decide


def _decided(
    found: FrameScan,
    query: np.ndarray,
    sign: float,
    calibration: Calibration,
    threshold: float,
    unsure_vectors: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(positions, probabilities, decided exactly) of a scan's frames above `threshold`, the
    unsure ones scored on their exact vectors when given (else the code decides: approximate)."""
    positions, scores, unsure = found.positions, found.scores, found.unsure
    decided = found.bounded
    if unsure.size:
        if unsure_vectors is not None:
            scores = scores.copy()  # the scan's answer stays as the code gave it
            scores[unsure] = unsure_vectors.astype(np.float64) @ query.astype(np.float64)
        else:
            decided = False
    probabilities = calibration.probability(sign * scores)
    keep = probabilities > threshold
    return positions[keep], probabilities[keep], decided


def file_spans(
    read: SliceReader,
    query: np.ndarray,
    calibration: Calibration,
    threshold: float,
    min_duration: float = 0.0,
    windows: tuple[tuple[float, float], ...] = (),
    exact: ExactFrames | None = None,
) -> tuple[list[Span], bool]:
    """(spans of one file, decided exactly), from the frames of `windows` (all of them: the whole
    file) of the block `read` slices. A span that reaches a window's edge widens the window until it ends inside, so spans are
    never cut."""
    spans: dict[tuple[float, float], Span] = {}
    all_decided = True
    for start, end in merge_windows(windows):
        for _ in range(MAX_WIDENINGS):
            frames = read(start, end)
            if frames is None or not len(frames):
                break
            positions, probabilities, decided = passing_frames(frames, query, calibration, threshold, exact)
            width = (end - start) if start is not None and end is not None else 0.0
            wider_start = positions.size and positions[0] == 0 and frames.first > 0
            wider_end = (
                positions.size
                and positions[-1] == len(frames) - 1
                and frames.first + len(frames) < frames.total
            )
            if not (wider_start or wider_end) or width <= 0:
                break
            if wider_start:
                start -= width
            if wider_end:
                end += width
        else:
            frames = read()  # the whole file, once
            positions, probabilities, decided = passing_frames(frames, query, calibration, threshold, exact)
        if frames is None or not len(frames):
            continue
        all_decided &= decided
        for span in runs_to_spans(frames, positions, probabilities, min_duration):
            spans.setdefault((span.start, span.end), span)
    return sorted(spans.values(), key=lambda s: s.start), all_decided


@dataclass
class _Window:
    """One merged window of one candidate file while `library_spans` widens it, with what its
    earlier rounds found: the block positions first .. stop-1 they scanned, and the passing
    frames among them (block positions, probabilities), so a wider read scans only what is new."""

    candidate: int  # index into the candidates
    start: float | None
    end: float | None
    widened: int = 0
    scanned: tuple[int, int] | None = None
    positions: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    decided: bool = True


def _new_parts(frames: FrameSlice, scanned: tuple[int, int] | None) -> list[FrameSlice]:
    """The parts of `frames` outside the block positions `scanned` (all of it when None)."""
    if scanned is None:
        return [frames]
    low, high = scanned[0] - frames.first, scanned[1] - frames.first
    parts = [frames.part(0, low), frames.part(high, len(frames))]
    return [part for part in parts if len(part)]


def library_spans(
    readers: dict[int, SliceReader],
    candidates: list[Proposal],
    query: np.ndarray,
    calibration: Calibration,
    threshold: float,
    min_duration: float = 0.0,
    exact: ExactFrames | None = None,
) -> list[tuple[list[Span], bool]]:
    """`file_spans` of every candidate (one answer each, in their order), with the slices of all
    their windows scanned together in each round: the first round reads every merged window, each
    later one only the windows a span ran out of, widened as `file_spans` widens them."""
    spans: list[dict[tuple[float, float], Span]] = [{} for _ in candidates]
    decided = [True] * len(candidates)
    pending = [
        _Window(number, start, end)
        for number, candidate in enumerate(candidates)
        if candidate.media_id in readers
        for start, end in merge_windows(candidate.windows)
    ]
    while pending:
        reads = []
        for window in pending:
            read = readers[candidates[window.candidate].media_id]
            whole = window.widened >= MAX_WIDENINGS  # widened too often: the whole file, once
            frames = read() if whole else read(window.start, window.end)
            if frames is not None and len(frames):
                reads.append((window, frames, whole, _new_parts(frames, window.scanned)))
        parts = [part for *_, new in reads for part in new]
        answers = iter(passing_frames_of(parts, query, calibration, threshold, exact))
        pending = []
        for window, frames, whole, new in reads:
            # this round's passing frames and the earlier rounds', as positions in `frames`
            positions = [] if window.positions is None else [window.positions - frames.first]
            probabilities = [] if window.probabilities is None else [window.probabilities]
            exact_here = window.decided
            for part in new:
                part_positions, part_probabilities, part_decided = next(answers)
                positions.append(part_positions + (part.first - frames.first))
                probabilities.append(part_probabilities)
                exact_here &= part_decided
            positions = np.concatenate(positions) if positions else np.zeros(0, np.int64)
            probabilities = np.concatenate(probabilities) if probabilities else np.zeros(0)
            order = np.argsort(positions, kind="stable")
            positions, probabilities = positions[order], probabilities[order]
            wider_start = positions.size and positions[0] == 0 and frames.first > 0
            wider_end = (
                positions.size
                and positions[-1] == len(frames) - 1
                and frames.first + len(frames) < frames.total
            )
            width = (
                (window.end - window.start) if window.start is not None and window.end is not None else 0.0
            )
            if not whole and (wider_start or wider_end) and width > 0:
                start = window.start - width if wider_start else window.start
                end = window.end + width if wider_end else window.end
                scanned = (frames.first, frames.first + len(frames))
                pending.append(
                    _Window(
                        window.candidate,
                        start,
                        end,
                        window.widened + 1,
                        scanned,
                        positions + frames.first,
                        probabilities,
                        exact_here,
                    )
                )
                continue
            decided[window.candidate] &= exact_here
            for span in runs_to_spans(frames, positions, probabilities, min_duration):
                spans[window.candidate].setdefault((span.start, span.end), span)
    return [
        (sorted(found.values(), key=lambda s: s.start), all_decided)
        for found, all_decided in zip(spans, decided, strict=True)
    ]


def runs_to_spans(
    frames: FrameSlice, positions: np.ndarray, probabilities: np.ndarray, min_duration: float
) -> list[Span]:
    """Spans of the passing frames: runs of consecutive frames, merged as `frames_to_spans` merges
    them (adjacent when the next starts within `MAX_GAP` of the previous one's end), in numpy:
    a long event's thousands of frames are not walked one by one."""
    if not positions.size:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    spans = []
    for run, run_probabilities in zip(
        np.split(positions, breaks), np.split(probabilities, breaks), strict=True
    ):
        starts, ends = frames.times(int(run[0]), int(run[-1]) + 1)  # only the run's times are built
        apart = np.flatnonzero(starts[1:] - ends[:-1] > MAX_GAP) + 1
        heads, tails = np.concatenate([[0], apart]), np.concatenate([apart, [len(run)]])
        highest = np.maximum.reduceat(np.asarray(run_probabilities, np.float64), heads)
        for head, tail, probability in zip(heads, tails, highest, strict=True):
            span = Span(float(starts[head]), float(ends[tail - 1]), float(probability))
            if span.duration >= min_duration - 1e-9:
                spans.append(span)
    return spans


def best_frames(read: SliceReader, proposal: Proposal, query: np.ndarray) -> list[tuple[float, float, float]]:
    """(score, start, end) of every frame inside the proposal's windows, best first."""
    found = []
    for start, end in merge_windows(proposal.windows):
        frames = read(start, end)
        if frames is None or not len(frames):
            continue
        scores = frames.scores(query)
        found += zip(scores.tolist(), frames.starts.tolist(), frames.ends.tolist(), strict=True)
    return sorted(found, key=lambda item: -item[0])
