"""The toy world: seeded generators of sounds, pictures, audio-visual scenes and their captions.

Everything is raw arrays, no files: audio is mono float32 at 48 kHz; video is uint8 RGB frames
`(T, H, W, 3)` with the times (seconds) they show. The toy models are trained on these, and the
demo and the end-to-end tests write held-out media with the same generators (other seeds, other
lengths), so a query's right answer is known: a hit is right when its class matches.

The vocabulary:

- ten sound classes (`SOUNDS`): three tones, two noise colours, chirps up and down, clicks,
  pulses and silence;
- ten picture classes (`PICTURES`): a coloured shape and what it does (moving left/right,
  growing, shrinking, flashing, standing still); they are 10 of the 48 combinations of 4 colours,
  2 shapes and 6 motions (`ALL_PICTURES`), all of which the generators draw and the toy PE-AV
  was trained on, so it knows each attribute rather than ten memorised pictures;
- ten scenes (`SCENES`): each sound paired with one picture that belongs with it; in a scene the
  picture's flashes start on the sound's clicks or pulses.

Each class has a few caption paraphrases; `captions[0]` is the canonical one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pe_search.media import rate as media_rate

SAMPLE_RATE = media_rate.SAMPLE_RATE
FRAME_SECONDS = media_rate.FRAME_SECONDS  # one PE audio frame: the 1920-sample hop at 48 kHz


# --------------------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class SoundClass:
    name: str
    captions: tuple[str, ...]
    steady: bool  # sounds the whole time it lasts (an event of it has sharp, known edges)


@dataclass(frozen=True)
class PictureClass:
    name: str
    color: str
    shape: str
    motion: str

    @property
    def captions(self) -> tuple[str, ...]:
        c, s = self.color, self.shape
        m = MOTION_PHRASES[self.motion]
        return (
            f"a {c} {s} {m[0]}",
            f"a {c} {s} {m[1]}",
            f"the {c} {s} is {m[2]}",
            f"{c} {s} {m[0]}",
            f"a {s} in {c} {m[1]}",
        )


@dataclass(frozen=True)
class Scene:
    """A sound and a picture that belong together; the scene is named after its picture."""

    name: str
    sound: str
    picture: str

    @property
    def captions(self) -> tuple[str, ...]:
        s, p = SOUNDS[self.sound].captions, PICTURES[self.picture].captions
        return (
            f"{p[0]} with {s[0]}",
            f"{s[0]} and {p[0]}",
            f"{p[1]} with {s[1]}",
            f"{s[2]} and {p[2]}",
            f"{p[3]} and {s[3]}",
        )


SOUNDS: dict[str, SoundClass] = {
    s.name: s
    for s in (
        SoundClass("low_tone", ("a low tone", "a low hum", "a deep low tone", "a low pitched tone"), True),
        SoundClass(
            "mid_tone",
            ("a medium tone", "a middle tone", "a steady medium pitched tone", "a mid tone"),
            True,
        ),
        SoundClass(
            "high_beep", ("a high beep", "a high pitched beep", "a shrill high tone", "a high tone"), True
        ),
        SoundClass("white_noise", ("white noise", "a hiss", "hissing white noise", "a noisy hiss"), True),
        SoundClass(
            "brown_noise", ("a deep rumble", "brown noise", "a low rumbling noise", "rumbling noise"), True
        ),
        SoundClass(
            "chirp_up", ("a rising chirp", "a chirp going up", "a sweep upwards", "an upward chirp"), True
        ),
        SoundClass(
            "chirp_down",
            ("a falling chirp", "a chirp going down", "a sweep downwards", "a downward chirp"),
            True,
        ),
        SoundClass("clicks", ("clicks", "a clicking sound", "sharp clicks", "a ticking click track"), False),
        SoundClass("pulses", ("low pulses", "a pulsing thump", "thumping pulses", "a beating pulse"), False),
        SoundClass("silence", ("silence", "nothing at all", "quiet silence", "no sound"), True),
    )
}

MOTION_PHRASES: dict[str, tuple[str, str, str]] = {
    "moving_right": ("moving right", "going to the right", "sliding right"),
    "moving_left": ("moving left", "going to the left", "sliding left"),
    "growing": ("growing", "getting bigger", "growing bigger"),
    "shrinking": ("shrinking", "getting smaller", "shrinking away"),
    "flashing": ("flashing", "blinking", "flashing on and off"),
    "still": ("standing still", "not moving", "still"),
}
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 235),
    "yellow": (235, 215, 40),
}
SHAPES = ("circle", "square")

# (sound, color, shape, motion): a flash with a click, a swelling shape with a rising chirp, ...
_PAIRS = (
    ("clicks", "yellow", "square", "flashing"),
    ("pulses", "red", "circle", "flashing"),
    ("chirp_up", "green", "circle", "growing"),
    ("chirp_down", "green", "square", "shrinking"),
    ("high_beep", "red", "square", "moving_right"),
    ("mid_tone", "blue", "circle", "moving_left"),
    ("low_tone", "blue", "square", "moving_right"),
    ("white_noise", "yellow", "circle", "moving_left"),
    ("brown_noise", "yellow", "circle", "growing"),
    ("silence", "blue", "square", "still"),
)
ALL_PICTURES: dict[str, PictureClass] = {
    f"{c}_{s}_{m}": PictureClass(f"{c}_{s}_{m}", c, s, m)
    for c in COLORS
    for s in SHAPES
    for m in MOTION_PHRASES
}
PICTURES: dict[str, PictureClass] = {f"{c}_{s}_{m}": ALL_PICTURES[f"{c}_{s}_{m}"] for _, c, s, m in _PAIRS}
SCENES: dict[str, Scene] = {
    f"{c}_{s}_{m}": Scene(f"{c}_{s}_{m}", sound, f"{c}_{s}_{m}") for sound, c, s, m in _PAIRS
}


def scene_for_sound(sound: str) -> Scene:
    """The scene whose sound is `sound` (every sound belongs to exactly one scene)."""
    return next(s for s in SCENES.values() if s.sound == sound)


def scene_for_picture(picture: str) -> Scene:
    return SCENES[picture]


def captions(name: str) -> tuple[str, ...]:
    """The caption paraphrases of a sound, picture or scene class; [0] is the canonical one."""
    for table in (SOUNDS, ALL_PICTURES, SCENES):
        if name in table:
            return table[name].captions
    raise KeyError(f"no sound, picture or scene class {name!r}")


def caption(name: str, rng: np.random.Generator | None = None) -> str:
    """The canonical caption of a class, or a random paraphrase when `rng` is given."""
    options = captions(name)
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


def vocabulary() -> list[str]:
    """Every word any caption uses (the toy tokenizer's word list)."""
    words: set[str] = set()
    for table in (SOUNDS, ALL_PICTURES, SCENES):
        for item in table.values():
            for text in item.captions:
                words.update(text.lower().split())
    for motion in MOTION_PHRASES.values():
        for phrase in motion:
            words.update(phrase.split())
    words.update(COLORS)
    words.update(SHAPES)
    return sorted(words)


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# -------------------------------------------------------------------------------------------- sounds


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
    rng = _rng(seed)
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
    rng = _rng(seed)
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


# ------------------------------------------------------------------------------------------ pictures


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
    rng = _rng(seed)
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
    rng = _rng(seed)
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
    rng = _rng(seed)
    layout = picture_layout(name, seconds, size, rng)
    return render(layout, frame_times(seconds, fps), rng)


@dataclass
class SceneClip:
    """A scene: its sound, its frames and the frames' fps (frame k shows time k / fps)."""

    scene: str
    audio: np.ndarray
    frames: np.ndarray
    fps: float


def scene(
    name: str, seconds: float, fps: float = 8.0, size: int = 64, seed: int | np.random.Generator | None = 0
) -> SceneClip:
    """A scene clip: the sound and the picture that belong together, flashes on the clicks."""
    spec = SCENES[name]
    rng = _rng(seed)
    audio = sound(spec.sound, seconds, rng)
    layout = picture_layout(spec.picture, seconds, size, rng, onsets=audio.onsets or None)
    return SceneClip(name, audio.samples, render(layout, frame_times(seconds, fps), rng), fps)
