"""Label text embeddings: each label of a vocabulary as the text model embeds its prompt,
computed once per (text model weights, vocabulary, query embedding, prompt form) and cached in
the library, so retagging with the same vocabulary never runs the text model again.

Any caller can use it (tags use the clip model's `text_audio`; event timelines the frame model's
`text_audio_frame`): the key is the weights digest of the encoder that computes `embedding`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pe_search.store import LibraryStore
from pe_search.tagging.vocabulary import Vocabulary

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.model_set import ModelSet

PROMPTS = {
    "label": "{label}",
    "sentence": "the sound of {label}",
}
"""Prompt forms; "mean" is the normalised mean of both (see docs/tags.md for which wins)."""
MEAN = "mean"
RULE = 2  # bumped when how a prompt becomes a vector changes: cached vectors of another rule are not used
DEFAULT_PROMPT = "label"  # wins on the toy world (docs/tags.md)


def prompts(vocabulary: Vocabulary, form: str) -> list[str]:
    """Each label's prompt text in form `form` (a key of `PROMPTS`)."""
    template = PROMPTS[form]
    return [template.format(label=name) for name in vocabulary.names]


def model_digest(models: ModelSet, embedding: str) -> str:
    """The weights digest of the encoder that computes `embedding` (what the cache is keyed by)."""
    return models.encoder_for(embedding).identity.weights_sha256


def label_vectors(
    store: LibraryStore | None,
    models: ModelSet,
    vocabulary: Vocabulary,
    embedding: str,
    prompt: str = DEFAULT_PROMPT,
) -> np.ndarray:
    """(labels, dim) float32 embeddings of every label of `vocabulary` in `embedding`: from the
    library's cache, else computed and cached (when `store` is open for writing)."""
    model = model_digest(models, embedding)
    key = f"{prompt}@{RULE}"
    if store is not None:
        cached = store.label_vectors(model, vocabulary.digest, embedding, key)
        if cached is not None and cached.shape[0] == len(vocabulary):
            return cached
    vectors = compute_label_vectors(models, vocabulary, embedding, prompt)
    if store is not None and not store.readonly:
        store.put_label_vectors(model, vocabulary.digest, embedding, key, vectors)
    return vectors


def compute_label_vectors(
    models: ModelSet, vocabulary: Vocabulary, embedding: str, prompt: str
) -> np.ndarray:
    """Run the text model over the vocabulary's prompts. A single form is kept as the model gives
    it (a label scores exactly as a text query of its prompt would); "mean" averages the two
    forms' directions at their mean length, so the calibration's scale still applies."""
    encoder = models.encoder_for(embedding)
    forms = list(PROMPTS) if prompt == MEAN else [prompt]
    embedded = [
        np.asarray(encoder.embed_text(prompts(vocabulary, form), [embedding])[embedding], dtype=np.float64)
        for form in forms
    ]
    if len(embedded) == 1:
        return embedded[0].astype(np.float32)
    norms = [np.linalg.norm(e, axis=1, keepdims=True) for e in embedded]
    direction = sum(e / np.where(n > 0, n, 1.0) for e, n in zip(embedded, norms, strict=True))
    length = np.linalg.norm(direction, axis=1, keepdims=True)
    mean_norm = sum(norms) / len(norms)
    return (direction / np.where(length > 0, length, 1.0) * mean_norm).astype(np.float32)
