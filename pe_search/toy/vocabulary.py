"""The toy world's classes: ten sounds, 48 pictures (ten of them paired), ten scenes, captions.

See `synth` for what they are; the generators live in `sounds` and `pictures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def seeded(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A generator as given, or a fresh one from a seed (so a caller can pass its own stream on)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
