"""Fine search in frame blocks: spans where a frame model's probability passes a threshold, and
the best frames, scored exactly on the candidates' blocks (coarse-to-fine; no index of frames).

The coarse step is the caller's: clip-level search proposes files and windows (`propose`), or a
single file is named. Here only the slices of the candidates' blocks are read, and FAISS range
search over their codes returns the frames above the score that corresponds to the threshold,
so nothing is decoded and no score below it is ever materialised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from pe_search.models.spaces import Calibration
from pe_search.query.spans import Span, frames_to_spans
from pe_search.store import LibraryStore, SearchFilter
from pe_search.store.frame_blocks import FrameSlice
from pe_search.store.frame_codes import frames_above

CUTOFF_MARGIN = 1e-3  # search a little below the cutoff; the probabilities then decide exactly
MAX_WIDENINGS = 64  # a span running past a proposed window widens it, at most this often


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
    frames: FrameSlice, query: np.ndarray, calibration: Calibration, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(positions in the slice, probabilities) of the frames whose probability exceeds `threshold`."""
    if calibration.scale == 0:
        probability = float(calibration.probability(0.0))
        if probability <= threshold:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.arange(len(frames)), np.full(len(frames), probability)
    sign = 1.0 if calibration.scale > 0 else -1.0  # a negative scale: lower scores are likelier
    cutoff = sign * calibration.score_for_probability(threshold)
    cutoff -= CUTOFF_MARGIN * max(1.0, abs(cutoff))
    query = sign * np.asarray(query, dtype=np.float32)
    positions, scores = frames_above(
        frames.encoding, frames.dim, frames.params, frames.codes, query, cutoff, frames.codebook
    )
    probabilities = calibration.probability(sign * scores.astype(np.float64))
    keep = probabilities > threshold
    return positions[keep], probabilities[keep]


def file_spans(
    store: LibraryStore,
    media_id: int,
    space: str,
    query: np.ndarray,
    calibration: Calibration,
    threshold: float,
    min_duration: float = 0.0,
    windows: tuple[tuple[float, float], ...] = (),
) -> list[Span]:
    """Spans of one file, from the frames of `windows` (all of them: the whole file). A span that
    reaches a window's edge widens the window until it ends inside, so spans are never cut."""
    spans: dict[tuple[float, float], Span] = {}
    for start, end in merge_windows(windows):
        for _ in range(MAX_WIDENINGS):
            frames = store.frame_slice(media_id, space, start, end)
            if frames is None or not len(frames):
                break
            positions, probabilities = passing_frames(frames, query, calibration, threshold)
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
            frames = store.frame_slice(media_id, space)  # the whole file, once
            positions, probabilities = passing_frames(frames, query, calibration, threshold)
        if frames is None or not len(frames):
            continue
        for span in _runs_to_spans(frames, positions, probabilities, min_duration):
            spans.setdefault((span.start, span.end), span)
    return sorted(spans.values(), key=lambda s: s.start)


def _runs_to_spans(
    frames: FrameSlice, positions: np.ndarray, probabilities: np.ndarray, min_duration: float
) -> list[Span]:
    """Spans of the passing frames: runs of consecutive frames, merged as `frames_to_spans` does."""
    if not positions.size:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    spans = []
    for run, run_probabilities in zip(
        np.split(positions, breaks), np.split(probabilities, breaks), strict=True
    ):
        spans += frames_to_spans(
            frames.starts[run], frames.ends[run], run_probabilities, threshold=-1.0, min_duration=min_duration
        )
    return spans


def best_frames(
    store: LibraryStore, proposal: Proposal, space: str, query: np.ndarray
) -> list[tuple[float, float, float]]:
    """(score, start, end) of every frame inside the proposal's windows, best first."""
    found = []
    for start, end in merge_windows(proposal.windows):
        frames = store.frame_slice(proposal.media_id, space, start, end)
        if frames is None or not len(frames):
            continue
        scores = frames.vectors() @ np.asarray(query, dtype=np.float32)
        found += zip(scores.tolist(), frames.starts.tolist(), frames.ends.tolist(), strict=True)
    return sorted(found, key=lambda item: -item[0])
