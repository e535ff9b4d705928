"""What the front doors show of tags: a file's tags by name, and the vocabulary's labels with the
number of files under each (a parent counts the files tagged with it or any label below it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pe_search.store import LibraryStore
from pe_search.tagging.vocabulary import Vocabulary


@dataclass(frozen=True)
class Tag:
    """One tag of a file: its label and probability (the model's calibrated sigmoid)."""

    label: str
    probability: float


@dataclass(frozen=True)
class LabelCount:
    """One label of the vocabulary with the files under it (its own and its descendants')."""

    id: int
    name: str
    parents: tuple[str, ...]
    taggable: bool
    count: int


@dataclass(frozen=True)
class TagListing:
    """The library's labels with counts, and how many searchable files are tagged so far."""

    vocabulary: str
    labels: list[LabelCount]
    tagged_files: int
    untagged_files: int


def named(vocabulary: Vocabulary, pairs: list[tuple[int, float]]) -> list[Tag]:
    """(label id, probability) pairs as tags, in the order given (best first)."""
    return [Tag(vocabulary.labels[i].name, round(p, 4)) for i, p in pairs if 0 <= i < len(vocabulary)]


def files_under(vocabulary: Vocabulary, direct: dict[int, set[int]]) -> dict[int, set[int]]:
    """Each label's files with those of every label below it ("Animal" counts a "Dog" file)."""
    index = {label.name.casefold(): i for i, label in enumerate(vocabulary.labels)}

    @cache
    def ancestors(label_id: int) -> frozenset[int]:
        found = {label_id}
        for parent in vocabulary.labels[label_id].parents:
            found |= ancestors(index[parent.casefold()])
        return frozenset(found)

    under: dict[int, set[int]] = {}
    for label_id, files in direct.items():
        if 0 <= label_id < len(vocabulary):
            for above in ancestors(label_id):
                under.setdefault(above, set()).update(files)
    return under


def listing(store: LibraryStore, vocabulary: Vocabulary, key: str) -> TagListing:
    under = files_under(vocabulary, store.label_files(key))
    labels = [
        LabelCount(i, label.name, label.parents, label.taggable, len(under.get(i, ())))
        for i, label in enumerate(vocabulary.labels)
    ]
    return TagListing(vocabulary.name, labels, store.tagged_count(key), len(store.untagged_media(key)))
