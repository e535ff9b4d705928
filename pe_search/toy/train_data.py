"""What the toy models train on: pooled front-end features of generated clips, random crops of
them, and picture frames drawn over the same windows (degraded roughly as a codec would)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pe_search.toy import synth
from pe_search.toy.train_model import FRAME_SECONDS, HOP, Settings


@torch.no_grad()
def front_end_features(embedder: nn.Module, clips: list[np.ndarray]) -> list[torch.Tensor]:
    """The frozen DAC + bottleneck output (codebook, frames) of each clip, as `forward()` makes it."""
    out = []
    for clip in clips:
        values = torch.from_numpy(np.pad(clip, (0, (-clip.size) % HOP), mode="reflect"))
        states = embedder.bottleneck(embedder.dac_encoder(values[None, None]))
        out.append(states[0])
    return out


@dataclass
class PoolClip:
    features: torch.Tensor  # (codebook, frames)
    label: int  # scene / sound index (PE-AV) or -1
    onsets: list[float]
    frame_classes: np.ndarray | None = None  # PE-A-Frame: the sound class index of every frame


def scene_pool(embedder: nn.Module, settings: Settings, rng: np.random.Generator) -> list[PoolClip]:
    """`settings.pool` clips of 3-30 s of every scene's sound (with their click/pulse onsets)."""
    sounds = [synth.SCENES[name].sound for name in synth.SCENES]
    specs = []
    for _ in range(settings.pool):
        for label, name in enumerate(sounds):
            seconds = float(rng.uniform(3.0, settings.max_seconds))
            specs.append((label, synth.sound(name, seconds, rng)))
    features = front_end_features(embedder, [s.samples for _, s in specs])
    return [PoolClip(f, label, s.onsets) for (label, s), f in zip(specs, features)]


def event_pool(embedder: nn.Module, settings: Settings, rng: np.random.Generator) -> list[PoolClip]:
    """Clips of 6-32 s: a background class (mostly silence) with 1-3 events of other classes, and
    the class sounding in every 40 ms frame."""
    names = list(synth.SOUNDS)
    clips = []
    for _ in range(settings.frame_pool):
        seconds = float(rng.uniform(6.0, settings.max_seconds + 2))
        background = "silence" if rng.random() < 0.7 else str(rng.choice(names[:-1]))
        samples = synth.sound(background, seconds, rng).samples.copy()
        frames = math.ceil(samples.size / HOP)
        classes = np.full(frames, names.index(background))
        cursor = float(rng.uniform(0.2, 2.0))
        for _ in range(int(rng.integers(1, 4))):
            length = float(rng.uniform(0.3, 3.0))
            if cursor + length > seconds - 0.2:
                break
            event = str(rng.choice([n for n in names if n not in (background, "silence")]))
            clip = synth.event_clip(event, seconds, cursor, cursor + length, background, rng)
            i0, i1 = round(clip.start * synth.SAMPLE_RATE), round(clip.end * synth.SAMPLE_RATE)
            samples[i0:i1] = clip.samples[i0:i1]
            classes[clip.active(FRAME_SECONDS)[:frames]] = names.index(event)
            cursor += length + float(rng.uniform(0.3, 3.0))
        clips.append((samples, classes))
    features = front_end_features(embedder, [s for s, _ in clips])
    return [PoolClip(f, -1, [], c) for (_, c), f in zip(clips, features)]


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def crop(clip: PoolClip, frames: int, rng: np.random.Generator) -> tuple[torch.Tensor, int]:
    """`frames` frames of a pooled clip's features: the clip's start or end (with the front end's
    edge effects) a third of the time, a random stretch otherwise. Returns (features, offset)."""
    total = clip.features.shape[1]
    frames = min(frames, total)
    choice = rng.random()
    if choice < 0.17:
        offset = 0
    elif choice < 0.34:
        offset = total - frames
    else:
        offset = int(rng.integers(0, total - frames + 1))
    return clip.features[:, offset : offset + frames], offset


def picture_frames(
    picture: str, seconds: float, onsets: list[float], count: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """`count` frames spread over a window of a picture (part of the motion, sometimes)."""
    start, end = (0.0, 1.0) if rng.random() < 0.5 else (rng.uniform(0.0, 0.35), rng.uniform(0.65, 1.0))
    layout = synth.picture_layout(picture, seconds, size, rng, onsets=onsets or None, progress=(start, end))
    last = max(seconds - 1e-3, 0.0)
    times = [last / 2] if count == 1 else list(np.linspace(0.0, last, count))
    return synth.render(layout, times, rng)


def degrade(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Roughly what a lossy video codec does: colour shifts, grain, softened edges."""
    out = frames.astype(np.float32)
    out += rng.uniform(-8, 8, size=3).astype(np.float32)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(rng.uniform(0, 4))
    if rng.random() < 0.5:  # a 2x2 box blur
        out = (out + np.roll(out, 1, 1) + np.roll(out, 1, 2) + np.roll(out, (1, 1), (1, 2))) / 4
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
