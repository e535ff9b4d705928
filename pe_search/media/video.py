"""The frames on screen at requested times, timed by each frame's own presentation timestamp (so
variable frame rate video cannot drift), seeking over long gaps between requests."""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import av.container
import numpy as np

from pe_search.errors import MediaError
from pe_search.media.check import check_file
from pe_search.media.containers import (
    check_complete,
    decoded_frames,
    open_media,
    require_decoder,
    timeline_origin,
    video_stream,
)
from pe_search.media.damage import DamageLog

VIDEO_SEEK_GAP_SECONDS = 4.0  # decode through gaps shorter than this rather than seek
_TIME_EPSILON = 1e-6  # float slack when comparing a frame time with a requested time

# (height, width) to scale frames to, or a function of a frame's shown (height, width) giving
# the size to scale it to (None: keep it as it is).
FrameSize = tuple[int, int] | Callable[[int, int], tuple[int, int] | None]


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """The frame on screen at `requested`: `time` is its own presentation time from the stream."""

    time: float
    requested: float
    rgb: np.ndarray = field(repr=False)  # uint8 (H, W, 3), read-only


def iter_video_frames(
    path: str | os.PathLike[str],
    times: Sequence[float],
    size: FrameSize | None = None,
    damage: DamageLog | None = None,
    seek_gap: float = VIDEO_SEEK_GAP_SECONDS,
) -> Iterator[VideoFrame]:
    """For each requested time (non-decreasing), the frame on screen then: the last frame whose
    presentation time is <= t (the first frame for t before it, the last frame for t past the end).

    `size` is (height, width) to scale frames to, or a function of a frame's shown size giving
    it (as `FramePreprocessing.decode_size`: scaled by FFmpeg while converting, so a huge frame
    is never held full size as RGB); leave it None for frames exactly as the checkpoint's
    processor resizes them.
    Frames are turned as the file's display matrix says (as players show them).
    Seeks over gaps between requested times longer than `seek_gap` seconds (`math.inf`: never
    seeks, decodes straight through). Raises MediaError for unusable files; with
    `damage`, a file that decodes only in part yields what decodes and notes why there.
    """
    times = [float(t) for t in times]
    if any(b < a for a, b in zip(times, times[1:], strict=False)):
        raise ValueError("times must be non-decreasing")
    p = check_file(path, damage)
    with open_media(p, damage) as container:
        stream = video_stream(container)
        if stream is None:
            raise MediaError(p, "no video stream")
        require_decoder(p, stream)
        stream.thread_type = "AUTO"
        origin = timeline_origin(container)
        yield from _pick_frames(p, container, stream, times, origin, size, damage, seek_gap)


def _pick_frames(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    times: list[float],
    origin: float,
    size: FrameSize | None,
    damage: DamageLog | None = None,
    seek_gap: float = VIDEO_SEEK_GAP_SECONDS,
) -> Iterator[VideoFrame]:
    pending = 0  # index into `times` of the next request
    shown: tuple[float, av.VideoFrame] | None = None  # the last decoded frame with time <= next request
    converted: tuple[av.VideoFrame, np.ndarray] | None = None  # convert each frame only once
    last_time = -math.inf
    frames = decoded_frames(path, container, stream, damage)
    seek_at: float | None = None
    sought: float | None = None  # the last request a seek was considered for
    keyframes: list[float] | None = None  # from the container's index, read when first needed

    def emit(frame: av.VideoFrame, time: float, requested: float) -> VideoFrame:
        nonlocal converted
        if converted is None or converted[0] is not frame:
            converted = (frame, _to_rgb(frame, size))
        return VideoFrame(time, requested, converted[1])

    while pending < len(times):
        if seek_at is not None:
            frames = seek_video(path, container, stream, seek_at, origin, damage)
            shown, seek_at = None, None
        advanced = False
        for frame in frames:
            time = _frame_time(frame, origin, last_time)
            last_time = time
            while pending < len(times) and times[pending] + _TIME_EPSILON < time:
                current = shown or (time, frame)
                yield emit(current[1], current[0], times[pending])
                pending += 1
            if pending == len(times):
                return
            shown = (time, frame)
            if times[pending] - time > seek_gap and times[pending] != sought:
                sought = times[pending]  # decided once per request
                if keyframes is None:
                    keyframes = _keyframe_times(stream, origin)
                if _seek_pays(keyframes, time, sought):
                    seek_at = sought
                    advanced = True
                    break
        if advanced:
            continue
        # End of stream: whatever is still requested lies at or after the last frame.
        if shown is None:
            raise MediaError(path, "no decodable video frames")
        if pending < len(times):
            check_complete(path, stream, shown[0] + _frame_duration(stream), origin, damage)
        while pending < len(times):
            yield emit(shown[1], shown[0], times[pending])
            pending += 1


def _frame_time(frame: av.VideoFrame, origin: float, previous: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base) - origin
    return previous + 1e-3 if math.isfinite(previous) else 0.0  # no timestamp: keep the order


def _frame_duration(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return 1.0 / float(rate) if rate else 0.0


def _keyframe_times(stream: av.video.stream.VideoStream, origin: float) -> list[float]:
    """Sorted keyframe times from the container's index (empty where the index is not loaded)."""
    entries = stream.index_entries
    if len(entries) < 2:
        return []
    return sorted(float(e.timestamp * stream.time_base) - origin for e in entries if e.is_keyframe)


def _seek_pays(keyframes: list[float], now: float, target: float) -> bool:
    """Whether the last keyframe at or before the target lies after now (assumed when unknown)."""
    if not keyframes:
        return True
    i = bisect.bisect_right(keyframes, target + _TIME_EPSILON)
    return i > 0 and keyframes[i - 1] > now + _TIME_EPSILON


def seek_video(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    target: float,
    origin: float,
    damage: DamageLog | None = None,
) -> Iterator[av.VideoFrame]:
    """Frames from a keyframe at or before `target`; steps further back if a seek overshoots.

    `iter_video_frames` calls it through this module for every seek (tests watch the seeks here)."""
    for back in (0.0, 5.0, 30.0, math.inf):
        seconds = max(target - back, 0.0) + origin if math.isfinite(back) else origin
        container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
        frames = decoded_frames(path, container, stream, damage)
        first = next(frames, None)
        if first is None:
            continue
        if _frame_time(first, origin, -math.inf) <= target + _TIME_EPSILON or not math.isfinite(back):
            return _prepend(first, frames)
    return iter(())


def _prepend(first: av.VideoFrame, rest: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    yield first
    yield from rest


def _to_rgb(frame: av.VideoFrame, size: FrameSize | None) -> np.ndarray:
    turns = _quarter_turns(frame)
    if callable(size):
        shown = (frame.height, frame.width) if turns % 2 == 0 else (frame.width, frame.height)
        size = size(*shown)
    if size is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        height, width = size if turns % 2 == 0 else size[::-1]  # `size` is as shown, after turning
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, turns))
    rgb.flags.writeable = False
    return rgb


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that show the frame as players do, from its display matrix
    (PyAV's `rotation`, in degrees counter-clockwise; phones record portrait video this way)."""
    rotation = getattr(frame, "rotation", 0) or 0
    return round(rotation / 90) % 4
