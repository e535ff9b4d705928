"""Search and browse by tag (issue 23): a query's `tag` narrows the files to those tagged with the
label or any label below it ("Animal" includes "Dog"); each hit carries its file's top tags, and
facets count the tags over the results. Tags are read under the library's recorded vocabulary."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pe_search.store import LibraryStore, SearchFilter
from pe_search.tagging.listing import Tag, named
from pe_search.tagging.recorded import from_record
from pe_search.tagging.update import current_key
from pe_search.tagging.vocabulary import Vocabulary

HIT_TAGS = 3  # tags shown with each hit (its file's best)


@dataclass(frozen=True)
class TagCount:
    """A facet: a label and how many of the results' files are tagged with it."""

    label: str
    count: int


def _vocabulary_and_key(store: LibraryStore) -> tuple[Vocabulary, str] | None:
    if store.identity is None:
        return None
    vocabulary = from_record(store.recorded_vocabulary())
    return vocabulary, current_key(store, vocabulary)


def with_tag(store: LibraryStore, tag: str, filters: SearchFilter) -> SearchFilter:
    """`filters` narrowed to the files tagged `tag` or any label below it; an unknown label is
    refused with the closest labels (`VocabularyError`)."""
    vocabulary = from_record(store.recorded_vocabulary())
    label_ids = vocabulary.with_descendants(tag)  # raises for an unknown label
    found = _vocabulary_and_key(store)
    allowed = store.media_with_labels(found[1], label_ids) if found is not None else set()
    if filters.media_ids is not None:
        allowed &= set(filters.media_ids)
    return dataclasses.replace(filters, media_ids=tuple(sorted(allowed)))


def file_tags_of(store: LibraryStore, media_ids: Sequence[int]) -> dict[int, list[Tag]]:
    """Every tag of each of these files, best first, by media id."""
    found = _vocabulary_and_key(store)
    if found is None:
        return {}
    vocabulary, key = found
    return {media_id: named(vocabulary, pairs) for media_id, pairs in store.tags_of(media_ids, key).items()}


def with_hit_tags(store: LibraryStore, hits: list) -> list:
    """The hits, each with its file's best `HIT_TAGS` tags."""
    tags = file_tags_of(store, [hit.media_id for hit in hits])
    return [dataclasses.replace(hit, tags=tuple(tags.get(hit.media_id, ())[:HIT_TAGS])) for hit in hits]


def facets(store: LibraryStore, media_ids: Sequence[int]) -> list[TagCount]:
    """How many of these files (each counted once) carry each tag, most first (ties by label)."""
    counts: Counter[str] = Counter()
    for tags in file_tags_of(store, sorted(set(media_ids))).values():
        counts.update({tag.label for tag in tags})
    return [
        TagCount(label, count)
        for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
