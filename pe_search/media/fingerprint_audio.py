"""A file's sound for its audio fingerprint: mono at the fingerprint's own rate, first minutes only.

A second, cheap decode beside the 48 kHz one the models get (FFmpeg resamples to 11 kHz mono in C;
tens of milliseconds for a song), so fingerprints need nothing from the indexing pipeline's
buffers. The fingerprint itself is `pe_search.duplicates.audio_fingerprint`.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import av.container
import numpy as np

from pe_search.errors import MediaError
from pe_search.media.containers import audio_stream, decoded_frames, open_media, require_decoder


def read_mono(path: str | os.PathLike[str], rate: int, max_seconds: float) -> np.ndarray | None:
    """Mono float32 samples at `rate`, at most `max_seconds`; None when the file has no sound."""
    with open_media(path) as container:
        return mono_of(path, container, rate, max_seconds)


def mono_of(
    path: str | os.PathLike[str], container: av.container.InputContainer, rate: int, max_seconds: float
) -> np.ndarray | None:
    """`read_mono` of a container already open and not yet read (the indexer decodes this sound in
    the same open as the file's headers); raises MediaError when the sound does not decode."""
    limit = int(max_seconds * rate)
    stream = audio_stream(container)
    if stream is None:
        return None
    require_decoder(Path(path), stream)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    pieces, have = [], 0
    try:
        for frame in decoded_frames(Path(path), container, stream):
            for out in resampler.resample(frame):
                piece = out.to_ndarray().reshape(-1)
                pieces.append(piece)
                have += piece.size
            if have >= limit:
                break
        else:
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.error.FFmpegError as error:
        raise MediaError(path, f"its sound does not decode ({error})") from None
    if not pieces:
        return None
    return np.concatenate(pieces)[:limit].astype(np.float32)
