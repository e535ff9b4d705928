"""Seeded generators of the toy sounds: whole clips of one class, and one event over a background."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pe_search.media import rate as media_rate
from pe_search.toy.vocabulary import SOUNDS, seeded

SAMPLE_RATE = media_rate.SAMPLE_RATE
FRAME_SECONDS = media_rate.FRAME_SECONDS  # one PE audio frame: the 1920-sample hop at 48 kHz


@dataclass
class Sound:
    """A generated sound: the samples and, for clicks and pulses, when each one starts (seconds)."""

    samples: np.ndarray  # float32 mono at SAMPLE_RATE
    onsets: list[float] = field(default_factory=list)


def _fade(x: np.ndarray, seconds: float = 0.004) -> np.ndarray:
    n = min(int(seconds * SAMPLE_RATE), x.size // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float64)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _tone(n: int, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    freq = rng.uniform(low, high)
    x = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    x += rng.uniform(0.0, 0.25) * np.sin(2 * np.pi * 2 * freq * t + rng.uniform(0, 2 * np.pi))
    return x / np.abs(x).max()


def _brown(n: int, rng: np.random.Generator) -> np.ndarray:
    """Brown (red) noise: white noise shaped to -6 dB per octave above 80 Hz, flat below (so its
    loudness does not wander from one 40 ms frame to the next as true 1/f^2 noise does)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 80.0)
    out = np.fft.irfft(spectrum, n)
    out -= out.mean()
    return out / (np.abs(out).max() + 1e-9)


def _chirps(n: int, rising: bool, rng: np.random.Generator) -> np.ndarray:
    low, high = rng.uniform(200, 400), rng.uniform(2500, 4500)
    sweep = int(rng.uniform(0.3, 0.7) * SAMPLE_RATE)
    out = np.zeros(n)
    start = 0
    while start < n:
        k = min(sweep, n - start)
        u = np.arange(k) / sweep
        f0, f1 = (low, high) if rising else (high, low)
        # Exponential sweep: instantaneous frequency f0 * (f1 / f0) ** u.
        ratio = np.log(f1 / f0)
        phase = 2 * np.pi * f0 * sweep / SAMPLE_RATE * (np.exp(ratio * u) - 1) / ratio
        out[start : start + k] = _fade(np.sin(phase), 0.003)
        start += sweep
    return out


def _impulses(n: int, kind: str, rng: np.random.Generator, first: float = 0.0) -> tuple[np.ndarray, list]:
    out = np.zeros(n)
    onsets = []
    if kind == "clicks":
        gap = (0.12, 0.35)
        length = int(0.008 * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        shape = np.exp(-t / 0.002) * rng.standard_normal(length)
    else:
        gap = (0.3, 0.6)
        length = int(0.15 * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        shape = np.sin(2 * np.pi * rng.uniform(60, 100) * t) * np.exp(-t / rng.uniform(0.04, 0.07))
    position = first
    while position < n / SAMPLE_RATE:
        i = int(position * SAMPLE_RATE)
        k = min(length, n - i)
        pulse = shape[:k] * rng.uniform(0.7, 1.0)
        out[i : i + k] += pulse
        onsets.append(round(i / SAMPLE_RATE, 6))
        position += rng.uniform(*gap)
    peak = np.abs(out).max()
    return (out / peak if peak > 0 else out), onsets


def sound(name: str, seconds: float, seed: int | np.random.Generator | None = 0) -> Sound:
    """`seconds` of sound class `name`: float32 mono at 48 kHz, peak level varied by the seed."""
    if name not in SOUNDS:
        raise KeyError(f"no sound class {name!r}; expected one of {', '.join(SOUNDS)}")
    rng = seeded(seed)
    n = max(1, round(seconds * SAMPLE_RATE))
    onsets: list[float] = []
    if name == "low_tone":
        x = _tone(n, 170, 260, rng)
    elif name == "mid_tone":
        x = _tone(n, 480, 720, rng)
    elif name == "high_beep":
        x = _tone(n, 1600, 2600, rng)
    elif name == "white_noise":
        x = rng.standard_normal(n)
        x /= np.abs(x).max() + 1e-9
    elif name == "brown_noise":
        x = _brown(n, rng)
    elif name in ("chirp_up", "chirp_down"):
        x = _chirps(n, name == "chirp_up", rng)
    elif name in ("clicks", "pulses"):
        x, onsets = _impulses(n, name, rng, first=float(rng.uniform(0.0, 0.15)))
    else:  # silence: digital zero, or a faint noise floor
        x = rng.standard_normal(n) * (0.0 if rng.random() < 0.5 else rng.uniform(1e-4, 2e-3))
        return Sound(x.astype(np.float32))
    x = _fade(x) * rng.uniform(0.25, 0.7)
    return Sound(x.astype(np.float32), onsets)


@dataclass
class EventClip:
    """A clip with one sound event over a background: the event class and its true span."""

    samples: np.ndarray
    event: str
    background: str
    start: float
    end: float

    def active(self, frame_seconds: float = FRAME_SECONDS) -> np.ndarray:
        """Per frame, whether the event covers at least half of it (the frame model's target)."""
        frames = int(np.ceil(self.samples.size / round(frame_seconds * SAMPLE_RATE)))
        centres = (np.arange(frames) + 0.5) * frame_seconds
        return (centres >= self.start) & (centres < self.end)


def event_clip(
    event: str,
    seconds: float,
    start: float,
    end: float,
    background: str = "silence",
    seed: int | np.random.Generator | None = 0,
) -> EventClip:
    """`seconds` of `background` with `event` in [start, end) instead (the background stops)."""
    if event == background:
        raise ValueError("the event and the background must be different sound classes")
    rng = seeded(seed)
    total = round(seconds * SAMPLE_RATE)
    i0, i1 = round(start * SAMPLE_RATE), min(round(end * SAMPLE_RATE), total)
    if not 0 <= i0 < i1:
        raise ValueError(f"empty event span [{start}, {end}) in a {seconds} s clip")
    x = sound(background, seconds, rng).samples.copy()
    x[i0:i1] = sound(event, (i1 - i0) / SAMPLE_RATE, rng).samples
    x[:i0] = _fade(x[:i0].astype(np.float64), 0.003) if i0 > 0 else x[:i0]
    if i1 < total:
        x[i1:] = _fade(x[i1:].astype(np.float64), 0.003)
    return EventClip(x.astype(np.float32), event, background, i0 / SAMPLE_RATE, i1 / SAMPLE_RATE)
