"""Generate test media with PyAV at test time, so no binary fixtures live in the repository.

Signals are numpy arrays shaped (channels, samples) in [-1, 1]; videos are sequences of (rgb, time)
pairs so that variable frame rate is as easy to write as constant. The codec follows the file's
extension (see `AUDIO_CODECS` / `VIDEO_CODECS`); every codec here is one this PyAV build can encode.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pe_search.toy.media_writer import (  # noqa: F401  (re-exported for the tests)
    AUDIO_CODECS,
    VIDEO_CODECS,
    VIDEO_TIME_BASE,
    write_audio,
    write_video,
)

# What the session fixtures (media_fixtures.py) generate, for the tests to check against.
TONE_HZ = 440.0
TONE_SECONDS = 3.0
# Container -> source sample rate: every resampling ratio the tests care about (44.1k, 16k, 48k).
AUDIO_RATES = {".wav": 44_100, ".flac": 16_000, ".m4a": 44_100, ".mp3": 44_100, ".ogg": 48_000}
BURST_SECONDS = 20.0
BURSTS = [(1.0, 0.3, 1000.0), (12.5, 0.3, 1000.0), (16.25, 0.2, 2000.0)]
# Irregular frame times (variable frame rate): 30 frames, gaps from 10 ms to 1.5 s.
_GAPS = [0.01, 0.2, 0.033, 0.5, 0.04, 0.12, 1.5, 0.02, 0.07, 0.3]
VFR_TIMES = [round(sum(_GAPS[j % len(_GAPS)] for j in range(i)), 3) for i in range(30)]
SOLID_FPS = 10.0


# ---------------------------------------------------------------------------------------------- signals


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5, channels: int = 1) -> np.ndarray:
    """A sine of `freq` Hz, the same on every channel."""
    t = np.arange(round(seconds * rate)) / rate
    return np.tile(amplitude * np.sin(2 * np.pi * freq * t), (channels, 1)).astype(np.float32)


def noise(seconds: float, rate: int, amplitude: float = 0.3, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Uniform white noise, reproducible by `seed`."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    return (amplitude * rng.uniform(-1.0, 1.0, size=(channels, n))).astype(np.float32)


def silence(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    return np.zeros((channels, round(seconds * rate)), dtype=np.float32)


def tone_bursts(
    bursts: Sequence[tuple[float, float, float]], seconds: float, rate: int, amplitude: float = 0.5
) -> np.ndarray:
    """Silence with tone bursts: each burst is (start seconds, length seconds, frequency Hz)."""
    out = silence(seconds, rate)
    for start, length, freq in bursts:
        i0 = round(start * rate)
        burst = tone(freq, length, rate, amplitude)[0]
        out[0, i0 : i0 + burst.size] = burst[: out.shape[1] - i0]
    return out


# ----------------------------------------------------------------------------------------------- writing


# ------------------------------------------------------------------------------------------------ frames

# Distinct, well separated colours, so a decoded frame can be identified despite lossy coding.
PALETTE = np.array(
    [[r, g, b] for r in (0, 128, 255) for g in (0, 128, 255) for b in (0, 128, 255)], dtype=np.uint8
)


def solid_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A frame of one palette colour, identifying `index` (mod len(PALETTE))."""
    return np.broadcast_to(PALETTE[index % len(PALETTE)], (height, width, 3)).copy()


def identify_solid(rgb: np.ndarray) -> int:
    """The palette index of a decoded `solid_frame` (the nearest colour of its centre)."""
    h, w = rgb.shape[:2]
    centre = rgb[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3).astype(np.float64).mean(axis=0)
    return int(np.argmin(((PALETTE.astype(np.float64) - centre) ** 2).sum(axis=1)))


def moving_square_frame(x: int, width: int = 128, height: int = 72, side: int = 16) -> np.ndarray:
    """A white square whose left edge is at column `x` on a dark blue background."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 2] = 96
    top = (height - side) // 2
    rgb[top : top + side, x : x + side] = 255
    return rgb


def square_position(rgb: np.ndarray) -> float:
    """Left edge of the white square in a decoded `moving_square_frame`."""
    columns = np.flatnonzero(rgb[..., 0].astype(np.int32).max(axis=0) > 128)
    return float(columns.min()) if columns.size else -1.0


def constant_rate(count: int, fps: float) -> list[float]:
    return [i / fps for i in range(count)]


# -------------------------------------------------------------------------------------------- bad files


def unknown_codec_wav(path: str | Path, seconds: float = 0.5, rate: int = 8000) -> Path:
    """A well-formed RIFF/WAVE file whose format tag (0x7A7A) no decoder knows."""
    data = bytes(round(seconds * rate) * 2)
    fmt = struct.pack("<HHIIHH", 0x7A7A, 1, rate, rate * 2, 2, 16)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    path = Path(path)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def truncated_copy(source: str | Path, dest: str | Path, keep: float = 0.5) -> Path:
    """The first `keep` fraction of `source`'s bytes."""
    data = Path(source).read_bytes()
    dest = Path(dest)
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest
