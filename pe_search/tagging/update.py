"""Tagging a library from its stored vectors: the files not tagged under the current key, a few
hundred at a time, each batch one write transaction (killed halfway, the next run does only
what is left). No media is opened and no model runs here: the vectors are the library's and the
label embeddings come in with the `Tagger`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pe_search.models.model_set import ModelSet
from pe_search.models.spaces import Calibration
from pe_search.store import LibraryStore
from pe_search.tagging.labels import DEFAULT_PROMPT, label_vectors
from pe_search.tagging.tagger import (
    DEFAULT_THRESHOLD,
    SEGMENT_WIDTH,
    TAG_EMBEDDING,
    TAG_SPACE,
    Tagger,
    tag_key,
)
from pe_search.tagging.vocabulary import Vocabulary

FILES_PER_BATCH = 256


@dataclass
class TagUpdate:
    """What an update did: files tagged now, files still untagged (a stopped run)."""

    tagged: int = 0
    left: int = 0
    seconds: float = 0.0


def current_key(store: LibraryStore, vocabulary: Vocabulary, prompt: str = DEFAULT_PROMPT) -> str:
    """The key tags computed now would carry (no model needed: the library's recorded weights)."""
    identity = store.require_identity()
    return tag_key(vocabulary.digest, identity.weights_hash, prompt, DEFAULT_THRESHOLD, SEGMENT_WIDTH)


def build_tagger(
    store: LibraryStore, models: ModelSet, vocabulary: Vocabulary, prompt: str = DEFAULT_PROMPT
) -> Tagger | None:
    """The tagger of this library and vocabulary (label embeddings from the cache or computed
    once); None when the models have no text-audio embedding to tag with."""
    if TAG_EMBEDDING not in models.embeddings:
        return None
    vectors = label_vectors(store, models, vocabulary, TAG_EMBEDDING, prompt)
    taggable = np.asarray(vocabulary.tag_ids, dtype=np.int64)
    scale, bias = store.require_identity().calibration.get(TAG_EMBEDDING) or (
        models.calibration(TAG_EMBEDDING).scale,
        models.calibration(TAG_EMBEDDING).bias,
    )
    return Tagger(
        taggable, vectors[taggable], Calibration(scale, bias), current_key(store, vocabulary, prompt)
    )


def update_tags(
    store: LibraryStore,
    tagger: Tagger,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> TagUpdate:
    """Tag every searchable file not tagged under `tagger.key`; `progress(done, total)` after
    each batch; `stop` ends it after the current batch (what is written stays)."""
    began = time.perf_counter()
    todo = store.untagged_media(tagger.key)
    result = TagUpdate(left=len(todo))
    for first in range(0, len(todo), FILES_PER_BATCH):
        if stop is not None and stop.is_set():
            break
        batch = todo[first : first + FILES_PER_BATCH]
        vectors = store.clip_vectors(batch, TAG_SPACE)
        records = {media_id: tagger.tag(vectors.get(media_id, _none(tagger))) for media_id in batch}
        with store.write() as tx:
            for media_id, record in records.items():
                tx.set_tags(media_id, record)
        result.tagged += len(batch)
        result.left -= len(batch)
        if progress is not None:
            progress(result.tagged, len(todo))
    result.seconds = time.perf_counter() - began
    return result


def _none(tagger: Tagger) -> np.ndarray:
    return np.zeros((0, tagger.label_vectors.shape[1]), np.float32)
