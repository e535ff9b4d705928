"""Locate a described sound inside a file that is not in the library: encode its 40 ms audio frames
on the fly with the frame model, then the same probability spans as for indexed files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pe_search.errors import MediaError
from pe_search.models.catalogue import CATALOGUE
from pe_search.query.results import LocatedSpan
from pe_search.query.spans import frames_to_spans

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.encoder import PeEncoder

UNINDEXED_NOTE = "not in the library: encoded on the fly"
CHUNK_SECONDS = 30.0  # audio decoded and encoded this much at a time


def locate_in_unindexed_file(
    frames: PeEncoder, path: str, query: np.ndarray, threshold: float, min_duration: float
) -> list[LocatedSpan]:
    """Spans of `path` where the frame model's probability for `query` passes `threshold`."""
    from pe_search.media.audio import iter_audio
    from pe_search.media.probe import probe

    info = probe(path)
    if not info.has_audio:
        raise MediaError(path, "has no audio stream to locate sounds in")
    starts, vectors = [], []
    for chunk in iter_audio(path, chunk_seconds=CHUNK_SECONDS):
        embedded = frames.embed_audio_frames([chunk.samples])[0]
        count = int(np.ceil(chunk.samples.size / frames.audio.hop_length))
        vectors.append(embedded[:count])
        starts.append(chunk.start + np.arange(count) * frames.frame_seconds)
    starts_all = np.concatenate(starts)
    ends_all = np.minimum(starts_all + frames.frame_seconds, starts_all[-1] + frames.frame_seconds)
    _, reach = CATALOGUE.locate_space()
    probabilities = frames.calibration(reach.calibration).probability(np.concatenate(vectors) @ query)
    return [
        LocatedSpan(path, s.start, s.end, s.probability, UNINDEXED_NOTE)
        for s in frames_to_spans(starts_all, ends_all, probabilities, threshold, min_duration)
    ]
