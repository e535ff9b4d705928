"""An audio fingerprint made from decoded samples: one 32-bit code per 23 ms hop.

The scheme is Haitsma and Kalker's ("A Highly Robust Audio Fingerprinting System", ISMIR 2002):
the energy of 33 log-spaced bands between 300 and 2,000 Hz in 371 ms frames, and per frame 32
bits, each the sign of the change over time of the energy difference between adjacent bands.
Why this one: a sign of energy differences ignores gain; the band range ignores what resampling
and lossy codecs change most (highs, lows); long, heavily overlapping frames make the bits stable
when a trimmed copy's frames fall between the original's. And it follows the exact waveform: two
recordings of the same sound (two beeps at one pitch, with different noise or timing) give
unrelated bits (about half differ), while a copy keeps most of them. Quiet frames (40 dB under
the file's loud frames) carry no reliable bits and are marked with code 0.

`fingerprint` is pure arithmetic on mono samples at `SAMPLE_RATE`; `fingerprint_file` decodes them
with the media layer (pe_search/media/fingerprint_audio.py).
"""

from __future__ import annotations

import os

import numpy as np

from pe_search.errors import MediaError
from pe_search.media.fingerprint_audio import read_mono

VERSION = 1  # bump when the codes change: stored fingerprints of another version are recomputed
SAMPLE_RATE = 11_025
FRAME = 4_096  # 371 ms
HOP = 256  # 23.2 ms
LOW_HZ, HIGH_HZ, BANDS = 300.0, 2_000.0, 33
QUIET_DB = 40.0  # frames this far below the file's loud frames are quiet
LOUD_PERCENTILE = 95
MAX_SECONDS = 120.0  # the first two minutes identify a recording; longer files are cut there
QUIET = 0
FRAMES_PER_BATCH = 512

HOP_SECONDS = HOP / SAMPLE_RATE


def _band_matrix() -> np.ndarray:
    """(FFT bins, BANDS) 0/1 matrix that sums a power spectrum into the bands."""
    edges = np.geomspace(LOW_HZ, HIGH_HZ, BANDS + 1)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / SAMPLE_RATE)
    matrix = np.zeros((freqs.size, BANDS), dtype=np.float32)
    for band in range(BANDS):
        matrix[(freqs >= edges[band]) & (freqs < edges[band + 1]), band] = 1.0
    return matrix


_BANDS = _band_matrix()
_WINDOW = np.hanning(FRAME).astype(np.float32)
_WEIGHTS = (1 << np.arange(32, dtype=np.uint64)).astype(np.uint64)


def band_energies(samples: np.ndarray) -> np.ndarray:
    """(frames, BANDS) float64 energies of mono float32 samples at SAMPLE_RATE."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)[: int(MAX_SECONDS * SAMPLE_RATE)]
    if samples.size < FRAME + HOP:
        return np.zeros((0, BANDS))
    count = 1 + (samples.size - FRAME) // HOP
    view = np.lib.stride_tricks.sliding_window_view(samples, FRAME)[::HOP][:count]
    out = np.empty((count, BANDS), dtype=np.float64)
    for start in range(0, count, FRAMES_PER_BATCH):
        spectrum = np.fft.rfft(view[start : start + FRAMES_PER_BATCH] * _WINDOW, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        out[start : start + FRAMES_PER_BATCH] = power @ _BANDS
    return out


def fingerprint(samples: np.ndarray) -> np.ndarray:
    """uint32 codes, one per hop after the first frame; QUIET (0) where the audio is quiet."""
    energies = band_energies(samples)
    if len(energies) < 2:
        return np.zeros(0, dtype=np.uint32)
    across = energies[:, :-1] - energies[:, 1:]  # (frames, 32)
    bits = (across[1:] - across[:-1]) > 0
    codes = (bits.astype(np.uint64) @ _WEIGHTS).astype(np.uint32)
    codes[codes == QUIET] = 1  # a real all-zero code would read as quiet
    loudness = energies.sum(axis=1)
    loud = np.percentile(loudness, LOUD_PERCENTILE)
    if loud <= 0:
        return np.zeros(len(codes), dtype=np.uint32)
    quiet = np.minimum(loudness[1:], loudness[:-1]) < loud * 10 ** (-QUIET_DB / 10)
    codes[quiet] = QUIET
    return codes


def fingerprint_file(path: str | os.PathLike[str]) -> np.ndarray | None:
    """The file's codes, or None when it has no sound (or none that decodes)."""
    try:
        samples = read_mono(path, SAMPLE_RATE, MAX_SECONDS)
    except MediaError:
        return None
    return fingerprint_sound(samples)


def fingerprint_sound(samples: np.ndarray | None) -> np.ndarray | None:
    """The codes of `read_mono`'s samples (at SAMPLE_RATE, at most MAX_SECONDS), or None when there
    are none: no sound, or too little for one code."""
    if samples is None:
        return None
    codes = fingerprint(samples)
    return codes if codes.size else None
