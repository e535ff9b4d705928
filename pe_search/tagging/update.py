"""Tagging a library from its stored vectors: the files not tagged under the current key, a few
hundred at a time, each batch one write transaction (killed halfway, the next run does only
what is left). No media is opened and no model runs here: the vectors are the library's and the
label embeddings come in with the `Tagger`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pe_search.models.spaces import Calibration
from pe_search.store import LibraryStore
from pe_search.tagging.labels import DEFAULT_PROMPT, RULE, label_vectors
from pe_search.tagging.tagger import (
    DEFAULT_THRESHOLD,
    SEGMENT_WIDTH,
    TAG_EMBEDDING,
    TAG_SPACE,
    Tagger,
    tag_key,
)
from pe_search.tagging.vocabulary import Vocabulary

if TYPE_CHECKING:  # the models are imported where loaded (torch, transformers)
    from pe_search.models.model_set import ModelSet

FILES_PER_BATCH = 256  # files whose vector ids are read at once
VECTORS_PER_BATCH = 32_768  # vectors read and tagged per write transaction (128 MB at 1024-d)


@dataclass
class TagUpdate:
    """What an update did: files tagged now, files still untagged (a stopped run)."""

    tagged: int = 0
    left: int = 0
    seconds: float = 0.0


def current_key(store: LibraryStore, vocabulary: Vocabulary, prompt: str = DEFAULT_PROMPT) -> str:
    """The key tags computed now would carry (no model needed: the library's recorded weights);
    "" for a library that records no model yet (it holds no file, so nothing is tagged)."""
    identity = store.identity
    if identity is None:
        return ""
    return tag_key(
        vocabulary.digest, identity.weights_hash, f"{prompt}@{RULE}", DEFAULT_THRESHOLD, SEGMENT_WIDTH
    )


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
    key = current_key(store, vocabulary, prompt)
    return Tagger(taggable, vectors[taggable], Calibration(scale, bias), key, names=tuple(vocabulary.names))


def update_tags(
    store: LibraryStore,
    tagger: Tagger,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> TagUpdate:
    """Tag every searchable file not tagged under `tagger.key`, a batch of files (at most
    `VECTORS_PER_BATCH` vectors, or one longer file) per write transaction; `progress(done,
    total)` after each batch; `stop` ends it after the current batch (what is written stays)."""
    began = time.perf_counter()
    todo = store.untagged_media(tagger.key)
    result = TagUpdate(left=len(todo))
    for first in range(0, len(todo), FILES_PER_BATCH):
        ids = store.clip_vector_ids(todo[first : first + FILES_PER_BATCH], TAG_SPACE)
        for part in _by_budget(ids, VECTORS_PER_BATCH):
            if stop is not None and stop.is_set():
                result.seconds = time.perf_counter() - began
                return result
            vectors = store.clip_vectors(part, TAG_SPACE) if any(len(ids[m]) for m in part) else {}
            records = {media_id: tagger.tag(vectors.get(media_id, _none(tagger))) for media_id in part}
            with store.write() as tx:
                for media_id, record in records.items():
                    tx.set_tags(media_id, record)
            result.tagged += len(part)
            result.left -= len(part)
            if progress is not None:
                progress(result.tagged, len(todo))
    result.seconds = time.perf_counter() - began
    return result


def _by_budget(ids: dict[int, np.ndarray], budget: int) -> list[list[int]]:
    """The files in groups whose vectors add up to about `budget` (a longer file alone)."""
    groups: list[list[int]] = [[]]
    held = 0
    for media_id, vector_ids in ids.items():
        if groups[-1] and held + len(vector_ids) > budget:
            groups.append([])
            held = 0
        groups[-1].append(media_id)
        held += len(vector_ids)
    return [group for group in groups if group]


def _none(tagger: Tagger) -> np.ndarray:
    return np.zeros((0, tagger.label_vectors.shape[1]), np.float32)
