"""Decode a file's sound for its audio fingerprint: mono at the fingerprint's rate, first minutes only.

A second, cheap decode beside the model's (PyAV resamples to 11 kHz mono in C; a few tens of ms
for a song), done when the file is written, so the fingerprint always matches the vectors stored
with it. Files without sound get none.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from pe_search.duplicates import audio_fingerprint


def decode_for_fingerprint(path: str | Path) -> np.ndarray | None:
    """Mono float32 samples at `audio_fingerprint.SAMPLE_RATE`, at most MAX_SECONDS; None: no sound."""
    limit = int(audio_fingerprint.MAX_SECONDS * audio_fingerprint.SAMPLE_RATE)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=audio_fingerprint.SAMPLE_RATE)
        pieces, have = [], 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                piece = out.to_ndarray().reshape(-1)
                pieces.append(piece)
                have += piece.size
            if have >= limit:
                break
        else:
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    if not pieces:
        return None
    return np.concatenate(pieces)[:limit].astype(np.float32)


def fingerprint_file(path: str | Path) -> np.ndarray | None:
    """The file's fingerprint codes, or None when it has no sound (or none that decodes)."""
    try:
        samples = decode_for_fingerprint(path)
    except (OSError, ValueError, av.FFmpegError):
        return None
    if samples is None:
        return None
    codes = audio_fingerprint.fingerprint(samples)
    return codes if codes.size else None
