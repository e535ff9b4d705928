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

Each class has a few caption paraphrases; `captions[0]` is the canonical one. The classes live in
`vocabulary`, the generators in `sounds` and `pictures`; this module is their one face, and
makes scenes of a sound and its picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pe_search.toy.pictures import PictureLayout, frame_times, picture, picture_layout, render
from pe_search.toy.sounds import FRAME_SECONDS, SAMPLE_RATE, EventClip, Sound, event_clip, sound
from pe_search.toy.vocabulary import (
    ALL_PICTURES,
    COLORS,
    MOTION_PHRASES,
    PICTURES,
    SCENES,
    SHAPES,
    SOUNDS,
    PictureClass,
    Scene,
    SoundClass,
    caption,
    captions,
    seeded,
    vocabulary,
)

__all__ = [
    "ALL_PICTURES",
    "COLORS",
    "FRAME_SECONDS",
    "MOTION_PHRASES",
    "PICTURES",
    "SAMPLE_RATE",
    "SCENES",
    "SHAPES",
    "SOUNDS",
    "EventClip",
    "PictureClass",
    "PictureLayout",
    "Scene",
    "SceneClip",
    "Sound",
    "SoundClass",
    "caption",
    "captions",
    "event_clip",
    "frame_times",
    "picture",
    "picture_layout",
    "render",
    "scene",
    "sound",
    "vocabulary",
]


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
    rng = seeded(seed)
    audio = sound(spec.sound, seconds, rng)
    layout = picture_layout(spec.picture, seconds, size, rng, onsets=audio.onsets or None)
    return SceneClip(name, audio.samples, render(layout, frame_times(seconds, fps), rng), fps)
