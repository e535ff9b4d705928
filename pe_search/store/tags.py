"""Tags kept with the library (issue 23): the recorded vocabulary, cached label text embeddings,
each file's segment tags and its file tags. The store keeps what `pe_search.tagging` computed
and gives it back; it computes no tag itself. A moved file keeps its tags (they hang on its id);
a file encoded again, or deleted, loses them with its segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.orm import Session

from pe_search.store.schema import (
    SEARCHABLE_STATUSES,
    FileTag,
    LabelEmbeddingRow,
    MediaFile,
    Segment,
    TaggedFile,
    TagVocabularyRow,
    TextEntry,
    Vector,
)
from pe_search.store.text_index import TAG_LABEL_FIELD

NO_LABEL = 0xFFFF  # an empty place in a segment's top labels
_BATCH = 500  # ids per IN (...) query, under SQLite's variable limit


@dataclass(frozen=True)
class SegmentTags:
    """Each segment's top labels, in time order: `ids` (n, width) uint16 (`NO_LABEL`: none) and
    `levels` (n, width) uint8, the probability times 255 rounded."""

    ids: np.ndarray
    levels: np.ndarray

    @property
    def width(self) -> int:
        return int(self.ids.shape[1])

    def to_bytes(self) -> bytes:
        return self.ids.astype("<u2").tobytes() + self.levels.astype(np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, width: int) -> SegmentTags:
        count = len(data) // (3 * width) if width else 0
        ids = np.frombuffer(data, "<u2", count * width).reshape(count, width).astype(np.uint16)
        levels = np.frombuffer(data, np.uint8, count * width, offset=2 * count * width).reshape(count, width)
        return cls(ids, levels.copy())


@dataclass(frozen=True)
class FileTagsRecord:
    """One file's tags as computed: `key` names the vocabulary and rule, `tags` the file's
    (label id, probability) pairs best first, `segments` its segment tags."""

    key: str
    tags: tuple[tuple[int, float], ...]
    segments: SegmentTags
    names: tuple[str, ...] = ()  # the tags' label names, as text entries full-text search finds


@dataclass(frozen=True)
class RecordedVocabulary:
    """The vocabulary a library records: name, digest and labels as the tagging package wrote them."""

    name: str
    digest: str
    labels: list


# -- writing (inside a write transaction) ------------------------------------------------------------


def put(session: Session, media_id: int, record: FileTagsRecord) -> None:
    drop(session, media_id)
    session.add(
        TaggedFile(
            media_file_id=media_id,
            key=record.key,
            width=record.segments.width,
            segments=record.segments.to_bytes(),
        )
    )
    if record.tags:
        session.execute(
            insert(FileTag),
            [
                {"media_file_id": media_id, "label_id": int(i), "probability": float(p)}
                for i, p in record.tags
            ],
        )
    if record.names:
        session.execute(
            insert(TextEntry),
            [{"media_file_id": media_id, "field": TAG_LABEL_FIELD, "text": name} for name in record.names],
        )


def drop(session: Session, media_id: int) -> None:
    session.execute(
        delete(TextEntry).where(TextEntry.media_file_id == media_id, TextEntry.field == TAG_LABEL_FIELD)
    )
    session.execute(delete(FileTag).where(FileTag.media_file_id == media_id))
    session.execute(delete(TaggedFile).where(TaggedFile.media_file_id == media_id))


def drop_all(session: Session) -> None:
    session.execute(delete(TextEntry).where(TextEntry.field == TAG_LABEL_FIELD))
    session.execute(delete(FileTag))
    session.execute(delete(TaggedFile))


def record_vocabulary(session: Session, vocabulary: RecordedVocabulary) -> None:
    session.execute(delete(TagVocabularyRow))
    session.add(
        TagVocabularyRow(id=1, name=vocabulary.name, digest=vocabulary.digest, labels=list(vocabulary.labels))
    )


def put_label_vectors(
    session: Session, model: str, vocabulary: str, embedding: str, prompt: str, vectors: np.ndarray
) -> None:
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    session.execute(
        delete(LabelEmbeddingRow).where(
            LabelEmbeddingRow.model == model,
            LabelEmbeddingRow.vocabulary == vocabulary,
            LabelEmbeddingRow.embedding == embedding,
            LabelEmbeddingRow.prompt == prompt,
        )
    )
    count, dim = vectors.shape
    session.add(
        LabelEmbeddingRow(
            model=model,
            vocabulary=vocabulary,
            embedding=embedding,
            prompt=prompt,
            count=count,
            dim=dim,
            vectors=vectors.tobytes(),
        )
    )


# -- reading -----------------------------------------------------------------------------------------


def recorded_vocabulary(connection: Connection) -> RecordedVocabulary | None:
    row = connection.execute(select(TagVocabularyRow).where(TagVocabularyRow.id == 1)).first()
    return None if row is None else RecordedVocabulary(row.name, row.digest, list(row.labels))


def label_vectors(
    connection: Connection, model: str, vocabulary: str, embedding: str, prompt: str
) -> np.ndarray | None:
    row = connection.execute(
        select(LabelEmbeddingRow.count, LabelEmbeddingRow.dim, LabelEmbeddingRow.vectors).where(
            LabelEmbeddingRow.model == model,
            LabelEmbeddingRow.vocabulary == vocabulary,
            LabelEmbeddingRow.embedding == embedding,
            LabelEmbeddingRow.prompt == prompt,
        )
    ).first()
    if row is None or len(row.vectors) != row.count * row.dim * 4:
        return None  # none cached, or a damaged row: computed again
    return np.frombuffer(row.vectors, "<f4").reshape(row.count, row.dim).astype(np.float32)


def file_tags(connection: Connection, media_id: int, key: str) -> list[tuple[int, float]] | None:
    """The file's (label id, probability) pairs best first; None when it is not tagged with `key`."""
    tagged = connection.scalar(select(TaggedFile.key).where(TaggedFile.media_file_id == media_id))
    if tagged != key:
        return None
    rows = connection.execute(
        select(FileTag.label_id, FileTag.probability)
        .where(FileTag.media_file_id == media_id)
        .order_by(FileTag.probability.desc(), FileTag.label_id)
    ).all()
    return [(int(i), float(p)) for i, p in rows]


def tags_of(connection: Connection, media_ids: Iterable[int], key: str) -> dict[int, list[tuple[int, float]]]:
    """Each tagged file's (label id, probability) pairs best first, for many files at once."""
    ids = sorted(set(media_ids))
    found: dict[int, list[tuple[int, float]]] = {}
    for first in range(0, len(ids), _BATCH):
        rows = connection.execute(
            select(FileTag.media_file_id, FileTag.label_id, FileTag.probability)
            .join(TaggedFile, TaggedFile.media_file_id == FileTag.media_file_id)
            .where(TaggedFile.key == key, FileTag.media_file_id.in_(ids[first : first + _BATCH]))
            .order_by(FileTag.media_file_id, FileTag.probability.desc(), FileTag.label_id)
        )
        for media_id, label_id, probability in rows:
            found.setdefault(int(media_id), []).append((int(label_id), float(probability)))
    return found


def segment_tags(connection: Connection, media_id: int, key: str) -> SegmentTags | None:
    row = connection.execute(
        select(TaggedFile.key, TaggedFile.width, TaggedFile.segments).where(
            TaggedFile.media_file_id == media_id
        )
    ).first()
    if row is None or row.key != key:
        return None
    return SegmentTags.from_bytes(row.segments, row.width)


def label_files(connection: Connection, key: str) -> dict[int, set[int]]:
    """Which searchable files carry each label directly: {label id: media ids}."""
    rows = connection.execute(
        select(FileTag.label_id, FileTag.media_file_id)
        .join(TaggedFile, TaggedFile.media_file_id == FileTag.media_file_id)
        .join(MediaFile, MediaFile.id == FileTag.media_file_id)
        .where(TaggedFile.key == key, MediaFile.status.in_(SEARCHABLE_STATUSES))
    )
    out: dict[int, set[int]] = {}
    for label_id, media_id in rows:
        out.setdefault(int(label_id), set()).add(int(media_id))
    return out


def media_with_labels(connection: Connection, key: str, label_ids: Sequence[int]) -> set[int]:
    """The files tagged with any of `label_ids`."""
    found: set[int] = set()
    ids = sorted(set(int(i) for i in label_ids))
    for first in range(0, len(ids), _BATCH):
        found.update(
            connection.scalars(
                select(FileTag.media_file_id)
                .join(TaggedFile, TaggedFile.media_file_id == FileTag.media_file_id)
                .where(TaggedFile.key == key, FileTag.label_id.in_(ids[first : first + _BATCH]))
            )
        )
    return found


def untagged(connection: Connection, key: str) -> list[int]:
    """The searchable files not tagged with `key` (none yet, or another vocabulary), by id."""
    query = (
        select(MediaFile.id)
        .outerjoin(TaggedFile, TaggedFile.media_file_id == MediaFile.id)
        .where(MediaFile.status.in_(SEARCHABLE_STATUSES))
        .where((TaggedFile.key.is_(None)) | (TaggedFile.key != key))
        .order_by(MediaFile.id)
    )
    return [int(i) for i in connection.scalars(query)]


def clip_vector_ids(connection: Connection, media_ids: Sequence[int], space: str) -> dict[int, np.ndarray]:
    """Each file's vector ids in `space`, in time order (one query per few hundred files)."""
    ids = sorted(set(media_ids))
    found: dict[int, list[int]] = {i: [] for i in ids}
    for first in range(0, len(ids), _BATCH):
        rows = connection.execute(
            select(Segment.media_file_id, Vector.vector_id)
            .join(Vector, Vector.segment_id == Segment.id)
            .where(Vector.space == space, Segment.media_file_id.in_(ids[first : first + _BATCH]))
            .order_by(Segment.media_file_id, Segment.start_s, Segment.id)
        )
        for media_id, vector_id in rows:
            found[int(media_id)].append(int(vector_id))
    return {media_id: np.asarray(v, dtype=np.int64) for media_id, v in found.items()}


def tagged_count(connection: Connection, key: str) -> int:
    """How many searchable files are tagged with `key`."""
    return int(
        connection.scalar(
            select(func.count())
            .select_from(TaggedFile)
            .join(MediaFile, MediaFile.id == TaggedFile.media_file_id)
            .where(TaggedFile.key == key, MediaFile.status.in_(SEARCHABLE_STATUSES))
        )
        or 0
    )
