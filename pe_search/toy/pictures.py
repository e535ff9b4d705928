"""Seeded generators of the toy pictures: a layout drawn once, rendered at any frame times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pe_search.toy.vocabulary import ALL_PICTURES, COLORS, PICTURES, seeded


@dataclass
class PictureLayout:
    """The random draw behind one picture clip; render any frame time from it."""

    picture: str
    duration: float
    size: int
    background: float
    grain: float
    color: np.ndarray
    radius: tuple[float, float]  # at the start and the end (fractions of the frame)
    centre: tuple[tuple[float, float], tuple[float, float]]  # (x, y) at the start and the end
    flashes: list[tuple[float, float]] = field(default_factory=list)  # visible intervals
    progress: tuple[float, float] = (0.0, 1.0)  # how far through the motion the clip starts/ends


def _flash_intervals(duration: float, rng: np.random.Generator, onsets: Sequence[float] | None):
    """Visible intervals: from each onset, on for about half the gap to the next (irregular gaps,
    so no frame sampling rate sees the same phase every time)."""
    if onsets is None:
        onsets, t = [], float(rng.uniform(0, 0.3))
        while t < duration:
            onsets.append(t)
            t += rng.uniform(0.2, 0.6)
    intervals = []
    for i, t in enumerate(onsets):
        following = onsets[i + 1] if i + 1 < len(onsets) else t + rng.uniform(0.2, 0.6)
        intervals.append((t, t + max(0.08, 0.5 * (following - t))))
    return intervals


def picture_layout(
    picture: str,
    duration: float,
    size: int = 64,
    seed: int | np.random.Generator | None = 0,
    *,
    onsets: Sequence[float] | None = None,
    progress: tuple[float, float] = (0.0, 1.0),
) -> PictureLayout:
    """Draw the random parts of a picture clip. `onsets` (seconds) time the flashes of a flashing
    picture (a scene passes its clicks); `progress` shows only part of the motion."""
    if picture not in ALL_PICTURES:
        raise KeyError(f"no picture {picture!r}: expected COLOR_SHAPE_MOTION, e.g. {', '.join(PICTURES)}")
    rng = seeded(seed)
    spec = ALL_PICTURES[picture]
    color = np.clip(np.array(COLORS[spec.color], float) + rng.uniform(-25, 25, 3), 0, 255)
    y = rng.uniform(0.3, 0.7)
    r = rng.uniform(0.12, 0.2)
    radius, flashes = (r, r), []
    if spec.motion in ("moving_right", "moving_left"):
        a, b = rng.uniform(0.15, 0.3), rng.uniform(0.7, 0.85)
        x0, x1 = (a, b) if spec.motion == "moving_right" else (b, a)
        centre = ((x0, y), (x1, y + rng.uniform(-0.05, 0.05)))
    elif spec.motion in ("growing", "shrinking"):
        small, large = rng.uniform(0.05, 0.09), rng.uniform(0.3, 0.4)
        radius = (small, large) if spec.motion == "growing" else (large, small)
        c = (rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6))
        centre = (c, c)
    else:
        c = (rng.uniform(0.3, 0.7), y)
        centre = (c, c)
        if spec.motion == "flashing":
            flashes = _flash_intervals(duration, rng, onsets)
    return PictureLayout(
        picture,
        duration,
        size,
        background=float(rng.uniform(0, 45)),
        grain=float(rng.uniform(0, 6)),
        color=color,
        radius=radius,
        centre=centre,
        flashes=flashes,
        progress=progress,
    )


def render(
    layout: PictureLayout, times: Sequence[float], seed: int | np.random.Generator | None = 0
) -> np.ndarray:
    """uint8 RGB frames (len(times), size, size, 3) of a layout at the given times (seconds)."""
    rng = seeded(seed)
    size = layout.size
    grid = (np.arange(size) + 0.5) / size
    xs, ys = np.meshgrid(grid, grid)
    spec = ALL_PICTURES[layout.picture]
    frames = np.empty((len(times), size, size, 3), np.uint8)
    p0, p1 = layout.progress
    for k, t in enumerate(times):
        u = p0 + (p1 - p0) * min(max(t / layout.duration, 0.0), 1.0) if layout.duration > 0 else p0
        (ax, ay), (bx, by) = layout.centre
        cx, cy = ax + (bx - ax) * u, ay + (by - ay) * u
        r = layout.radius[0] + (layout.radius[1] - layout.radius[0]) * u
        if spec.shape == "circle":
            distance = np.hypot(xs - cx, ys - cy)
        else:
            distance = np.maximum(np.abs(xs - cx), np.abs(ys - cy)) * 1.1
        alpha = np.clip((r - distance) * size + 0.5, 0.0, 1.0)
        if spec.motion == "flashing" and not any(a <= t < b for a, b in layout.flashes):
            alpha = alpha * 0.0
        image = layout.background + rng.standard_normal((size, size, 1), dtype=np.float32) * layout.grain
        image = image * (1 - alpha[..., None]) + layout.color * alpha[..., None]
        frames[k] = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return frames


def frame_times(seconds: float, fps: float) -> np.ndarray:
    """Every 1/fps seconds from 0 while before `seconds`."""
    return np.arange(int(np.ceil(round(seconds * fps, 9)))) / fps


def picture(
    name: str, seconds: float, fps: float = 8.0, size: int = 64, seed: int | np.random.Generator | None = 0
) -> np.ndarray:
    """A picture clip of `name` (any of `ALL_PICTURES`): uint8 frames (ceil(seconds * fps), size, size, 3)."""
    rng = seeded(seed)
    layout = picture_layout(name, seconds, size, rng)
    return render(layout, frame_times(seconds, fps), rng)
