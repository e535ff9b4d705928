"""The vocabulary a library records: written with the library like its models, so later commands
(`tags`, `search --tag`, the server) use it without the file it came from."""

from __future__ import annotations

from pathlib import Path

from pe_search.store import LibraryStore, RecordedVocabulary
from pe_search.tagging.tagger import MAX_LABELS
from pe_search.tagging.vocabulary import (
    Label,
    Vocabulary,
    VocabularyError,
    default_vocabulary,
    load_vocabulary,
)


def to_record(vocabulary: Vocabulary) -> RecordedVocabulary:
    labels = [[label.name, list(label.parents), label.taggable, label.key] for label in vocabulary.labels]
    return RecordedVocabulary(vocabulary.name, vocabulary.digest, labels)


def from_record(record: RecordedVocabulary | None) -> Vocabulary:
    """The recorded vocabulary (the shipped default when none is recorded)."""
    if record is None:
        return default_vocabulary()
    labels = tuple(
        Label(name, tuple(parents), bool(taggable), key) for name, parents, taggable, key in record.labels
    )
    return Vocabulary(record.name, labels)


def choose_vocabulary(store: LibraryStore, given: str | Path | Vocabulary | None) -> Vocabulary:
    """The vocabulary to tag with: `given` (a file or a `Vocabulary`), recorded with the library
    when it differs from the one recorded; else the recorded one (the default when none is)."""
    recorded = store.recorded_vocabulary()
    if given is None:
        vocabulary = from_record(recorded)
    else:
        vocabulary = given if isinstance(given, Vocabulary) else load_vocabulary(given)
    if len(vocabulary) > MAX_LABELS:
        raise VocabularyError(
            f"the vocabulary {vocabulary.name!r} has {len(vocabulary)} labels; at most {MAX_LABELS} are kept",
            "split it into smaller vocabularies",
            value=len(vocabulary),
        )
    if not store.readonly and (recorded is None or recorded.digest != vocabulary.digest):
        store.record_vocabulary(to_record(vocabulary))
    return vocabulary
