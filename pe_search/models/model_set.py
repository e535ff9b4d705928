"""The models a library is built with: a clip-level PE checkpoint and, optionally, PE-A-Frame.

One place answers "which encoder computes this embedding" and "what identifies these models",
for the indexer, the query layer and the store's model check alike.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch

from pe_search.errors import ModelLoadError, Option
from pe_search.models.encoder import CheckpointIdentity, PeEncoder
from pe_search.models.identity import ModelIdentity
from pe_search.models.loading import paired_frame_model
from pe_search.models.spaces import QUERY_INPUTS, Calibration, Space


@dataclass(frozen=True)
class ModelSource:
    """What `ModelSet.load` was given (ids or directories, not weights): enough for another
    process, such as a Ray actor, to load the same models. The device is left to that process."""

    model: str
    frame_model: str | None = None
    dtype: str | None = None
    batch_size: int = 8
    fast: bool | None = None

    def load(self, device: str | torch.device | None = None) -> ModelSet:
        return ModelSet.load(self.model, self.frame_model, device, self.dtype, self.batch_size, self.fast)


@dataclass
class ModelSet:
    clip: PeEncoder
    frames: PeEncoder | None = None
    source: ModelSource | None = None  # None when built from encoders directly

    @classmethod
    def load(
        cls,
        model: str | Path,
        frame_model: str | Path | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 8,
        fast: bool | None = None,
    ) -> ModelSet:
        """`fast`: the encoders' speed paths (default on unless PE_SEARCH_FAST=0)."""
        clip, frames, frame_model = load_pair(
            lambda source: PeEncoder.from_pretrained(
                source, device=device, dtype=dtype, batch_size=batch_size, fast=fast
            ),
            model,
            frame_model,
        )
        dtype_name = None if dtype is None else str(dtype).removeprefix("torch.")
        source = ModelSource(
            str(model), None if frame_model is None else str(frame_model), dtype_name, batch_size, fast
        )
        return cls(clip, frames, source)

    @property
    def encoders(self) -> list[PeEncoder]:
        return [e for e in (self.clip, self.frames) if e is not None]

    @property
    def dim(self) -> int:
        return self.clip.dim

    @property
    def spaces(self) -> dict[str, Space]:
        return {name: space for e in self.encoders for name, space in e.spaces.items()}

    @property
    def embeddings(self) -> tuple[str, ...]:
        return tuple(name for e in self.encoders for name in e.embeddings)

    def encoder_for(self, embedding: str) -> PeEncoder:
        for encoder in self.encoders:
            if embedding in encoder.embeddings:
                return encoder
        raise KeyError(embedding)

    def embed_query(
        self, embedding: str, text: str | None = None, audio: np.ndarray | None = None, video=None
    ) -> np.ndarray:
        """One query-side embedding of one query: the encoder that computes `embedding`, called
        with the inputs the spaces table says it reads (`spaces.QUERY_INPUTS`)."""
        encoder = self.encoder_for(embedding)
        return _EMBED_BY_INPUTS[QUERY_INPUTS[embedding]](encoder, embedding, text, audio, video)

    def calibration(self, space: str) -> Calibration:
        for encoder in self.encoders:
            if space in encoder.spaces:
                return encoder.calibration(space)
        raise KeyError(space)

    def identity(self) -> ModelIdentity:
        calibration = {
            name: (self.calibration(name).scale, self.calibration(name).bias) for name in self.spaces
        }
        return identity_of([e.identity for e in self.encoders], self.dim, calibration)


class _Loaded(Protocol):
    kind: str

    @property
    def dim(self) -> int: ...


E = TypeVar("E", bound=_Loaded)


def load_pair(
    load: Callable[[str | Path], E], model: str | Path, frame_model: str | Path | None
) -> tuple[E, E | None, str | Path | None]:
    """(clip encoder, frame encoder or None, the frame model's name) loaded with `load`, checked
    to be a clip-level checkpoint and a PE-A-Frame of the same dimension; "toy" brings its frame
    model. For the whole encoders (`ModelSet`) and the text side alone (`text_encoder.TextModels`)."""
    clip = load(model)
    if clip.kind == "audio_frame":
        raise ModelLoadError(
            f"{model} is a PE-A-Frame checkpoint",
            "give it as {0}, not {1}",
            options=(Option("frame_model"), Option("model")),
            value=str(model),
        )
    frames = None
    frame_model = paired_frame_model(frame_model) or frame_model  # "toy" means its frame model
    if frame_model is not None:
        frames = load(frame_model)
        if frames.kind != "audio_frame":
            raise ModelLoadError(
                f"{frame_model} is a {frames.kind} checkpoint, not PE-A-Frame ({{0}})",
                options=(Option("frame_model"),),
                value=str(frame_model),
            )
        if frames.dim != clip.dim:
            raise ModelLoadError(
                f"{frame_model} gives {frames.dim}-d vectors but {model} gives {clip.dim}-d: pick a matching pair"
            )
    return clip, frames, frame_model


def identity_of(
    identities: Sequence[CheckpointIdentity], dim: int, calibration: dict | None = None
) -> ModelIdentity:
    """The library-level identity of these checkpoints (clip model first): what a library
    records, and what a query's models are checked against."""
    return ModelIdentity(
        model_ids=tuple(i.source for i in identities),
        config_hash=_combined(i.config_sha256 for i in identities),
        weights_hash=_combined(i.weights_sha256 for i in identities),
        former_weights=functools.partial(_former_combined, tuple(identities)),
        dim=dim,
        calibration=calibration or {},
    )


_EMBED_BY_INPUTS: dict[tuple[str, ...], Callable[..., np.ndarray]] = {
    ("text",): lambda e, name, text, audio, video: e.embed_text([text], [name])[name][0],
    ("audio",): lambda e, name, text, audio, video: e.embed_audio([audio])[0],
    ("video",): lambda e, name, text, audio, video: e.embed_video([video])[0],
    ("audio", "text"): lambda e, name, text, audio, video: e.embed_audio_plus_text([audio], [text])[0],
    ("video", "text"): lambda e, name, text, audio, video: e.embed_video_plus_text([video], [text])[0],
}
"""Encoder call per kind of query input (a key of `spaces.QUERY_INPUTS`)."""


def _combined(hashes) -> str:
    return hashlib.sha256("+".join(hashes).encode()).hexdigest()


def _former_combined(identities: tuple[CheckpointIdentity, ...]) -> tuple[str, ...]:
    """Every combined hash an older release could have recorded for these checkpoints: each
    checkpoint's hash in today's form or an older one (each may have been loaded from a
    directory or from the hub cache when the library was built)."""
    choices = [(i.weights_sha256, *i.former_weights_sha256()) for i in identities]
    current = _combined(i.weights_sha256 for i in identities)
    return tuple(h for h in dict.fromkeys(_combined(c) for c in itertools.product(*choices)) if h != current)
