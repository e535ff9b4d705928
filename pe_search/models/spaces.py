"""The embedding spaces of PE-AV and PE-A-Frame: the one table every other layer reads.

An *embedding* is a kind of vector the model computes (``audio``, ``text_video``, ...). A
*space* pairs a query-side embedding with an index-side one; their raw dot product times the
space's logit scale plus its bias is the model's own match logit, and its sigmoid the match
probability (PE models are trained with a sigmoid loss; the vectors are not normalised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Which embeddings each checkpoint kind computes. "video_frame" is one sampled frame embedded as a
# one-frame video: it lives in the video space.
EMBEDDINGS: dict[str, tuple[str, ...]] = {
    "audio_video": (
        "text_audio",
        "text_video",
        "text_audio_video",
        "audio",
        "video",
        "audio_video",
        "audio_plus_text",
        "video_plus_text",
        "video_frame",
    ),
    "audio": ("text_audio", "audio"),
    "video": ("text_video", "video", "video_frame"),
    "audio_frame": ("text_audio_frame", "audio_frame"),
}


# What of a query each query-side embedding reads: its text, its audio clip, its video clip, or
# a clip with its text. `ModelSet.embed_query` calls the encoder by this, not by an if-chain.
QUERY_INPUTS: dict[str, tuple[str, ...]] = {
    "text_audio": ("text",),
    "text_video": ("text",),
    "text_audio_video": ("text",),
    "text_audio_frame": ("text",),
    "audio": ("audio",),
    "video": ("video",),
    "audio_plus_text": ("audio", "text"),
    "video_plus_text": ("video", "text"),
}


@dataclass(frozen=True)
class Space:
    """A pair of embeddings whose dot product the model was trained to score."""

    name: str
    query: str  # embedding computed for the query
    target: str  # embedding stored in the index
    logit_scale: str  # parameter path inside the transformers model, per checkpoint kind
    logit_bias: str
    description: str


def _space(name: str, query: str, target: str, owner: str, prefix: str, description: str) -> Space:
    dot = f"{owner}." if owner else ""
    return Space(name, query, target, f"{dot}{prefix}_logit_scale", f"{dot}{prefix}_logit_bias", description)


# Parameter paths for a PeAudioVideoModel; `logit_parameters` maps them for the single models.
SPACES: dict[str, Space] = {
    s.name: s
    for s in (
        _space("text_audio", "text_audio", "audio", "audio_model", "text_audio", "text -> audio clips"),
        _space("text_video", "text_video", "video", "video_model", "text_video", "text -> video clips"),
        _space(
            "text_audio_video",
            "text_audio_video",
            "audio_video",
            "",
            "text_audio_video",
            "text -> fused audio+video clips",
        ),
        _space("audio_video", "audio", "video", "", "audio_video", "audio <-> video"),
        _space("audio_plus_text", "audio_plus_text", "video", "", "audio_plus_text", "audio + text -> video"),
        _space("video_plus_text", "video_plus_text", "audio", "", "video_plus_text", "video + text -> audio"),
        _space(
            "text_audio_frame",
            "text_audio_frame",
            "audio_frame",
            "",
            "text_audio",
            "text -> 40 ms audio frames",
        ),
        _space(
            "text_video_frame",
            "text_video",
            "video_frame",
            "video_model",
            "text_video",
            "text -> single video frames",
        ),
    )
}


def spaces_for(kind: str) -> dict[str, Space]:
    """The spaces a checkpoint of `kind` can score: both of their embeddings are computed by it."""
    have = set(EMBEDDINGS[kind])
    return {name: space for name, space in SPACES.items() if space.query in have and space.target in have}


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
