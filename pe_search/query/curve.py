"""The frame-level probability curve of one file for a text query: what a timeline heat strip
draws. The catalogue's curve spaces in its order: PE-A-Frame's 40 ms audio frames when the file
has them, else its sampled video frames (which live in the video space, scored as text -> video)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pe_search.models.catalogue import CATALOGUE, Reach
from pe_search.query.engine import QueryEngine
from pe_search.query.routes import QueryError, query_kind
from pe_search.query.spans import LOCATE_THRESHOLD, Span, frames_to_spans

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.model_set import ModelSet

# The stored frame spaces a curve is drawn from, best first, with the text reach that scores each.
CURVE_SPACES: tuple[tuple[str, Reach], ...] = CATALOGUE.curve_spaces()


@dataclass(frozen=True)
class FrameCurve:
    """The model's probability for the text at every stored frame of one file, in time order.
    `space` is the frame space read; None (and empty arrays) when the file has no frame vectors."""

    media_id: int
    space: str | None
    starts: np.ndarray
    ends: np.ndarray
    probabilities: np.ndarray

    def spans(self, threshold: float = LOCATE_THRESHOLD, min_duration: float = 0.0) -> list[Span]:
        """Stretches above `threshold`, as `locate` finds them."""
        if not len(self.starts):
            return []
        return frames_to_spans(self.starts, self.ends, self.probabilities, threshold, min_duration)


def frame_curve(engine: QueryEngine, models: ModelSet, text: str, media_id: int) -> FrameCurve:
    query_kind(text, None, None)
    if engine.store.get_media(media_id) is None:
        raise QueryError(f"no file with id {media_id} in the library")
    for space, reach in CURVE_SPACES:
        calibration = engine.calibration(reach.calibration)
        embedding = reach.embedding
        if calibration is None or not engine.spaces.get(space) or embedding not in models.embeddings:
            continue
        frames = engine.store.segment_vectors(media_id, space)
        if not len(frames):
            continue
        query = np.asarray(models.embed_query(embedding, text=text), dtype=np.float32).reshape(-1)
        probabilities = calibration.probability(frames.vectors @ query)
        return FrameCurve(media_id, space, frames.starts, frames.ends, probabilities)
    empty = np.zeros(0)
    return FrameCurve(media_id, None, empty, empty, empty)
