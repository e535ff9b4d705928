"""A score's calibration (the model's logit scale and bias) and the models layer's names for the
catalogue's tables (`pe_search.models.catalogue` declares every embedding space once).

A score's raw dot product times its logit scale plus its bias is the model's own match logit, and
its sigmoid the match probability (PE models are trained with a sigmoid loss; the vectors are
not normalised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pe_search.models.catalogue import CATALOGUE, Score

# The catalogue's tables under the names the models layer has always read them by.
EMBEDDINGS: dict[str, tuple[str, ...]] = CATALOGUE.embeddings
QUERY_INPUTS: dict[str, tuple[str, ...]] = CATALOGUE.query_inputs
Space = Score
SPACES: dict[str, Score] = CATALOGUE.scores


HEAD_PATHS: dict[str, dict[str, str]] = {
    "audio_video": {
        "text_audio": "audio_model.text_audio_head",
        "text_video": "video_model.text_video_head",
        "text_audio_video": "text_audio_video_head",
        "audio": "audio_model.audio_head",
        "video": "video_model.video_head",
        "audio_video": "audio_video_head",
        "audio_plus_text": "audio_plus_text_head",
        "video_plus_text": "video_plus_text_head",
    },
    "audio": {"text_audio": "text_audio_head", "audio": "audio_head"},
    "audio_frame": {"text_audio_frame": "text_audio_head", "audio_frame": "audio_head"},
    "video": {"text_video": "text_video_head", "video": "video_head"},
}
"""Checkpoint kind -> embedding -> the module (in transformers' PE model) whose head projects into it."""

TEXT_MODEL_PATH = "text_model"
"""Where every PE checkpoint kind keeps its text tower (ModernBERT)."""


def text_embeddings(kind: str) -> tuple[str, ...]:
    """The embeddings a checkpoint of `kind` computes from text alone."""
    return tuple(e for e in EMBEDDINGS[kind] if QUERY_INPUTS.get(e) == ("text",))


def spaces_for(kind: str) -> dict[str, Score]:
    """The scores a checkpoint of `kind` can compute: both of their embeddings are computed by it."""
    return CATALOGUE.scores_for(kind)


def logit_parameter_path(kind: str, path: str) -> str:
    """Where a PeAudioVideoModel parameter path lives in a checkpoint of `kind`."""
    if kind == "audio_video":
        return path
    return path.split(".", 1)[1] if "." in path else path


@dataclass(frozen=True)
class Calibration:
    """A space's logit scale and bias: `probability(dot) = sigmoid(dot * scale + bias)`."""

    scale: float
    bias: float

    def logit(self, scores: np.ndarray | float) -> np.ndarray:
        return np.asarray(scores, dtype=np.float64) * self.scale + self.bias

    def probability(self, scores: np.ndarray | float) -> np.ndarray:
        logits = self.logit(scores)
        return np.where(
            logits >= 0,
            1 / (1 + np.exp(-np.abs(logits))),
            np.exp(-np.abs(logits)) / (1 + np.exp(-np.abs(logits))),
        )

    def score_for_probability(self, probability: float) -> float:
        """The raw dot product at which the probability equals `probability` (for cutoffs):
        -inf for 0 (everything passes), +inf for 1 (a sigmoid never reaches it)."""
        if probability <= 0:
            return -math.inf
        if probability >= 1:
            return math.inf
        if self.scale == 0:
            return -math.inf if 1 / (1 + math.exp(-self.bias)) >= probability else math.inf
        return (math.log(probability / (1 - probability)) - self.bias) / self.scale
