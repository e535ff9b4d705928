"""What a text query embeds with, whichever runs the text towers: torch (`text_encoder`) or their
ONNX graphs (`text_graph`). Imports no torch, so the graph path stays free of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

TEXT_MAX_TOKENS = 512  # a text query's tokens, special ones included: the rest is cut off


class TextTower(Protocol):
    """One checkpoint's text side: the embeddings it gives, one text in one of them."""

    @property
    def embeddings(self) -> tuple[str, ...]: ...

    def embed_one(self, text: str, embedding: str) -> np.ndarray: ...


class TextSide:
    """The text side of a library's models (the clip model's, and the frame model's if any): the
    `embed_query` and `embeddings` of a whole `ModelSet`, for text queries only."""

    @property
    def encoders(self) -> Sequence[TextTower]:
        raise NotImplementedError

    @property
    def embeddings(self) -> tuple[str, ...]:
        return tuple(name for e in self.encoders for name in e.embeddings)

    def embed_query(self, embedding: str, text: str | None = None, audio=None, video=None) -> np.ndarray:
        """One text embedding of one text query (as `ModelSet.embed_query`)."""
        if text is None or audio is not None or video is not None:
            raise ValueError("the text side embeds text queries only")
        for encoder in self.encoders:
            if embedding in encoder.embeddings:
                return encoder.embed_one(text, embedding)
        raise KeyError(embedding)
