"""The tag verbs of `LibraryStore` (issue 23): the recorded vocabulary, the label embedding cache
and each file's tags (kept by store/tags.py). Tags of files are written inside a write
transaction (`WriteTransaction.set_tags`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from pe_search.store import tags
from pe_search.store.core import StoreCore
from pe_search.store.tags import RecordedVocabulary, SegmentTags


class TagAccess(StoreCore):
    """Tags, vocabularies and label embeddings of `LibraryStore`."""

    def recorded_vocabulary(self) -> RecordedVocabulary | None:
        """The vocabulary the library is tagged with (None: never recorded; the default is used)."""
        with self._read_engine.connect() as connection:
            return tags.recorded_vocabulary(connection)

    def record_vocabulary(self, vocabulary: RecordedVocabulary) -> None:
        """Record the library's vocabulary (its files are tagged again by the next update)."""
        self._require_writer()
        with self._write_lock, self._session() as session:
            tags.record_vocabulary(session, vocabulary)
            session.commit()

    def label_vectors(self, model: str, vocabulary: str, embedding: str, prompt: str) -> np.ndarray | None:
        """Cached label text embeddings (count, dim) for this model weights digest, vocabulary
        digest, query embedding and prompt form; None when not cached."""
        with self._read_engine.connect() as connection:
            return tags.label_vectors(connection, model, vocabulary, embedding, prompt)

    def put_label_vectors(
        self, model: str, vocabulary: str, embedding: str, prompt: str, vectors: np.ndarray
    ) -> None:
        """Cache label text embeddings under their key (writer only)."""
        self._require_writer()
        with self._write_lock, self._session() as session:
            tags.put_label_vectors(session, model, vocabulary, embedding, prompt, vectors)
            session.commit()

    def file_tags(self, media_id: int, key: str) -> list[tuple[int, float]] | None:
        """A file's (label id, probability) best first; None when not tagged with `key`."""
        with self._read_engine.connect() as connection:
            return tags.file_tags(connection, media_id, key)

    def tags_of(self, media_ids: Iterable[int], key: str) -> dict[int, list[tuple[int, float]]]:
        """Many files' (label id, probability) pairs best first, by media id (tagged ones only)."""
        with self._read_engine.connect() as connection:
            return tags.tags_of(connection, media_ids, key)

    def segment_tags(self, media_id: int, key: str) -> SegmentTags | None:
        """A file's segment tags in time order; None when not tagged with `key`."""
        with self._read_engine.connect() as connection:
            return tags.segment_tags(connection, media_id, key)

    def label_files(self, key: str) -> dict[int, set[int]]:
        """Which searchable files carry each label directly: {label id: media ids}."""
        with self._read_engine.connect() as connection:
            return tags.label_files(connection, key)

    def media_with_labels(self, key: str, label_ids: Sequence[int]) -> set[int]:
        """The files tagged with any of `label_ids`."""
        with self._read_engine.connect() as connection:
            return tags.media_with_labels(connection, key, label_ids)

    def untagged_media(self, key: str) -> list[int]:
        """The searchable files not tagged with `key` yet, by id."""
        with self._read_engine.connect() as connection:
            return tags.untagged(connection, key)

    def clip_vector_ids(self, media_ids: Sequence[int], space: str) -> dict[int, np.ndarray]:
        """Each file's vector ids in clip space `space`, in time order (SQL only, no vector read)."""
        with self._read_engine.connect() as connection:
            return tags.clip_vector_ids(connection, media_ids, space)

    def clip_vectors(self, media_ids: Sequence[int], space: str) -> dict[int, np.ndarray]:
        """Each file's stored vectors of clip space `space` in time order, (segments, dim)."""
        ids = self.clip_vector_ids(media_ids, space)
        dim = self.require_identity().dim
        if not any(len(v) for v in ids.values()):
            return {media_id: np.zeros((0, dim), np.float32) for media_id in ids}
        vectors = self.vectors(space, np.concatenate(list(ids.values())))  # one read of the file
        out, at = {}, 0
        for media_id, vector_ids in ids.items():
            out[media_id] = vectors[at : at + len(vector_ids)]
            at += len(vector_ids)
        return out

    def tagged_count(self, key: str) -> int:
        """How many searchable files are tagged with `key`."""
        with self._read_engine.connect() as connection:
            return tags.tagged_count(connection, key)
