"""A file's sound as a speech model hears it: mono float32 at 16 kHz on the file's timeline.

Decoded through the same 48 kHz path the PE models get (`audio.iter_audio`: sample-exact on the
file's timeline, damage noted rather than raised), then resampled by FFmpeg to 16 kHz as one
stream, so sample i is at i / 16000 s of the file. The whole file is held (64 KB a second: 230 MB
for an hour); the speech gate then keeps only what may be speech (`speech_gate`).
"""

from __future__ import annotations

import os

import av
import numpy as np

from pe_search.media.audio import iter_audio
from pe_search.media.damage import DamageLog
from pe_search.media.rate import SAMPLE_RATE

SPEECH_RATE = 16_000


def speech_sound(path: str | os.PathLike[str], damage: DamageLog | None = None) -> np.ndarray:
    """Mono float32 at 16 kHz of the whole file (empty when no sound decodes). With `damage`, a
    stream that decodes only in part gives what decodes and notes why there."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SPEECH_RATE)
    pieces: list[np.ndarray] = []

    def take(frames) -> None:
        pieces.extend(frame.to_ndarray().reshape(-1) for frame in frames)

    for chunk in iter_audio(path, damage=damage):
        frame = av.AudioFrame.from_ndarray(chunk.samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        take(resampler.resample(frame))
    take(resampler.resample(None))
    return np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
